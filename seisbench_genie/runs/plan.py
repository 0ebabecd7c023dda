"""Time chunks of a long run and the exactly-once rule that joins their events.

A long run is cut into chunks on a fixed grid of ``chunk_s`` seconds of POSIX time (so with
the default of one day, chunks are UTC days). Chunk *k* **owns** the events whose origin time
falls in its core ``[start, end)``, and it is associated on the picks of
``[start - overlap_s, end + overlap_s]``. With ``overlap_s`` at least the longest travel time
plus the detection window, every event a chunk owns has all its picks in the chunk, and so do
the events that compete with it for picks.

Two chunks can disagree by a fraction of a second about the origin time of an event near
their common boundary (each sees it with slightly different context): it could then be
owned by both or by neither. So each chunk also reports the events within a **guard** of
``guard_s`` seconds outside its core, and at each boundary the events of both chunks within
the guard of it are reconciled by their picks (:func:`reconcile`): two events that share at
least :data:`SAME_EVENT_SHARE` of the smaller one's picks are one event, and the one its own
chunk owns (then the one with more picks) is kept. A pick that two kept events still share
stays with the event that gives it the higher association probability.

Examples
--------
>>> plan = plan_chunks(np.array([100.0, 3650.0]), chunk_s=3600, overlap_s=60.0)
>>> [(c.start, c.end) for c in plan]
[(0.0, 3600.0), (3600.0, 7200.0)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.schema import ASSIGNMENT_COLUMNS, EVENT_COLUMNS

#: Guard width in kernel widths (``ModelScale.kernel_s``, the time scale of the picks the
#: network compares): an event's origin time is located from its picks, so two chunks place
#: it differently only where they give it different picks; 4 kernels (12 s for the crustal
#: model) are many times the origin-time uncertainty of the events of the test hour
#: (0.02-0.8 s, ``time_uncertainty_s``).
GUARD_KERNELS = 4.0
#: Window steps added to the longest travel time in the default overlap: the detection looks
#: back one step before the first arrival and pads chunks of windows by two steps
#: (``association.detection.DETECTION_STRIDE``); 4 covers both.
DETECTION_MARGIN_STEPS = 4.0
#: Two events of neighbouring chunks are one event when they share at least this fraction of
#: the smaller one's picks (one event seen twice shares nearly all of them; two events that
#: competed for a pick or two share a small fraction).
SAME_EVENT_SHARE = 0.5
#: Room (km) added to the model's largest epicentral distance and deepest source when the
#: longest travel time is bounded (stations above sea level, relocation bounds).
TRAVEL_PAD_KM = 10.0

#: Integer columns of the event and assignment tables (the rest are float, ``phase`` str).
_EVENT_INTS = ["event_idx", "n_picks", "n_stations"]
_ASSIGNMENT_INTS = ["pick_idx", "event_idx"]


def longest_travel_s(max_distance_km: float, max_depth_km: float, velocity_model: Any) -> float:
    """An upper bound (s) on the S travel time from any source the model searches to a station.

    A first arrival is never later than the time along the straight ray, which is at most its
    length over the slowest S velocity of the model.

    Parameters
    ----------
    max_distance_km
        Largest epicentral distance (km; the model scale's ``max_distance_km``).
    max_depth_km
        Deepest source (km).
    velocity_model
        A 1-D model: DataFrame or dict of columns ``depth_km``, ``vp``, ``vs`` (km, km/s).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For a travel-time backend (its longest time is not known here: give ``overlap_s``).

    Examples
    --------
    >>> vm = {"depth_km": [0.0, 10.0], "vp": [5.0, 6.0], "vs": [2.5, 3.5]}
    >>> round(longest_travel_s(90.0, 30.0, vm), 1)
    43.1
    """
    from seisbench_genie.traveltimes import TravelTimeBackend, validate_velocity_model

    if isinstance(velocity_model, TravelTimeBackend) or velocity_model is None:
        raise ValueError(
            "overlap_s: give it explicitly with a travel-time backend (at least the longest "
            "S travel time of the search region plus the detection window, in s)")
    table = validate_velocity_model(pd.DataFrame(dict(velocity_model))
                                    if isinstance(velocity_model, Mapping)
                                    else velocity_model)
    length_km = math.hypot(max_distance_km + TRAVEL_PAD_KM, max_depth_km + TRAVEL_PAD_KM)
    return float(length_km / table["vs"].min())


@dataclass(frozen=True)
class Chunk:
    """One chunk of a long run: its core ``[start, end)`` (POSIX s) and its place.

    Attributes
    ----------
    index : int
        Position in the plan (0, 1, ...).
    cell : int
        Grid cell: the core lies in ``[cell * chunk_s, (cell + 1) * chunk_s)``.
    start, end : float
        Core interval (POSIX s); cores of neighbouring cells touch.
    key : str
        Name of the chunk (its start as UTC ``YYYYMMDDTHHMMSS.mmm``), used for its files.

    Examples
    --------
    >>> Chunk(0, 19723, 1704067200.0, 1704153600.0).key
    '20240101T000000.000'
    """

    index: int
    cell: int
    start: float
    end: float

    @property
    def key(self) -> str:
        """The chunk's name: its start as UTC ``YYYYMMDDTHHMMSS.mmm``."""
        stamp = pd.Timestamp(round(self.start * 1000), unit="ms", tz="UTC")
        return stamp.strftime("%Y%m%dT%H%M%S.") + f"{stamp.microsecond // 1000:03d}"


def plan_chunks(times_s: np.ndarray, chunk_s: float, overlap_s: float,
                start: float = -math.inf, end: float = math.inf) -> list[Chunk]:
    """The chunks of a run: grid cells of ``chunk_s`` s whose extended interval holds picks.

    Parameters
    ----------
    times_s
        Pick times (POSIX s).
    chunk_s
        Chunk length (s); cells are ``[k * chunk_s, (k + 1) * chunk_s)``.
    overlap_s
        Overlap (s) on each side; must be below ``chunk_s / 2``.
    start, end
        The run's range (POSIX s): cores are clipped to it.

    Returns
    -------
    list of Chunk
        In time order. Only cells with a pick within ``overlap_s`` of their core are planned
        (stray picks far from the rest add one small chunk, not every cell in between).

    Examples
    --------
    >>> plan = plan_chunks(np.array([100.0, 5000.0, 901800.0]), chunk_s=3600, overlap_s=60.0)
    >>> [c.cell for c in plan]
    [0, 1, 250]
    """
    if not 2 * overlap_s < chunk_s:
        raise ValueError(f"chunk_s: must exceed twice overlap_s ({overlap_s:g} s), got "
                         f"{chunk_s:g}")
    t = np.asarray(times_s, dtype=np.float64)
    t = t[(t >= start - overlap_s) & (t <= end + overlap_s)]
    if len(t) == 0:
        return []
    cells = np.unique(np.concatenate([np.floor((t - overlap_s) / chunk_s),
                                      np.floor((t + overlap_s) / chunk_s)])).astype(np.int64)
    plan = []
    for cell in cells.tolist():
        lo, hi = max(cell * chunk_s, start), min((cell + 1) * chunk_s, end)
        if hi > lo:
            plan.append(Chunk(len(plan), cell, float(lo), float(hi)))
    return plan


def normalise_tables(events: pd.DataFrame,
                     assignments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The event and assignment tables with the schema's columns and fixed dtypes.

    Results read back from CSV and results straight from the association then compare equal.

    Examples
    --------
    >>> ev, asg = normalise_tables(pd.DataFrame(columns=EVENT_COLUMNS),
    ...                            pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    >>> str(ev["n_picks"].dtype), str(asg["phase"].dtype)
    ('int64', 'object')
    """
    ev = pd.DataFrame({c: events[c].to_numpy() if c in events.columns else np.nan
                       for c in EVENT_COLUMNS}, index=pd.RangeIndex(len(events)))
    for c in EVENT_COLUMNS:
        ev[c] = ev[c].astype(np.int64 if c in _EVENT_INTS else np.float64)
    asg = pd.DataFrame({c: assignments[c].to_numpy() for c in ASSIGNMENT_COLUMNS},
                       index=pd.RangeIndex(len(assignments)))
    for c in ASSIGNMENT_COLUMNS:
        if c == "phase":
            asg[c] = asg[c].astype(str).astype(object)
        else:
            asg[c] = asg[c].astype(np.int64 if c in _ASSIGNMENT_INTS else np.float64)
    return ev, asg


def reconcile(
    plan: list[Chunk],
    results: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]],
    guard_s: float,
    station_of: Callable[[np.ndarray], np.ndarray],
    start: float = -math.inf,
    end: float = math.inf,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join the chunks' events so that each event is in the result once (module docstring).

    Parameters
    ----------
    plan
        The chunks (:func:`plan_chunks`).
    results
        ``{chunk.index: (events, assignments)}``: each chunk's events with origin times in
        its core +- ``guard_s`` (more are ignored) and their assignments, ``pick_idx`` being
        the run's pick numbers. A missing chunk counts as one without events.
    guard_s
        Guard width (s) around each core.
    station_of
        Maps an array of ``pick_idx`` to an array of station keys (to count stations).
    start, end
        The run's range (POSIX s): events outside are dropped.

    Returns
    -------
    events, assignments : pandas.DataFrame
        :data:`~seisbench_genie.schema.EVENT_COLUMNS` (``event_idx`` 0..n-1 by origin time)
        and :data:`~seisbench_genie.schema.ASSIGNMENT_COLUMNS`; no pick in two events.

    Examples
    --------
    One event seen by both chunks of a boundary at 100 s, each placing its origin in the
    other's core: it is kept once (neither owns it: the earlier estimate).

    >>> plan = [Chunk(0, 0, 0.0, 100.0), Chunk(1, 1, 100.0, 200.0)]
    >>> ev = lambda t: pd.DataFrame({"event_idx": [0], "time": [t], "latitude": [0.0],
    ...     "longitude": [0.0], "depth_km": [5.0], "n_picks": [3], "n_stations": [3],
    ...     "score": [0.9]})
    >>> asg = pd.DataFrame({"pick_idx": [1, 2, 3], "event_idx": 0, "phase": "P",
    ...                     "probability": 0.9, "residual_s": 0.0})
    >>> events, _ = reconcile(plan, {0: (ev(100.2), asg), 1: (ev(99.9), asg)}, 10.0,
    ...                       station_of=lambda p: p)
    >>> events["time"].tolist()
    [99.9]
    """
    if [c.index for c in plan] != list(range(len(plan))):
        raise ValueError("plan: chunks must be numbered 0, 1, ... in order (plan_chunks)")
    ev_parts, asg_parts = [], []
    uid0 = 0
    for chunk in plan:
        if chunk.index not in results:
            continue
        ev, asg = normalise_tables(*results[chunk.index])
        t = ev["time"].to_numpy()
        keep = ((t >= chunk.start - guard_s) & (t < chunk.end + guard_s)
                & (t >= start) & (t < end))
        ev = ev[keep]
        uid = pd.Series(np.arange(uid0, uid0 + len(ev)), index=ev["event_idx"].to_numpy())
        uid0 += len(ev)
        t = ev["time"].to_numpy()
        ev = ev.assign(uid=uid.to_numpy(), chunk=chunk.index,
                       owned=(t >= chunk.start) & (t < chunk.end))
        asg = asg[asg["event_idx"].isin(uid.index)]
        asg = asg.assign(uid=uid.loc[asg["event_idx"].to_numpy()].to_numpy(),
                         chunk=chunk.index)
        ev_parts.append(ev)
        asg_parts.append(asg)
    if not ev_parts:
        return normalise_tables(pd.DataFrame(columns=EVENT_COLUMNS),
                                pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    ev = pd.concat(ev_parts, ignore_index=True)
    asg = pd.concat(asg_parts, ignore_index=True)

    # Which boundary zone each event is in (-1: none). Boundary b lies between chunks b-1
    # and b; it exists only where the two are neighbouring cells of the grid.
    chunk_of = ev["chunk"].to_numpy()
    t = ev["time"].to_numpy()
    cell = np.array([c.cell for c in plan])  # plan[i].index == i
    neighbours = np.diff(cell) == 1
    starts = np.array([c.start for c in plan])[chunk_of]
    ends = np.array([c.end for c in plan])[chunk_of]
    has_left = np.concatenate([[False], neighbours])[chunk_of]
    has_right = np.concatenate([neighbours, [False]])[chunk_of]
    zone = np.full(len(ev), -1)
    left = has_left & (t < starts + guard_s)
    right = has_right & ~left & (t >= ends - guard_s)
    zone[left] = chunk_of[left]
    zone[right] = chunk_of[right] + 1
    keep = ev["owned"].to_numpy() & (zone < 0)
    for b in np.unique(zone[zone >= 0]).tolist():
        keep[_resolve_zone(ev, asg, np.flatnonzero(zone == b))] = True
    ev = ev[keep]
    asg = asg[asg["uid"].isin(ev["uid"])]

    # A pick still in two events (both kept): it stays with the higher probability.
    asg = asg.sort_values(["probability", "chunk"], ascending=[False, True], kind="stable")
    dup = asg["pick_idx"].duplicated(keep="first").to_numpy()
    if dup.any():
        touched = asg.loc[dup, "uid"].unique()
        asg = asg[~dup]
        mine = asg[asg["uid"].isin(touched)]
        counts = pd.DataFrame({"uid": mine["uid"].to_numpy(),
                               "station": station_of(mine["pick_idx"].to_numpy())})
        n_picks = counts.groupby("uid").size()
        n_stations = counts.groupby("uid")["station"].nunique()
        sel = ev["uid"].isin(touched).to_numpy()
        ids = ev.loc[sel, "uid"]
        ev.loc[sel, "n_picks"] = n_picks.reindex(ids).fillna(0).astype(np.int64).to_numpy()
        ev.loc[sel, "n_stations"] = n_stations.reindex(ids).fillna(0).astype(
            np.int64).to_numpy()

    ev = ev.sort_values(["time", "chunk", "event_idx"], kind="stable").reset_index(drop=True)
    new_idx = pd.Series(np.arange(len(ev)), index=ev["uid"].to_numpy())
    ev["event_idx"] = np.arange(len(ev))
    asg = asg.assign(event_idx=new_idx.loc[asg["uid"].to_numpy()].to_numpy())
    order = np.lexsort((asg["pick_idx"].to_numpy(), asg["event_idx"].to_numpy()))
    return normalise_tables(ev, asg.iloc[order])


def _resolve_zone(ev: pd.DataFrame, asg: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Rows (of ``ev``) kept among the events ``rows`` of one boundary zone."""
    zone = ev.iloc[rows]
    mine = asg[asg["uid"].isin(zone["uid"])][["uid", "chunk", "pick_idx"]]
    pairs = mine.merge(mine, on="pick_idx", suffixes=("_a", "_b"))
    pairs = pairs[pairs["chunk_a"] < pairs["chunk_b"]]
    shared = pairs.groupby(["uid_a", "uid_b"]).size()
    n = zone.set_index("uid")["n_picks"]
    same: dict[int, set[int]] = {}
    for (a, b), count in shared.items():
        if count >= SAME_EVENT_SHARE * min(n[a], n[b]):
            same.setdefault(a, set()).add(b)
            same.setdefault(b, set()).add(a)
    # Preference: owned by its own chunk, then more picks, higher score, earlier.
    order = np.lexsort((zone["chunk"].to_numpy(), zone["time"].to_numpy(),
                        -zone["score"].fillna(0.0).to_numpy(), -zone["n_picks"].to_numpy(),
                        ~zone["owned"].to_numpy()))
    accepted: set[int] = set()
    kept = []
    uids = zone["uid"].to_numpy()
    for i in order.tolist():
        if not same.get(int(uids[i]), set()) & accepted:
            accepted.add(int(uids[i]))
            kept.append(rows[i])
    return np.asarray(kept, dtype=np.int64)
