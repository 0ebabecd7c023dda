"""The travel-time backend interface shared by every backend.

A :class:`TravelTimeBackend` describes a velocity model (homogeneous, layered, 3-D grid...).
Binding it to a station set and a local frame gives a :class:`BoundTravelTimes`, the object
GENIE's torch code uses: batched, differentiable travel times from sources in local km
coordinates to stations addressed by index.

Coordinates in the torch path are local: ``x`` (km east), ``y`` (km north) in a
:class:`~seisbench_genie.geo.LocalProjection` and depth (km below sea level, positive down).
A station sits at ``(x, y, -elevation_km)``.

Station terms follow the NonLinLoc sign convention: ``observed = predicted + term``, so the
term (s) is *added* to the predicted time.
"""

from __future__ import annotations

import abc
import copy
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..geo import LocalProjection
from ..stations import station_table

__all__ = [
    "PHASES",
    "BoundTravelTimes",
    "TravelTimeBackend",
    "normalize_phase",
    "regular_grid_interpolate",
    "station_terms_array",
]

#: Phases every backend supports, in the column order of station-term arrays.
PHASES = ("P", "S")


def normalize_phase(phase: Any) -> str:
    """Return ``"P"`` or ``"S"`` for a phase name (case-insensitive).

    Parameters
    ----------
    phase
        ``"P"``, ``"p"``, ``"S"`` or ``"s"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> normalize_phase("s")
    'S'
    """
    if isinstance(phase, str) and phase.strip().upper() in PHASES:
        return phase.strip().upper()
    raise ValueError(f"phase must be 'P' or 'S' (case-insensitive), got {phase!r}")


def station_terms_array(station_terms: pd.DataFrame | None, station_ids: Any) -> np.ndarray:
    """Per-station P and S terms (s) aligned with ``station_ids``; missing stations get 0.

    Parameters
    ----------
    station_terms
        DataFrame with ``id`` and ``p_term_s`` and/or ``s_term_s`` (s, NonLinLoc sign:
        ``observed = predicted + term``), or None. A missing column or NaN counts as 0.
    station_ids
        Station ids, in the order of the returned rows.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_stations, 2)``: columns P, S in seconds.

    Raises
    ------
    ValueError
        When ``station_terms`` is not a DataFrame, lacks ``id``, has neither term column or
        lists a station twice with different terms.

    Examples
    --------
    >>> import pandas as pd
    >>> terms = pd.DataFrame({"id": ["XX.A."], "p_term_s": [0.1], "s_term_s": [0.2]})
    >>> station_terms_array(terms, ["XX.A.", "XX.B."]).tolist()
    [[0.1, 0.2], [0.0, 0.0]]
    """
    ids = [str(i) for i in station_ids]
    out = np.zeros((len(ids), 2))
    if station_terms is None:
        return out
    if not isinstance(station_terms, pd.DataFrame):
        raise ValueError(
            "station_terms: expected a DataFrame with 'id', 'p_term_s', 's_term_s', got "
            f"{type(station_terms).__name__}"
        )
    cols = ["p_term_s", "s_term_s"]
    if "id" not in station_terms.columns or not any(c in station_terms.columns for c in cols):
        raise ValueError(
            "station_terms: needs an 'id' column and 'p_term_s' and/or 's_term_s' (s); got "
            f"{list(station_terms.columns)}"
        )
    terms = pd.DataFrame({"id": station_terms["id"].astype(str)})
    for c in cols:
        values = station_terms[c] if c in station_terms.columns else 0.0
        terms[c] = pd.to_numeric(values, errors="coerce")
    terms[cols] = terms[cols].fillna(0.0)
    terms = terms.drop_duplicates()
    dup = terms["id"].duplicated(keep=False)
    if dup.any():
        raise ValueError(
            f"station_terms: station(s) listed twice with different terms: "
            f"{sorted(set(terms.loc[dup, 'id']))[:5]}"
        )
    aligned = terms.set_index("id").reindex(ids)[cols].fillna(0.0)
    return aligned.to_numpy(float)


