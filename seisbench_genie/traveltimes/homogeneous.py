"""Homogeneous half-space: straight rays, exact times."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..geo import LocalProjection
from ..stations import station_table
from .base import BoundTravelTimes, TravelTimeBackend, normalize_phase

__all__ = ["BoundHomogeneousTravelTimes", "HomogeneousTravelTimes"]

# Floor of squared distances (km^2): the gradient is 0, not NaN, at zero distance.
_EPS_KM2 = 1e-12


class HomogeneousTravelTimes(TravelTimeBackend):
    """Constant P and S velocities: ``t = |source - station| / v`` (straight 3-D rays).

    Sources and stations are compared in the local frame: source at depth ``z`` (km,
    positive down), station at ``-elevation`` (km). Exact for this model (up to the
    transverse Mercator scale error of the local frame, < 0.1 % within 450 km of its centre).
    No depth or distance limit.

    Parameters
    ----------
    vp, vs
        P and S velocities (km/s), positive.

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> HomogeneousTravelTimes(vp=6.0, vs=3.0).times([[0.0, 0.0, 30.0]], st, "S").tolist()
    [[10.0]]
    """

    name = "homogeneous"
    max_depth_km = None
    max_distance_km = None

    def __init__(self, vp: float = 6.0, vs: float = 6.0 / 1.73) -> None:
        for label, v in (("vp", vp), ("vs", vs)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"HomogeneousTravelTimes: {label} must be positive, got {v}")
        self.vp = float(vp)
        self.vs = float(vs)

    def velocity(self, phase: str) -> float:
        """Velocity (km/s) of ``phase`` ("P" or "S").

        Examples
        --------
        >>> HomogeneousTravelTimes(vp=6.0, vs=3.5).velocity("s")
        3.5
        """
        return self.vp if normalize_phase(phase) == "P" else self.vs

    def bind(
        self,
        stations: Any,
        projection: LocalProjection | None = None,
        station_terms: pd.DataFrame | None = None,
    ) -> BoundHomogeneousTravelTimes:
        """Bind to stations; see :meth:`TravelTimeBackend.bind`.

        Examples
        --------
        >>> import pandas as pd, torch
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> b = HomogeneousTravelTimes(vp=5.0).bind(st)
        >>> b.times(torch.tensor([[3.0, 0.0, 4.0]]), "P").tolist()
        [[1.0]]
        """
        stations = station_table(stations)
        if projection is None:
            projection = self.default_projection(stations)
        return BoundHomogeneousTravelTimes(self, stations, projection, station_terms)

    def __repr__(self) -> str:
        return f"HomogeneousTravelTimes(vp={self.vp!r}, vs={self.vs!r})"


class BoundHomogeneousTravelTimes(BoundTravelTimes):
    """:class:`HomogeneousTravelTimes` bound to stations (torch straight-ray times).

    Examples
    --------
    >>> import pandas as pd, torch
    >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> b = HomogeneousTravelTimes(vp=5.0, vs=2.5).bind(st)
    >>> b.pair_times(torch.tensor([[0.0, 0.0, 5.0]]), torch.tensor([0]), "S").tolist()
    [2.0]
    """

    backend: HomogeneousTravelTimes

    def _pair_times(
        self, source_xyz_km: torch.Tensor, station_index: torch.Tensor, phase: str
    ) -> torch.Tensor:
        sta = self.station_xyz_km[station_index].to(source_xyz_km.dtype)
        d2 = ((source_xyz_km - sta) ** 2).sum(dim=1)
        return torch.sqrt(torch.clamp(d2, min=_EPS_KM2)) / self.backend.velocity(phase)
