"""Time chunks of a long run and the exactly-once rule that joins their events.

A long run is cut into chunks on a fixed grid of ``chunk_s`` seconds of POSIX time (so with
86400 s, chunks are UTC days; the default, 21600 s, cuts each UTC day into four). Chunk *k*
**owns** the events whose origin time falls in its core ``[start, end)``, and it is
associated on the picks of ``[start - overlap_s, end + overlap_s]``. With ``overlap_s`` at
least the longest travel time plus the detection window, every event a chunk owns has all its
picks in the chunk, and so do the events that compete with it for picks.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
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

    The concatenation of the blocks of :func:`reconcile_stream`.

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
    return join_blocks(reconcile_stream(plan, results, guard_s, station_of, start, end))


def join_blocks(blocks: Iterable[tuple[pd.DataFrame, pd.DataFrame]]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One event table and one assignment table from the blocks of :func:`reconcile_stream`.

    Examples
    --------
    >>> ev, asg = join_blocks([])
    >>> len(ev), list(asg.columns) == ASSIGNMENT_COLUMNS
    (0, True)
    """
    blocks = list(blocks)
    if not blocks:
        return normalise_tables(pd.DataFrame(columns=EVENT_COLUMNS),
                                pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    return normalise_tables(pd.concat([b[0] for b in blocks], ignore_index=True),
                            pd.concat([b[1] for b in blocks], ignore_index=True))


def reconcile_stream(
    plan: list[Chunk],
    results: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]],
    guard_s: float,
    station_of: Callable[[np.ndarray], np.ndarray],
    start: float = -math.inf,
    end: float = math.inf,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`reconcile`, one block of events at a time, holding five chunks' results at most.

    Which of chunk *i*'s events are kept, and which of their picks, depends only on chunks
    *i* - 2 .. *i* + 2: its events meet other chunks' only in the guard zones of its two
    boundaries (each zone holds events of two neighbouring chunks), and a pick lies in the
    overlapping spans of at most two neighbouring chunks (``chunk_s`` > 2 ``overlap_s``), so
    a pick it shares is shared with an event of chunk *i* - 1 or *i* + 1, whose own fate is
    decided at the boundaries of that chunk. ``results`` is read one chunk at a time (a
    mapping that loads from disk keeps memory at a few chunks for runs of any length).

    Parameters
    ----------
    plan, results, guard_s, station_of, start, end
        As :func:`reconcile`.

    Yields
    ------
    events, assignments : pandas.DataFrame
        Consecutive blocks of :func:`reconcile`'s tables (``event_idx`` counts on from the
        previous block): events in origin-time order, assignments by event then pick; an
        event's assignments are in the block of the event.

    Examples
    --------
    >>> plan = [Chunk(0, 0, 0.0, 100.0), Chunk(1, 1, 100.0, 200.0)]
    >>> ev = lambda t: pd.DataFrame({"event_idx": [0], "time": [t], "latitude": [0.0],
    ...     "longitude": [0.0], "depth_km": [5.0], "n_picks": [3], "n_stations": [3],
    ...     "score": [0.9]})
    >>> asg = lambda p: pd.DataFrame({"pick_idx": p, "event_idx": 0, "phase": "P",
    ...                               "probability": 0.9, "residual_s": 0.0})
    >>> blocks = reconcile_stream(plan, {0: (ev(20.0), asg([1, 2, 3])),
    ...                                  1: (ev(150.0), asg([4, 5, 6]))}, 10.0, lambda p: p)
    >>> [(e["event_idx"].tolist(), e["time"].tolist()) for e, _ in blocks]
    [([0], [20.0]), ([1], [150.0])]
    """
    if [c.index for c in plan] != list(range(len(plan))):
        raise ValueError("plan: chunks must be numbered 0, 1, ... in order (plan_chunks)")
    parts: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    pending_ev: list[pd.DataFrame] = []
    pending_asg: list[pd.DataFrame] = []
    n_done = 0
    for i in range(len(plan)):
        lo, hi = max(0, i - RECONCILE_REACH), min(len(plan), i + RECONCILE_REACH + 1)
        for j in [j for j in parts if j < lo]:
            del parts[j]
        for j in range(lo, hi):
            if j not in parts:
                parts[j] = _chunk_part(plan[j], results.get(j), guard_s, start, end)
        ev, asg = _decide(plan[lo:hi], [parts[j] for j in range(lo, hi)], guard_s,
                          station_of)
        mine = ev["chunk"].to_numpy() == i
        pending_ev.append(ev[mine])
        pending_asg.append(asg[asg["uid"].isin(ev.loc[mine, "uid"])])
        # Later chunks' events all come at or after the next chunk's guard.
        limit = plan[i + 1].start - guard_s if i + 1 < len(plan) else math.inf
        ev = pd.concat(pending_ev, ignore_index=True)
        asg = pd.concat(pending_asg, ignore_index=True)
        ready = ev["time"].to_numpy() < limit
        pending_ev, pending_asg = [ev[~ready]], [asg[asg["uid"].isin(ev.loc[~ready, "uid"])]]
        if not ready.any():
            continue
        ev = ev[ready].sort_values(["time", "chunk", "event_idx"], kind="stable")
        asg = asg[asg["uid"].isin(ev["uid"])]
        new_idx = pd.Series(np.arange(n_done, n_done + len(ev)), index=ev["uid"].to_numpy())
        n_done += len(ev)
        ev = ev.assign(event_idx=new_idx.to_numpy())
        asg = asg.assign(event_idx=new_idx.loc[asg["uid"].to_numpy()].to_numpy())
        order = np.lexsort((asg["pick_idx"].to_numpy(), asg["event_idx"].to_numpy()))
        yield normalise_tables(ev, asg.iloc[order])


#: Chunks on each side of a chunk whose results decide which of its events are kept
#: (:func:`reconcile_stream`): its neighbours' events compete with its own, and whether those
#: are kept is decided at the neighbours' other boundaries.
RECONCILE_REACH = 2
#: Event keys across chunks: ``chunk index * _UID_STRIDE + the chunk's event_idx``.
_UID_STRIDE = 1 << 32


def _chunk_part(chunk: Chunk, result: tuple[pd.DataFrame, pd.DataFrame] | None,
                guard_s: float, start: float, end: float
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A chunk's events within its core +- ``guard_s`` and the run's range, keyed (``uid``)
    and marked with their chunk and whether the chunk owns them; their assignments."""
    if result is None:
        result = (pd.DataFrame(columns=EVENT_COLUMNS), pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    ev, asg = normalise_tables(*result)
    t = ev["time"].to_numpy()
    keep = ((t >= chunk.start - guard_s) & (t < chunk.end + guard_s) & (t >= start) & (t < end))
    ev = ev[keep]
    uid = ev["event_idx"].to_numpy() + chunk.index * _UID_STRIDE
    t = ev["time"].to_numpy()
    ev = ev.assign(uid=uid, chunk=chunk.index, owned=(t >= chunk.start) & (t < chunk.end))
    asg = asg[asg["event_idx"].isin(ev["event_idx"])]
    asg = asg.assign(uid=asg["event_idx"].to_numpy() + chunk.index * _UID_STRIDE,
                     chunk=chunk.index)
    return ev, asg


def _decide(chunks: list[Chunk], parts: list[tuple[pd.DataFrame, pd.DataFrame]],
            guard_s: float, station_of: Callable[[np.ndarray], np.ndarray]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events kept among those of consecutive ``chunks`` (:func:`_chunk_part` each), and
    their assignments with each pick in one event (``n_picks``, ``n_stations`` recounted)."""
    ev = pd.concat([p[0] for p in parts], ignore_index=True)
    asg = pd.concat([p[1] for p in parts], ignore_index=True)
    if len(ev) == 0:
        return ev, asg
    # Which boundary zone each event is in (-1: none). Boundary b lies between chunks b-1
    # and b; it exists only where the two are neighbouring cells of the grid.
    first = chunks[0].index
    chunk_of = ev["chunk"].to_numpy() - first
    t = ev["time"].to_numpy()
    cell = np.array([c.cell for c in chunks])
    neighbours = np.diff(cell) == 1
    starts = np.array([c.start for c in chunks])[chunk_of]
    ends = np.array([c.end for c in chunks])[chunk_of]
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
        ev = ev.copy()
        sel = ev["uid"].isin(touched).to_numpy()
        ids = ev.loc[sel, "uid"]
        ev.loc[sel, "n_picks"] = n_picks.reindex(ids).fillna(0).astype(np.int64).to_numpy()
        ev.loc[sel, "n_stations"] = n_stations.reindex(ids).fillna(0).astype(
            np.int64).to_numpy()
    return ev, asg


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
