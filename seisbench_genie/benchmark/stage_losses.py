"""Where in the association small events are lost: the true events of synthetic days, or
on real picks the events another associator found.

Each small in-network event of a day of :mod:`~seisbench_genie.benchmark.realistic_days`
(10-15 picks, :data:`~seisbench_genie.benchmark.realistic_days.SMALL_EVENT_PICKS`) is
followed through the stages of :mod:`seisbench_genie.association.pipeline`
(:data:`~seisbench_genie.association.trace.LINK_STAGES`, then the final tables): at each
stage, the most of its picks that one source holds. The event is *lost* at the first stage
where no source holds at least half of them, the share the scoring asks for. The network's
source likelihood at the true hypocentre and origin time (a node lattice centred there,
:func:`~seisbench_genie.association.queries.verify`) tells a network that does not see the
event from a node grid that does not reach it. With the outputs of ``benchmark-real`` for
a peer associator, each event also says whether the peer found it.

On real picks there is no truth: :func:`peer_losses` takes another associator's events and
picks in its place (``seisbench-genie benchmark-real --stage-losses``).

Usage::

    python -m seisbench_genie.benchmark.realistic_days losses DAYS [--runs RUNS]
        [--model crustal] [--set verify_candidates=true]
    seisbench-genie benchmark-real ... --associators genie,pyocto --stage-losses
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.spatial.distance import cdist

from seisbench_genie.association.params import AssociationParams
from seisbench_genie.association.trace import LINK_STAGES, recording

#: Every stage an event can be lost at, in pipeline order; ``kept`` when it never is.
LOSS_STAGES = ("detection", *LINK_STAGES[1:], "final", "kept")
#: A source holds an event when it holds at least this share of the event's picks: the rule
#: by which :func:`seisbench_genie.metrics.evaluate` matches events (Puente et al.).
HELD_SHARE = 0.5
#: Why an event lost at detection was not detected (``detection_cause``):
#: ``crowded``: the field stays below the threshold at the true hypocentre, and reaches it
#: there once the picks of every other event are taken out (its own and the false picks
#: kept): other events' arrivals hide it from the network;
#: ``network``: the field stays below the threshold at the true hypocentre even then;
#: ``node grid``: it reaches it there, but not at the first grid's nodes within one node
#: spacing of the epicentre (in the windows within one step of the origin time);
#: ``neighbour``: it reaches it at those nodes, and a candidate of the first grid lies within
#: :data:`NEIGHBOUR_SPACINGS` node spacings and :data:`NEIGHBOUR_S` s: a stronger event next
#: to it took the peak (no maximum of its own, or suppressed);
#: ``other``: none of these (for example a window the candidate-window filter skipped).
DETECTION_CAUSES = ("crowded", "network", "node grid", "neighbour", "other")
#: A candidate this many node spacings (horizontally) ...
NEIGHBOUR_SPACINGS = 2.0
#: ... and this many seconds from a missed event is a neighbour that can hide it: the
#: suppression reaches about 1.4 window steps, and a stronger event's field hides a weaker
#: one's a few steps away in time (seen up to 10 s on the crustal scale).
NEIGHBOUR_S = 10.0
#: Windows per network call when evaluating the field around the missed events.
MAX_FIELD_BATCH = 16


def most_held(pick_event: np.ndarray, source: np.ndarray, events: np.ndarray) -> np.ndarray:
    """For each of ``events``, the most of its picks that one source holds.

    Parameters
    ----------
    pick_event
        (L,) true event of each link's pick (-1 for false picks).
    source
        (L,) the link's source.
    events
        Event ids asked for.

    Examples
    --------
    >>> most_held(np.array([3, 3, 3, 5, -1]), np.array([0, 0, 1, 1, 1]), np.array([3, 5, 9]))
    array([2, 1, 0])
    """
    on = np.isin(pick_event, events)
    if not on.any():
        return np.zeros(len(events), dtype=int)
    counts = pd.DataFrame({"event": pick_event[on], "source": source[on]}).value_counts()
    best = counts.groupby(level="event").max()
    return best.reindex(events, fill_value=0).to_numpy().astype(int)


def second_pass_linking(links: pd.DataFrame, link_event: np.ndarray, pick_event: np.ndarray,
                        events: np.ndarray) -> pd.DataFrame:
    """Where each event's picks stand after the second association pass: how many picks in
    all the source holding most of them links (one per station and phase), and how many of
    the event's picks that source lacks are linked to another source or to none.

    Parameters
    ----------
    links
        The second pass's links (``source``, ``pick``, ``station``, ``phase``).
    link_event
        (L,) event of each link's pick (-1 for picks of no event).
    pick_event
        (P,) event of each pick of the run.
    events
        Event ids asked for.

    Returns
    -------
    pandas.DataFrame
        One row per event: ``second_pass_source_picks`` (0 without a source),
        ``second_pass_elsewhere``, ``second_pass_unlinked``.

    Examples
    --------
    >>> links = pd.DataFrame({"source": [0, 0, 0, 1], "pick": [0, 1, 5, 2],
    ...                       "station": [0, 1, 4, 2], "phase": [0, 0, 0, 0]})
    >>> second_pass_linking(links, np.array([7, 7, -1, 7]), np.array([7, 7, 7, 7, -1, -1]),
    ...                     np.array([7, 8])).values.tolist()
    [[3, 1, 1], [0, 0, 0]]
    """
    out = pd.DataFrame(0, index=pd.Index(events, name="event"),
                       columns=["second_pass_source_picks", "second_pass_elsewhere",
                                "second_pass_unlinked"])
    on = np.isin(link_event, events)
    if on.any():
        held = (pd.DataFrame({"event": link_event[on], "source": links["source"].to_numpy()[on]})
                .value_counts().reset_index(name="n")
                .sort_values(["n", "source"], ascending=[False, True], kind="stable")
                .drop_duplicates("event"))
        best = held.set_index("event")["source"]
        slots = links.drop_duplicates(["source", "station", "phase"])["source"].value_counts()
        out.loc[best.index, "second_pass_source_picks"] = slots.reindex(best.to_numpy()).to_numpy()
        event_links = pd.DataFrame({"event": link_event[on], "pick": links["pick"].to_numpy()[on],
                                    "best": links["source"].to_numpy()[on]
                                    == best.reindex(link_event[on]).to_numpy()})
        per_pick = event_links.groupby(["event", "pick"])["best"].any()
        elsewhere = (~per_pick).groupby(level="event").sum()
        out.loc[elsewhere.index, "second_pass_elsewhere"] = elsewhere.to_numpy()
    linked = np.zeros(len(pick_event), dtype=bool)
    linked[links["pick"].to_numpy()] = True
    mine = np.isin(pick_event, events) & ~linked
    unlinked = pd.Series(pick_event[mine]).value_counts()
    out.loc[unlinked.index, "second_pass_unlinked"] = unlinked.to_numpy()
    return out.reset_index(drop=True)


def day_losses(day: str | Path, model: Any, peer_run: str | Path | None = None,
               classify_kwargs: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Stage by stage, the small in-network events of one day folder.

    Parameters
    ----------
    day
        A folder written by :func:`~seisbench_genie.benchmark.realistic_days.write_days`.
    model
        A :class:`~seisbench_genie.GENIE` model.
    peer_run
        Optional folder with a peer's ``assignments.csv`` (``pick_idx``, ``event_idx``) for
        this day, as ``benchmark-real`` writes it.
    classify_kwargs
        Keyword arguments of :meth:`~seisbench_genie.GENIE.classify`; by default the
        benchmark's minimum rules (``min_picks=10``, ``min_p_and_s_stations=4``).

    Returns
    -------
    pandas.DataFrame
        One row per small in-network event (:func:`follow_events`), with ``peer_found``
        when ``peer_run`` is given.

    Examples
    --------
    >>> # day_losses("days/day42001", GENIE.from_pretrained("crustal"))
    """
    from seisbench_genie.benchmark.real import load_dataset
    from seisbench_genie.benchmark.realistic_days import SMALL_EVENT_PICKS

    day = Path(day)
    data = load_dataset(day / "picks.csv", day / "stations.csv", day / "velocity_model.csv")
    truth_picks = pd.read_csv(day / "truth_picks.csv")
    truth_events = pd.read_csv(day / "truth_events.csv")
    truth_event = truth_picks["event"].to_numpy().astype(int)
    n_picks_all = np.bincount(truth_event[truth_event >= 0], minlength=len(truth_events))
    lo, hi = SMALL_EVENT_PICKS
    small = np.flatnonzero(truth_events["in_network"].to_numpy().astype(bool)
                           & (n_picks_all >= lo) & (n_picks_all <= hi))
    # Stations with both a true P and a true S (the true phase, not the picker's label).
    table = follow_events(data, truth_event, truth_events, small, model, classify_kwargs,
                          label=day.name,
                          p_and_s_stations=p_and_s_stations(truth_picks, small))
    if peer_run is not None:
        peer = pd.read_csv(Path(peer_run) / "assignments.csv")
        held = most_held(truth_event[peer["pick_idx"].to_numpy().astype(int)],
                         peer["event_idx"].to_numpy(), small)
        table["peer_found"] = held >= HELD_SHARE * table["n_picks"].to_numpy()
    return table


