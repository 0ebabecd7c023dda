"""Associators on real picks: ``seisbench-genie benchmark-real``.

Real picks carry no ground truth, so the associators are judged against each other and against
catalogs made independently of them:

* **events found**, **share of picks associated** and **runtime** (wall time of the association
  call, as in the synthetic benchmark);
* with a reference catalog: **recall** of the reference, overall and per magnitude bin, and the
  median epicentral, depth and origin-time offsets of the matched events. A reference event
  counts as found when an event lies within :data:`MATCH_TIME_S` and :data:`MATCH_DISTANCE_KM`
  (epicentral) of it, with one-to-one matching (:func:`match_catalogs`). Reference events
  outside the picks' time span are left out, and only the reference's own time span is scored;
* **no inflation**: the share of an associator's events that lie within the same time and
  distance of an event of *any* other catalog (the other associators', the reference, the
  ``--compare`` catalogs; :func:`has_neighbour`) -- events no one else sees are suspect;
* **cross-finding by pick count**: the share of one associator's events that another also finds
  (an event within :data:`MATCH_TIME_S`), binned by the first one's pick count
  (:data:`PICK_COUNT_EDGES`).

Every associator gets the same picks, stations, 1-D velocity model, search volume and minimum
rules (``min_picks`` picks and ``min_p_and_s_stations`` stations with both a P and an S pick);
:mod:`seisbench_genie.benchmark.real_runner` runs them through the synthetic benchmark's file
contract and writes the outputs, :mod:`seisbench_genie.benchmark.real_report` the tables and
the figure, :mod:`seisbench_genie.benchmark.real_cli` is the command line. This module holds
the inputs, the matching rules and the scores.

Examples
--------
>>> ref = pd.DataFrame({"time": [0.0, 100.0], "latitude": [35.7, 35.7],
...                     "longitude": [-117.5, -117.5]})
>>> ev = pd.DataFrame({"time": [1.0, 1.5, 400.0], "latitude": [35.71, 35.7, 35.7],
...                    "longitude": [-117.5, -117.5, -117.5]})
>>> match_catalogs(ref, ev)[["reference", "event"]].values.tolist()
[[0, 0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from seisbench_genie.geo import great_circle_km

#: Two events are the same earthquake when their origin times differ by at most this (s). The
#: rule of the earlier Ridgecrest measurements (``shared/data/README.md``): a few times the
#: origin-time scatter of a 1-D location with ~10 stations (median offsets there ~0.5 s), yet
#: well below the typical gap between events of an aftershock sequence.
MATCH_TIME_S = 3.0
#: ... and their epicentres by at most this (km, great circle). Same source: about 5x the
#: median epicentral offset of matched events (~2 km) for a 1-D model on a sparse network.
MATCH_DISTANCE_KM = 15.0
#: Magnitude bin edges of the reference recall: M < 1, 1-2, 2-3, >= 3 (bins of one magnitude
#: unit around the completeness of a ~10-station network).
MAGNITUDE_EDGES: tuple[float, ...] = (1.0, 2.0, 3.0)
#: Pick-count bin edges of the cross-finding table: 10-12, 13-15, 16-20, 21-30, > 30 picks;
#: the first edge is the usual minimum of 10 picks, the bins widen as events grow rarer.
PICK_COUNT_EDGES: tuple[int, ...] = (10, 13, 16, 21, 31)
#: Default search depth (km): the synthetic crustal scenario's event depths.
DEFAULT_REGION_DEPTH_KM = (0.0, 30.0)
#: Default horizontal margin (km) around the stations with picks: the crustal model's own
#: default margin (``ModelScale.margin_km``), so GENIE searches where it would by default.
DEFAULT_REGION_MARGIN_KM = 20.0
#: PyOcto's 1-D model tolerance and pick-match tolerance (s) on real picks: 2.0 s, the value of
#: the earlier Ridgecrest measurement (``shared/data/README.md``), instead of the synthetic
#: benchmark's 1.5 s (travel times there are off by at most 1 %, real picks and a 1-D model
#: by more). Override with ``--set pyocto.tolerance=...`` / ``pyocto.pick_match_tolerance=...``.
PYOCTO_REAL_TOLERANCE_S = 2.0
#: Depth (km) below which a search volume counts as "subduction" (PyOcto's association cutoff
#: 250 km and 1 km table grid instead of the crustal 100 km and 0.5 km): as in the synthetic
#: benchmark's peer settings.
SUBDUCTION_DEPTH_KM = 60.0
#: Km per degree of latitude on the sphere of :func:`seisbench_genie.geo.great_circle_km`.
KM_PER_DEGREE = math.pi * 6371.0 / 180.0

#: An epicentre within this distance (km) of the search box's horizontal edge lies "at the box
#: edge": an associator that must place an event from outside the box inside it puts it there
#: (PyOcto's octree search, for example). A few times the median epicentral offset (~2 km).
BOX_EDGE_KM = 5.0
#: Another event of the same catalog within this many seconds makes an event "close in time":
#: the real-picks issue's measurement found events 5-15 s from the next one found least often.
CLOSE_IN_TIME_S = 10.0
#: Pick counts of the "small events" column (the minimum of 10 picks up to 15).
SMALL_EVENT_PICKS = (10, 15)
#: Places of an event in the "where the missed events lie" table, in its column order.
EVENT_PLACES = ("outside_stations", "box_edge", "close_in_time", "small")

#: Associators ``benchmark-real`` can run.
REAL_ASSOCIATORS = ("genie", "pyocto", "gamma")


class RealInputError(ValueError):
    """An input file is unusable; the message names the file(s) and what is wrong.

    Examples
    --------
    >>> str(RealInputError("picks file p.csv: no rows"))
    'picks file p.csv: no rows'
    """


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _read_csv(path: str | Path, what: str, required: Sequence[str],
              dtype: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read a CSV file, raising :class:`RealInputError` naming ``what`` and ``path``."""
    path = Path(path)
    if not path.is_file():
        raise RealInputError(f"{what} file {path} does not exist")
    try:
        df = pd.read_csv(path, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise RealInputError(f"{what} file {path}: cannot be read as CSV ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise RealInputError(
            f"{what} file {path}: missing column(s) {missing}; it has {list(df.columns)}"
        )
    if not len(df):
        raise RealInputError(f"{what} file {path}: no rows")
    return df


def iso_utc(posix_s: Any) -> np.ndarray:
    """ISO 8601 UTC strings (microseconds) of POSIX times (s).

    Examples
    --------
    >>> iso_utc([1562259775.34]).tolist()
    ['2019-07-04T17:02:55.340000Z']
    """
    micro = np.round(np.asarray(posix_s, dtype=float) * 1e6).astype(np.int64)
    t = pd.to_datetime(micro, unit="us", utc=True)
    return np.asarray(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), dtype=object)


