"""Double-difference relocation of dense clusters: GraphDD and a least-squares baseline.

:class:`GraphDD` relocates the events of an ObsPy Catalog with the picks on their origins:
a graph of neighbouring events, double-difference residuals of the pairs' shared stations
(plus cross-correlation times from a HypoDD ``dt.cc`` file), and a small graph network
trained on the catalog itself (``method="graphdd"``) or damped least squares
(``method="lsqr"``) to minimise them. See ``docs/relocation.md``.

Examples
--------
>>> from seisbench_genie.relocation import GraphDD
>>> GraphDD(method="lsqr").method
'lsqr'
"""

from __future__ import annotations

from .dtcc import read_dtcc
from .graphdd import METHODS, GraphDD, RelocationReport
from .output import METHOD_IDS, NOT_RELOCATED

__all__ = ["METHODS", "METHOD_IDS", "NOT_RELOCATED", "GraphDD", "RelocationReport", "read_dtcc"]