class TravelTimeBackend(abc.ABC):
    """A velocity model that predicts P and S travel times.

    Subclasses set :attr:`name`, :attr:`max_depth_km`, :attr:`max_distance_km` and
    implement :meth:`bind`; :meth:`times` (geographic, numpy) is built on :meth:`bind`.

    Attributes
    ----------
    name : str
        Registry name (the entry-point name in ``seisbench_genie.traveltimes``).
    max_depth_km : float or None
        Deepest source (km) the backend can evaluate; None when unlimited.
    max_distance_km : float or None
        Largest epicentral distance (km); None when unlimited.

    Examples
    --------
    >>> import pandas as pd
    >>> from seisbench_genie.traveltimes import get
    >>> backend = get("homogeneous", vp=6.0, vs=3.5)
    >>> stations = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
    >>> backend.times([[0.0, 0.0, 12.0]], stations, "P").round(3).tolist()
    [[2.0]]
    """

    name: str = "abstract"
    max_depth_km: float | None = None
    max_distance_km: float | None = None

    def default_projection(self, stations: pd.DataFrame) -> LocalProjection:
        """Local frame used when :meth:`bind` gets none: centred on the stations.

        Parameters
        ----------
        stations
            Station table.

        Returns
        -------
        LocalProjection

        Examples
        --------
        >>> import pandas as pd
        >>> from seisbench_genie.traveltimes import get
        >>> df = pd.DataFrame({"latitude": [0.0, 2.0], "longitude": [10.0, 12.0]})
        >>> get("homogeneous").default_projection(df)
        LocalProjection(lat0=1.0, lon0=11.0)
        """
        return LocalProjection.centred_on(stations)

    def extent_km(self) -> tuple[tuple[float, float], ...] | None:
        """The box where the backend gives travel times, as (x, y, depth) ranges in km in
        the frame of :meth:`default_projection`; ``None`` when sources may lie anywhere
        horizontally (tables by epicentral distance; their depth limit is
        :attr:`max_depth_km`).

        Examples
        --------
        >>> from seisbench_genie.traveltimes import get
        >>> get("homogeneous").extent_km() is None
        True
        """
        return None

    @abc.abstractmethod
    def bind(
        self,
        stations: Any,
        projection: LocalProjection | None = None,
        station_terms: pd.DataFrame | None = None,
    ) -> BoundTravelTimes:
        """Tie the backend to a station set and a local frame (the torch path).

        Parameters
        ----------
        stations
            Station table (``id``, ``latitude``, ``longitude``, ``elevation`` in m) or an
            ObsPy Inventory; normalised with :func:`seisbench_genie.stations.station_table`.
        projection
            Local frame; default :meth:`default_projection`.
        station_terms
            Optional DataFrame ``id``, ``p_term_s``, ``s_term_s`` (s, added to predictions).

        Returns
        -------
        BoundTravelTimes

        Examples
        --------
        >>> import pandas as pd, torch
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> bound = get("homogeneous", vp=5.0).bind(st)
        >>> bound.times(torch.tensor([[3.0, 4.0, 0.0]]), "P").tolist()
        [[1.0]]
        """

    def times(
        self,
        sources: Any,
        stations: Any,
        phase: str,
        station_terms: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Travel times (s) from geographic sources to stations.

        Parameters
        ----------
        sources
            Array-like ``(N, 3)``: latitude, longitude (degrees), depth (km below sea level).
            A single source may be given as a length-3 sequence.
        stations
            Station table or ObsPy Inventory (see :meth:`bind`).
        phase
            ``"P"`` or ``"S"`` (case-insensitive).
        station_terms
            Optional station terms (see :meth:`bind`).

        Returns
        -------
        numpy.ndarray
            ``(N, n_stations)`` float64 seconds, stations in the order of
            ``station_table(stations)``.

        Raises
        ------
        ValueError
            For a bad phase, malformed sources or sources outside the backend's range.

        Examples
        --------
        >>> import pandas as pd
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A.", "XX.B."], "latitude": [0.0, 0.0],
        ...                    "longitude": [0.0, 0.0], "elevation": [0.0, 1000.0]})
        >>> get("homogeneous", vp=5.0).times([0.0, 0.0, 4.0], st, "p").tolist()
        [[0.8, 1.0]]
        """
        phase = normalize_phase(phase)
        src = np.asarray(sources, dtype=float)
        if src.ndim == 1:
            src = src[None, :]
        if src.ndim != 2 or src.shape[1] != 3:
            raise ValueError(
                f"sources: expected shape (N, 3) of latitude, longitude, depth_km; got "
                f"{np.shape(sources)}"
            )
        if not np.isfinite(src).all():
            raise ValueError("sources: NaN or infinite coordinates")
        bound = self.bind(station_table(stations), station_terms=station_terms)
        x, y = bound.projection.to_local(src[:, 0], src[:, 1])
        xyz = torch.as_tensor(np.stack([x, y, src[:, 2]], axis=1), dtype=torch.float64)
        with torch.no_grad():
            t = bound.times(xyz, phase)
        return t.detach().cpu().numpy().astype(np.float64)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class BoundTravelTimes(abc.ABC):
    """A backend tied to one station set and one local frame: differentiable torch times.

    Subclasses implement :meth:`_pair_times` (times without station terms, and any
    range checks). Every tensor attribute follows :meth:`to`.

    Attributes
    ----------
    backend : TravelTimeBackend
        The backend that made this object.
    projection : LocalProjection
        The local frame of the source and station coordinates.
    stations : pandas.DataFrame
        The validated station table; row ``i`` is ``station_index == i``.
    station_xyz_km : torch.Tensor
        ``(M, 3)`` float64: local ``x``, ``y`` (km) and ``-elevation`` (km).
    station_terms_s : torch.Tensor
        ``(M, 2)`` float64 P and S station terms (s), added to every prediction.

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from seisbench_genie.traveltimes import get
    >>> st = pd.DataFrame({"id": ["XX.A.", "XX.B."], "latitude": [0.0, 0.0],
    ...                    "longitude": [0.0, 0.0]})
    >>> bound = get("homogeneous", vp=5.0, vs=2.5).bind(st)
    >>> src = torch.tensor([[3.0, 4.0, 0.0]], requires_grad=True)
    >>> t = bound.pair_times(src.expand(2, 3), torch.tensor([0, 1]), "S")
    >>> t.tolist()
    [2.0, 2.0]
    >>> t.sum().backward(); src.grad.tolist()
    [[0.47999998927116394, 0.6399999856948853, 0.0]]
    """

    def __init__(
        self,
        backend: TravelTimeBackend,
        stations: pd.DataFrame,
        projection: LocalProjection,
        station_terms: pd.DataFrame | None = None,
    ) -> None:
        self.backend = backend
        self.stations = station_table(stations)
        self.projection = projection
        x, y = projection.to_local(self.stations["latitude"], self.stations["longitude"])
        z = -self.stations["elevation"].to_numpy(float) / 1000.0
        self.station_xyz_km = torch.as_tensor(np.stack([x, y, z], axis=1), dtype=torch.float64)
        self.station_terms_s = torch.as_tensor(
            station_terms_array(station_terms, self.stations["id"]), dtype=torch.float64
        )

    @property
    def n_stations(self) -> int:
        """Number of stations ``M``."""
        return int(self.station_xyz_km.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the bound tensors."""
        return self.station_xyz_km.device

    @abc.abstractmethod
    def _pair_times(
        self, source_xyz_km: torch.Tensor, station_index: torch.Tensor, phase: str
    ) -> torch.Tensor:
        """Times (s) without station terms for validated inputs; shape ``(E,)``."""

    def pair_times(
        self, source_xyz_km: torch.Tensor, station_index: torch.Tensor, phase: str
    ) -> torch.Tensor:
        """Travel times for source-station pairs (s), station terms included.

        Parameters
        ----------
        source_xyz_km
            ``(E, 3)`` local ``x``, ``y`` (km) and depth (km, positive down).
        station_index
            ``(E,)`` integer indices into :attr:`stations`.
        phase
            ``"P"`` or ``"S"`` (case-insensitive).

        Returns
        -------
        torch.Tensor
            ``(E,)`` seconds in the dtype of ``source_xyz_km`` (floating), on its device
            (tables on another device are copied there once, see :meth:`to`); differentiable
            with respect to ``source_xyz_km``.

        Raises
        ------
        ValueError
            For a bad phase, shapes, station index or sources outside the backend's range.

        Examples
        --------
        >>> import pandas as pd, torch
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> b = get("homogeneous", vp=5.0).bind(st)
        >>> b.pair_times(torch.tensor([[0.0, 0.0, 10.0]]), torch.tensor([0]), "P").tolist()
        [2.0]
        """
        phase = normalize_phase(phase)
        if not isinstance(source_xyz_km, torch.Tensor):
            source_xyz_km = torch.as_tensor(source_xyz_km, dtype=torch.float64)
        if not torch.is_floating_point(source_xyz_km):
            source_xyz_km = source_xyz_km.to(torch.get_default_dtype())
        station_index = torch.as_tensor(station_index, device=source_xyz_km.device)
        if source_xyz_km.ndim != 2 or source_xyz_km.shape[1] != 3:
            raise ValueError(
                f"source_xyz_km: expected shape (E, 3), got {tuple(source_xyz_km.shape)}"
            )
        if station_index.ndim != 1 or station_index.shape[0] != source_xyz_km.shape[0]:
            raise ValueError(
                f"station_index: expected shape ({source_xyz_km.shape[0]},), got "
                f"{tuple(station_index.shape)}"
            )
        if torch.is_floating_point(station_index) or station_index.dtype == torch.bool:
            raise ValueError("station_index must be an integer tensor")
        station_index = station_index.long()
        if station_index.numel():
            lo, hi = int(station_index.min()), int(station_index.max())
            if lo < 0 or hi >= self.n_stations:
                raise ValueError(
                    f"station_index out of range [0, {self.n_stations - 1}]: found {lo}..{hi}"
                )
        if not bool(torch.isfinite(source_xyz_km.detach()).all()):
            raise ValueError("source_xyz_km: NaN or infinite coordinates")
        if source_xyz_km.device != self.device:
            return self._on_device(source_xyz_km.device).pair_times(
                source_xyz_km, station_index, phase
            )
        t = self._pair_times(source_xyz_km, station_index, phase)
        terms = self.station_terms_s[station_index, PHASES.index(phase)]
        return (t + terms.to(t.dtype)).to(source_xyz_km.dtype)

    def times(self, source_xyz_km: torch.Tensor, phase: str) -> torch.Tensor:
        """Travel times from every source to every station (s).

        Parameters
        ----------
        source_xyz_km
            ``(N, 3)`` local ``x``, ``y`` (km) and depth (km, positive down).
        phase
            ``"P"`` or ``"S"``.

        Returns
        -------
        torch.Tensor
            ``(N, M)`` seconds, differentiable with respect to ``source_xyz_km``.

        Examples
        --------
        >>> import pandas as pd, torch
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> get("homogeneous", vp=5.0).bind(st).times(torch.zeros(4, 3), "P").shape
        torch.Size([4, 1])
        """
        if not isinstance(source_xyz_km, torch.Tensor):
            source_xyz_km = torch.as_tensor(source_xyz_km, dtype=torch.float64)
        if source_xyz_km.ndim != 2 or source_xyz_km.shape[1] != 3:
            raise ValueError(
                f"source_xyz_km: expected shape (N, 3), got {tuple(source_xyz_km.shape)}"
            )
        n, m = source_xyz_km.shape[0], self.n_stations
        src = source_xyz_km[:, None, :].expand(n, m, 3).reshape(n * m, 3)
        idx = torch.arange(m, device=source_xyz_km.device).repeat(n)
        return self.pair_times(src, idx, phase).reshape(n, m)

    def _on_device(self, device: torch.device) -> BoundTravelTimes:
        """Copy of ``self`` on ``device``, made once and reused."""
        copies = self.__dict__.setdefault("_device_copies", {})
        if str(device) not in copies:
            copies[str(device)] = self.to(device)
        return copies[str(device)]

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> BoundTravelTimes:
        """Copy with every tensor moved to ``device`` (and floating tensors cast to ``dtype``).

        Parameters
        ----------
        device
            Target device, e.g. ``"cuda"``; None keeps the current one.
        dtype
            Floating dtype for the tables (e.g. ``torch.float32`` on GPUs); None keeps
            float64.

        Returns
        -------
        BoundTravelTimes
            A shallow copy sharing nothing mutable with ``self``'s tensors.

        Examples
        --------
        >>> import pandas as pd
        >>> from seisbench_genie.traveltimes import get
        >>> st = pd.DataFrame({"id": ["XX.A."], "latitude": [0.0], "longitude": [0.0]})
        >>> get("homogeneous").bind(st).to("cpu").device.type
        'cpu'
        """
        new = copy.copy(self)
        new.__dict__.pop("_device_copies", None)
        for key, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                cast = dtype if (dtype is not None and torch.is_floating_point(value)) else None
                setattr(new, key, value.to(device=device, dtype=cast))
        return new

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(backend={self.backend!r}, n_stations={self.n_stations}, "
            f"projection={self.projection!r}, device={self.device})"
        )