def read_picks(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a pick file: ``station`` ("NET.STA.LOC"), ``phase``, ``time``; extra columns kept.

    Parameters
    ----------
    path
        CSV file. ``time`` is ISO 8601 (UTC when no zone is given) or POSIX seconds.
        ``phase`` labels P, p, Pg, Pn, Pb, P1 map to "P" and the S variants to "S".

    Returns
    -------
    (pandas.DataFrame, list of str)
        The picks with ``pick_idx`` (0-based data row in the file) first, ``time`` in POSIX
        seconds, ``phase`` "P"/"S" and the file's other columns, in file order; and notes on
        dropped rows (unknown phase, blank station, unparseable time).

    Raises
    ------
    RealInputError
        Missing file or column, or no usable pick.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "picks.csv"
    >>> _ = p.write_text("station,phase,time,amp\\nCI.CCC.,Pg,2019-07-04T00:00:06Z,1\\n"
    ...                  "CI.CCC.,X,2019-07-04T00:00:09Z,2\\n")
    >>> picks, notes = read_picks(p)
    >>> picks[["pick_idx", "phase", "time", "amp"]].values.tolist(), len(notes)
    ([[0, 'P', 1562198406.0, 1]], 1)
    """
    from seisbench_genie.picks import PHASE_ALIASES, times_to_posix

    raw = _read_csv(path, "picks", ["station", "phase", "time"],
                    dtype={"station": str, "phase": str})
    notes: list[str] = []
    phase = raw["phase"].astype("string").str.strip().map(PHASE_ALIASES).astype(object)
    station = raw["station"].astype("string").str.strip().fillna("").astype(object)
    time = times_to_posix(raw["time"])
    bad_phase = phase.isna().to_numpy(bool)
    bad_station = (station == "").to_numpy(bool) & ~bad_phase
    bad_time = ~np.isfinite(time) & ~bad_phase & ~bad_station
    for n, why in ((bad_phase, f"a phase other than {sorted(PHASE_ALIASES)}"),
                   (bad_station, "no station id"), (bad_time, "a missing or unparseable time")):
        if n.any():
            notes.append(f"{path}: dropped {int(n.sum())} pick(s) with {why}")
    keep = ~(bad_phase | bad_station | bad_time)
    if not keep.any():
        raise RealInputError(f"picks file {path}: no usable pick (station, P/S phase, time)")
    picks = raw.copy()
    picks["station"] = station.to_numpy(dtype=object)
    picks["phase"] = phase.to_numpy(dtype=object)
    picks["time"] = time
    picks.insert(0, "pick_idx", np.arange(len(raw), dtype=np.int64))
    picks = picks[keep].reset_index(drop=True)
    picks.attrs["n_file_rows"] = len(raw)
    return picks, notes


def read_stations(path: str | Path) -> pd.DataFrame:
    """Read a station file: ``id``, ``latitude``, ``longitude``, ``elevation`` (m, optional).

    Returns
    -------
    pandas.DataFrame
        A station table (:func:`seisbench_genie.stations.station_table`).

    Raises
    ------
    RealInputError
        Missing file or column, or invalid coordinates.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "stations.csv"
    >>> _ = p.write_text("id,latitude,longitude,elevation\\nCI.CCC.,35.52,-117.36,670\\n")
    >>> read_stations(p)["elevation"].tolist()
    [670.0]
    """
    from seisbench_genie.stations import station_table

    raw = _read_csv(path, "stations", ["id", "latitude", "longitude"], dtype={"id": str})
    try:
        return station_table(raw, argument=f"stations file {path}")
    except ValueError as exc:
        raise RealInputError(str(exc)) from None


def read_velocity_model(path: str | Path) -> pd.DataFrame:
    """Read a 1-D model: layer tops ``depth_km`` (km), ``vp``, ``vs`` (km/s).

    Raises
    ------
    RealInputError
        Missing file or column, or an invalid model.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "vm.csv"
    >>> _ = p.write_text("depth_km,vp,vs\\n0,5.5,3.18\\n6.5,6.3,3.64\\n")
    >>> read_velocity_model(p)["vp"].tolist()
    [5.5, 6.3]
    """
    from seisbench_genie.traveltimes import validate_velocity_model

    raw = _read_csv(path, "velocity model", ["depth_km", "vp", "vs"])
    try:
        return validate_velocity_model(raw)
    except ValueError as exc:
        raise RealInputError(f"velocity model file {path}: {exc}") from None


def read_catalog(path: str | Path, what: str = "catalog") -> tuple[pd.DataFrame, list[str]]:
    """Read an event catalog: ``time``, ``latitude``, ``longitude``; optional ``depth_km`` (km)
    and ``magnitude``.

    Parameters
    ----------
    path
        CSV file; ``time`` is ISO 8601 (UTC) or POSIX seconds.
    what
        Name of the catalog in messages ("reference", "compare catalog").

    Returns
    -------
    (pandas.DataFrame, list of str)
        ``time`` (POSIX s), ``latitude``, ``longitude``, ``depth_km`` and ``magnitude`` (NaN
        where absent), sorted by time; and notes on dropped rows.

    Raises
    ------
    RealInputError
        Missing file or column, or no usable event.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "cat.csv"
    >>> _ = p.write_text("time,latitude,longitude\\n1970-01-01T00:00:10Z,35.7,-117.5\\n")
    >>> cat, _ = read_catalog(p)
    >>> cat[["time", "depth_km"]].values.tolist()
    [[10.0, nan]]
    """
    from seisbench_genie.picks import times_to_posix

    raw = _read_csv(path, what, ["time", "latitude", "longitude"])
    out = pd.DataFrame({
        "time": times_to_posix(raw["time"]),
        "latitude": pd.to_numeric(raw["latitude"], errors="coerce"),
        "longitude": pd.to_numeric(raw["longitude"], errors="coerce"),
        "depth_km": (pd.to_numeric(raw["depth_km"], errors="coerce") if "depth_km" in raw
                     else np.nan),
        "magnitude": (pd.to_numeric(raw["magnitude"], errors="coerce") if "magnitude" in raw
                      else np.nan),
    })
    bad = ~np.isfinite(out[["time", "latitude", "longitude"]].to_numpy(float)).all(axis=1)
    notes = [f"{path}: dropped {int(bad.sum())} event(s) without a time or an epicentre"
             ] if bad.any() else []
    out = out[~bad]
    if not len(out):
        raise RealInputError(f"{what} file {path}: no event with a time and an epicentre")
    return out.sort_values("time", kind="stable").reset_index(drop=True), notes


def region_from_stations(stations: pd.DataFrame, margin_km: float,
                         depth_km: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Search volume: the stations' latitude/longitude box widened by ``margin_km``.

    Parameters
    ----------
    stations
        ``latitude``, ``longitude`` (degrees).
    margin_km
        Horizontal margin (km) on every side.
    depth_km
        Depth range (km).

    Returns
    -------
    dict
        ``latitude``, ``longitude`` (degrees) and ``depth_km`` (km) ranges.

    Examples
    --------
    >>> st = pd.DataFrame({"latitude": [35.0, 36.0], "longitude": [-118.0, -117.0]})
    >>> reg = region_from_stations(st, 0.0, (0.0, 25.0))
    >>> reg["latitude"], reg["depth_km"]
    ((35.0, 36.0), (0.0, 25.0))
    """
    lat = stations["latitude"].to_numpy(float)
    lon = stations["longitude"].to_numpy(float)
    dlat = margin_km / KM_PER_DEGREE
    cos_lat = max(np.cos(np.radians(min(89.0, float(np.abs(lat).max()) + dlat))), 1e-3)
    dlon = margin_km / (KM_PER_DEGREE * cos_lat)
    return {
        "latitude": (float(lat.min() - dlat), float(lat.max() + dlat)),
        "longitude": (float(lon.min() - dlon), float(lon.max() + dlon)),
        "depth_km": (float(depth_km[0]), float(depth_km[1])),
    }


@dataclass
class RealDataset:
    """Real picks ready for the associators (the file contract's ``scenario`` interface).

    Attributes
    ----------
    name : str
        ``"crustal_real"`` or ``"subduction_real"`` (selects the peers' settings family, see
        :func:`seisbench_genie.benchmark.peers.scenario_kind`).
    picks : pandas.DataFrame
        ``pick_idx`` (row in the pick file), ``station``, ``phase``, ``time`` (POSIX s) and the
        file's other columns; only picks at known stations. The row position is the pick index
        handed to the associators.
    stations : pandas.DataFrame
        The stations with picks (``id``, ``latitude``, ``longitude``, ``elevation`` m).
    velocity_model : pandas.DataFrame
        Layer tops ``depth_km``, ``vp``, ``vs``.
    region : dict
        Search volume (``latitude``, ``longitude``, ``depth_km`` ranges).
    n_file_picks : int
        Data rows in the pick file.
    sources : dict
        Input paths by role.
    notes : list of str
        Dropped rows and other remarks for the report.

    Examples
    --------
    >>> ds = load_dataset("picks.csv", "stations.csv", "vm.csv")  # doctest: +SKIP
    >>> ds.time_span  # doctest: +SKIP
    (1562198406.718, 1562457599.0)
    """

    name: str
    picks: pd.DataFrame
    stations: pd.DataFrame
    velocity_model: pd.DataFrame
    region: dict
    n_file_picks: int
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def time_span(self) -> tuple[float, float]:
        """First and last pick time (POSIX s)."""
        t = self.picks["time"].to_numpy(float)
        return float(t.min()), float(t.max())


def _few(values: Any, n: int = 5) -> str:
    vals = sorted({str(v) for v in np.asarray(values, dtype=object)})
    more = f", ... ({len(vals)} in all)" if len(vals) > n else ""
    return ", ".join(vals[:n]) + more


def load_dataset(
    picks: str | Path,
    stations: str | Path,
    velocity_model: str | Path,
    *,
    region_depth_km: tuple[float, float] = DEFAULT_REGION_DEPTH_KM,
    region_margin_km: float = DEFAULT_REGION_MARGIN_KM,
) -> RealDataset:
    """Read and check the pick, station and velocity-model files.

    Parameters
    ----------
    picks, stations, velocity_model
        CSV files (see :func:`read_picks`, :func:`read_stations`, :func:`read_velocity_model`).
    region_depth_km
        Search depth range (km).
    region_margin_km
        Horizontal margin (km) around the stations with picks.

    Returns
    -------
    RealDataset

    Raises
    ------
    RealInputError
        Unusable files, or no pick station in the station file (the message names both
        files and a few ids of each).

    Examples
    --------
    >>> ds = load_dataset("picks.csv", "stations.csv", "vm.csv",
    ...                   region_depth_km=(0, 25))  # doctest: +SKIP
    """
    from seisbench_genie.picks import station_positions

    lo, hi = (float(v) for v in region_depth_km)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo < hi):
        raise RealInputError(f"--region-depth: need 0 <= min < max km, got {region_depth_km}")
    if not (np.isfinite(region_margin_km) and region_margin_km >= 0):
        raise RealInputError(f"--region-margin-km: need >= 0 km, got {region_margin_km}")
    table, notes = read_picks(picks)
    n_file = int(table.attrs.get("n_file_rows", len(table)))
    st = read_stations(stations)
    model = read_velocity_model(velocity_model)
    pos = station_positions(table["station"], st)
    unknown = pos < 0
    if unknown.all():
        raise RealInputError(
            f"none of the station ids in the picks file {picks} ({_few(table['station'])}) is "
            f"in the stations file {stations} ({_few(st['id'])}); ids are matched as "
            f"NET.STA.LOC (NET.STA matches NET.STA.)"
        )
    if unknown.any():
        notes.append(
            f"{picks}: dropped {int(unknown.sum())} pick(s) at station(s) missing from "
            f"{stations}: {_few(table['station'][unknown])}"
        )
    table = table[~unknown].reset_index(drop=True)
    used = np.unique(pos[~unknown])
    sub = st.iloc[used].reset_index(drop=True)
    table["station"] = sub["id"].to_numpy(dtype=object)[
        np.searchsorted(used, pos[~unknown])]
    region = region_from_stations(sub, region_margin_km, (lo, hi))
    kind = "subduction" if hi > SUBDUCTION_DEPTH_KM else "crustal"
    return RealDataset(
        name=f"{kind}_real", picks=table, stations=sub, velocity_model=model, region=region,
        n_file_picks=n_file,
        sources={"picks": str(picks), "stations": str(stations),
                 "velocity_model": str(velocity_model)},
        notes=notes,
    )


