"""Travel-time backends, found by name through the ``seisbench_genie.traveltimes`` entry points.

Built-in backends: ``homogeneous`` (:class:`~.homogeneous.HomogeneousTravelTimes`),
``layered`` (:class:`~.layered.LayeredTravelTimes`) and ``grid3d``
(:class:`~.grid3d.Grid3DTravelTimes`). A third-party package adds one by declaring, in its
``pyproject.toml``::

    [project.entry-points."seisbench_genie.traveltimes"]
    mymodel = "mypackage.module:MyBackend"

where ``MyBackend`` subclasses :class:`TravelTimeBackend`.

Examples
--------
>>> from seisbench_genie import traveltimes
>>> {"homogeneous", "layered", "grid3d"} <= set(traveltimes.available())
True
>>> traveltimes.get("homogeneous", vp=6.0).vp
6.0
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from .base import PHASES, BoundTravelTimes, TravelTimeBackend, normalize_phase
from .velocity_model import validate_velocity_model

__all__ = [
    "ENTRY_POINT_GROUP",
    "PHASES",
    "BoundTravelTimes",
    "TravelTimeBackend",
    "available",
    "get",
    "normalize_phase",
    "validate_velocity_model",
]

#: Entry-point group that registers travel-time backends.
ENTRY_POINT_GROUP = "seisbench_genie.traveltimes"


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # first distribution on sys.path wins
    return found


def available() -> list[str]:
    """Names of the registered travel-time backends, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "layered" in available()
    True
    """
    return sorted(_entry_points())


def get(name: str, **kwargs: Any) -> TravelTimeBackend:
    """Instantiate the travel-time backend registered as ``name``.

    Parameters
    ----------
    name
        Entry-point name in the ``seisbench_genie.traveltimes`` group (case-sensitive).
    **kwargs
        Passed to the backend's constructor.

    Returns
    -------
    TravelTimeBackend

    Raises
    ------
    ValueError
        For an unknown name (the message lists the available ones) or an entry point that
        does not load.

    Examples
    --------
    >>> get("homogeneous", vp=5.0, vs=3.0)
    HomogeneousTravelTimes(vp=5.0, vs=3.0)
    """
    eps = _entry_points()
    if name not in eps:
        raise ValueError(
            f"unknown travel-time backend {name!r}; available: {sorted(eps) or 'none'}"
        )
    try:
        cls = eps[name].load()
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"travel-time backend {name!r} ({eps[name].value}) could not be loaded: {err}"
        ) from err
    return cls(**kwargs)
