"""Turn GENIE's event and assignment tables into a QuakeML-valid ObsPy Catalog.

Layout of the catalog built by :func:`build_catalog`::

    Catalog (creation_info: seisbench-genie <version>)
    └── Event  resource_id  smi:seisbench_genie/<run>/event/<event_idx>
        │      event_type="earthquake", event_type_certainty="suspected"
        │      extra: genie:detection_score
        ├── Origin (preferred)  smi:seisbench_genie/<run>/origin/<event_idx>
        │   │   time, latitude, longitude (deg), depth (m), *_errors,
        │   │   origin_uncertainty (horizontal, m), quality (OriginQuality),
        │   │   method_id smi:seisbench_genie/method/<method>, evaluation_mode="automatic"
        │   └── Arrival  pick_id, phase, time_residual (s), distance (deg), azimuth (deg),
        │                time_weight = association probability;
        │                extra: genie:association_probability, genie:pick_probability
        └── Pick  smi:seisbench_genie/<run>/pick/<pick_idx>
                  time, time_errors.uncertainty (s), waveform_id (NET.STA.LOC), phase_hint,
                  evaluation_mode="automatic"

``event_type_certainty`` is ``"suspected"``: GENIE events are automatic, unreviewed
detections. The picker probability sits on the Arrival (``genie:pick_probability``) by default
because any ``Pick.extra`` makes ObsPy's NORDIC writer crash; ``pick_probability_extra=True``
moves it onto the Pick instead. Write with ``nsmap=NSMAP`` so the extra tags get the ``genie``
prefix; on read-back the extra values are strings.
"""

from __future__ import annotations

import gc
import uuid
from typing import Any

import numpy as np
import pandas as pd
from obspy import UTCDateTime
from obspy.core.event import (
    Arrival,
    Catalog,
    CreationInfo,
    Event,
    Origin,
    OriginQuality,
    OriginUncertainty,
    Pick,
    QuantityError,
    ResourceIdentifier,
    WaveformStreamID,
)

from .geo import central_angle_rad
from .picks import station_positions, times_to_posix
from .schema import ASSIGNMENT_REQUIRED_COLUMNS, EVENT_REQUIRED_COLUMNS

GENIE_NAMESPACE = "https://github.com/seisbench-genie/seisbench-genie"
"""XML namespace of the ``extra`` tags written by :func:`build_catalog`."""

NSMAP = {"genie": GENIE_NAMESPACE}
"""Pass as ``catalog.write(f, "QUAKEML", nsmap=NSMAP)`` to get the ``genie:`` prefix."""

KM_PER_DEG = 6371.0 * np.pi / 180.0
"""Kilometres per degree of arc on the 6371 km sphere used for distances and errors."""

PICK_REQUIRED = ["pick_idx", "station", "phase", "time"]

#: One-sigma pick-time uncertainty (s) given to a pick whose input carries none (no
#: ``time_uncertainty_s``, no SeisBench start/end times), by phase. About twice the spread
#: of deep-learning picks around analyst picks on curated test sets (PhaseNet, Zhu & Beroza
#: 2019: a few hundredths of a second for P, about 0.1 s for S), rounded up because automatic
#: picks on continuous data are noisier; S is twice P as its onset is read in the P coda.
#: NonLinLoc and HypoDD weight picks by it, and too small a value over-weights outliers.
DEFAULT_PICK_UNCERTAINTY_S = {"P": 0.1, "S": 0.2}