def p_and_s_stations(picks: pd.DataFrame, events: np.ndarray) -> np.ndarray:
    """Stations with both a P and an S pick of each of ``events`` (``picks``: ``event``,
    ``station``, ``phase``).

    Examples
    --------
    >>> p = pd.DataFrame({"event": [0, 0, 0, 1], "station": ["A", "A", "B", "A"],
    ...                   "phase": ["P", "S", "P", "P"]})
    >>> p_and_s_stations(p, np.array([0, 1, 2])).tolist()
    [1, 0, 0]
    """
    mine = picks[picks["event"].isin(events)]
    both = mine.groupby(["event", "station"])["phase"].nunique().eq(2).groupby(level=0).sum()
    return both.reindex(events, fill_value=0).to_numpy().astype(int)


def peer_losses(data: Any, peer_events: pd.DataFrame, peer_assignments: pd.DataFrame,
                model: Any, classify_kwargs: Mapping[str, Any] | None = None,
                label: str = "peer") -> pd.DataFrame:
    """Stage by stage, where GENIE loses the small events another associator found on real
    picks: the peer's events and pick assignments stand in for the truth.

    Parameters
    ----------
    data
        The :class:`~seisbench_genie.benchmark.real.RealDataset` both associators ran on.
    peer_events
        The peer's events as ``benchmark-real`` writes them: ``event_idx``,
        ``time_posix_s`` (or ``time`` in POSIX s), ``latitude``, ``longitude``,
        ``depth_km``.
    peer_assignments
        ``pick_idx`` (data row in the pick file) and ``event_idx``.
    model, classify_kwargs
        As :func:`follow_events` (pass GENIE's arguments of the run being explained,
        ``region`` included; the dataset's region is used otherwise).
    label
        The ``day`` column of the result (the peer's name).

    Returns
    -------
    pandas.DataFrame
        One row per peer event with 10-15 associated picks (:func:`follow_events`);
        ``event`` is the peer's ``event_idx``. ``lost_at == "kept"``: GENIE holds at least
        half of the event's picks in one event.

    Examples
    --------
    >>> # peer_losses(dataset, pyocto_events, pyocto_assignments, GENIE.from_pretrained("crustal"))
    """
    from seisbench_genie.benchmark.real import SMALL_EVENT_PICKS

    ids = peer_events["event_idx"].to_numpy(int)
    time_s = (peer_events["time_posix_s"] if "time_posix_s" in peer_events
              else peer_events["time"]).to_numpy(float)
    truth_events = pd.DataFrame({"time": time_s,
                                 **{c: peer_events[c].to_numpy(float)
                                    for c in ("latitude", "longitude", "depth_km")}})
    n_rows = max(int(data.n_file_picks), int(data.picks["pick_idx"].max()) + 1
                 if len(data.picks) else 0)
    truth_event = np.full(n_rows, -1, dtype=int)
    position = pd.Series(np.arange(len(ids)), index=ids)
    assigned = peer_assignments[peer_assignments["event_idx"].isin(ids)]
    rows = assigned["pick_idx"].to_numpy(int)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"{label} assignments: pick_idx outside the pick file's "
                         f"{n_rows} data rows")
    truth_event[rows] = position.loc[
        assigned["event_idx"].to_numpy(int)].to_numpy()
    n_picks = np.bincount(truth_event[truth_event >= 0], minlength=len(ids))
    lo, hi = SMALL_EVENT_PICKS
    small = np.flatnonzero((n_picks >= lo) & (n_picks <= hi))
    file_rows = data.picks["pick_idx"].to_numpy(int)
    picks = pd.DataFrame({"event": truth_event[file_rows], "station": data.picks["station"],
                          "phase": data.picks["phase"]})
    table = follow_events(data, truth_event, truth_events, small, model, classify_kwargs,
                          label=label, p_and_s_stations=p_and_s_stations(picks, small))
    table["event"] = ids[small]
    return table


