"""What a relocation works on: the catalog's picks, the event graph and the differential times.

:func:`catalog_picks` reads the picks of every event from an ObsPy Catalog (the arrivals of
the preferred origin, or the event's P/S picks when that origin has none).
:func:`build_problem` places events and stations in the backend's local frame, builds the graph
of neighbouring events (the ``k`` nearest within a maximum separation, kept when they share
enough stations) and lists the double-difference observations: for each event pair, every
station and phase both events have a pick at (catalog differential times), plus the
cross-correlation differential times of a HypoDD ``dt.cc`` file.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..geo import LocalProjection, epicentral_distance_km
from ..picks import station_positions
from ..stations import station_table
from ..traveltimes import TravelTimeBackend
from .traveltimes import check_coverage, velocity_backend

__all__ = [
    "CatalogPicks",
    "RelocationProblem",
    "build_problem",
    "catalog_picks",
]

#: Phase labels read as P or S: the first letter of the arrival phase (Pg, Pn, Sg, ...).
PHASE_LETTERS = ("P", "S")
#: Reasons an event is left as it was (the text of its origin comment).
REASON_NO_PICKS = "no P or S pick at a station of the inventory"
REASON_FEW_SHARED = ("fewer than {min_shared} shared stations with each of its neighbours "
                     "(the {k} nearest events within {max_sep:g} km)")


@dataclass
class CatalogPicks:
    """The events of a catalog, their origins and their picks as arrays.

    Attributes
    ----------
    events : list
        The catalog's :class:`~obspy.core.event.Event` objects, in order.
    origins : list
        The origin read per event (the preferred one, else the first).
    origin_index : list of int
        Position of that origin in ``Event.origins``.
    event_ids : list of str
        Event resource ids.
    origin_time, latitude, longitude, depth_km : numpy.ndarray
        ``(N,)`` origin times (POSIX s), coordinates (deg) and depths (km).
    picks : pandas.DataFrame
        One row per pick: ``event`` (position), ``station`` (``NET.STA.LOC``), ``phase``
        (``P``/``S``), ``time`` (POSIX s), ``pick_id`` and ``arrival_phase`` (as written in
        the arrival, e.g. ``Pg``).
    """

    events: list
    origins: list
    origin_index: list[int]
    event_ids: list[str]
    origin_time: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    depth_km: np.ndarray
    picks: pd.DataFrame


def catalog_picks(catalog: Any) -> CatalogPicks:
    """Read events, origins and P/S picks from an ObsPy Catalog.

    Per event the origin is the preferred one (else the first). Its arrivals give the picks
    and their phases (the first letter of ``Arrival.phase``, else of the pick's
    ``phase_hint``); an origin without arrivals falls back to the event's picks with a P or
    S ``phase_hint``. Picks of other phases or without time or station are skipped; of two
    picks of one event at the same station and phase the earlier is kept.

    Parameters
    ----------
    catalog
        An ObsPy :class:`~obspy.core.event.Catalog` (or a list of events).

    Returns
    -------
    CatalogPicks

    Raises
    ------
    ValueError
        When the catalog has no events, an event has no origin (or one without time or
        coordinates), or no event has a P or S pick or arrival.

    Examples
    --------
    >>> from obspy import UTCDateTime
    >>> from obspy.core.event import Catalog, Event, Origin, Pick, WaveformStreamID
    >>> pick = Pick(time=UTCDateTime(12.0), phase_hint="P",
    ...             waveform_id=WaveformStreamID("XX", "A", "", "HHZ"))
    >>> ev = Event(origins=[Origin(time=UTCDateTime(10.0), latitude=0.0, longitude=0.0,
    ...                            depth=5000.0)], picks=[pick])
    >>> cp = catalog_picks(Catalog([ev]))
    >>> cp.picks[["event", "station", "phase", "time"]].values.tolist()
    [[0, 'XX.A.', 'P', 12.0]]
    """
    events = list(catalog) if catalog is not None else []
    if not events:
        raise ValueError("catalog: no events to relocate")
    origins, origin_index, rows = [], [], []
    for i, event in enumerate(events):  # ObsPy objects: one pass over events and arrivals
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        if origin is None:
            raise ValueError(f"catalog: event {event.resource_id} has no origin")
        if origin.time is None or origin.latitude is None or origin.longitude is None:
            raise ValueError(f"catalog: origin {origin.resource_id} of event "
                             f"{event.resource_id} lacks a time, latitude or longitude")
        position = [k for k, o in enumerate(event.origins) if o is origin] or [
            k for k, o in enumerate(event.origins) if o.resource_id == origin.resource_id]
        if not position:
            raise ValueError(f"catalog: the preferred origin of event {event.resource_id} is "
                             "not among its origins")
        origins.append(event.origins[position[0]])
        origin = origins[-1]
        origin_index.append(position[0])
        by_id = {str(p.resource_id): p for p in event.picks}
        if origin.arrivals:
            pairs = [(by_id.get(str(a.pick_id)), a.phase) for a in origin.arrivals]
        else:
            pairs = [(p, None) for p in event.picks]
        for pick, phase in pairs:
            if pick is None or pick.time is None or pick.waveform_id is None:
                continue
            label = phase or pick.phase_hint or ""
            w = pick.waveform_id
            station = f"{w.network_code or ''}.{w.station_code or ''}.{w.location_code or ''}"
            rows.append((i, station, str(label).strip()[:1].upper(), pick.time.timestamp,
                         str(pick.resource_id), str(label)))
    picks = pd.DataFrame(rows, columns=["event", "station", "phase", "time", "pick_id",
                                        "arrival_phase"])
    picks = picks[picks["phase"].isin(PHASE_LETTERS)]
    if picks.empty:
        raise ValueError("catalog: no P or S picks or arrivals; relocation needs the picks of "
                         "each event (Event.picks with arrivals on its origin)")
    picks = (picks.sort_values(["event", "station", "phase", "time"], kind="stable")
             .drop_duplicates(["event", "station", "phase"], keep="first")
             .reset_index(drop=True))
    depth = np.array([np.nan if o.depth is None else o.depth / 1000.0 for o in origins])
    if np.isnan(depth).any():
        raise ValueError(f"catalog: {int(np.isnan(depth).sum())} origin(s) without a depth")
    return CatalogPicks(
        events=events, origins=origins, origin_index=origin_index,
        event_ids=[str(e.resource_id) for e in events],
        origin_time=np.array([o.time.timestamp for o in origins]),
        latitude=np.array([float(o.latitude) for o in origins]),
        longitude=np.array([float(o.longitude) for o in origins]),
        depth_km=depth, picks=picks)


@dataclass
class RelocationProblem:
    """Events, picks, event pairs and differential times in the backend's local frame.

    Attributes
    ----------
    catalog : CatalogPicks
        What was read from the catalog.
    backend : TravelTimeBackend
        The travel-time backend.
    stations : pandas.DataFrame
        The stations with observations (row ``i`` is station index ``i``).
    projection
        The local frame (:class:`~seisbench_genie.geo.LocalProjection`).
    xyz_km : numpy.ndarray
        ``(N, 3)`` catalog x, y, depth (km).
    pick_event, pick_station, pick_phase : numpy.ndarray
        ``(P,)`` event, station index and phase (0 P, 1 S) of each usable pick.
    pick_travel_time_s : numpy.ndarray
        ``(P,)`` pick time minus the catalog origin time (s).
    pick_row : numpy.ndarray
        ``(P,)`` row of each usable pick in ``catalog.picks``.
    pairs : numpy.ndarray
        ``(E, 2)`` event pairs ``i < j`` of the graph.
    dd_a, dd_b : numpy.ndarray
        ``(D,)`` pick indices of each catalog differential time (``a`` of the pair's first
        event, ``b`` of its second); ``dd_pair`` ``(D,)`` the pair.
    cc_event_a, cc_event_b, cc_station, cc_phase, cc_dt_s, cc_weight : numpy.ndarray
        ``(C,)`` cross-correlation differential times ``t_a - t_b`` (s) and weights.
    relocatable : numpy.ndarray
        ``(N,)`` bool: the event is in at least one pair.
    component : numpy.ndarray
        ``(N,)`` connected component of each event in the pair graph (-1: not relocatable).
    reason : list of str
        Per event, why it is not relocated ("" when it is).
    """

    catalog: CatalogPicks
    backend: TravelTimeBackend
    stations: pd.DataFrame
    projection: Any
    xyz_km: np.ndarray
    pick_event: np.ndarray
    pick_station: np.ndarray
    pick_phase: np.ndarray
    pick_travel_time_s: np.ndarray
    pick_row: np.ndarray
    pairs: np.ndarray
    dd_a: np.ndarray
    dd_b: np.ndarray
    dd_pair: np.ndarray
    cc_event_a: np.ndarray
    cc_event_b: np.ndarray
    cc_station: np.ndarray
    cc_phase: np.ndarray
    cc_dt_s: np.ndarray
    cc_weight: np.ndarray
    relocatable: np.ndarray
    component: np.ndarray
    reason: list[str] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        """Number of events ``N``."""
        return len(self.xyz_km)


def neighbour_pairs(xyz_km: np.ndarray, k: int, max_separation_km: float) -> np.ndarray:
    """Pairs ``i < j`` where one event is among the other's ``k`` nearest within reach.

    Parameters
    ----------
    xyz_km
        ``(N, 3)`` positions (km).
    k
        Neighbours per event.
    max_separation_km
        Largest hypocentral separation (km) of a pair.

    Returns
    -------
    numpy.ndarray
        ``(E, 2)`` int64, sorted, unique.

    Examples
    --------
    >>> xyz = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.5, 0, 0], [50.0, 0, 0]])
    >>> neighbour_pairs(xyz, 1, 10.0).tolist()
    [[0, 1], [1, 2]]
    """
    n = len(xyz_km)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    kk = min(k + 1, n)
    dist, idx = cKDTree(xyz_km).query(xyz_km, k=kk, distance_upper_bound=max_separation_km)
    src = np.repeat(np.arange(n), kk)
    dst = idx.ravel()
    ok = np.isfinite(dist.ravel()) & (dst != src) & (dst < n)
    a, b = np.minimum(src[ok], dst[ok]), np.maximum(src[ok], dst[ok])
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs.astype(np.int64).reshape(-1, 2)


def shared_observations(pairs: np.ndarray, pick_event: np.ndarray, pick_station: np.ndarray,
                        pick_phase: np.ndarray) -> pd.DataFrame:
    """The picks two events of a pair share (same station and phase).

    Returns
    -------
    pandas.DataFrame
        Columns ``pair`` (row of ``pairs``), ``a``, ``b`` (pick indices of the pair's first
        and second event) and ``station``.

    Examples
    --------
    >>> shared_observations(np.array([[0, 1]]), np.array([0, 0, 1]), np.array([3, 4, 4]),
    ...                     np.array([0, 0, 0])).values.tolist()
    [[0, 1, 2, 4]]
    """
    picks = pd.DataFrame({"event": pick_event, "station": pick_station, "phase": pick_phase,
                          "pick": np.arange(len(pick_event))})
    left = pd.DataFrame({"pair": np.arange(len(pairs)), "event": pairs[:, 0],
                         "other": pairs[:, 1]}).merge(picks, on="event")
    both = left.merge(picks.rename(columns={"event": "other", "pick": "b"}),
                      on=["other", "station", "phase"])
    both = both.rename(columns={"pick": "a"}).sort_values(["pair", "a", "b"], kind="stable")
    return both[["pair", "a", "b", "station"]].reset_index(drop=True)


def _event_keys(event_ids: list[str]) -> dict[str, int]:
    """Keys of ``dt.cc`` event ids: each resource id, and the number ending it when those
    numbers are unique (GENIE catalogs end with the event index), else the 0-based
    position."""
    keys = {eid: i for i, eid in enumerate(event_ids)}
    numbers = [re.search(r"(\d+)$", eid) for eid in event_ids]
    values = [m.group(1).lstrip("0") or "0" if m else None for m in numbers]
    if None not in values and len(set(values)) == len(values):
        keys.update({v: i for i, v in enumerate(values)})
    else:
        keys.update({str(i): i for i in range(len(event_ids))})
    return keys


def _match_cc(dt: pd.DataFrame, event_ids: list[str], stations: pd.DataFrame
              ) -> pd.DataFrame:
    """Cross-correlation rows with event positions and station rows (unmatched rows are
    dropped with a warning)."""
    need = ["event1", "event2", "station", "phase", "dt_s"]
    missing = [c for c in need if c not in dt.columns]
    if missing:
        raise ValueError(f"differential_times: missing column(s) {missing}; expected "
                         f"{need + ['weight']} (see read_dtcc)")
    keys = _event_keys(event_ids)

    def key(v: pd.Series) -> pd.Series:
        text = v.astype(str).str.strip()
        numeric = text.str.fullmatch(r"\d+")
        return text.where(~numeric, text.str.lstrip("0").replace("", "0"))

    out = pd.DataFrame({
        "ea": key(dt["event1"]).map(keys), "eb": key(dt["event2"]).map(keys),
        "phase": dt["phase"].astype(str).str.strip().str[:1].str.upper().map({"P": 0, "S": 1}),
        "dt_s": pd.to_numeric(dt["dt_s"], errors="coerce"),
        "weight": pd.to_numeric(dt["weight"], errors="coerce") if "weight" in dt.columns
        else 1.0,
    })
    code = stations["id"].str.split(".").str[1]
    ids = pd.Series(np.arange(len(stations)), index=stations["id"])
    unique_codes = code[~code.duplicated(keep=False)]
    by_code = pd.Series(unique_codes.index.to_numpy(), index=unique_codes.to_numpy())
    sta = dt["station"].astype(str).str.strip()
    out["station"] = sta.map(by_code).fillna(sta.map(ids)).to_numpy()
    ok = (out[["ea", "eb", "phase", "dt_s", "station"]].notna().all(axis=1)
          & np.isfinite(out["weight"]) & (out["weight"] > 0))
    ok &= out["ea"] != out["eb"]
    if (~ok).any():
        warnings.warn(f"differential_times: {int((~ok).sum())} of {len(out)} row(s) dropped "
                      "(unknown event or station, phase not P/S, missing time or weight <= 0)",
                      stacklevel=3)
    out = out[ok].astype({"ea": np.int64, "eb": np.int64, "phase": np.int64,
                          "station": np.int64})
    return out.reset_index(drop=True)


def build_problem(catalog: CatalogPicks, inventory: Any, velocity_model: Any,
                  k_neighbors: int, max_separation_km: float, min_shared_stations: int,
                  differential_times: pd.DataFrame | None = None) -> RelocationProblem:
    """Place the catalog in the backend's frame and build its event graph.

    Parameters
    ----------
    catalog
        From :func:`catalog_picks`.
    inventory
        Stations: an ObsPy Inventory or a station table.
    velocity_model
        A travel-time backend or a 1-D model (see
        :func:`~seisbench_genie.relocation.traveltimes.velocity_backend`).
    k_neighbors, max_separation_km, min_shared_stations
        Graph rules (see :class:`~seisbench_genie.relocation.GraphDD`).
    differential_times
        Cross-correlation times (:func:`~seisbench_genie.relocation.read_dtcc`) or None.

    Returns
    -------
    RelocationProblem

    Raises
    ------
    ValueError
        When no pick is at a station of the inventory, or the velocity model does not
        cover the events.

    Examples
    --------
    >>> # exercised through GraphDD.relocate (tests/test_relocation.py)
    """
    stations_all = station_table(inventory, argument="inventory")
    picks = catalog.picks
    pos = station_positions(picks["station"], stations_all)
    known = pos >= 0
    if not known.any():
        raise ValueError(f"inventory: none of the catalog's pick stations is in it (e.g. "
                         f"{picks['station'].head(3).tolist()})")
    if (~known).any():
        unknown = sorted(set(picks.loc[~known, "station"]))
        warnings.warn(f"inventory: {int((~known).sum())} pick(s) at {len(unknown)} station(s) "
                      f"not in it are not used, e.g. {unknown[:5]}", stacklevel=3)
    cc = None
    if differential_times is not None:
        if not isinstance(differential_times, pd.DataFrame):
            raise ValueError("differential_times: expected a DataFrame (read_dtcc) or a path")
        cc = _match_cc(differential_times, catalog.event_ids, stations_all)
    used = np.unique(np.concatenate([pos[known], cc["station"].to_numpy() if cc is not None
                                     else np.zeros(0, dtype=np.int64)]))
    stations = stations_all.iloc[used].reset_index(drop=True)
    remap = np.full(len(stations_all), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))

    rows = np.flatnonzero(known)
    ev = picks["event"].to_numpy(np.int64)[rows]
    st = remap[pos[rows]]
    ph = (picks["phase"].to_numpy()[rows] == "S").astype(np.int64)
    tt_obs = picks["time"].to_numpy(float)[rows] - catalog.origin_time[ev]

    # Depth and distance extents of the catalog, to size a table built for a 1-D model.
    dist = epicentral_distance_km(catalog.latitude[ev], catalog.longitude[ev],
                                  stations["latitude"].to_numpy()[st],
                                  stations["longitude"].to_numpy()[st])
    backend = velocity_backend(velocity_model, float(np.max(catalog.depth_km)),
                               float(np.max(dist)) if len(dist) else 0.0)
    projection = backend.default_projection(stations)
    if not isinstance(projection, LocalProjection):  # pragma: no cover - backends' contract
        raise ValueError(f"velocity_model {backend!r}: no local frame")
    x, y = projection.to_local(catalog.latitude, catalog.longitude)
    xyz = np.stack([np.asarray(x, float), np.asarray(y, float), catalog.depth_km], axis=1)
    sx, sy = projection.to_local(stations["latitude"], stations["longitude"])
    station_xyz = np.stack([np.asarray(sx, float), np.asarray(sy, float),
                            -stations["elevation"].to_numpy(float) / 1000.0], axis=1)
    check_coverage(backend, xyz, station_xyz, (ev, st), catalog.event_ids)

    n = len(xyz)
    pairs = neighbour_pairs(xyz, k_neighbors, max_separation_km)
    shared = shared_observations(pairs, ev, st, ph)
    n_shared = shared.drop_duplicates(["pair", "station"]).groupby("pair").size()
    n_shared = n_shared.reindex(np.arange(len(pairs)), fill_value=0).to_numpy()
    keep_pair = n_shared >= min_shared_stations
    if cc is not None and len(cc):
        a = np.minimum(cc["ea"], cc["eb"]).to_numpy()
        b = np.maximum(cc["ea"], cc["eb"]).to_numpy()
        cc_pairs = pd.DataFrame({"i": a, "j": b, "station": cc["station"].to_numpy()})
        counts = cc_pairs.drop_duplicates().groupby(["i", "j"]).size()
        strong = counts[counts >= min_shared_stations].index.to_frame().to_numpy()
        cc_ok = pd.MultiIndex.from_arrays([a, b]).isin(counts[counts >= min_shared_stations]
                                                        .index)
        cc = cc[cc_ok].reset_index(drop=True)
        extra = strong.reshape(-1, 2).astype(np.int64)
    else:
        extra = np.zeros((0, 2), dtype=np.int64)
    kept = np.unique(np.concatenate([pairs[keep_pair], extra]), axis=0).reshape(-1, 2)
    # Renumber the catalog differential times onto the kept pairs.
    old = pd.MultiIndex.from_arrays([pairs[:, 0], pairs[:, 1]])
    new = pd.MultiIndex.from_arrays([kept[:, 0], kept[:, 1]])
    pair_new = new.get_indexer(old)
    shared["pair"] = pair_new[shared["pair"].to_numpy()]
    shared = shared[shared["pair"] >= 0]

    relocatable = np.zeros(n, dtype=bool)
    relocatable[kept.ravel()] = True
    adjacency = coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    component = np.full(n, -1, dtype=np.int64)
    component[relocatable] = np.unique(labels[relocatable], return_inverse=True)[1]
    has_picks = np.zeros(n, dtype=bool)
    has_picks[ev] = True
    few = REASON_FEW_SHARED.format(min_shared=min_shared_stations, k=k_neighbors,
                                   max_sep=max_separation_km)
    reason = ["" if relocatable[i] else (few if has_picks[i] else REASON_NO_PICKS)
              for i in range(n)]
    if cc is None:
        cc = pd.DataFrame({c: np.zeros(0, dtype=np.int64)
                           for c in ("ea", "eb", "station", "phase")})
        cc["dt_s"] = np.zeros(0)
        cc["weight"] = np.zeros(0)
    return RelocationProblem(
        catalog=catalog, backend=backend, stations=stations, projection=projection,
        xyz_km=xyz, pick_event=ev, pick_station=st, pick_phase=ph,
        pick_travel_time_s=tt_obs, pick_row=rows, pairs=kept,
        dd_a=shared["a"].to_numpy(np.int64), dd_b=shared["b"].to_numpy(np.int64),
        dd_pair=shared["pair"].to_numpy(np.int64),
        cc_event_a=cc["ea"].to_numpy(np.int64), cc_event_b=cc["eb"].to_numpy(np.int64),
        cc_station=cc["station"].to_numpy(np.int64), cc_phase=cc["phase"].to_numpy(np.int64),
        cc_dt_s=cc["dt_s"].to_numpy(float), cc_weight=cc["weight"].to_numpy(float),
        relocatable=relocatable, component=component, reason=reason)