# --------------------------------------------------------------------------------------------
# Fast construction of ObsPy event objects
# --------------------------------------------------------------------------------------------
class _Factory:
    """Build ObsPy event-type objects without the per-attribute ``__setattr__`` machinery.

    ObsPy's generated ``__init__`` type-checks every attribute (~50 us per Pick/Arrival), which
    dominates for 10^5 picks. The factory copies the attribute dict of a prototype built the
    normal way (so constants are validated by ObsPy once), gives every ``*_errors`` field and
    every container its own fresh object, and then stores the caller's values, which must
    already have the right type (float/None, str, UTCDateTime, ResourceIdentifier, ...).
    A self-check against the regular constructor runs once; if ObsPy's internals ever change,
    the factory silently falls back to the regular constructor.
    """

    def __init__(self, cls: type, **constants: Any) -> None:
        self.cls = cls
        self.constants = constants
        self.has_rid = "resource_id" in getattr(cls, "_property_keys", [])
        self.fast = False
        try:
            proto = cls(force_resource_id=False, **constants) if self.has_rid else cls(**constants)
            base = dict(proto.__dict__)
            self.errors = [k for k, v in base.items() if type(v) is QuantityError]
            self.lists = list(cls._containers)
            expected = set(cls._property_keys) | set(cls._containers)
            self.base = base
            self.fast = set(base) == expected and self._self_check()
        except Exception:  # pragma: no cover - depends on ObsPy internals
            self.fast = False

    def _self_check(self) -> bool:
        """Compare one object built both ways (attribute names and ObsPy equality)."""
        sample: dict[str, Any] = {}
        floats = [k for k, t in self.cls._properties if t is float and k not in self.constants]
        if floats:
            sample[floats[0]] = 1.25
        if self.has_rid:
            sample["resource_id"] = ResourceIdentifier("smi:seisbench_genie/selfcheck")
        slow = self.cls(**self.constants, **sample)
        self.fast = True
        fast = self(**sample)
        return bool(fast == slow) and set(fast.__dict__) == set(slow.__dict__)

    def __call__(self, **values: Any) -> Any:
        if not self.fast:
            return self.cls(**self.constants, **values)
        obj = self.cls.__new__(self.cls)
        d = obj.__dict__
        d.update(self.base)
        for key in self.errors:
            d[key] = _qe()
        for key in self.lists:
            d[key] = []
        d.update(values)
        return obj


_QE_BASE = dict(QuantityError().__dict__)


def _qe(uncertainty: float | None = None) -> QuantityError:
    """A fresh QuantityError (fast path of ``QuantityError(uncertainty=...)``)."""
    if not _QE_FAST:
        return QuantityError(uncertainty=uncertainty)
    q = QuantityError.__new__(QuantityError)
    q.__dict__.update(_QE_BASE)
    if uncertainty is not None:
        q.__dict__["uncertainty"] = uncertainty
    return q


_QE_FAST = True
try:
    _QE_FAST = _qe(2.5) == QuantityError(uncertainty=2.5) and not _qe()
except Exception:  # pragma: no cover - depends on ObsPy internals
    _QE_FAST = False