def follow_events(data: Any, truth_event: np.ndarray, truth_events: pd.DataFrame,
                  selected: np.ndarray, model: Any,
                  classify_kwargs: Mapping[str, Any] | None = None, *, label: str = "",
                  p_and_s_stations: np.ndarray | None = None) -> pd.DataFrame:
    """Run GENIE once with its stages recorded and follow the ``selected`` events through
    them.

    Parameters
    ----------
    data
        A :class:`~seisbench_genie.benchmark.real.RealDataset`.
    truth_event
        (rows of the pick file,) event of each pick (0-based row of ``truth_events``; -1
        for a pick of no event).
    truth_events
        ``time`` (POSIX s), ``latitude``, ``longitude``, ``depth_km``.
    selected
        Rows of ``truth_events`` to follow.
    model
        A :class:`~seisbench_genie.GENIE` model.
    classify_kwargs
        Keyword arguments of :meth:`~seisbench_genie.GENIE.classify`; by default the
        benchmark's minimum rules (``min_picks=10``, ``min_p_and_s_stations=4``) and the
        dataset's region.
    label
        Value of the ``day`` column.
    p_and_s_stations
        Stations with both a P and an S of each selected event (a column of the result).

    Returns
    -------
    pandas.DataFrame
        One row per selected event: ``day``, ``event``, ``n_picks``, ``p_and_s_stations``,
        ``held_<stage>`` for every stage of :data:`~seisbench_genie.association.trace.LINK_STAGES`
        and ``held_final``, the second pass's linking (:func:`second_pass_linking`:
        ``second_pass_source_picks``, ``second_pass_elsewhere``, ``second_pass_unlinked``),
        ``lost_at`` (one of :data:`LOSS_STAGES`; ``kept`` when the final catalog holds
        it), ``found_late`` (kept, but short at a stage of the first round: found by a
        later round, see ``rounds``, or joined by the duplicate merge), ``field_at_hypocentre``
        (0-1), ``field_at_nodes`` (0-1: the first grid's field at its nodes within one node
        spacing of the epicentre, windows within one step of the origin time),
        ``nearest_candidate_s`` (signed time from the origin to the nearest first-grid
        candidate within :data:`NEIGHBOUR_SPACINGS` node spacings; NaN without one),
        ``field_alone`` (0-1: the field at the hypocentre from the event's own picks and the
        picks of no event only; for the events lost at detection, NaN for the others) and
        ``detection_cause`` (:data:`DETECTION_CAUSES`, for the events lost at detection;
        empty for the others).

    Examples
    --------
    >>> # follow_events(dataset, truth_event, truth_events, small, model)
    """
    from seisbench_genie.association.queries import verify

    small = np.asarray(selected, dtype=int)
    n_picks_all = np.bincount(truth_event[truth_event >= 0], minlength=len(truth_events))
    kwargs = {"min_picks": 10, "min_p_and_s_stations": 4, "region": data.region,
              **(classify_kwargs or {})}
    with recording() as trace:
        out = model.classify(data.picks, data.stations, velocity_model=data.velocity_model,
                             **kwargs)
    file_row = data.picks["pick_idx"].to_numpy()
    n_picks = n_picks_all[small]
    table = pd.DataFrame({"day": label, "event": small, "n_picks": n_picks})
    table["p_and_s_stations"] = (np.zeros(len(small), dtype=int) if p_and_s_stations is None
                                 else np.asarray(p_and_s_stations).astype(int))
    row_event = (truth_event[file_row[trace.picks.pick_idx]] if trace.picks is not None
                 else np.zeros(0, dtype=int))
    for stage in LINK_STAGES:
        links = trace.links.get(stage)
        if links is None or links.empty:
            table[f"held_{stage}"] = 0
            continue
        table[f"held_{stage}"] = most_held(row_event[links["pick"].to_numpy()],
                                           links["source"].to_numpy(), small)
    second = trace.links.get("second_pass")
    if second is not None and trace.picks is not None:
        linking = second_pass_linking(second, row_event[second["pick"].to_numpy()],
                                      row_event, small)
        for name in linking.columns:
            table[name] = linking[name].to_numpy()
    final = out.assignments
    table["held_final"] = most_held(truth_event[file_row[final["pick_idx"].to_numpy()]],
                                    final["event_idx"].to_numpy(), small)
    enough = HELD_SHARE * n_picks
    columns = [f"held_{s}" for s in (*LINK_STAGES, "final")]
    short = np.column_stack([table[c].to_numpy() < enough for c in columns])
    # Held at the end: kept, even if short at a stage of the first round (the record is the
    # first round's; a later round, or the merge of two pieces, holds it in the end).
    held = ~short[:, -1]
    first = np.where(short.any(axis=1) & ~held, short.argmax(axis=1), len(columns))
    table["lost_at"] = np.asarray(LOSS_STAGES)[first]
    table["found_late"] = held & short[:, :-1].any(axis=1)
    for name in ("field_at_hypocentre", "field_at_nodes", "nearest_candidate_s", "field_alone"):
        table[name] = np.nan
    if trace.grid is not None and len(small):
        grid = trace.grid
        x, y = grid.bound.projection.to_local(truth_events["latitude"].to_numpy()[small],
                                              truth_events["longitude"].to_numpy()[small])
        depth = np.clip(truth_events["depth_km"].to_numpy()[small], *grid.region.depth_km)
        xyz = torch.as_tensor(np.column_stack([x, y, depth]), dtype=torch.float64)
        origin = truth_events["time"].to_numpy()[small] - trace.picks.t_ref
        with torch.no_grad():
            logit, _ = verify(grid, trace.picks, xyz, torch.as_tensor(origin))
        table["field_at_hypocentre"] = torch.sigmoid(logit).numpy()
        table["field_at_nodes"] = _field_at_nodes(grid, trace.picks, np.column_stack([x, y]),
                                                  origin)
        table["nearest_candidate_s"] = _nearest_candidate_s(
            trace.candidates[0], np.column_stack([x, y]), origin,
            NEIGHBOUR_SPACINGS * grid.scale.node_spacing_km)
        missed = np.flatnonzero(table["lost_at"].to_numpy() == "detection")
        table.loc[missed, "field_alone"] = [
            _field_alone(grid, trace.picks, row_event, small[i], xyz[i:i + 1], origin[i])
            for i in missed]
    threshold = kwargs.get("detection_threshold")
    if threshold is None:
        threshold = model.default_args.get("detection_threshold",
                                           AssociationParams().detection_threshold)
    table["detection_cause"] = np.where(table["lost_at"] == "detection", _detection_cause(
        table, threshold), "")
    return table