def load_reference(path: str | Path, dataset: RealDataset) -> tuple[pd.DataFrame, list[str]]:
    """Read the reference catalog and keep its events inside the picks' time span.

    Raises
    ------
    RealInputError
        When no reference event lies in the picks' time span (the message names both files
        and both time spans).

    Examples
    --------
    >>> ref, notes = load_reference("scsn.csv", ds)  # doctest: +SKIP
    """
    ref, notes = read_catalog(path, "reference catalog")
    t0, t1 = dataset.time_span
    inside = ((ref["time"] >= t0) & (ref["time"] <= t1)).to_numpy(bool)
    if not inside.any():
        r0, r1 = iso_utc([ref["time"].min(), ref["time"].max()])
        p0, p1 = iso_utc([t0, t1])
        raise RealInputError(
            f"the reference catalog {path} has no event in the time span of the picks file "
            f"{dataset.sources.get('picks', '')} ({p0} to {p1}); its {len(ref)} events run "
            f"from {r0} to {r1}"
        )
    if not inside.all():
        notes.append(f"{path}: left out {int((~inside).sum())} reference event(s) outside the "
                     f"picks' time span")
    return ref[inside].reset_index(drop=True), notes


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def candidate_pairs(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float | None = MATCH_DISTANCE_KM,
) -> pd.DataFrame:
    """All pairs of events of ``a`` and ``b`` within ``max_dt_s`` and ``max_distance_km``.

    A sorted search on origin time finds each event's time window (no loop over events), then
    the epicentral distances of those pairs are computed at once
    (:func:`seisbench_genie.geo.great_circle_km`).

    Parameters
    ----------
    a, b
        ``time`` (POSIX s), ``latitude``, ``longitude`` (degrees).
    max_dt_s
        Largest origin-time difference (s).
    max_distance_km
        Largest epicentral distance (km); ``None`` for a time-only rule.

    Returns
    -------
    pandas.DataFrame
        ``a``, ``b`` (row positions), ``dt_s`` (b minus a) and ``distance_km``.

    Examples
    --------
    >>> a = pd.DataFrame({"time": [0.0, 10.0], "latitude": [0.0, 0.0], "longitude": [0.0, 0.0]})
    >>> b = pd.DataFrame({"time": [2.0, 9.0, 30.0], "latitude": [0.0, 1.0, 0.0],
    ...                   "longitude": [0.0, 0.0, 0.0]})
    >>> candidate_pairs(a, b)[["a", "b", "dt_s"]].values.tolist()
    [[0.0, 0.0, 2.0]]
    >>> candidate_pairs(a, b, max_distance_km=None)[["a", "b"]].values.tolist()
    [[0, 0], [1, 1]]
    """
    ta = a["time"].to_numpy(float)
    tb = b["time"].to_numpy(float)
    order = np.argsort(tb, kind="stable")
    tb_sorted = tb[order]
    lo = np.searchsorted(tb_sorted, ta - max_dt_s, side="left")
    hi = np.searchsorted(tb_sorted, ta + max_dt_s, side="right")
    counts = hi - lo
    ia = np.repeat(np.arange(len(ta)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    ib = order[np.repeat(lo, counts) + offset]
    dt = tb[ib] - ta[ia]
    dist = great_circle_km(a["latitude"].to_numpy(float)[ia], a["longitude"].to_numpy(float)[ia],
                           b["latitude"].to_numpy(float)[ib], b["longitude"].to_numpy(float)[ib])
    dist = np.asarray(dist, dtype=float).reshape(-1)
    keep = np.ones(len(ia), dtype=bool) if max_distance_km is None else dist <= max_distance_km
    return pd.DataFrame({"a": ia[keep], "b": ib[keep], "dt_s": dt[keep],
                         "distance_km": dist[keep]})


def match_catalogs(
    reference: pd.DataFrame,
    events: pd.DataFrame,
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float | None = MATCH_DISTANCE_KM,
) -> pd.DataFrame:
    """One-to-one matching of reference events to events within ``max_dt_s`` and
    ``max_distance_km``.

    Among all one-to-one matchings of candidate pairs (:func:`candidate_pairs`), the one with
    the most pairs is taken, and among those the one closest in space-time (sum of
    ``hypot(dt / max_dt_s, distance / max_distance_km)``), solved as a sparse minimum-weight
    bipartite matching (each reference event also gets a private "unmatched" option of a cost
    higher than any set of real pairs, so that a full matching always exists).

    Parameters
    ----------
    reference, events
        ``time`` (POSIX s), ``latitude``, ``longitude``; ``depth_km`` optional.
    max_dt_s, max_distance_km
        Matching rule (s, km); ``max_distance_km=None`` matches on time alone.

    Returns
    -------
    pandas.DataFrame
        ``reference``, ``event`` (row positions), ``dt_s`` (event minus reference),
        ``distance_km`` (epicentral) and ``depth_offset_km`` (event minus reference; NaN when a
        depth is missing), sorted by ``reference``.

    Examples
    --------
    Two reference events 2 s apart and one event between them: it matches one of them, the
    nearer in time. The 400-s event is too late, the 1.0-s event too far (0.3 degrees north):

    >>> ref = pd.DataFrame({"time": [0.0, 2.0, 100.0], "latitude": [35.7] * 3,
    ...                     "longitude": [-117.5] * 3})
    >>> ev = pd.DataFrame({"time": [1.0, 1.2, 400.0], "latitude": [36.0, 35.7, 35.7],
    ...                    "longitude": [-117.5] * 3})
    >>> match_catalogs(ref, ev)[["reference", "event"]].values.tolist()
    [[1, 1]]
    """
    pairs = candidate_pairs(reference, events, max_dt_s=max_dt_s,
                            max_distance_km=max_distance_km)
    columns = ["reference", "event", "dt_s", "distance_km", "depth_offset_km"]
    if not len(pairs):
        return pd.DataFrame({c: pd.Series(dtype=int if c in ("reference", "event") else float)
                             for c in columns})
    rows, r_inv = np.unique(pairs["a"].to_numpy(), return_inverse=True)
    cols, c_inv = np.unique(pairs["b"].to_numpy(), return_inverse=True)
    n_r, n_c = len(rows), len(cols)
    scaled = pairs["dt_s"].to_numpy() / max_dt_s
    if max_distance_km is not None:
        scaled = np.hypot(scaled, pairs["distance_km"].to_numpy() / max_distance_km)
    cost = 1.0 + np.abs(scaled)  # in [1, 1 + sqrt(2)]: every real pair costs at least 1
    # An extra real pair must always beat any rearrangement of the others: (k + 1) real pairs
    # cost at most (k + 1)(1 + sqrt 2) + (n_r - k - 1) * unmatched, k pairs at least
    # k + (n_r - k) * unmatched, so unmatched > (n_r + 1) * (1 + sqrt 2) suffices.
    unmatched = 3.0 * (n_r + 1)
    graph = csr_matrix(
        (np.concatenate([cost, np.full(n_r, unmatched)]),
         (np.concatenate([r_inv, np.arange(n_r)]), np.concatenate([c_inv, n_c + np.arange(n_r)]))),
        shape=(n_r, n_c + n_r),
    )
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < n_c
    row_ind, col_ind = row_ind[real], col_ind[real]
    lookup = csr_matrix((np.arange(1, len(pairs) + 1, dtype=float), (r_inv, c_inv)),
                        shape=(n_r, n_c))
    k = np.asarray(lookup[row_ind, col_ind]).ravel().astype(int) - 1
    chosen = pairs.iloc[k]
    ref_pos = chosen["a"].to_numpy()
    ev_pos = chosen["b"].to_numpy()
    depth_ref = (reference["depth_km"].to_numpy(float)[ref_pos] if "depth_km" in reference
                 else np.full(len(k), np.nan))
    depth_ev = (events["depth_km"].to_numpy(float)[ev_pos] if "depth_km" in events
                else np.full(len(k), np.nan))
    out = pd.DataFrame({"reference": ref_pos.astype(int), "event": ev_pos.astype(int),
                        "dt_s": chosen["dt_s"].to_numpy(),
                        "distance_km": chosen["distance_km"].to_numpy(),
                        "depth_offset_km": depth_ev - depth_ref})
    return out.sort_values("reference", kind="stable").reset_index(drop=True)


def has_neighbour(
    events: pd.DataFrame,
    others: pd.DataFrame,
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float | None = MATCH_DISTANCE_KM,
) -> np.ndarray:
    """Whether each event has at least one event of ``others`` within the matching rule.

    Not one-to-one: two events close to the same event of ``others`` both have a neighbour.

    Returns
    -------
    numpy.ndarray
        bool, one per row of ``events``.

    Examples
    --------
    >>> ev = pd.DataFrame({"time": [0.0, 0.5, 50.0], "latitude": [35.7] * 3,
    ...                    "longitude": [-117.5] * 3})
    >>> other = pd.DataFrame({"time": [1.0], "latitude": [35.7], "longitude": [-117.5]})
    >>> has_neighbour(ev, other).tolist()
    [True, True, False]
    """
    found = np.zeros(len(events), dtype=bool)
    if len(events) and len(others):
        pairs = candidate_pairs(events, others, max_dt_s=max_dt_s,
                                max_distance_km=max_distance_km)
        found[pairs["a"].to_numpy()] = True
    return found


def magnitude_bins(magnitude: Any, edges: Sequence[float] = MAGNITUDE_EDGES) -> np.ndarray:
    """Magnitude bin labels: ``"M<1"``, ``"1<=M<2"``, ``"2<=M<3"``, ``"M>=3"`` (for the default
    edges), ``"no magnitude"`` where it is missing.

    Examples
    --------
    >>> magnitude_bins([0.5, 1.0, 2.9, 3.0, float("nan")]).tolist()
    ['M<1', '1<=M<2', '2<=M<3', 'M>=3', 'no magnitude']
    """
    labels = magnitude_bin_labels(edges)
    m = np.asarray(magnitude, dtype=float)
    out = np.asarray(labels, dtype=object)[np.digitize(np.nan_to_num(m, nan=-np.inf), edges)]
    out[~np.isfinite(m)] = "no magnitude"
    return out


def magnitude_bin_labels(edges: Sequence[float] = MAGNITUDE_EDGES) -> list[str]:
    """Labels of the magnitude bins of ``edges``, lowest first.

    Examples
    --------
    >>> magnitude_bin_labels()
    ['M<1', '1<=M<2', '2<=M<3', 'M>=3']
    """
    e = [f"{x:g}" for x in edges]
    return [f"M<{e[0]}"] + [f"{lo}<=M<{hi}" for lo, hi in zip(e[:-1], e[1:], strict=True)] + [
        f"M>={e[-1]}"]


def pick_count_bins(n_picks: Any, edges: Sequence[int] = PICK_COUNT_EDGES) -> np.ndarray:
    """Pick-count bin labels: ``"<10"``, ``"10-12"``, ``"13-15"``, ``"16-20"``, ``"21-30"``,
    ``">30"`` (for the default edges).

    Examples
    --------
    >>> pick_count_bins([9, 10, 12, 13, 30, 31]).tolist()
    ['<10', '10-12', '10-12', '13-15', '21-30', '>30']
    """
    labels = pick_count_bin_labels(edges)
    return np.asarray(labels, dtype=object)[np.digitize(np.asarray(n_picks, dtype=float), edges)]


def pick_count_bin_labels(edges: Sequence[int] = PICK_COUNT_EDGES) -> list[str]:
    """Labels of the pick-count bins of ``edges``, fewest picks first.

    Examples
    --------
    >>> pick_count_bin_labels((10, 13))
    ['<10', '10-12', '>12']
    """
    return [f"<{edges[0]}"] + [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:],
                                                                 strict=True)] + [
        f">{edges[-1] - 1}"]


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


