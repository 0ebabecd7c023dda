"""3-D gridded velocity model: per-station eikonal tables (scikit-fmm), trilinear lookups."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..geo import LocalProjection
from ..stations import station_table
from .base import PHASES, BoundTravelTimes, TravelTimeBackend
from .base import regular_grid_interpolate as _interp
from .velocity_model import (
    cache_key,
    default_cache_dir,
    load_cached_arrays,
    point_source_travel_time,
    save_cached_arrays,
)

__all__ = ["BoundGrid3DTravelTimes", "Grid3DTravelTimes"]

#: Bump when the way tables are computed changes, so stale cache files are not reused.
TABLE_VERSION = 1
#: Sources this far outside the grid (km) are clamped onto it; farther ones are errors.
TOLERANCE_KM = 0.01


def _regular_axis(label: str, axis: Any) -> tuple[np.ndarray, float]:
    a = np.asarray(axis, dtype=float)
    if a.ndim != 1 or a.size < 2 or not np.isfinite(a).all():
        raise ValueError(f"Grid3DTravelTimes: {label} must be a 1-D finite axis of >= 2 nodes")
    step = np.diff(a)
    if not (step > 0).all():
        raise ValueError(f"Grid3DTravelTimes: {label} must be strictly increasing")
    if not np.allclose(step, step.mean(), rtol=1e-6, atol=1e-9):
        raise ValueError(
            f"Grid3DTravelTimes: {label} must be regularly spaced (spacings "
            f"{step.min():g}-{step.max():g} km)"
        )
    return a, float(step.mean())


class Grid3DTravelTimes(TravelTimeBackend):
    """3-D P and S velocity grids; per-station first-arrival tables from scikit-fmm.

    The grids live on regular axes of the transverse Mercator frame centred on
    ``(origin_lat, origin_lon)`` (:class:`~seisbench_genie.geo.LocalProjection`), with ``z``
    the depth (km below sea level, positive down). Binding to stations solves, by reciprocity,
    one eikonal problem per station and phase with the point source at the station's exact
    position (not snapped to a node: the march starts from a sphere of radius
    ``source_radius_km`` around it with exact times of the local velocity). Stations above
    the top of the grid are placed on it, and the vertical time from there up to the station
    (velocity of the top node) is added. Tables (float32) are cached per station as ``.npz``
    keyed by a sha256 of the model, the axes and the station position, and evaluated with
    trilinear interpolation.

    Accuracy (measured, homogeneous 6 km/s grid of 40 x 40 x 20 km, 2000 random sources):
    largest error 0.029 s with 1 km spacing and 0.016 s with 0.5 km (3-D second-order fast
    marching plus trilinear interpolation; about proportional to the spacing). Cost: about
    0.35 s per station and phase for 0.27 million nodes on 2 CPU cores; memory
    ``2 * M * nx * ny * nz * 4`` bytes for ``M`` stations.

    Parameters
    ----------
    vp, vs
        Velocities (km/s), arrays shaped ``(nx, ny, nz)``, positive and finite.
    x_km, y_km, z_km
        Regular, increasing node coordinates (km east, km north, km depth).
    origin_lat, origin_lon
        Centre of the local frame (degrees).
    cache_dir
        Directory of cached tables; default :func:`default_cache_dir`; ``False`` disables it.
    source_radius_km
        Radius of the exactly initialised sphere around each station; default three times
        the largest grid spacing.

    Raises
    ------
    ValueError
        For mismatched shapes, irregular axes or non-positive velocities.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.arange(-10.0, 11.0); z = np.arange(0.0, 11.0)
    >>> vp = np.full((21, 21, 11), 6.0)
    >>> tt = Grid3DTravelTimes(vp, vp / 1.73, x, x, z, 0.0, 0.0, cache_dir=False)
    >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> round(float(tt.times([[0.0, 0.0, 6.0]], st, "P")[0, 0]), 2)
    1.0
    """

    name = "grid3d"
    max_distance_km = None

    def __init__(
        self,
        vp: Any,
        vs: Any,
        x_km: Any,
        y_km: Any,
        z_km: Any,
        origin_lat: float,
        origin_lon: float,
        cache_dir: str | Path | None | bool = None,
        source_radius_km: float | None = None,
    ) -> None:
        self.x_km, hx = _regular_axis("x_km", x_km)
        self.y_km, hy = _regular_axis("y_km", y_km)
        self.z_km, hz = _regular_axis("z_km", z_km)
        self.spacing_km = (hx, hy, hz)
        shape = (self.x_km.size, self.y_km.size, self.z_km.size)
        self.velocity_km_s: dict[str, np.ndarray] = {}
        for phase, label, grid in (("P", "vp", vp), ("S", "vs", vs)):
            arr = np.asarray(grid, dtype=float)
            if arr.shape != shape:
                raise ValueError(
                    f"Grid3DTravelTimes: {label} has shape {arr.shape}, expected {shape} "
                    "(len(x_km), len(y_km), len(z_km))"
                )
            if not np.isfinite(arr).all() or (arr <= 0).any():
                raise ValueError(f"Grid3DTravelTimes: {label} must be positive and finite")
            self.velocity_km_s[phase] = arr
        self.projection = LocalProjection(origin_lat, origin_lon)
        self.max_depth_km = float(self.z_km[-1])
        if cache_dir is False:
            self.cache_dir: Path | None = None
        else:
            self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        radius = 3.0 * max(self.spacing_km) if source_radius_km is None else source_radius_km
        if not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"Grid3DTravelTimes: source_radius_km must be positive, got {radius}")
        self.source_radius_km = float(radius)
        self.model_key = cache_key(
            kind="grid3d-model",
            vp=self.velocity_km_s["P"],
            vs=self.velocity_km_s["S"],
            x=self.x_km,
            y=self.y_km,
            z=self.z_km,
            lat0=self.projection.lat0,
            lon0=self.projection.lon0,
        )
        #: Seconds spent computing tables in the last :meth:`station_tables` call.
        self.build_seconds = 0.0
        #: Stations whose tables came from the cache in the last :meth:`station_tables` call.
        self.n_loaded_from_cache = 0

    def default_projection(self, stations: pd.DataFrame) -> LocalProjection:
        """The grid's own frame (stations do not move it).

        Examples
        --------
        >>> import numpy as np
        >>> a = np.arange(3.0); v = np.full((3, 3, 3), 5.0)
        >>> Grid3DTravelTimes(v, v, a, a, a, 1.0, 2.0, cache_dir=False).default_projection(None)
        LocalProjection(lat0=1.0, lon0=2.0)
        """
        return self.projection

    def extent_km(self) -> tuple[tuple[float, float], ...]:
        """The grid's x, y and depth ranges (km, in :attr:`projection`'s frame).

        Examples
        --------
        >>> import numpy as np
        >>> a = np.arange(-5.0, 6.0); v = np.full((11, 11, 11), 6.0)
        >>> Grid3DTravelTimes(v, v, a, a, a + 5.0, 1.0, 2.0, cache_dir=False).extent_km()
        ((-5.0, 5.0), (-5.0, 5.0), (0.0, 10.0))
        """
        return tuple((float(axis[0]), float(axis[-1]))
                     for axis in (self.x_km, self.y_km, self.z_km))

    def _grid_position(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Station positions on the grid (relative to its first node) and extra vertical km."""
        lo = np.array([self.x_km[0], self.y_km[0], self.z_km[0]])
        hi = np.array([self.x_km[-1], self.y_km[-1], self.z_km[-1]])
        labels = ("x (east)", "y (north)", "depth")
        for d in range(2):
            bad = (xyz[:, d] < lo[d] - TOLERANCE_KM) | (xyz[:, d] > hi[d] + TOLERANCE_KM)
            if bad.any():
                raise ValueError(
                    f"{int(bad.sum())} station(s) outside the 3-D grid: {labels[d]} = "
                    f"{xyz[bad, d][:3].round(3).tolist()} km, grid {lo[d]:g}..{hi[d]:g} km"
                )
        if (xyz[:, 2] > hi[2]).any():
            raise ValueError(f"station(s) below the bottom of the 3-D grid ({hi[2]:g} km)")
        above = np.clip(lo[2] - xyz[:, 2], 0.0, None)  # km between station and grid top
        pos = np.clip(xyz, lo, hi) - lo
        return pos, above

    def station_tables(self, station_xyz_km: np.ndarray) -> dict[str, np.ndarray]:
        """Travel-time tables (s) from each station to every grid node (cached).

        Parameters
        ----------
        station_xyz_km
            ``(M, 3)`` local ``x``, ``y`` and ``-elevation`` (km) of the stations.

        Returns
        -------
        dict
            ``{"P": array, "S": array}``, each float32 ``(M, nx, ny, nz)``, times to the
            station's position on the grid (without the above-grid correction).

        Examples
        --------
        >>> import numpy as np
        >>> a = np.arange(0.0, 5.0); v = np.full((5, 5, 5), 5.0)
        >>> tt = Grid3DTravelTimes(v, v, a, a, a, 0.0, 0.0, cache_dir=False)
        >>> tt.station_tables(np.array([[0.0, 0.0, 0.0]]))["P"].shape
        (1, 5, 5, 5)
        """
        xyz = np.asarray(station_xyz_km, dtype=float).reshape(-1, 3)
        pos, _ = self._grid_position(xyz)
        shape = (len(pos), self.x_km.size, self.y_km.size, self.z_km.size)
        out = {p: np.empty(shape, dtype=np.float32) for p in PHASES}
        self.build_seconds = 0.0
        self.n_loaded_from_cache = 0
        for i, p_km in enumerate(pos):  # one eikonal solve per station (and phase)
            key = cache_key(
                kind="grid3d",
                version=TABLE_VERSION,
                model=self.model_key,
                station=[round(float(c), 6) for c in p_km],
                source_radius_km=self.source_radius_km,
            )
            path = None if self.cache_dir is None else self.cache_dir / f"grid3d_{key}.npz"
            arrays = load_cached_arrays(path, key) if path is not None else None
            if arrays is not None and all(
                p in arrays and arrays[p].shape == shape[1:] for p in PHASES
            ):
                for p in PHASES:
                    out[p][i] = arrays[p]
                self.n_loaded_from_cache += 1
                continue
            start = time.perf_counter()
            tables = {
                p: point_source_travel_time(
                    self.velocity_km_s[p], self.spacing_km, p_km, self.source_radius_km
                ).astype(np.float32)
                for p in PHASES
            }
            self.build_seconds += time.perf_counter() - start
            for p in PHASES:
                out[p][i] = tables[p]
            if path is not None:
                save_cached_arrays(path, key, tables)
        return out

    def bind(
        self,
        stations: Any,
        projection: LocalProjection | None = None,
        station_terms: pd.DataFrame | None = None,
    ) -> BoundGrid3DTravelTimes:
        """Bind to stations (computes or loads their tables); see :meth:`TravelTimeBackend.bind`.

        Raises
        ------
        ValueError
            When ``projection`` differs from the grid's frame (:attr:`projection`), or a
            station lies outside the grid horizontally or below it.

        Examples
        --------
        >>> import numpy as np, pandas as pd, torch
        >>> a = np.arange(-5.0, 6.0); v = np.full((11, 11, 11), 5.0)
        >>> tt = Grid3DTravelTimes(v, v, a, a, a + 5.0, 0.0, 0.0, cache_dir=False)
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> t = tt.bind(st).times(torch.tensor([[3.0, 0.0, 4.0]]), "P")
        >>> round(float(t), 1)
        1.0
        """
        if projection is not None and projection != self.projection:
            raise ValueError(
                f"Grid3DTravelTimes is defined in {self.projection!r}; cannot bind in "
                f"{projection!r} (pass projection=backend.projection or None)"
            )
        return BoundGrid3DTravelTimes(self, station_table(stations), self.projection, station_terms)

    def __repr__(self) -> str:
        return (
            f"Grid3DTravelTimes(shape={self.velocity_km_s['P'].shape}, "
            f"spacing_km={self.spacing_km}, projection={self.projection!r})"
        )