def _field_at_nodes(grid: Any, picks: Any, epicentre_km: np.ndarray,
                    origin_s: np.ndarray) -> np.ndarray:
    """The grid's field at its nodes within one node spacing of each epicentre, largest over
    the windows of the global window grid within one step of each origin time."""
    from seisbench_genie.association.detection import source_field

    step = grid.scale.window_step_s
    # The pipeline's windows start on multiples of the step in POSIX time.
    nearest = np.round((origin_s + picks.t_ref) / step)
    starts = (nearest[:, None] + np.array([-1.0, 0.0, 1.0])) * step - picks.t_ref
    field = source_field(grid.network, grid.net_graph, picks.net_index, grid.net_tp,
                         grid.net_ts, torch.as_tensor(starts.ravel()), MAX_FIELD_BATCH)
    field = field.numpy().reshape(len(origin_s), 3, -1).max(axis=1)
    near = cdist(epicentre_km, grid.graph.source_xyz.numpy()[:, :2]) \
        <= grid.scale.node_spacing_km
    return np.where(near, field, 0.0).max(axis=1)


def _field_alone(grid: Any, picks: Any, row_event: np.ndarray, event: int,
                 xyz: torch.Tensor, origin_s: float) -> float:
    """The field at one hypocentre from that event's own picks and the false picks only."""
    from seisbench_genie.association.inputs import PickSet
    from seisbench_genie.association.queries import verify

    keep = (row_event == event) | (row_event < 0)
    alone = PickSet(pd.DataFrame({
        "pick_idx": picks.pick_idx[keep], "station_index": picks.station.numpy()[keep],
        "phase": np.where(picks.phase.numpy()[keep] == 1, "S", "P"),
        "time": picks.time_s.numpy()[keep] + picks.t_ref}))
    with torch.no_grad():
        logit, _ = verify(grid, alone, xyz, torch.tensor([origin_s + picks.t_ref - alone.t_ref],
                                                         dtype=torch.float64))
    return float(torch.sigmoid(logit)[0])