# --------------------------------------------------------------------------------------------
# Interpolation on regular grids (shared by the gridded backends)
# --------------------------------------------------------------------------------------------


def regular_grid_interpolate(
    table: torch.Tensor,
    origin: torch.Tensor,
    spacing: torch.Tensor,
    coords: torch.Tensor,
    batch_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multilinear interpolation on a regular grid, differentiable in ``coords``.

    Parameters
    ----------
    table
        Values on the grid, shape ``(*grid)`` or ``(B, *grid)`` when ``batch_index`` is
        given (one grid per batch entry, e.g. per station).
    origin, spacing
        ``(D,)`` coordinate of the first node and node spacing per axis.
    coords
        ``(E, D)`` query points; must lie inside the grid (callers check ranges).
    batch_index
        ``(E,)`` which grid of ``table`` each query uses.

    Returns
    -------
    torch.Tensor
        ``(E,)`` values in the dtype of ``table``.

    Examples
    --------
    >>> t = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    >>> regular_grid_interpolate(t, torch.zeros(2), torch.ones(2),
    ...                          torch.tensor([[0.5, 0.5]])).tolist()
    [1.5]
    """
    grid_shape = table.shape[1:] if batch_index is not None else table.shape
    ndim = len(grid_shape)
    c = coords.to(table.dtype)
    f = (c - origin.to(table.dtype)) / spacing.to(table.dtype)
    sizes = torch.tensor(grid_shape, device=table.device)
    base = torch.minimum(
        torch.clamp(torch.floor(f.detach()), min=0).long(), (sizes - 2).clamp(min=0)
    )
    w = f - base.to(table.dtype)  # fractional position, differentiable
    strides = [1] * ndim
    for i in range(ndim - 2, -1, -1):
        strides[i] = strides[i + 1] * int(grid_shape[i + 1])
    flat = table.reshape(-1)
    offset = 0
    if batch_index is not None:
        offset = batch_index.long() * int(np.prod(grid_shape))
    out = torch.zeros(c.shape[0], dtype=table.dtype, device=table.device)
    for corner in range(2**ndim):  # 4 or 8 corners, vectorised over queries
        weight = torch.ones_like(out)
        idx = offset
        for d in range(ndim):
            bit = (corner >> d) & 1
            weight = weight * (w[:, d] if bit else 1.0 - w[:, d])
            step = 1 if int(grid_shape[d]) > 1 else 0
            idx = idx + (base[:, d] + bit * step) * strides[d]
        out = out + weight * flat[idx]
    return out