class BoundGrid3DTravelTimes(BoundTravelTimes):
    """:class:`Grid3DTravelTimes` bound to stations: differentiable trilinear lookups.

    Examples
    --------
    >>> import numpy as np, pandas as pd, torch
    >>> a = np.arange(-5.0, 6.0); v = np.full((11, 11, 11), 5.0)
    >>> tt = Grid3DTravelTimes(v, v, a, a, a + 5.0, 0.0, 0.0, cache_dir=False)
    >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> b = tt.bind(st)
    >>> t = b.pair_times(torch.tensor([[0.0, 0.0, 5.0]]), torch.tensor([0]), "S")
    >>> round(float(t), 2)
    1.0
    """

    backend: Grid3DTravelTimes

    def __init__(
        self,
        backend: Grid3DTravelTimes,
        stations: pd.DataFrame,
        projection: LocalProjection,
        station_terms: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(backend, stations, projection, station_terms)
        xyz = self.station_xyz_km.numpy()
        tables = backend.station_tables(xyz)
        #: ``(2, M, nx, ny, nz)`` float32 P and S tables (s).
        self.tables_s = torch.from_numpy(np.stack([tables[p] for p in PHASES]))
        _, above = backend._grid_position(xyz)
        ix = np.clip(np.rint((xyz[:, 0] - backend.x_km[0]) / backend.spacing_km[0]), 0, None)
        iy = np.clip(np.rint((xyz[:, 1] - backend.y_km[0]) / backend.spacing_km[1]), 0, None)
        ix = np.minimum(ix.astype(int), backend.x_km.size - 1)
        iy = np.minimum(iy.astype(int), backend.y_km.size - 1)
        top_v = np.stack([backend.velocity_km_s[p][ix, iy, 0] for p in PHASES], axis=1)
        #: ``(M, 2)`` s of vertical travel between the grid top and stations above it.
        self.above_grid_s = torch.as_tensor(above[:, None] / top_v, dtype=torch.float64)
        self.grid_origin = torch.tensor(
            [backend.x_km[0], backend.y_km[0], backend.z_km[0]], dtype=torch.float64
        )
        self.grid_spacing = torch.tensor(backend.spacing_km, dtype=torch.float64)
        self.grid_end = torch.tensor(
            [backend.x_km[-1], backend.y_km[-1], backend.z_km[-1]], dtype=torch.float64
        )

    def _pair_times(
        self, source_xyz_km: torch.Tensor, station_index: torch.Tensor, phase: str
    ) -> torch.Tensor:
        k = PHASES.index(phase)
        table = self.tables_s[k]
        src = source_xyz_km.to(table.dtype)
        lo = self.grid_origin.to(table.dtype)
        hi = self.grid_end.to(table.dtype)
        if src.numel():
            low = src.detach().min(dim=0).values.cpu().numpy()
            high = src.detach().max(dim=0).values.cpu().numpy()
            lo_km, hi_km = self.grid_origin.cpu().numpy(), self.grid_end.cpu().numpy()
            for d, label in enumerate(("x (east)", "y (north)", "depth")):
                below, beyond = low[d] < lo_km[d] - TOLERANCE_KM, high[d] > hi_km[d] + TOLERANCE_KM
                if below or beyond:
                    raise ValueError(
                        f"source {label} = {low[d] if below else high[d]:.3f} km is outside the "
                        f"3-D grid ({lo_km[d]:g}..{hi_km[d]:g} km)"
                    )
        src = torch.minimum(torch.maximum(src, lo), hi)
        t = _interp(table, lo, self.grid_spacing.to(table.dtype), src, station_index)
        return t + self.above_grid_s[station_index, k].to(t.dtype)