def _none_list(values: np.ndarray) -> list[float | None]:
    """float64 array -> list of Python floats, None where NaN/inf."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _extra(**values: Any) -> dict[str, dict[str, Any]]:
    return {
        k: {"value": v, "namespace": GENIE_NAMESPACE} for k, v in values.items() if v is not None
    }


def _safe_id_part(text: str) -> str:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~*()'")
    cleaned = "".join(c if c in allowed else "_" for c in str(text))
    return cleaned or "_"


# --------------------------------------------------------------------------------------------
# Vectorised geometry
# --------------------------------------------------------------------------------------------
def distance_azimuth(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distance and azimuth from points 1 to points 2 on a sphere.

    Parameters
    ----------
    lat1, lon1
        Source (event) coordinates in degrees.
    lat2, lon2
        Receiver (station) coordinates in degrees; arrays broadcast against ``lat1``.

    Returns
    -------
    distance, azimuth
        Epicentral distance in degrees of arc and the azimuth of point 2 seen from point 1,
        in degrees clockwise from north, in ``[0, 360)``.

    Examples
    --------
    >>> d, az = distance_azimuth(np.array([0.0]), np.array([0.0]),
    ...                          np.array([0.0]), np.array([1.0]))
    >>> round(float(d[0]), 6), round(float(az[0]), 6)
    (1.0, 90.0)
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    dlon = l2 - l1
    dist = np.degrees(central_angle_rad(lat1, lon1, lat2, lon2))
    az = np.degrees(
        np.arctan2(
            np.sin(dlon) * np.cos(p2),
            np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dlon),
        )
    )
    return dist, np.mod(az, 360.0)


def azimuthal_gaps(group: np.ndarray, azimuth: np.ndarray, n_groups: int) -> np.ndarray:
    """Largest azimuthal gap per group (e.g. per event), vectorised.

    Parameters
    ----------
    group
        int group number (0 .. n_groups-1) of each azimuth, e.g. the event of each station.
        Pass each station once per event.
    azimuth
        Azimuths in degrees.
    n_groups
        Number of groups.

    Returns
    -------
    numpy.ndarray
        Gap in degrees per group: 360 for a group with one azimuth, NaN for an empty group.

    Examples
    --------
    >>> azimuthal_gaps(np.array([0, 0, 0, 1]), np.array([10.0, 100.0, 190.0, 5.0]), 3).tolist()
    [180.0, 360.0, nan]
    """
    gaps = np.full(n_groups, np.nan)
    if len(group) == 0:
        return gaps
    order = np.lexsort((azimuth, group))
    g, a = np.asarray(group)[order], np.asarray(azimuth, dtype=float)[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)] - 1
    inner = np.r_[-np.inf, np.diff(a)]
    inner[starts] = -np.inf
    wrap = a[starts] + 360.0 - a[ends]
    gaps[g[starts]] = np.maximum(np.maximum.reduceat(inner, starts), wrap)
    return gaps


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------
def _check_frame(frame: Any, argument: str, required: list[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{argument}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{argument}: missing column(s) {missing} (got {list(frame.columns)})")
    return frame.reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str, default: float = np.nan) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=float)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _split_station_ids(ids: np.ndarray) -> dict[str, tuple[str, str, str, str | None]]:
    """NET.STA.LOC[.CHA] -> (net, sta, loc, cha) for each unique id."""
    out: dict[str, tuple[str, str, str, str | None]] = {}
    for sid in pd.unique(ids):
        parts = str(sid).split(".")
        if len(parts) == 1:
            parts = ["", parts[0]]
        parts += [""] * (3 - len(parts))
        cha = parts[3] if len(parts) > 3 and parts[3] else None
        out[sid] = (parts[0], parts[1], parts[2], cha)
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def build_catalog(
    events: pd.DataFrame,
    assignments: pd.DataFrame,
    picks: pd.DataFrame,
    stations: pd.DataFrame,
    method: str = "GENIE",
    model_name: str | None = None,
    *,
    pick_probability_extra: bool = False,
    id_prefix: str | None = None,
) -> Catalog:
    """Build a QuakeML-valid ObsPy Catalog from GENIE's event and assignment tables.

    Parameters
    ----------
    events
        One row per event. Required: ``event_idx`` (int, unique), ``time`` (POSIX s),
        ``latitude``, ``longitude`` (deg), ``depth_km`` (km, positive down). Optional (NaN or
        absent -> not set): ``horizontal_uncertainty_km`` (km), ``depth_uncertainty_km`` (km),
        ``time_uncertainty_s`` (s), ``n_picks``, ``n_stations`` (associated counts),
        ``score`` (detection score 0-1), ``rms_s`` (standard error of the residuals, s).
    assignments
        One row per associated pick. Required: ``pick_idx`` (position in the caller's pick
        input, as in :func:`~seisbench_genie.picks.pick_table`), ``event_idx``. Optional:
        ``phase`` (associated phase; default the pick's phase), ``probability`` (association
        probability 0-1), ``residual_s`` (observed minus predicted time, s).
    picks
        Pick table from :func:`~seisbench_genie.picks.pick_table` (``pick_idx``, ``station``,
        ``phase``, ``time`` in POSIX s, optional ``probability`` and ``time_uncertainty_s``:
        one-sigma pick-time error in s, e.g. from
        :func:`~seisbench_genie.picks.pick_time_uncertainties`; NaN or absent ->
        :data:`DEFAULT_PICK_UNCERTAINTY_S` of the pick's phase). Picks are matched to
        ``stations`` by their ``station`` id with
        :func:`~seisbench_genie.picks.station_positions`; a ``station_index`` column is
        ignored (it may index a different table). Picks at unknown stations still get a Pick
        and an Arrival, without distance and azimuth.
    stations
        Station table (``id``, ``latitude``, ``longitude`` in deg).
    method
        Name of the method, used in ``Origin.method_id``
        (``smi:seisbench_genie/method/<method>``).
    model_name
        Name of the weights used (e.g. ``"crustal"``); stored as the origin extra
        ``genie:model_name`` when given.
    pick_probability_extra
        Put the picker probability on ``Pick.extra`` (``genie:pick_probability``) instead of
        ``Arrival.extra``. Off by default because a ``Pick.extra`` breaks ObsPy's NORDIC writer.
    id_prefix
        Prefix of all resource ids; default ``smi:seisbench_genie/<random uuid>`` so that
        catalogs from different runs can be merged without id clashes.

    Returns
    -------
    obspy.core.event.Catalog
        One Event per row of ``events`` (same order) with one preferred Origin, a Pick and an
        Arrival per assignment (sorted by pick time). Units: depth and depth errors in m,
        latitude/longitude errors in deg (from the horizontal km uncertainty,
        111.19 km/deg, longitude scaled by 1/cos(lat)), time errors in s, distances and
        azimuths in deg (spherical Earth). ``OriginQuality``: ``associated_phase_count`` /
        ``associated_station_count`` from ``n_picks`` / ``n_stations`` (or counted from the
        assignments when missing), ``used_*`` counted from the assignments,
        ``standard_error`` = ``rms_s``, ``azimuthal_gap`` (deg) from the stations with
        arrivals, ``minimum/maximum/median_distance`` (deg). Extras (namespace
        :data:`GENIE_NAMESPACE`): ``Event.extra["detection_score"]``,
        ``Arrival.extra["association_probability"]`` and ``["pick_probability"]``.
        Write with ``catalog.write(path, "QUAKEML", nsmap=NSMAP)``.

    Raises
    ------
    ValueError
        When a table is not a DataFrame or lacks a required column, ``event_idx`` is not
        unique, or an assignment refers to an unknown pick or event.

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["CX.PB01.", "CX.PB02."], "latitude": [-21.0, -20.0],
    ...                    "longitude": [-69.5, -69.0], "elevation": [900.0, 1000.0]})
    >>> picks = pd.DataFrame({"pick_idx": [0, 1], "station": ["CX.PB01.", "CX.PB02."],
    ...                       "phase": ["P", "P"], "time": [1e9 + 3.1, 1e9 + 4.2],
    ...                       "probability": [0.9, 0.8]})
    >>> events = pd.DataFrame({"event_idx": [7], "time": [1e9], "latitude": [-20.5],
    ...                        "longitude": [-69.3], "depth_km": [30.0], "score": [0.95]})
    >>> assignments = pd.DataFrame({"pick_idx": [0, 1], "event_idx": [7, 7], "phase": ["P", "P"],
    ...                             "probability": [0.99, 0.97], "residual_s": [0.1, -0.2]})
    >>> cat = build_catalog(events, assignments, picks, st)
    >>> origin = cat[0].preferred_origin()
    >>> origin.depth, len(origin.arrivals), round(origin.quality.azimuthal_gap)
    (30000.0, 2, 189)
    """
    from . import __version__

    events = _check_frame(events, "events", EVENT_REQUIRED_COLUMNS)
    assignments = _check_frame(assignments, "assignments", ASSIGNMENT_REQUIRED_COLUMNS)
    picks = _check_frame(picks, "picks", PICK_REQUIRED)
    stations = _check_frame(stations, "stations", ["id", "latitude", "longitude"])
    if events["event_idx"].duplicated().any():
        raise ValueError("events: 'event_idx' must be unique")
    origin_times = times_to_posix(events["time"])
    for col in ("time", "latitude", "longitude", "depth_km"):
        bad = ~np.isfinite(origin_times if col == "time" else _column(events, col))
        if bad.any():
            raise ValueError(f"events: {int(bad.sum())} row(s) with a missing/non-finite {col!r}")
    if picks["pick_idx"].duplicated().any():
        raise ValueError("picks: 'pick_idx' must be unique")

    now = UTCDateTime()
    prefix = (id_prefix or f"smi:seisbench_genie/{uuid.uuid4().hex}").rstrip("/")
    author = f"seisbench-genie {__version__}"
    catalog = Catalog(
        resource_id=ResourceIdentifier(f"{prefix}/catalog"),
        description=f"{method} earthquake catalog (seisbench-genie {__version__})",
        creation_info=CreationInfo(author=author, version=__version__, creation_time=now),
    )
    n_events = len(events)
    if n_events == 0:
        return catalog

    # ---- per-assignment arrays, joined once --------------------------------------------
    ev_pos_of = pd.Index(events["event_idx"])
    ev_pos = ev_pos_of.get_indexer(assignments["event_idx"])
    if (ev_pos < 0).any():
        bad = assignments.loc[ev_pos < 0, "event_idx"].unique()[:5].tolist()
        raise ValueError(f"assignments: event_idx not in events: {bad}")
    pk_pos = pd.Index(picks["pick_idx"]).get_indexer(assignments["pick_idx"])
    if (pk_pos < 0).any():
        bad = assignments.loc[pk_pos < 0, "pick_idx"].unique()[:5].tolist()
        raise ValueError(f"assignments: pick_idx not in picks: {bad}")

    pick_station = picks["station"].astype(str).to_numpy(dtype=object)
    # Always re-match by id: a ``station_index`` column may refer to another (sub-)table.
    pick_st = station_positions(picks["station"], stations)
    st_lat = _column(stations, "latitude")
    st_lon = _column(stations, "longitude")

    a_pick_idx = assignments["pick_idx"].to_numpy(dtype=np.int64)
    a_station = pick_station[pk_pos]
    a_st = pick_st[pk_pos]
    a_time = times_to_posix(picks["time"])[pk_pos]
    if not np.isfinite(a_time).all():
        raise ValueError("picks: associated pick(s) with a missing/non-finite 'time'")
    a_pick_prob = _column(picks, "probability")[pk_pos]
    a_pick_phase = picks["phase"].astype(str).to_numpy(dtype=object)[pk_pos]
    a_pick_unc = _column(picks, "time_uncertainty_s")[pk_pos]
    a_pick_unc = np.where(
        np.isfinite(a_pick_unc) & (a_pick_unc >= 0),
        a_pick_unc,
        pd.Series(a_pick_phase, dtype=object).map(DEFAULT_PICK_UNCERTAINTY_S).to_numpy(float),
    )
    if "phase" in assignments.columns:
        a_phase = assignments["phase"].to_numpy(dtype=object)
        a_phase = np.where(pd.isna(a_phase), a_pick_phase, a_phase).astype(str)
    else:
        a_phase = a_pick_phase.astype(str)
    a_prob = _column(assignments, "probability")
    a_res = _column(assignments, "residual_s")

    ev_lat = _column(events, "latitude")
    ev_lon = _column(events, "longitude")
    located = a_st >= 0  # -1: station not in the table -> no distance/azimuth
    a_dist = np.full(len(assignments), np.nan)
    a_az = np.full(len(assignments), np.nan)
    if located.any():
        d, az = distance_azimuth(
            ev_lat[ev_pos[located]],
            ev_lon[ev_pos[located]],
            st_lat[a_st[located]],
            st_lon[a_st[located]],
        )
        a_dist[located], a_az[located] = d, az

    # ---- per-event quality, vectorised ---------------------------------------------------
    table_ids = stations["id"].astype(str).to_numpy(dtype=object)
    station_key = (
        np.where(located, table_ids[np.maximum(a_st, 0)], a_station)
        if len(table_ids)
        else a_station
    )
    frame = pd.DataFrame({"ev": ev_pos, "station": station_key, "dist": a_dist})
    grouped = frame.groupby("ev")
    used_phases = grouped.size().reindex(range(n_events), fill_value=0).to_numpy()
    used_stations = grouped["station"].nunique().reindex(range(n_events), fill_value=0).to_numpy()
    dist_stats = grouped["dist"].agg(["min", "max", "median"]).reindex(range(n_events))
    d_min, d_max, d_med = (dist_stats[c].to_numpy(dtype=float) for c in ("min", "max", "median"))
    uniq = pd.DataFrame({"ev": ev_pos[located], "st": a_st[located], "az": a_az[located]})
    uniq = uniq.drop_duplicates(["ev", "st"])
    gaps = azimuthal_gaps(uniq["ev"].to_numpy(), uniq["az"].to_numpy(), n_events)

    n_picks = _column(events, "n_picks")
    n_picks = np.where(np.isnan(n_picks), used_phases, n_picks)
    n_stations = _column(events, "n_stations")
    n_stations = np.where(np.isnan(n_stations), used_stations, n_stations)

    # ---- group assignments by event once ------------------------------------------------
    order = np.lexsort((a_time, ev_pos))
    bounds = np.searchsorted(ev_pos[order], np.arange(n_events + 1)).tolist()
    dup_pick = pd.Series(a_pick_idx).duplicated(keep="first").to_numpy()
    id_parts = _split_station_ids(a_station)
    l_pidx = a_pick_idx[order].tolist()
    l_time = a_time[order].tolist()
    l_station = a_station[order].tolist()
    l_pick_phase = a_pick_phase[order].astype(str).tolist()
    l_phase = a_phase[order].astype(str).tolist()
    l_dup = dup_pick[order].tolist()
    l_prob, l_pick_prob, l_res, l_dist, l_az, l_unc = (
        _none_list(x[order]) for x in (a_prob, a_pick_prob, a_res, a_dist, a_az, a_pick_unc)
    )

    h_unc = _column(events, "horizontal_uncertainty_km")
    e_time = origin_times.tolist()
    e_lat, e_lon = ev_lat.tolist(), ev_lon.tolist()
    e_depth = _none_list(_column(events, "depth_km") * 1000.0)
    e_h = _none_list(h_unc * 1000.0)
    e_lat_err = _none_list(h_unc / KM_PER_DEG)
    e_lon_err = _none_list(h_unc / (KM_PER_DEG * np.maximum(np.cos(np.radians(ev_lat)), 1e-3)))
    e_depth_err = _none_list(_column(events, "depth_uncertainty_km") * 1000.0)
    e_time_err = _none_list(_column(events, "time_uncertainty_s"))
    e_score = _none_list(_column(events, "score"))
    e_rms = _none_list(_column(events, "rms_s"))
    e_n_picks = [None if x is None else int(round(x)) for x in _none_list(n_picks)]
    e_n_stations = [None if x is None else int(round(x)) for x in _none_list(n_stations)]
    e_used_phases = used_phases.tolist()
    e_used_stations = used_stations.tolist()
    e_gap, e_dmin, e_dmax, e_dmed = (_none_list(x) for x in (gaps, d_min, d_max, d_med))
    event_ids = [_safe_id_part(x) for x in events["event_idx"].tolist()]
    method_id = f"smi:seisbench_genie/method/{_safe_id_part(method)}"

    make_pick = _Factory(Pick, evaluation_mode="automatic")
    make_wid = _Factory(WaveformStreamID)
    make_arrival = _Factory(Arrival)
    make_origin = _Factory(
        Origin,
        evaluation_mode="automatic",
        evaluation_status="preliminary",
        origin_type="hypocenter",
    )
    make_quality = _Factory(OriginQuality)
    make_unc = _Factory(OriginUncertainty, preferred_description="horizontal uncertainty")
    make_info = _Factory(CreationInfo, author=author, version=__version__)
    make_event = _Factory(Event, event_type="earthquake", event_type_certainty="suspected")
    rid = ResourceIdentifier
    method_rid = rid(method_id)

    out_events = []
    gc_enabled = gc.isenabled()
    gc.disable()  # 10^5 new container objects would trigger many useless GC passes
    try:
        for i in range(n_events):
            ev_id = event_ids[i]
            ev_picks = []
            arrivals = []
            for j in range(bounds[i], bounds[i + 1]):
                pidx = l_pidx[j]
                pick_id = f"{prefix}/pick/{pidx}-{ev_id}" if l_dup[j] else f"{prefix}/pick/{pidx}"
                net, sta, loc, cha = id_parts[l_station[j]]
                pick_prob = l_pick_prob[j]
                pick_rid = rid(pick_id)
                pick = make_pick(
                    resource_id=pick_rid,
                    time=UTCDateTime(l_time[j]),
                    time_errors=_qe(l_unc[j]),
                    waveform_id=make_wid(
                        network_code=net, station_code=sta, location_code=loc, channel_code=cha
                    ),
                    phase_hint=l_pick_phase[j],
                )
                pick_rid.set_referred_object(pick, warn=False)
                prob = l_prob[j]
                if pick_probability_extra:
                    if pick_prob is not None:
                        pick.extra = _extra(pick_probability=pick_prob)
                    arrival_extra = _extra(association_probability=prob)
                else:
                    arrival_extra = _extra(association_probability=prob, pick_probability=pick_prob)
                arrival_rid = rid(f"{prefix}/arrival/{ev_id}/{pidx}")
                # A copy of the bound id: resolves straight to this very Pick object.
                pick_ref = rid(pick_rid)
                arrival = make_arrival(
                    resource_id=arrival_rid,
                    pick_id=pick_ref,
                    phase=l_phase[j],
                    time_residual=l_res[j],
                    distance=l_dist[j],
                    azimuth=l_az[j],
                    time_weight=prob,
                )
                arrival_rid.set_referred_object(arrival, warn=False)
                if arrival_extra:
                    arrival.extra = arrival_extra
                ev_picks.append(pick)
                arrivals.append(arrival)

            quality = make_quality(
                associated_phase_count=e_n_picks[i],
                used_phase_count=e_used_phases[i],
                associated_station_count=e_n_stations[i],
                used_station_count=e_used_stations[i],
                standard_error=e_rms[i],
                azimuthal_gap=e_gap[i],
                minimum_distance=e_dmin[i],
                maximum_distance=e_dmax[i],
                median_distance=e_dmed[i],
            )
            h = e_h[i]
            origin_rid = rid(f"{prefix}/origin/{ev_id}")
            method_ref = rid(method_rid)
            origin = make_origin(
                resource_id=origin_rid,
                time=UTCDateTime(e_time[i]),
                time_errors=_qe(e_time_err[i]),
                latitude=e_lat[i],
                latitude_errors=_qe(e_lat_err[i]),
                longitude=e_lon[i],
                longitude_errors=_qe(e_lon_err[i]),
                depth=e_depth[i],
                depth_errors=_qe(e_depth_err[i]),
                origin_uncertainty=None if h is None else make_unc(horizontal_uncertainty=h),
                method_id=method_ref,
                quality=quality,
                creation_info=make_info(creation_time=now),
                arrivals=arrivals,
            )
            origin_rid.set_referred_object(origin, warn=False)
            if model_name:
                origin.extra = _extra(model_name=str(model_name))
            event_rid = rid(f"{prefix}/event/{ev_id}")
            preferred_ref = rid(origin_rid)
            event = make_event(
                resource_id=event_rid,
                creation_info=make_info(creation_time=now),
                origins=[origin],
                picks=ev_picks,
                preferred_origin_id=preferred_ref,
            )
            event_extra = _extra(detection_score=e_score[i])
            if event_extra:
                event.extra = event_extra
            event_rid.set_referred_object(event, warn=False)
            out_events.append(event)
    finally:
        if gc_enabled:
            gc.enable()
    catalog.events = out_events
    return catalog
