"""GENIE graph-neural-network phase association for SeisBench and ObsPy.

Examples
--------
>>> from seisbench_genie import GENIE  # doctest: +SKIP
>>> catalog = GENIE.from_pretrained("crustal").associate(picks, inventory)  # doctest: +SKIP
"""

__version__ = "0.1.0"

__all__ = ["GENIE", "__version__"]


def __getattr__(name: str):
    # Lazy import: ``import seisbench_genie`` stays light for the travel-time utilities.
    if name == "GENIE":
        from seisbench_genie.model import GENIE

        return GENIE
    raise AttributeError(f"module 'seisbench_genie' has no attribute {name!r}")