@dataclass
class CatalogEntry:
    """One catalog in the comparison: an associator's output or a given catalog.

    Attributes
    ----------
    name : str
        ``"genie"``, ``"pyocto"``, ``"reference"`` or a ``--compare`` name.
    kind : str
        ``"associator"``, ``"reference"`` or ``"compare"``.
    events : pandas.DataFrame or None
        ``time`` (POSIX s), ``latitude``, ``longitude``, ``depth_km``; associators add
        ``n_picks`` (associated picks), catalogs may have ``magnitude``. ``None`` when the run
        failed.
    status : str
        ``"ok"``, ``"failed"`` or ``"timeout"``.
    message : str
        Why a run failed.
    n_input_picks, n_picks_associated : int
        Picks handed to the associator and picks it associated (associators only).
    timing : dict
        ``wall_s`` (association call), ``process_s`` (whole subprocess), ``peak_mb``.
    source : str
        File of a given catalog.

    Examples
    --------
    >>> e = CatalogEntry("pal", "compare", pd.DataFrame({"time": [0.0], "latitude": [0.0],
    ...                                                   "longitude": [0.0]}))
    >>> e.ok
    True
    """

    name: str
    kind: str
    events: pd.DataFrame | None
    status: str = "ok"
    message: str = ""
    n_input_picks: int = 0
    n_picks_associated: int = 0
    timing: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @property
    def ok(self) -> bool:
        """Whether the catalog is available for scoring."""
        return self.status == "ok" and self.events is not None


