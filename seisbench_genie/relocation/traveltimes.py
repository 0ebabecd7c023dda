"""Differentiable travel times for relocation: a table lookup that stays inside the model.

The project's backends (:mod:`seisbench_genie.traveltimes`) bind to stations as
:class:`~seisbench_genie.traveltimes.BoundTravelTimes`, whose lookups are multilinear
interpolations of their tables in torch (bilinear over epicentral distance and depth for
``layered``, trilinear over x, y, depth for ``grid3d``) and therefore differentiable with
respect to the source position. :class:`RelocationTravelTimes` wraps such a bound object for
relocation: it evaluates P and S picks in one call, keeps trial positions inside the volume
the model covers (a relocation step must never raise half way through training), and gives
the slowness vectors (the travel-time gradients) that the least-squares solver and the
network's input features need. :func:`velocity_backend` turns the user's velocity model into a
backend that covers the catalog, and :func:`check_coverage` raises an error naming the model
and the events when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..geo import LocalProjection
from ..traveltimes import BoundTravelTimes, TravelTimeBackend, get, validate_velocity_model

__all__ = [
    "RelocationTravelTimes",
    "check_coverage",
    "velocity_backend",
]

#: A ``layered`` table built for a 1-D model reaches this much deeper than the deepest event
#: (km): room for events to move down during relocation.
TABLE_DEPTH_PAD_KM = 10.0
#: ... and this much beyond the largest event-station distance (km).
TABLE_DISTANCE_PAD_KM = 20.0
#: Tolerance (km) of the coverage checks, the same as the backends' own range checks.
COVERAGE_TOLERANCE_KM = 0.01
#: Trial positions are kept this far (km) inside the covered volume, so a lookup never
#: reaches the backends' own range checks (which raise).
INSIDE_MARGIN_KM = 1e-3


@dataclass(frozen=True)
class Coverage:
    """The volume a backend gives times for, in its local frame (km; None: unbounded).

    Examples
    --------
    >>> Coverage(None, None, (0.0, 30.0), 100.0).depth_km
    (0.0, 30.0)
    """

    x_km: tuple[float, float] | None
    y_km: tuple[float, float] | None
    depth_km: tuple[float | None, float | None]
    max_distance_km: float | None


def coverage_of(backend: TravelTimeBackend) -> Coverage:
    """The volume ``backend`` covers: its extent (3-D grids) or depth and distance limits.

    Parameters
    ----------
    backend
        A travel-time backend.

    Returns
    -------
    Coverage

    Examples
    --------
    >>> from seisbench_genie.traveltimes import get
    >>> coverage_of(get("homogeneous")).depth_km
    (None, None)
    """
    extent = backend.extent_km()
    if extent is not None:
        return Coverage(extent[0], extent[1], extent[2], backend.max_distance_km)
    top = 0.0 if backend.max_depth_km is not None else None
    return Coverage(None, None, (top, backend.max_depth_km), backend.max_distance_km)


def velocity_backend(velocity_model: Any, depth_max_km: float,
                     distance_max_km: float) -> TravelTimeBackend:
    """The travel-time backend of a relocation.

    Parameters
    ----------
    velocity_model
        A :class:`~seisbench_genie.traveltimes.TravelTimeBackend` (used as it is), or a 1-D
        model (DataFrame or dict of layer tops ``depth_km``, ``vp``, ``vs`` in km and km/s),
        which becomes a ``layered`` table reaching :data:`TABLE_DEPTH_PAD_KM` below
        ``depth_max_km`` and :data:`TABLE_DISTANCE_PAD_KM` beyond ``distance_max_km``.
    depth_max_km, distance_max_km
        Deepest event and largest event-station distance of the catalog (km).

    Returns
    -------
    TravelTimeBackend

    Raises
    ------
    ValueError
        Naming ``velocity_model`` when it is None or not a valid model.

    Examples
    --------
    >>> vm = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 8.0], "vs": [3.5, 4.6]})
    >>> velocity_backend(vm, 12.0, 40.0)
    LayeredTravelTimes(n_layers=2, max_distance_km=60.0, max_depth_km=22.0, grid_spacing_km=0.25)
    """
    if velocity_model is None:
        raise ValueError("velocity_model: none given; pass a DataFrame of layer tops "
                         "(depth_km, vp, vs in km and km/s) or a backend from "
                         "seisbench_genie.traveltimes")
    if isinstance(velocity_model, TravelTimeBackend):
        return velocity_model
    try:
        model = validate_velocity_model(pd.DataFrame(velocity_model))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"velocity_model: {exc}") from None
    return get("layered", model=model,
               max_distance_km=float(np.ceil(max(distance_max_km, 1.0) + TABLE_DISTANCE_PAD_KM)),
               max_depth_km=float(np.ceil(max(depth_max_km, 0.0) + TABLE_DEPTH_PAD_KM)))


def check_coverage(backend: TravelTimeBackend, xyz_km: np.ndarray, station_xyz_km: np.ndarray,
                   event_station: tuple[np.ndarray, np.ndarray], event_ids: list[str]) -> None:
    """Raise when the events or their event-station distances lie outside the model.

    Parameters
    ----------
    backend
        The travel-time backend.
    xyz_km
        ``(N, 3)`` event x, y, depth (km) in the backend's frame.
    station_xyz_km
        ``(M, 3)`` station x, y, -elevation (km).
    event_station
        Event and station index of every pick (two int arrays).
    event_ids
        Event resource ids, for the message.

    Raises
    ------
    ValueError
        Naming the velocity model and the events (count, extreme value, an example id).

    Examples
    --------
    >>> from seisbench_genie.traveltimes import get
    >>> tt = get("layered", model=pd.DataFrame({"depth_km": [0.0], "vp": [6.0], "vs": [3.5]}),
    ...          max_distance_km=50.0, max_depth_km=10.0, cache_dir=False)
    >>> check_coverage(tt, np.array([[0.0, 0.0, 15.0]]), np.zeros((1, 3)),
    ...                (np.array([0]), np.array([0])), ["ev1"])
    Traceback (most recent call last):
    ...
    ValueError: velocity_model LayeredTravelTimes(n_layers=1, max_distance_km=50.0, max_depth_km=10.0, grid_spacing_km=0.25) covers depths 0-10 km, but 1 event(s) of the catalog lie outside (depth 15 km, e.g. event ev1); give a model reaching deeper
    """
    cov = coverage_of(backend)
    tol = COVERAGE_TOLERANCE_KM
    checks = [("x (east)", 0, cov.x_km, "covers x"), ("y (north)", 1, cov.y_km, "covers y"),
              ("depth", 2, cov.depth_km, "covers depths")]
    for label, axis, bounds, covers in checks:
        if bounds is None:
            continue
        lo, hi = bounds
        v = xyz_km[:, axis]
        below = (lo - v) if lo is not None else np.full(len(v), -np.inf)
        above = (v - hi) if hi is not None else np.full(len(v), -np.inf)
        excess = np.maximum(below, above)
        bad = excess > tol
        if bad.any():
            worst = int(np.argmax(excess))
            lo_text = "-inf" if lo is None else f"{lo:g}"
            hi_text = "inf" if hi is None else f"{hi:g}"
            hint = "deeper" if axis == 2 and above[worst] > tol else "further"
            raise ValueError(
                f"velocity_model {backend!r} {covers} {lo_text}-{hi_text} km, but "
                f"{int(bad.sum())} event(s) of the catalog lie outside ({label} "
                f"{v[worst]:.3g} km, e.g. event {event_ids[worst]}); give a model reaching "
                f"{hint}")
    if cov.max_distance_km is not None and len(event_station[0]):
        ev, st = event_station
        dist = np.hypot(*(xyz_km[ev, :2] - station_xyz_km[st, :2]).T)
        far = dist > cov.max_distance_km + tol
        if far.any():
            k = int(np.argmax(dist))
            raise ValueError(
                f"velocity_model {backend!r} covers epicentral distances up to "
                f"{cov.max_distance_km:g} km, but {int(far.sum())} pick(s) of the catalog lie "
                f"farther (up to {dist[k]:.1f} km, event {event_ids[ev[k]]}); give a model "
                f"reaching further")


class RelocationTravelTimes:
    """Differentiable P and S times of picks, with trial positions kept inside the model.

    Parameters
    ----------
    bound
        The backend bound to the stations (:meth:`TravelTimeBackend.bind`).
    dtype
        Floating dtype of the times and positions (float64 keeps millisecond precision on
        tables of tens of seconds).

    Examples
    --------
    >>> from seisbench_genie.traveltimes import get
    >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> tt = RelocationTravelTimes(get("homogeneous", vp=5.0, vs=2.5).bind(st))
    >>> xyz = torch.tensor([[3.0, 4.0, 0.0], [3.0, 4.0, 0.0]], dtype=torch.float64)
    >>> tt(xyz, torch.tensor([0, 0]), torch.tensor([0, 1])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, bound: BoundTravelTimes, dtype: torch.dtype = torch.float64) -> None:
        self.bound = bound
        self.dtype = dtype
        cov = coverage_of(bound.backend)
        inf = float("inf")
        m = INSIDE_MARGIN_KM
        lo = [cov.x_km[0] + m if cov.x_km else -inf, cov.y_km[0] + m if cov.y_km else -inf,
              (cov.depth_km[0] + m) if cov.depth_km[0] is not None else -inf]
        hi = [cov.x_km[1] - m if cov.x_km else inf, cov.y_km[1] - m if cov.y_km else inf,
              (cov.depth_km[1] - m) if cov.depth_km[1] is not None else inf]
        #: ``(3,)`` lower and upper bounds (km) of trial positions.
        self.lower_km = torch.tensor(lo, dtype=dtype)
        self.upper_km = torch.tensor(hi, dtype=dtype)
        self.max_distance_km = cov.max_distance_km

    @property
    def projection(self) -> LocalProjection:
        """The local frame of positions."""
        return self.bound.projection

    def to(self, device: Any) -> RelocationTravelTimes:
        """A copy on ``device``.

        Examples
        --------
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> RelocationTravelTimes(get("homogeneous").bind(st)).to("cpu").lower_km.device.type
        'cpu'
        """
        new = RelocationTravelTimes.__new__(RelocationTravelTimes)
        new.bound = self.bound.to(device)
        new.dtype = self.dtype
        new.lower_km = self.lower_km.to(device)
        new.upper_km = self.upper_km.to(device)
        new.max_distance_km = self.max_distance_km
        return new

    def clamp(self, xyz_km: torch.Tensor) -> torch.Tensor:
        """Positions moved into the covered volume (gradient 0 across its faces).

        Examples
        --------
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> m = pd.DataFrame({"depth_km": [0.0], "vp": [6.0], "vs": [3.5]})
        >>> b = get("layered", model=m, max_distance_km=20.0, max_depth_km=10.0,
        ...         cache_dir=False).bind(st)
        >>> xyz = torch.tensor([[0.0, 0.0, 12.0]], dtype=torch.float64)
        >>> RelocationTravelTimes(b).clamp(xyz).tolist()
        [[0.0, 0.0, 9.999]]
        """
        lo = self.lower_km.to(xyz_km.dtype)
        hi = self.upper_km.to(xyz_km.dtype)
        return torch.maximum(torch.minimum(xyz_km, hi), lo)

    def __call__(self, xyz_km: torch.Tensor, station: torch.Tensor,
                 phase: torch.Tensor) -> torch.Tensor:
        """Travel times (s) of picks from sources ``xyz_km`` (one row per pick).

        Parameters
        ----------
        xyz_km
            ``(K, 3)`` source x, y, depth (km); clamped into the model first.
        station
            ``(K,)`` station index.
        phase
            ``(K,)`` 0 for P, 1 for S.

        Returns
        -------
        torch.Tensor
            ``(K,)`` seconds, differentiable with respect to ``xyz_km``.
        """
        xyz = self.clamp(xyz_km.to(self.dtype))
        if self.max_distance_km is not None and len(xyz):
            # A trial position pushed beyond the table's distance range is evaluated at its
            # edge, on the line to the station (the coverage check guarantees the catalog's
            # own positions are inside).
            sta = self.bound.station_xyz_km.to(xyz.dtype)[station, :2]
            offset = xyz[:, :2] - sta
            dist = offset.detach().norm(dim=1).clamp(min=1e-9)
            limit = self.max_distance_km - INSIDE_MARGIN_KM
            shrink = torch.clamp(limit / dist, max=1.0)
            xyz = torch.cat([sta + offset * shrink[:, None], xyz[:, 2:]], dim=1)
        out = torch.zeros(len(xyz), dtype=xyz.dtype, device=xyz.device)
        for k, name in enumerate(("P", "S")):  # two phases, each vectorised over picks
            mask = phase == k
            if bool(mask.any()):
                out = out.index_put((mask.nonzero().squeeze(1),),
                                    self.bound.pair_times(xyz[mask], station[mask], name))
        return out

    def with_gradient(self, xyz_km: torch.Tensor, station: torch.Tensor,
                      phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Travel times (s) and their gradients with respect to the source (s/km).

        Parameters
        ----------
        xyz_km, station, phase
            As for :meth:`__call__`.

        Returns
        -------
        times : torch.Tensor
            ``(K,)`` seconds (no graph).
        slowness : torch.Tensor
            ``(K, 3)`` dT/dx, dT/dy, dT/dz (s/km).

        Examples
        --------
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> tt = RelocationTravelTimes(get("homogeneous", vp=5.0).bind(st))
        >>> t, g = tt.with_gradient(torch.tensor([[3.0, 4.0, 0.0]], dtype=torch.float64),
        ...                         torch.tensor([0]), torch.tensor([0]))
        >>> g.round(decimals=3).tolist()
        [[0.12, 0.16, 0.0]]
        """
        with torch.enable_grad():
            rows = xyz_km.detach().to(self.dtype).clone().requires_grad_(True)
            t = self(rows, station, phase)
            (grad,) = torch.autograd.grad(t.sum(), rows) if len(t) else (torch.zeros_like(rows),)
        return t.detach(), grad.detach()
