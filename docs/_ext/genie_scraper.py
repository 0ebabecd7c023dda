"""A sphinx-gallery image scraper for figures made outside pyplot.

The functions of :mod:`seisbench_genie.plot` return :class:`matplotlib.figure.Figure` objects
that pyplot does not know, so sphinx-gallery's matplotlib scraper does not see them. This
scraper saves every such Figure that a code block left in the example's namespace (each
figure once) and returns the reST that embeds the images.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst

#: Resolution of the gallery images (dots per inch).
GALLERY_DPI = 100


def figure_scraper(block: Any, block_vars: dict, gallery_conf: dict, **kwargs: Any) -> str:
    """Save the Figures new in this block's namespace; return their reST."""
    images = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and not getattr(value, "_genie_scraped", False):
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=GALLERY_DPI)
            value._genie_scraped = True
            images.append(path)
    return figure_rst(images, gallery_conf["src_dir"])