def _nearest_candidate_s(candidates: Any, epicentre_km: np.ndarray, origin_s: np.ndarray,
                         radius_km: float) -> np.ndarray:
    """Signed time (s) from each origin to the nearest candidate within ``radius_km``."""
    if len(candidates.origin) == 0:
        return np.full(len(origin_s), np.nan)
    close = cdist(epicentre_km, candidates.xyz.numpy()[:, :2]) <= radius_km
    dt = np.where(close, candidates.origin.numpy()[None, :] - origin_s[:, None], np.inf)
    nearest = dt[np.arange(len(dt)), np.abs(dt).argmin(axis=1)]
    return np.where(np.isfinite(nearest), nearest, np.nan)


def _detection_cause(table: pd.DataFrame, threshold: float) -> np.ndarray:
    """:data:`DETECTION_CAUSES` from the fields and the nearest candidate."""
    weak = table["field_at_hypocentre"] < threshold
    neighbour = table["nearest_candidate_s"].abs() <= NEIGHBOUR_S
    return np.select(
        [weak & (table["field_alone"] >= threshold), weak,
         table["field_at_nodes"] < threshold, neighbour],
        list(DETECTION_CAUSES[:4]), DETECTION_CAUSES[4])


def stage_losses(days_dir: str | Path, model: Any, runs_dir: str | Path | None = None,
                 peer: str = "pyocto", classify_kwargs: Mapping[str, Any] | None = None
                 ) -> pd.DataFrame:
    """:func:`day_losses` for every ``day*`` folder of ``days_dir``, one table.

    ``runs_dir/<day>/<peer>/assignments.csv`` (``benchmark-real`` outputs) adds
    ``peer_found``; days without that file are skipped.

    Examples
    --------
    >>> # t = stage_losses("days", GENIE.from_pretrained("crustal"), "runs")
    >>> # pd.crosstab(t["lost_at"], t["peer_found"])
    """
    tables = []
    for day in sorted(Path(days_dir).glob("day*")):
        peer_run = None
        if runs_dir is not None:
            peer_run = Path(runs_dir) / day.name / peer
            if not (peer_run / "assignments.csv").is_file():
                continue
        tables.append(day_losses(day, model, peer_run, classify_kwargs))
    if not tables:
        raise ValueError(f"no day folders under {days_dir}"
                         + (f" with {peer} outputs under {runs_dir}" if runs_dir else ""))
    return pd.concat(tables, ignore_index=True)