#: Columns of ``results.csv`` (long format: one row per catalog, metric and bin).
RESULT_COLUMNS = ["catalog", "kind", "metric", "bin", "value", "count", "total", "note"]


def _row(entry: CatalogEntry, metric: str, value: float, bin: str = "", count: float = math.nan,
         total: float = math.nan, note: str = "") -> dict[str, Any]:
    return {"catalog": entry.name, "kind": entry.kind, "metric": metric, "bin": bin,
            "value": float(value), "count": count, "total": total, "note": note}


def _share(count: int, total: int) -> float:
    return count / total if total else math.nan


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else math.nan


def score_reference(
    entry: CatalogEntry,
    reference: pd.DataFrame,
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float = MATCH_DISTANCE_KM,
    region: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Recall of the reference (overall, per magnitude bin; also without the one-to-one rule),
    the share of the catalog's events in the reference's time span that match a reference
    event, and median offsets.

    Only the reference's time span (first to last reference event, widened by ``max_dt_s``)
    of the catalog is scored. With ``region`` (the search volume given to the associators:
    ``latitude`` and ``longitude`` ranges, optionally ``depth_km``), the recall is also
    given for the reference events inside it (``reference_recall_in_region``), with the same
    one-to-one matches: a reference catalog that covers more than the search volume then
    shows how much of an associator's recall comes from events outside the volume, which
    an associator that puts such events on the volume's edge (PyOcto) still matches within
    ``max_distance_km`` and one that leaves them out (GENIE) does not.

    Returns
    -------
    list of dict
        Result rows (see :data:`RESULT_COLUMNS`).

    Examples
    --------
    >>> ref = pd.DataFrame({"time": [0.0, 100.0], "latitude": [35.7] * 2,
    ...                     "longitude": [-117.5] * 2, "depth_km": [5.0, 5.0],
    ...                     "magnitude": [0.5, 3.5]})
    >>> ev = pd.DataFrame({"time": [0.5, 5000.0], "latitude": [35.71, 35.7],
    ...                    "longitude": [-117.5, -117.5], "depth_km": [6.0, 5.0]})
    >>> rows = score_reference(CatalogEntry("x", "associator", ev), ref)
    >>> [(r["metric"], r["bin"], r["value"]) for r in rows][:3]
    [('reference_recall', 'all', 0.5), ('reference_recall', 'M<1', 1.0), ('reference_recall', 'M>=3', 0.0)]
    >>> box = {"latitude": (35.6, 35.8), "longitude": (-117.6, -117.4), "depth_km": (0.0, 4.0)}
    >>> rows = score_reference(CatalogEntry("x", "associator", ev), ref, region=box)
    >>> [(r["bin"], r["value"], r["total"]) for r in rows
    ...  if r["metric"] == "reference_recall_in_region"]
    []
    >>> box["depth_km"] = (0.0, 10.0)
    >>> rows = score_reference(CatalogEntry("x", "associator", ev), ref, region=box)
    >>> [(r["bin"], r["value"], r["total"]) for r in rows
    ...  if r["metric"] == "reference_recall_in_region"][:2]
    [('all', 0.5, 2), ('M<1', 1.0, 1)]
    """
    events = entry.events
    t0, t1 = float(reference["time"].min()), float(reference["time"].max())
    in_span = ((events["time"] >= t0 - max_dt_s) & (events["time"] <= t1 + max_dt_s)).to_numpy()
    sub = events[in_span].reset_index(drop=True)
    m = match_catalogs(reference, sub, max_dt_s=max_dt_s, max_distance_km=max_distance_km)
    found = np.zeros(len(reference), dtype=bool)
    found[m["reference"].to_numpy()] = True
    # Not one-to-one: a reference event with any event near it (a looser recall, for
    # comparison with numbers computed that way).
    near = has_neighbour(reference, sub, max_dt_s=max_dt_s, max_distance_km=max_distance_km)
    note = f"reference span {iso_utc([t0])[0]} to {iso_utc([t1])[0]}"
    bins = magnitude_bins(reference["magnitude"]) if "magnitude" in reference else \
        np.full(len(reference), "no magnitude", dtype=object)
    rows = []
    every = np.ones(len(reference), dtype=bool)
    scored = [("reference_recall", found, every, note),
              ("reference_near_share", near, every, "any event near, not one-to-one")]
    if region is not None:
        inside = in_region(reference, region)
        if inside.any():
            scored.append(("reference_recall_in_region", found, inside,
                           f"{int(inside.sum())} of {len(reference)} reference events inside "
                           "the search volume"))
    for metric, hit, sel_all, text in scored:
        rows.append(_row(entry, metric, _share(hit[sel_all].sum(), sel_all.sum()), "all",
                         int(hit[sel_all].sum()), int(sel_all.sum()), text))
        for label in [*magnitude_bin_labels(), "no magnitude"]:
            sel = (bins == label) & sel_all
            if sel.any():
                rows.append(_row(entry, metric, _share(hit[sel].sum(), sel.sum()), label,
                                 int(hit[sel].sum()), int(sel.sum())))
    rows.append(_row(entry, "matched_to_reference_share", _share(len(m), len(sub)), "all",
                     len(m), len(sub), "events in the reference span that match a reference "
                     "event"))
    rows += [
        _row(entry, "median_epicentral_offset_km", _median(m["distance_km"].to_numpy()),
             count=len(m)),
        _row(entry, "median_depth_offset_km", _median(np.abs(m["depth_offset_km"].to_numpy())),
             count=int(np.isfinite(m["depth_offset_km"].to_numpy()).sum())),
        _row(entry, "median_origin_time_offset_s", _median(np.abs(m["dt_s"].to_numpy())),
             count=len(m)),
    ]
    return rows


def score_confirmation(
    entry: CatalogEntry,
    others: Sequence[CatalogEntry],
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float = MATCH_DISTANCE_KM,
) -> list[dict[str, Any]]:
    """"No inflation": the share of the catalog's events within ``max_dt_s`` and
    ``max_distance_km`` of an event of any catalog in ``others``, and of each one.

    Returns
    -------
    list of dict
        ``confirmed_share`` rows: bin ``"any"`` first, then one per other catalog.

    Examples
    --------
    >>> ev = pd.DataFrame({"time": [0.0, 50.0], "latitude": [35.7] * 2,
    ...                    "longitude": [-117.5] * 2})
    >>> other = CatalogEntry("b", "associator", ev.iloc[:1])
    >>> rows = score_confirmation(CatalogEntry("a", "associator", ev), [other])
    >>> [(r["bin"], r["value"]) for r in rows]
    [('any', 0.5), ('b', 0.5)]
    """
    events = entry.events
    n = len(events)
    any_found = np.zeros(n, dtype=bool)
    per: list[dict[str, Any]] = []
    for other in others:
        found = has_neighbour(events, other.events, max_dt_s=max_dt_s,
                              max_distance_km=max_distance_km)
        any_found |= found
        per.append(_row(entry, "confirmed_share", _share(found.sum(), n), other.name,
                        int(found.sum()), n))
    names = ", ".join(o.name for o in others)
    return [_row(entry, "confirmed_share", _share(any_found.sum(), n), "any",
                 int(any_found.sum()), n, f"confirmed by any of: {names}"), *per]


def score_cross_finding(
    entry: CatalogEntry,
    other: CatalogEntry,
    *,
    max_dt_s: float = MATCH_TIME_S,
) -> list[dict[str, Any]]:
    """The share of ``entry``'s events that ``other`` also finds (an event within
    ``max_dt_s``), overall and binned by ``entry``'s pick count (:func:`pick_count_bins`).

    Returns
    -------
    list of dict
        ``also_found_by_<other>`` rows: bin ``"all"`` first, then the pick-count bins that hold
        events.

    Examples
    --------
    >>> a = pd.DataFrame({"time": [0.0, 50.0], "latitude": [0.0] * 2, "longitude": [0.0] * 2,
    ...                   "n_picks": [11, 40]})
    >>> b = pd.DataFrame({"time": [2.0], "latitude": [1.0], "longitude": [0.0]})
    >>> rows = score_cross_finding(CatalogEntry("a", "associator", a),
    ...                            CatalogEntry("b", "associator", b))
    >>> [(r["metric"], r["bin"], r["value"]) for r in rows]
    [('also_found_by_b', 'all', 0.5), ('also_found_by_b', '10-12', 1.0), ('also_found_by_b', '>30', 0.0)]
    """
    events = entry.events
    found = has_neighbour(events, other.events, max_dt_s=max_dt_s, max_distance_km=None)
    metric = f"also_found_by_{other.name}"
    rows = [_row(entry, metric, _share(found.sum(), len(events)), "all", int(found.sum()),
                 len(events), f"an event of {other.name} within {max_dt_s:g} s")]
    bins = pick_count_bins(events["n_picks"].to_numpy(float))
    for label in pick_count_bin_labels():
        sel = bins == label
        if sel.any():
            rows.append(_row(entry, metric, _share(found[sel].sum(), sel.sum()), label,
                             int(found[sel].sum()), int(sel.sum())))
    return rows


def in_region(events: pd.DataFrame, region: Mapping[str, Any]) -> np.ndarray:
    """Whether each event lies inside a search volume: its ``latitude`` and ``longitude``
    ranges (degrees) and, where both have one, its ``depth_km`` range. An event without a
    depth is judged by its epicentre.

    Examples
    --------
    >>> ev = pd.DataFrame({"latitude": [0.5, 0.5, 2.0], "longitude": [0.5, 0.5, 0.5],
    ...                    "depth_km": [5.0, 40.0, 5.0]})
    >>> reg = {"latitude": (0.0, 1.0), "longitude": (0.0, 1.0), "depth_km": (0.0, 25.0)}
    >>> in_region(ev, reg).tolist()
    [True, False, False]
    """
    (la0, la1), (lo0, lo1) = region["latitude"], region["longitude"]
    lat = events["latitude"].to_numpy(float)
    lon = events["longitude"].to_numpy(float)
    inside = (lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)
    if "depth_km" in region and "depth_km" in events:
        z0, z1 = region["depth_km"]
        z = events["depth_km"].to_numpy(float)
        inside &= ~((z < z0) | (z > z1))  # NaN depth: judged by the epicentre
    return inside


def event_places(events: pd.DataFrame, stations: pd.DataFrame, region: Mapping[str, Any]
                 ) -> pd.DataFrame:
    """Where each event lies, as booleans (:data:`EVENT_PLACES`): ``outside_stations``
    (epicentre outside the convex hull of the stations), ``box_edge`` (within
    :data:`BOX_EDGE_KM` of the search box's horizontal edge, or outside it), ``close_in_time``
    (another event of ``events`` within :data:`CLOSE_IN_TIME_S`) and ``small`` (between
    :data:`SMALL_EVENT_PICKS` picks; False without ``n_picks``).

    Examples
    --------
    >>> st = pd.DataFrame({"latitude": [0.0, 0.0, 1.0, 1.0], "longitude": [0.0, 1.0, 0.0, 1.0]})
    >>> reg = {"latitude": (-0.2, 1.2), "longitude": (-0.2, 1.2)}
    >>> ev = pd.DataFrame({"time": [0.0, 5.0, 100.0], "latitude": [0.5, 1.17, 0.5],
    ...                    "longitude": [0.5, 0.5, 0.5], "n_picks": [12, 30, 40]})
    >>> event_places(ev, st, reg).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'outside_stations': [False, True, False], 'box_edge': [False, True, False],
     'close_in_time': [True, True, False], 'small': [True, False, False]}
    """
    lat = events["latitude"].to_numpy(float)
    lon = events["longitude"].to_numpy(float)
    lat0 = float(stations["latitude"].mean())
    lon0 = float(stations["longitude"].mean())
    cos0 = math.cos(math.radians(lat0))

    def xy(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return np.column_stack([(lo - lon0) * cos0 * KM_PER_DEGREE, (la - lat0) * KM_PER_DEGREE])

    outside = np.ones(len(events), dtype=bool)
    if len(events):
        from scipy.spatial import Delaunay, QhullError

        try:
            hull = Delaunay(xy(stations["latitude"].to_numpy(float),
                               stations["longitude"].to_numpy(float)))
            outside = hull.find_simplex(xy(lat, lon)) < 0
        except (QhullError, ValueError):  # fewer than 3 stations, or all on a line
            pass
    (la0, la1), (lo0, lo1) = region["latitude"], region["longitude"]
    cos_ev = np.cos(np.radians(lat))
    edge_km = np.minimum(np.minimum(lat - la0, la1 - lat) * KM_PER_DEGREE,
                         np.minimum(lon - lo0, lo1 - lon) * KM_PER_DEGREE * cos_ev)
    t = events["time"].to_numpy(float)
    order = np.argsort(t, kind="stable")
    gap = np.full(len(t), np.inf)
    if len(t) > 1:
        dt = np.diff(t[order])
        gap[order] = np.minimum(np.r_[np.inf, dt], np.r_[dt, np.inf])
    n = (events["n_picks"].to_numpy(float) if "n_picks" in events
         else np.full(len(events), np.nan))
    return pd.DataFrame({
        "outside_stations": outside, "box_edge": edge_km <= BOX_EDGE_KM,
        "close_in_time": gap <= CLOSE_IN_TIME_S,
        "small": (n >= SMALL_EVENT_PICKS[0]) & (n <= SMALL_EVENT_PICKS[1])})


def score_missed_places(
    entry: CatalogEntry,
    other: CatalogEntry,
    stations: pd.DataFrame,
    region: Mapping[str, Any],
    *,
    max_dt_s: float = MATCH_TIME_S,
) -> list[dict[str, Any]]:
    """Where ``entry``'s events lie that ``other`` misses (no event of ``other`` within
    ``max_dt_s``), against those it also finds (:func:`event_places`): for example whether
    the events one associator lacks are outside the network or close in time to others.

    Returns
    -------
    list of dict
        ``missed_by_<other>_place`` and ``found_by_<other>_place`` rows, one per place (bin):
        value = share of the missed (found) events there, count = how many, total = missed
        (found) events.

    Examples
    --------
    >>> st = pd.DataFrame({"latitude": [0.0, 0.0, 1.0], "longitude": [0.0, 1.0, 0.0]})
    >>> reg = {"latitude": (-0.2, 1.2), "longitude": (-0.2, 1.2)}
    >>> a = pd.DataFrame({"time": [0.0, 50.0], "latitude": [0.2, 1.17],
    ...                   "longitude": [0.2, 1.0], "n_picks": [20, 11]})
    >>> b = pd.DataFrame({"time": [1.0], "latitude": [0.2], "longitude": [0.2]})
    >>> rows = score_missed_places(CatalogEntry("a", "associator", a),
    ...                            CatalogEntry("b", "associator", b), st, reg)
    >>> [(r["bin"], r["value"]) for r in rows if r["metric"] == "missed_by_b_place"]
    [('outside_stations', 1.0), ('box_edge', 1.0), ('close_in_time', 0.0), ('small', 1.0)]
    """
    events = entry.events
    found = has_neighbour(events, other.events, max_dt_s=max_dt_s, max_distance_km=None)
    places = event_places(events, stations, region)
    rows = []
    for name, group in ((f"missed_by_{other.name}_place", ~found),
                        (f"found_by_{other.name}_place", found)):
        total = int(group.sum())
        for place in EVENT_PLACES:
            count = int((places[place].to_numpy() & group).sum())
            rows.append(_row(entry, name, _share(count, total), place, count, total))
    return rows


def score_catalogs(
    entries: Sequence[CatalogEntry],
    reference: pd.DataFrame | None = None,
    *,
    max_dt_s: float = MATCH_TIME_S,
    max_distance_km: float = MATCH_DISTANCE_KM,
    stations: pd.DataFrame | None = None,
    region: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """All scores of all catalogs as a long table (:data:`RESULT_COLUMNS`).

    Parameters
    ----------
    entries
        Associator outputs (``kind="associator"``) and ``--compare`` catalogs
        (``kind="compare"``); failed runs give a ``status`` row only.
    reference
        The reference catalog (inside the picks' time span), or ``None``.
    max_dt_s, max_distance_km
        Matching rule (s, km).
    stations, region
        The stations with picks (``latitude``, ``longitude``) and the search box
        (``latitude``, ``longitude`` ranges; ``depth_km``): with both, where the events lie
        that another associator misses (:func:`score_missed_places`); with ``region``, the
        reference's recall inside it.

    Returns
    -------
    pandas.DataFrame
        One row per catalog, metric and bin: ``status`` (value 1 for ok, 0 otherwise; the
        message in ``note``), ``n_events``; associators: ``picks_associated`` (share, count =
        picks associated, total = picks given), ``runtime_s`` (association call), ``process_s``
        (whole subprocess), ``peak_mb``, ``also_found_by_<other associator>`` (by pick count);
        with a reference: ``reference_recall`` (``all`` and by magnitude; one-to-one;
        with ``region``, also ``reference_recall_in_region`` for the reference events inside
        the search volume),
        ``reference_near_share`` (the same with any event near counting, not one-to-one),
        ``matched_to_reference_share``, ``median_epicentral_offset_km``,
        ``median_depth_offset_km``, ``median_origin_time_offset_s``; and ``confirmed_share``
        (``any`` and per other catalog); with ``stations`` and ``region``,
        ``missed_by_<other>_place`` and ``found_by_<other>_place`` (by place).

    Examples
    --------
    >>> ev = pd.DataFrame({"time": [0.0], "latitude": [0.0], "longitude": [0.0],
    ...                    "n_picks": [12]})
    >>> e = CatalogEntry("genie", "associator", ev, n_input_picks=20, n_picks_associated=12)
    >>> df = score_catalogs([e], reference=ev)
    >>> float(df.query("metric == 'reference_recall' and bin == 'all'")["value"].iloc[0])
    1.0
    """
    rows: list[dict[str, Any]] = []
    ok = [e for e in entries if e.ok]
    ref_entry = (CatalogEntry("reference", "reference", reference) if reference is not None
                 else None)
    if ref_entry is not None:
        rows.append(_row(ref_entry, "status", 1.0, note="ok"))
        rows.append(_row(ref_entry, "n_events", len(reference), count=len(reference)))
    for entry in entries:
        rows.append(_row(entry, "status", 1.0 if entry.ok else 0.0,
                         note=entry.status if entry.ok else f"{entry.status}: {entry.message}"))
        if not entry.ok:
            continue
        rows.append(_row(entry, "n_events", len(entry.events), count=len(entry.events)))
        if entry.kind == "associator":
            rows.append(_row(entry, "picks_associated",
                             _share(entry.n_picks_associated, entry.n_input_picks), "all",
                             entry.n_picks_associated, entry.n_input_picks))
            for metric, key in (("runtime_s", "wall_s"), ("process_s", "process_s"),
                                ("peak_mb", "peak_mb")):
                rows.append(_row(entry, metric, entry.timing.get(key, math.nan)))
        if reference is not None:
            rows += score_reference(entry, reference, max_dt_s=max_dt_s,
                                    max_distance_km=max_distance_km, region=region)
        others = [o for o in ok if o is not entry] + ([ref_entry] if ref_entry else [])
        if others:
            rows += score_confirmation(entry, others, max_dt_s=max_dt_s,
                                       max_distance_km=max_distance_km)
        if entry.kind == "associator":
            for other in ok:
                if other is not entry and other.kind == "associator":
                    rows += score_cross_finding(entry, other, max_dt_s=max_dt_s)
                    if stations is not None and region is not None:
                        rows += score_missed_places(entry, other, stations, region,
                                                    max_dt_s=max_dt_s)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