def loss_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Events lost at each stage (rows in pipeline order), those the peer found and, with a
    ``found_late`` column, the kept events a later round (or the merge) recovered.

    Examples
    --------
    >>> t = pd.DataFrame({"lost_at": ["kept", "detection", "kept"],
    ...                   "peer_found": [True, True, False],
    ...                   "field_at_hypocentre": [0.7, 0.2, 0.6]})
    >>> loss_summary(t)["events"].tolist()
    [1, 0, 0, 0, 0, 0, 2]
    """
    by = table.groupby("lost_at")
    out = pd.DataFrame({"events": by.size()})
    if "peer_found" in table:
        out["peer_found"] = by["peer_found"].sum().astype(int)
    if "found_late" in table:
        out["found_late"] = by["found_late"].sum().astype(int)
    out["median_field_at_hypocentre"] = by["field_at_hypocentre"].median().round(2)
    if "detection_cause" in table:
        lost = table[table["lost_at"] == "detection"]
        causes = pd.crosstab(lost["lost_at"], lost["detection_cause"]).reindex(
            columns=list(DETECTION_CAUSES), fill_value=0)
        out = out.join(causes.rename(columns=lambda c: f"detection: {c}"))
    out = out.reindex(LOSS_STAGES).fillna({c: 0 for c in out.columns if c.startswith("detection:")})
    out["events"] = out["events"].fillna(0).astype(int)
    for column in [c for c in out.columns if c.startswith("detection:")]:
        out[column] = out[column].astype(int)
    for column in ("peer_found", "found_late"):
        if column in out:
            out[column] = out[column].fillna(0).astype(int)
    return out
