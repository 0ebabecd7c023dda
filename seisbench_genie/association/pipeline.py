"""The association pipeline: windows -> source field -> peaks -> association -> location.

Works in the local km frame of a bound travel-time backend. Inputs are a normalised pick table
(see :func:`seisbench_genie.picks.pick_table` and :func:`~seisbench_genie.picks.match_stations`);
outputs are event and assignment tables, still in the local frame (the model class converts
them to geographic coordinates and an ObsPy Catalog).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.assignment import competitive_assignment
from seisbench_genie.association.detection import (
    candidate_windows,
    field_peaks,
    source_field,
    suppress_duplicates,
)
from seisbench_genie.location import LocationResult, locate
from seisbench_genie.nn.candidates import association_candidates, travel_times_within
from seisbench_genie.nn.features import PickIndex, window_features
from seisbench_genie.nn.graphs import (
    aligned_lattices,
    build_region_graph,
    grouped_points,
    source_nodes,
)
from seisbench_genie.nn.network import S_TOLERANCE_FACTOR, GENIENetwork, arrival_tolerance_s


@dataclass(frozen=True)
class Region:
    """Search volume in the local frame (km): x, y ranges and depth range (positive down)."""

    x_km: tuple[float, float]
    y_km: tuple[float, float]
    depth_km: tuple[float, float]

    def bounds(self) -> tuple[tuple[float, float], ...]:
        return (self.x_km, self.y_km, self.depth_km)


@dataclass(frozen=True)
class AssociationParams:
    """Parameters of one association run (see :meth:`seisbench_genie.GENIE.classify`).

    Attributes
    ----------
    detection_threshold : float
        Minimum source likelihood of a detection (0-1).
    association_threshold : float
        Minimum P or S association probability of a pick (0-1).
    min_picks : int
        Minimum picks per event.
    min_p_and_s_stations : int
        Minimum stations with both P and S picks per event (the model's default is 4).
    require_fit : bool
        Check each event's picks against a hypocentre located from them (default True). The
        tolerance is the association tolerance widened to the input's own residual level
        (:func:`tolerance_factor`), so a velocity model off by several percent does not
        remove real events. Where chance coincidences of picks could make up ``min_picks``
        (:func:`chance_picks`, dense noisy days), ``min_picks`` and ``min_p_and_s_stations``
        count fitting picks only; elsewhere an event needs :data:`CHANCE_MARGIN` more
        fitting picks than chance would give. It removes false events assembled from
        coincident false picks.
    verify_candidates : bool
        Evaluate the network once more on a node lattice centred on each relocated candidate
        (default False, see :func:`_verify`): candidates down to :data:`CANDIDATE_FACTOR`
        times the detection threshold are kept when that field reaches the threshold, and
        its embeddings feed the association. It finds more events on very dense days with
        an accurate velocity model, and fewer true ones on days whose travel times are off
        (documented in ``docs/benchmarks.md``, session 6).
    detection_grids : int or None
        Node grids on which the source field is evaluated; grid ``k`` is shifted by
        ``k / detection_grids`` of the node spacing along x and y, and the grids after the
        first are evaluated only in windows where the first one saw activity. An event
        between the nodes of one grid is near a node of another: on a day crowded with
        events, the picks of other events near the arrivals predicted from the farther
        nodes can keep its field below the threshold on one grid. ``None`` (default): the
        events of the first grid are found; when their picks crowd the stations
        (:func:`event_pick_density` >= :data:`CROWDED_EVENT_PICKS`), a second grid looks
        again and the candidates of both are associated together. On days made mostly of
        false picks a second grid finds more false events, and it takes up to twice the
        time (measured in ``docs/benchmarks.md``, session 7).
    batch_size : int or None
        Windows evaluated per network call. ``None`` (default) picks it from the size of the
        product graph: on a CPU, batches of about 32k station-source pairs keep the network's
        intermediate arrays in cache, which is about twice as fast as larger batches; on a
        GPU, 64.
    detection_chunk_s : float
        The source likelihood is computed in chunks of this many seconds of windows
        (bounded memory for long inputs; the result does not depend on it).
    chunk_s : float
        Candidate sources are associated in blocks of this many seconds of origin time
        (bounds the memory of the source x pick candidate matrix).
    progress : bool
        Show progress bars.
    """

    detection_threshold: float = 0.3
    association_threshold: float = 0.3
    min_picks: int = 10
    min_p_and_s_stations: int = 0
    require_fit: bool = True
    verify_candidates: bool = False
    detection_grids: int | None = None
    batch_size: int | None = None
    detection_chunk_s: float = 21600.0
    chunk_s: float = 600.0
    progress: bool = False


#: With ``verify_candidates``, detection candidates are field peaks above this fraction of the
#: detection threshold; a candidate is kept when its peak, or the field on a lattice centred on
#: its relocated position (see :func:`_verify`), reaches the threshold.
CANDIDATE_FACTOR = 0.75
#: Event pick density (see :func:`event_pick_density`) of the first grid's events from which
#: the automatic ``detection_grids`` adds a second, shifted grid. Measured (docs/benchmarks.md,
#: session 7): 0.20-0.25 on the subduction benchmark's 2000-event days, where a second grid
#: raised F1 by 0.01-0.05; at most 0.07 on its other days; 0.01-0.25 on held-out synthetic
#: days made mostly of false picks, where it lowered F1 by up to 0.04 on the days it reached.
CROWDED_EVENT_PICKS = 0.15
#: Station-source pairs x windows per network call on a CPU (see AssociationParams).
CPU_BATCH_PAIRS = 32768
#: The first detection pass evaluates every DETECTION_STRIDE-th window of the global grid.
DETECTION_STRIDE = 2

EVENT_COLUMNS = ["event_idx", "time", "x_km", "y_km", "depth_km", "horizontal_uncertainty_km",
                 "depth_uncertainty_km", "time_uncertainty_s", "n_picks", "n_stations",
                 "score", "rms_s"]
ASSIGNMENT_COLUMNS = ["pick_idx", "event_idx", "phase", "probability", "residual_s"]


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_COLUMNS}),
            pd.DataFrame({c: pd.Series(dtype=float) for c in ASSIGNMENT_COLUMNS}))


class _Context:
    """Everything tied to one region and one pick set."""

    def __init__(self, network: GENIENetwork, bound, region: Region, picks: pd.DataFrame,
                 grid_shift: float = 0.0):
        sc = network.scale
        self.network, self.bound, self.region, self.scale = network, bound, region, sc
        sta = bound.station_xyz_km.to(torch.float64).numpy()
        # Nodes are cell centres, half a spacing inside the box they tile: the box is widened
        # by half a spacing so that an event at the region's edge is as close to a node as
        # one inside (its location may then fall up to that far outside the region).
        # A shifted grid (grid_shift, a fraction of the spacing) has every node moved by that
        # much along x and y: between the first grid's nodes, and as far past the region's
        # far edges.
        h = 0.5 * sc.node_spacing_km
        shift = grid_shift * sc.node_spacing_km
        nodes = source_nodes((region.x_km[0] - h + shift, region.x_km[1] + h + shift),
                             (region.y_km[0] - h + shift, region.y_km[1] + h + shift),
                             region.depth_km, sc.node_spacing_km,
                             sc.node_spacing_km * sc.depth_spacing_factor)
        self.graph = build_region_graph(sta, nodes, sc)
        src = self.graph.source_xyz[self.graph.pair_source].to(torch.float64)
        with torch.no_grad():
            self.tp = bound.pair_times(src, self.graph.pair_station, "P").float()
            self.ts = bound.pair_times(src, self.graph.pair_station, "S").float()
        self.t_ref = float(np.floor(picks["time"].min()))
        self.pick_station = torch.as_tensor(picks["station_index"].to_numpy(), dtype=torch.long)
        self.pick_time = torch.as_tensor(picks["time"].to_numpy() - self.t_ref,
                                         dtype=torch.float64)
        self.pick_phase = torch.as_tensor((picks["phase"] == "S").to_numpy(), dtype=torch.long)
        self.pick_idx = picks["pick_idx"].to_numpy()
        self.index = PickIndex(self.pick_station, self.pick_time, self.pick_phase)
        self.max_travel_s = float(self.ts.max()) if self.ts.numel() else 0.0
        # Copies on the network's device (the same objects on a CPU).
        self.device = next(network.parameters()).device
        self.net_graph = self.graph.to(self.device)
        self.net_index = self.index.to(self.device)
        self.net_tp, self.net_ts = self.tp.to(self.device), self.ts.to(self.device)

    def batch_size(self, params: AssociationParams) -> int:
        """Windows per network call (see :class:`AssociationParams`)."""
        if params.batch_size is not None:
            return params.batch_size
        if self.device.type != "cpu":
            return 64
        return int(np.clip(CPU_BATCH_PAIRS // max(1, len(self.graph.pair_station)), 1, 64))


def associate_table(network: GENIENetwork, bound, region: Region, picks: pd.DataFrame,
                    params: AssociationParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Associate a normalised pick table.

    Parameters
    ----------
    network
        Trained :class:`~seisbench_genie.nn.GENIENetwork` (eval mode).
    bound
        Travel-time backend bound to the stations (local frame).
    region
        Search volume (local km).
    picks
        Columns ``pick_idx``, ``station_index``, ``phase`` ("P"/"S"), ``time`` (POSIX s).
    params
        Association parameters.

    Returns
    -------
    events, assignments : pandas.DataFrame
        Events with ``x_km``, ``y_km`` (local frame) and the other columns of
        :data:`EVENT_COLUMNS`; assignments with :data:`ASSIGNMENT_COLUMNS`.

    Examples
    --------
    >>> # see seisbench_genie.GENIE.classify, which wraps this function
    """
    if len(picks) == 0 or picks["station_index"].nunique() < 2:
        return _empty()
    network.eval()
    sc = network.scale
    first = _Context(network, bound, region, picks)
    # 1-3. Detection on the global window grid, in chunks of windows (bounded memory); each
    #      chunk is evaluated with two windows of padding on both sides and keeps the peaks
    #      of its own windows, so chunk borders neither lose nor double a peak.
    t_start = float(first.pick_time.min()) - first.max_travel_s - sc.window_step_s
    n_windows = int(np.ceil((float(first.pick_time.max()) - t_start) / sc.window_step_s)) + 1
    found = [_grid_candidates(first, params, t_start, n_windows)]
    n_grids = params.detection_grids
    if n_grids is None:
        # Automatic: a second grid when the first one's events crowd the stations.
        events, assignments = _associate_candidates(first, found, params)
        if event_pick_density(len(assignments), picks["station_index"].to_numpy(),
                              picks["time"].to_numpy(), sc.kernel_s) < CROWDED_EVENT_PICKS:
            return events, assignments
        n_grids = 2
    # The shifted grids look again where the first one saw activity (its field reached
    # 0.4 x the threshold within DETECTION_STRIDE windows): events that mask each other
    # crowd the busy windows; a quiet window holds no hidden event.
    busy = torch.zeros(n_windows, dtype=torch.bool)
    busy[found[0].busy] = True
    active = _widen(busy, DETECTION_STRIDE)
    for k in range(1, n_grids):
        grid = _Context(network, bound, region, picks, grid_shift=k / n_grids)
        found.append(_grid_candidates(grid, params, t_start, n_windows, active))
    return _associate_candidates(first, found, params)


@dataclass
class _Candidates:
    """Detections of one node grid: refined positions (km), origin times (s), scores,
    embeddings, and the windows where the grid's field reached 0.4 x the threshold."""

    grid: _Context
    xyz: torch.Tensor
    origin: torch.Tensor
    score: torch.Tensor
    emb: torch.Tensor
    busy: torch.Tensor


def _grid_candidates(grid: _Context, params: AssociationParams, t_start: float,
                     n_windows: int, active: torch.Tensor | None = None) -> _Candidates:
    """Steps 1-4 on one node grid: candidate windows, source field, peaks and suppression,
    refinement through the grid's continuous field."""
    sc = grid.scale
    step = sc.window_step_s
    per_chunk = max(8, int(params.detection_chunk_s / step))
    #    With verify_candidates, peaks above a lower threshold are candidates (step 5).
    candidate_params = replace(params, detection_threshold=params.detection_threshold * (
        CANDIDATE_FACTOR if params.verify_candidates else 1.0))
    peaks = [_detect(grid, candidate_params, t_start, lo, min(lo + per_chunk, n_windows),
                     active) for lo in range(0, n_windows, per_chunk)]
    busy = torch.cat([f[4] for f in peaks])
    w = torch.cat([f[0] for f in peaks])
    score = torch.cat([f[2] for f in peaks])
    xyz = grid.graph.source_xyz[torch.cat([f[1] for f in peaks])].to(torch.float64)
    origin = t_start + (w.to(torch.float64) + torch.cat([f[3] for f in peaks])) * step
    keep_idx = suppress_duplicates(xyz.numpy(), origin.numpy(), score.numpy(),
                                   radius_km=1.0 * sc.node_spacing_km, radius_s=2.0 * step)
    # 4. Refine through the continuous field of this grid.
    xyz, emb = _refine(grid, xyz[keep_idx], origin[keep_idx], grid.batch_size(params))
    return _Candidates(grid, xyz, origin[keep_idx], score[keep_idx], emb, busy)


def _associate_candidates(ctx: _Context, found: list[_Candidates], params: AssociationParams
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 5-12 on the candidates of one or more grids (``ctx``: the first grid)."""
    sc = ctx.scale
    step = sc.window_step_s
    if sum(len(f.xyz) for f in found) == 0:
        return _empty()
    src_xyz = torch.cat([f.xyz for f in found])
    origin = torch.cat([f.origin for f in found])
    score = torch.cat([f.score for f in found])
    emb = torch.cat([f.emb for f in found])
    grid_of = torch.cat([torch.full((len(f.xyz),), g, dtype=torch.long)
                         for g, f in enumerate(found)])
    if len(found) > 1:
        # One event found on several grids: the strongest detection stands.
        keep_idx = torch.as_tensor(suppress_duplicates(
            src_xyz.numpy(), origin.numpy(), score.numpy(),
            radius_km=1.0 * sc.node_spacing_km, radius_s=2.0 * step))
        src_xyz, origin, score = src_xyz[keep_idx], origin[keep_idx], score[keep_idx]
        emb, grid_of = emb[keep_idx], grid_of[keep_idx]
    #    Associate, locate, associate again.
    links = _associate(ctx, src_xyz, origin, emb, params, tolerance_s=2.0 * sc.kernel_s)
    new_xyz, new_origin = _relocate(ctx, src_xyz, origin, links)
    moved = torch.nonzero((new_xyz != src_xyz).any(dim=1) | (new_origin != origin)).squeeze(1)
    src_xyz, origin = new_xyz, new_origin
    if params.verify_candidates:
        # 5. The network on a node lattice centred on each candidate: its field admits
        #    candidates whose grid peak was below the threshold (an event's score is the
        #    larger of the two), and its embedding feeds the association.
        logit, emb = _verify(ctx, src_xyz, origin)
        score = torch.maximum(score.to(logit.dtype), torch.sigmoid(logit))
        ok = torch.nonzero(score >= params.detection_threshold).squeeze(1)
        if ok.numel() == 0:
            return _empty()
        src_xyz, origin, emb, score = src_xyz[ok], origin[ok], emb[ok], score[ok]
    elif moved.numel():
        for g, f in enumerate(found):
            redo = moved[grid_of[moved] == g]
            if redo.numel():
                emb[redo] = _embed(f.grid, src_xyz[redo], origin[redo],
                                   f.grid.batch_size(params))[0]
    links = _associate(ctx, src_xyz, origin, emb, params, tolerance_s=sc.kernel_s)
    links = competitive_assignment(links, params.min_picks, params.min_p_and_s_stations)
    if links.empty:
        return _empty()
    residual = _normalised_residuals(
        ctx.bound, src_xyz, origin, links["source"].to_numpy(), links["station"].to_numpy(),
        links["phase"].to_numpy(), ctx.pick_time[links["pick"].to_numpy()].numpy(),
        sc.max_distance_km)
    links, src_xyz, origin = merge_duplicates(
        ctx.bound, src_xyz, origin, links, ctx.pick_time, sc, _location_bounds(ctx),
        tolerance_factor(residual, links["source"].to_numpy()))
    return _finalise(ctx, src_xyz, origin, score, links, params)


def event_pick_density(n_event_picks: int, station: np.ndarray, time_s: np.ndarray,
                       kernel_s: float) -> float:
    """Event picks at a station within ``kernel_s`` of a given time, averaged over the
    stations with picks: ``n_event_picks`` (the picks associated with events) / stations /
    the input's time span x ``2 kernel_s``.

    On a day crowded with events, the picks of other events near an event's predicted
    arrivals hide it from the node grid when it lies between nodes; false picks matter less
    for this, and a second look on a day made mostly of false picks finds more false events.

    Parameters
    ----------
    n_event_picks
        Picks associated with events.
    station, time_s
        (P,) station (labels or indices) and time (s) of every input pick.
    kernel_s
        The model's kernel width (s).

    Returns
    -------
    float
        0 for fewer than two distinct pick times.

    Examples
    --------
    >>> event_pick_density(50, np.array([0, 0, 1, 1]), np.array([0.0, 100.0, 50.0, 1000.0]),
    ...                    5.0)
    0.25
    """
    span_s = float(np.max(time_s) - np.min(time_s)) if len(time_s) else 0.0
    if span_s <= 0:
        return 0.0
    n_stations = len(np.unique(station))
    return float(n_event_picks / n_stations / span_s * 2.0 * kernel_s)


def _normalised_residuals(bound, xyz: torch.Tensor, origin: torch.Tensor, source: np.ndarray,
                          station: np.ndarray, phase: np.ndarray, time_s: np.ndarray,
                          max_distance_km: float) -> np.ndarray:
    """|residual| of each pick (row) to its source's predicted arrival, in units of the
    association tolerance (0.5 s + 2 % of the P travel time, x 1.7 for S); ``inf`` beyond
    ``max_distance_km``."""
    uniq, row = np.unique(source, return_inverse=True)
    tp, ts, _ = travel_times_within(bound, xyz[uniq], max_distance_km)
    t_p = tp[row, station].numpy().astype(np.float64)
    is_s = phase == 1
    travel = np.where(is_s, ts[row, station].numpy(), t_p)
    residual = time_s - origin[uniq].numpy()[row] - travel
    tolerance = arrival_tolerance_s(t_p) * np.where(is_s, S_TOLERANCE_FACTOR, 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(travel), np.abs(residual) / tolerance, np.inf)


def _arrival_fit(bound, xyz: torch.Tensor, origin: torch.Tensor, source: np.ndarray,
                 station: np.ndarray, phase: np.ndarray, time_s: np.ndarray,
                 max_distance_km: float, tolerance_factor: float = 1.0) -> np.ndarray:
    """Whether each pick (row) lies within ``tolerance_factor`` times the association
    tolerance of its source's predicted arrival (see :func:`_normalised_residuals`)."""
    return _normalised_residuals(bound, xyz, origin, source, station, phase, time_s,
                                 max_distance_km) <= tolerance_factor


def merge_duplicates(bound, xyz: torch.Tensor, origin: torch.Tensor, links: pd.DataFrame,
                     pick_time_s: torch.Tensor, scale, bounds_km=None,
                     tolerance_factor: float = 1.0
                     ) -> tuple[pd.DataFrame, torch.Tensor, torch.Tensor]:
    """Merge two kept sources that are one event seen twice.

    Two detections of one event can both survive the competition, each with part of its picks
    (and, on a noisy day, enough false picks to reach ``min_picks``), often at two positions
    that the network's geometry cannot tell apart. For two sources within 4 node spacings and
    4 window steps whose picks are at different stations or phases (at most 40 % of the
    smaller one's picks at station-phase slots the larger one holds), their picks are located
    together (one P and one S per station, the likelier kept); they are merged when that one
    hypocentre still fits (within the association tolerance, see :func:`_arrival_fit`) at
    least 80 % of the larger source's and 70 % of the smaller source's picks that fitted their
    own source. Two distinct events close in space and time have different moveouts across the
    network and cannot be fitted by one hypocentre.

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations (local frame).
    xyz, origin
        (S, 3) source positions (km) and (S,) origin times (s, pick time reference).
    links
        Kept links (``source``, ``pick``, ``station``, ``phase``, ``probability``).
    pick_time_s
        (P,) pick times (s) indexed by ``links["pick"]``.
    scale
        The model's :class:`~seisbench_genie.nn.ModelScale`.
    bounds_km
        Location bounds (see :func:`~seisbench_genie.location.locate`).
    tolerance_factor
        The fit tolerance in association tolerances (see :func:`tolerance_factor`): with
        travel times off by several percent, an event's picks fit its own hypocentre only
        within a wider tolerance, and so do the picks of its two halves.

    Returns
    -------
    links, xyz, origin
        The links after merging (a merged source's links move to the one it joins) and the
        source positions and origin times, updated for the sources that received picks.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    from scipy.spatial import cKDTree

    sources, n_picks = np.unique(links["source"].to_numpy(), return_counts=True)
    if len(sources) < 2:
        return links, xyz, origin
    pos = np.column_stack([xyz[sources].numpy() / (4.0 * scale.node_spacing_km),
                           origin[sources].numpy() / (4.0 * scale.window_step_s)])
    pairs = cKDTree(pos).query_pairs(1.0, p=np.inf, output_type="ndarray")
    if not len(pairs):
        return links, xyz, origin
    larger_first = (n_picks[pairs[:, 0]] > n_picks[pairs[:, 1]]) | (
        (n_picks[pairs[:, 0]] == n_picks[pairs[:, 1]]) & (pairs[:, 0] < pairs[:, 1]))
    pair = pd.DataFrame({"a": sources[np.where(larger_first, pairs[:, 0], pairs[:, 1])],
                         "b": sources[np.where(larger_first, pairs[:, 1], pairs[:, 0])]})
    # Pairs whose picks sit mostly at different station-phase slots (a split, not two events).
    slots = links[["source", "station", "phase"]]
    b_rows = pair.reset_index(names="pair").merge(slots, left_on="b", right_on="source")
    a_slots = pd.MultiIndex.from_frame(slots)
    b_rows["shared"] = pd.MultiIndex.from_arrays(
        [b_rows["a"], b_rows["station"], b_rows["phase"]]).isin(a_slots)
    split = b_rows.groupby("pair")["shared"].mean() <= 0.4
    pair = pair.loc[split[split].index].reset_index(drop=True)
    if pair.empty:
        return links, xyz, origin
    # Which picks of the paired sources fit their own source.
    involved = links[links["source"].isin(np.union1d(pair["a"], pair["b"]))]
    involved = involved.assign(own_fit=_arrival_fit(
        bound, xyz, origin, involved["source"].to_numpy(), involved["station"].to_numpy(),
        involved["phase"].to_numpy(), pick_time_s[involved["pick"].to_numpy()].numpy(),
        scale.max_distance_km, tolerance_factor))
    # Locate each pair's picks together (one P and one S per station, the likelier kept).
    union = pd.concat([
        pair.reset_index(names="pair").merge(involved, left_on=side, right_on="source")
        .assign(side=side) for side in ("a", "b")], ignore_index=True)
    union = (union.sort_values("probability", ascending=False, kind="stable")
             .drop_duplicates(["pair", "station", "phase"]))
    pid = union["pair"].to_numpy()
    t_union = pick_time_s[union["pick"].to_numpy()]
    res = locate(bound, xyz[pair["a"].to_numpy()], origin[pair["a"].to_numpy()],
                 torch.as_tensor(pid), torch.as_tensor(union["station"].to_numpy()),
                 torch.as_tensor(union["phase"].to_numpy()), t_union,
                 torch.as_tensor(union["probability"].to_numpy()), bounds_km=bounds_km)
    union["merged_fit"] = _arrival_fit(
        bound, res.xyz_km, res.origin_s, pid, union["station"].to_numpy(),
        union["phase"].to_numpy(), t_union.numpy(), scale.max_distance_km, tolerance_factor)
    still = (union[union["own_fit"]].groupby(["pair", "side"])["merged_fit"].mean()
             .unstack("side").reindex(index=pair.index, columns=["a", "b"]).fillna(0.0))
    good = pair.index[(still["a"] >= 0.8) & (still["b"] >= 0.7)].to_numpy()
    if not len(good):
        return links, xyz, origin
    # Largest receiving sources first; a source takes part in one merge at most.
    order = good[np.argsort(-pair.loc[good, "a"].map(
        dict(zip(sources, n_picks, strict=True))).to_numpy(), kind="stable")]
    used: set[int] = set()
    accepted = []
    for k in order:
        a, b = int(pair.at[k, "a"]), int(pair.at[k, "b"])
        if a in used or b in used:
            continue
        used |= {a, b}
        accepted.append(k)
    accepted = np.asarray(accepted)
    merged = union[union["pair"].isin(accepted)]
    merged = merged.assign(source=pair["a"].to_numpy()[merged["pair"].to_numpy()])
    gone = pair.loc[accepted, ["a", "b"]].to_numpy().ravel()
    links = pd.concat([links[~links["source"].isin(gone)],
                       merged[["source", "pick", "station", "phase", "probability"]]],
                      ignore_index=True).sort_values(["source", "pick"]).reset_index(drop=True)
    xyz, origin = xyz.clone(), origin.clone()
    xyz[pair.loc[accepted, "a"].to_numpy()] = res.xyz_km[accepted]
    origin[pair.loc[accepted, "a"].to_numpy()] = res.origin_s[accepted]
    return links, xyz, origin


def _detect(ctx: _Context, params: AssociationParams, t_start: float, lo: int, hi: int,
            active: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Peaks of the source field with window index in [lo, hi) of the grid
    ``t_start + k * step``: window index, node, value and sub-window offset; and the windows
    in [lo, hi) whose field reached 0.4 x the detection threshold at some node.

    ``active`` (bool, indexed by window of the global grid) restricts the evaluation to the
    windows it marks."""
    network, sc = ctx.network, ctx.scale
    step, pad = sc.window_step_s, DETECTION_STRIDE
    a = lo - pad
    n_win = hi - lo + 2 * pad
    t_a = t_start + a * step
    # Only picks that can reach these windows (same sorted order, so indices are offsets).
    i0 = int(torch.searchsorted(ctx.pick_time, torch.tensor(t_a - 3 * step,
                                                            dtype=torch.float64)))
    i1 = int(torch.searchsorted(ctx.pick_time, torch.tensor(
        t_a + n_win * step + ctx.max_travel_s + 3 * step, dtype=torch.float64), right=True))
    empty = (torch.zeros(0, dtype=torch.long),) * 2 + (torch.zeros(0),) * 2 + (
        torch.zeros(0, dtype=torch.long),)
    if i1 <= i0:
        return empty
    # Windows whose back-projected picks could make an event: an event with min_picks picks
    # back-projects at least ~70 % of them, each with its labelled phase, into one node and
    # +-1 window (S residuals of a node half a cell away can fall outside).
    min_count = max(3, int(0.7 * params.min_picks))
    keep = candidate_windows(ctx.pick_station[i0:i1], ctx.pick_time[i0:i1], ctx.graph, ctx.tp,
                             ctx.ts, t_a, n_win, step, min_count, ctx.pick_phase[i0:i1])
    if active is not None:
        window = torch.arange(a, a + n_win)
        inside = (window >= 0) & (window < len(active))
        keep &= inside & active[window.clamp(0, len(active) - 1)]
    kept = torch.nonzero(keep).squeeze(1)
    if kept.numel() == 0:
        return empty
    # Source likelihood: every DETECTION_STRIDE-th window of the global grid first, then,
    # repeatedly, the kept windows next to an evaluated window where the field reaches 0.4 x
    # the detection threshold. The labels are Gaussians of one window step in time, so a peak
    # of height >= 0.75 threshold keeps >= 0.45 threshold one window away: every peak and its
    # two neighbours are evaluated, and the peaks found are those of the full evaluation.
    # Which windows are evaluated depends only on the grid within +-DETECTION_STRIDE windows,
    # so chunk borders (padded by as much) change nothing.
    field = torch.zeros(n_win, ctx.graph.n_sources)
    batch = ctx.batch_size(params)
    is_kept = torch.zeros(n_win, dtype=torch.bool)
    is_kept[kept] = True
    done = torch.zeros(n_win, dtype=torch.bool)
    busy = torch.zeros(n_win, dtype=torch.bool)
    todo = kept[(kept + a) % DETECTION_STRIDE == 0]
    while todo.numel():
        field[todo] = source_field(
            network, ctx.net_graph, ctx.net_index, ctx.net_tp, ctx.net_ts,
            t_a + todo.to(torch.float64) * step, batch, params.progress)
        done[todo] = True
        high = torch.zeros(n_win, dtype=torch.bool)
        high[todo] = field[todo].amax(dim=1) >= 0.4 * params.detection_threshold
        busy |= high
        near = _widen(high, 1)  # high windows themselves are done
        todo = torch.nonzero(near & is_kept & ~done).squeeze(1)
    nbrs = (ctx.graph.source_edges[0].reshape(ctx.graph.n_sources, -1)
            if ctx.graph.source_edges.shape[1]
            else torch.zeros(ctx.graph.n_sources, 0, dtype=torch.long))
    # Sampled peaks down to 0.75 threshold, kept when their estimated height reaches it.
    w, n, _ = field_peaks(field, nbrs, 0.75 * params.detection_threshold)
    core = (w >= pad) & (w < pad + hi - lo)
    w, n = w[core], n[core]
    offset, height = _peak_estimate(field, w, n)
    ok = height >= params.detection_threshold
    busy_windows = torch.nonzero(busy[pad:pad + hi - lo]).squeeze(1) + lo
    return w[ok] + a, n[ok], height[ok], offset[ok], busy_windows


def _widen(mask: torch.Tensor, width: int) -> torch.Tensor:
    """``mask`` (bool, by window) with every marked window's ``width`` neighbours on each
    side marked too.

    Examples
    --------
    >>> _widen(torch.tensor([False, False, True, False, False]), 1).tolist()
    [False, True, True, True, False]
    """
    out = mask.clone()
    for d in range(1, width + 1):
        out[d:] |= mask[:-d]
        out[:-d] |= mask[d:]
    return out


def _peak_estimate(field: torch.Tensor, w: torch.Tensor, n: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-window offset and height of each peak from a Gaussian (a parabola in log) through
    its three windows: the field is sampled every window step, so the sampled maximum
    under-estimates a peak that falls between two windows."""
    eps = 1e-6
    lo = field[(w - 1).clamp(min=0), n].clamp(min=eps).log()
    hi = field[(w + 1).clamp(max=field.shape[0] - 1), n].clamp(min=eps).log()
    mid = field[w, n].clamp(min=eps).log()
    curv = lo - 2 * mid + hi
    off = torch.where(curv < -1e-6, 0.5 * (lo - hi) / curv, torch.zeros_like(mid))
    off = off.clamp(-0.5, 0.5)
    height = torch.exp(mid - 0.25 * (lo - hi) * off).clamp(max=1.0)
    return off.to(torch.float64), torch.maximum(height, field[w, n])


@torch.no_grad()
def _embed(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor, batch: int
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Network embedding (S, C) and field logit (S,) at sources ``xyz`` (S, Q, 3) or (S, 3),
    the window of source ``s`` starting at ``origin[s]``."""
    squeeze = xyz.dim() == 2
    pts = xyz[:, None, :] if squeeze else xyz
    n_src, n_q = pts.shape[:2]
    embs = torch.zeros(n_src, n_q, ctx.network.hidden)
    logits = torch.zeros(n_src, n_q)
    for i in range(0, n_src, batch):
        t0 = origin[i:i + batch].to(ctx.device)
        feats = window_features(ctx.net_index, t0, ctx.net_graph.pair_station, ctx.net_tp,
                                ctx.net_ts, ctx.scale.kernel_s,
                                signed=ctx.network.signed_residuals)
        latent = ctx.network.encode(feats, ctx.net_graph)
        q = pts[i:i + batch]
        window = torch.arange(len(q), device=ctx.device).repeat_interleave(n_q)
        lg, emb = ctx.network.query_field(latent, ctx.net_graph, window,
                                          q.reshape(-1, 3).float().to(ctx.device))
        embs[i:i + len(q)] = emb.reshape(len(q), n_q, -1).cpu()
        logits[i:i + len(q)] = lg.reshape(len(q), n_q).cpu()
    if squeeze:
        return embs[:, 0], logits[:, 0]
    return embs, logits


#: Nodes on each side of the centre (along x and y) of the lattices of :func:`_verify`.
VERIFY_RADIUS = 3


@torch.no_grad()
def _verify(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Source likelihood logit (S,) and embedding (S, C) of each source, from the network
    evaluated on a lattice of the model's node spacing centred on the source, with the window
    starting at its origin time.

    On the region's fixed node grid, a source between nodes is seen through residuals to
    arrivals predicted from the nearest nodes, several seconds off at the subduction scale;
    on a dense, noisy day the picks nearest those predictions are often false ones, and the
    grid's field stays below the threshold for some real events. With a node on the
    (relocated) source, its own picks give residuals near zero. The lattices of many sources
    are evaluated as one graph (:func:`~seisbench_genie.nn.graphs.aligned_lattices`).
    """
    from scipy.spatial import cKDTree

    sc, net = ctx.scale, ctx.network
    h = sc.node_spacing_km
    r = ctx.region
    bounds = ((r.x_km[0] - h, r.x_km[1] + h), (r.y_km[0] - h, r.y_km[1] + h), r.depth_km)
    sta = ctx.bound.station_xyz_km.to(torch.float64).numpy()
    n_lattice = (2 * VERIFY_RADIUS + 1) ** 2 * max(
        1, int(np.ceil((r.depth_km[1] - r.depth_km[0]) / (h * sc.depth_spacing_factor))))
    per = max(1, 4 * CPU_BATCH_PAIRS // (n_lattice * min(sc.k_pairs, len(sta))))
    logits = torch.zeros(len(xyz))
    embs = torch.zeros(len(xyz), net.hidden)
    for i in range(0, len(xyz), per):
        centres = xyz[i:i + per].numpy()
        nodes, group, centre = aligned_lattices(centres, h, h * sc.depth_spacing_factor,
                                                VERIFY_RADIUS, bounds)
        graph = build_region_graph(sta, nodes, sc, source_group=group)
        src = graph.source_xyz[graph.pair_source].to(torch.float64)
        start = origin[i:i + per][torch.as_tensor(group)[graph.pair_source]]
        arrival_p = start + ctx.bound.pair_times(src, graph.pair_station, "P").to(torch.float64)
        arrival_s = start + ctx.bound.pair_times(src, graph.pair_station, "S").to(torch.float64)
        dev = ctx.device
        graph = graph.to(dev)
        feats = window_features(ctx.net_index, torch.zeros(1, dtype=torch.float64, device=dev),
                                graph.pair_station, arrival_p.to(dev), arrival_s.to(dev),
                                sc.kernel_s, signed=net.signed_residuals)
        latent = net.encode(feats, graph)
        # Each query attends to the nearest nodes of its own lattice.
        span = np.ptp(nodes, axis=0).max() + 1.0
        k = min(6, int(np.bincount(group).min()))
        _, near = cKDTree(grouped_points(nodes, group, span)).query(
            grouped_points(nodes[centre], np.arange(len(centre)), span), k=k)
        near = torch.as_tensor(np.asarray(near).reshape(len(centre), k), device=dev)
        lg, emb = net.query_field(latent, graph, torch.zeros(len(centre), dtype=torch.long,
                                                              device=dev),
                                  graph.source_xyz[torch.as_tensor(centre, device=dev)], k=k,
                                  nodes=near)
        logits[i:i + per] = lg.cpu()
        embs[i:i + per] = emb.cpu()
    return logits, embs


def _refine(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor, batch: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each detection to the best point of a small lattice of queries of the continuous
    field; returns the positions and their embeddings."""
    h = 0.5 * ctx.scale.node_spacing_km
    offs = torch.tensor([[a, b, c] for a in (-h, 0, h) for b in (-h, 0, h)
                         for c in (-h, 0, h)], dtype=torch.float64)
    lo = torch.tensor([b[0] for b in ctx.region.bounds()], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in ctx.region.bounds()], dtype=torch.float64)
    cand = torch.maximum(torch.minimum(xyz[:, None, :] + offs[None], hi), lo)
    emb, logit = _embed(ctx, cand, origin, batch)
    best = logit.argmax(dim=1)
    rows = torch.arange(len(xyz))
    return cand[rows, best], emb[rows, best]


def _associate(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor, emb: torch.Tensor,
               params: AssociationParams, tolerance_s: float) -> pd.DataFrame:
    """Association probabilities of picks for each source, in time blocks; returns links
    above the association threshold (source, pick row, station, phase, probability)."""
    net, sc = ctx.network, ctx.scale
    block_of = torch.floor((origin - origin.min()) / params.chunk_s).long()
    rows = []
    for blk in torch.unique(block_of):
        sel = torch.nonzero(block_of == blk).squeeze(1)
        tp, ts, dist = travel_times_within(ctx.bound, xyz[sel], sc.max_distance_km)
        t_lo = float(origin[sel].min()) - tolerance_s
        finite = ts[torch.isfinite(ts)]
        latest = float(finite.max()) if finite.numel() else 0.0
        t_hi = float(origin[sel].max()) + latest + tolerance_s
        a = int(torch.searchsorted(ctx.pick_time, torch.tensor(t_lo, dtype=torch.float64)))
        b = int(torch.searchsorted(ctx.pick_time, torch.tensor(t_hi, dtype=torch.float64),
                                   right=True))
        if b <= a:
            continue
        cand = association_candidates(origin[sel], tp, ts, dist, ctx.pick_station[a:b],
                                      ctx.pick_time[a:b], ctx.pick_phase[a:b], sc, tolerance_s)
        if cand.pick.numel() == 0:
            continue
        e = emb[sel]
        ctx_g = torch.cat([e[cand.group_source], (cand.group_distance / sc.length_km)[:, None]],
                          -1)
        dev = ctx.device
        with torch.no_grad():
            prob = net.associate(e[cand.source].to(dev), cand.features.to(dev),
                                 cand.group.to(dev), ctx_g.to(dev)).cpu()
        best_phase = prob.argmax(dim=1)
        best = prob.max(dim=1).values
        ok = best >= params.association_threshold
        rows.append(pd.DataFrame({
            "source": sel[cand.source[ok]].numpy(), "pick": (cand.pick[ok] + a).numpy(),
            "station": ctx.pick_station[a:b][cand.pick[ok]].numpy(),
            "phase": best_phase[ok].numpy(), "probability": best[ok].numpy(),
        }))
    if not rows:
        return pd.DataFrame({"source": [], "pick": [], "station": [], "phase": [],
                             "probability": []}).astype({"source": int, "pick": int})
    return pd.concat(rows, ignore_index=True)


def _relocate(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor, links: pd.DataFrame
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Locate sources with their provisional picks (each pick with its likeliest source, and
    per source the likeliest P and S pick of each station); sources with too few picks keep
    the network's estimate."""
    if links.empty:
        return xyz, origin
    best = links.sort_values("probability", ascending=False).drop_duplicates("pick")
    best = best.drop_duplicates(["source", "station", "phase"])  # one P and one S per station
    counts = best["source"].value_counts()
    best = best[best["source"].isin(counts[counts >= 4].index)]
    if best.empty:
        return xyz, origin
    ev = torch.as_tensor(best["source"].to_numpy(), dtype=torch.long)
    res = locate(ctx.bound, xyz, origin, ev,
                 torch.as_tensor(best["station"].to_numpy(), dtype=torch.long),
                 torch.as_tensor(best["phase"].to_numpy(), dtype=torch.long),
                 ctx.pick_time[torch.as_tensor(best["pick"].to_numpy())],
                 torch.as_tensor(best["probability"].to_numpy()),
                 bounds_km=_location_bounds(ctx))
    moved = torch.zeros(len(xyz), dtype=torch.bool)
    moved[ev] = True
    # A relocation that runs away from the network's estimate is not trusted.
    far = (res.xyz_km - xyz).norm(dim=1) > 2.0 * ctx.scale.node_spacing_km
    use = moved & ~far
    return torch.where(use[:, None], res.xyz_km, xyz), torch.where(use, res.origin_s, origin)


def _location_bounds(ctx: _Context) -> tuple[tuple[float, float], ...]:
    r = ctx.region
    pad = ctx.scale.node_spacing_km
    return ((r.x_km[0] - pad, r.x_km[1] + pad), (r.y_km[0] - pad, r.y_km[1] + pad),
            (max(0.0, r.depth_km[0]), r.depth_km[1]))


def fitting_counts(bound, xyz: torch.Tensor, origin: torch.Tensor, links: pd.DataFrame,
                   pick_time_s: torch.Tensor, max_distance_km: float,
                   tolerance_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per source (index into ``xyz``), the picks and the stations with both a P and an S
    pick that fit its hypocentre within ``tolerance_factor`` times the association tolerance
    (see :func:`_arrival_fit`).

    A true event's picks fit its location (pick errors are a fraction of a second); a
    detection assembled from coincident false picks and stray picks of other events keeps
    ``min_picks`` associated picks but few of them fit one hypocentre.

    Returns
    -------
    n_fit, n_fit_p_and_s : numpy.ndarray
        (S,) counts (0 for sources without links).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    source = links["source"].to_numpy()
    fit = _arrival_fit(bound, xyz, origin, source, links["station"].to_numpy(),
                       links["phase"].to_numpy(), pick_time_s[links["pick"].to_numpy()].numpy(),
                       max_distance_km, tolerance_factor)
    n_fit = np.bincount(source[fit], minlength=len(xyz))
    fitting = links[fit]
    both = fitting.groupby(["source", "station"])["phase"].nunique() == 2
    per_source = both.groupby(level=0).sum()
    n_both = np.zeros(len(xyz), dtype=int)
    n_both[per_source.index.to_numpy()] = per_source.to_numpy()
    return n_fit, n_both


def _finalise(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor, score: torch.Tensor,
              links: pd.DataFrame, params: AssociationParams
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    sources = np.sort(links["source"].unique())
    res = _locate_sources(ctx, xyz, origin, links, sources)
    if not params.require_fit:
        return _tables(ctx, res, score, links, sources)
    # Events must hold enough picks that fit a hypocentre, not only associated picks. The
    # hypocentre is located again from the picks that fit the first location (false picks
    # among the associated ones pull it).
    located_xyz, located_origin = xyz.clone(), origin.clone()
    located_xyz[sources], located_origin[sources] = res.xyz_km, res.origin_s
    pick_time = ctx.pick_time[links["pick"].to_numpy()].numpy()
    residual = _normalised_residuals(
        ctx.bound, located_xyz, located_origin, links["source"].to_numpy(),
        links["station"].to_numpy(), links["phase"].to_numpy(), pick_time,
        ctx.scale.max_distance_km)
    factor = tolerance_factor(residual, links["source"].to_numpy())
    core = links[residual <= factor]
    core_sources = np.sort(core["source"].unique())
    if len(core_sources):
        res_core = _locate_sources(ctx, located_xyz, located_origin, core, core_sources)
        located_xyz[core_sources] = res_core.xyz_km
        located_origin[core_sources] = res_core.origin_s
    n_fit, n_both = fitting_counts(ctx.bound, located_xyz, located_origin, links,
                                   ctx.pick_time, ctx.scale.max_distance_km, factor)
    chance = chance_picks(ctx.bound, located_xyz[sources], ctx.pick_station, ctx.pick_time,
                          ctx.scale.max_distance_km, factor)
    # Where chance coincidences alone could reach min_picks, min_picks and
    # min_p_and_s_stations count fitting picks only; elsewhere (the associated picks already
    # meet both) the fitting picks must clearly exceed the chance ones.
    needed = np.ceil(chance + CHANCE_MARGIN)
    dense = needed >= params.min_picks
    credible = sources[np.where(
        dense, (n_fit[sources] >= params.min_picks)
        & (n_both[sources] >= params.min_p_and_s_stations), n_fit[sources] >= needed)]
    if len(credible) == 0:
        return _empty()
    if len(credible) < len(sources):
        # The other events' first locations stand (each event is located on its own).
        keep_link = links["source"].isin(credible).to_numpy()
        keep_event = torch.as_tensor(np.isin(sources, credible))
        res = LocationResult(**{f.name: getattr(res, f.name)[keep_event]
                                for f in fields(res) if f.name != "residual_s"},
                             residual_s=res.residual_s[torch.as_tensor(keep_link)])
        links, sources = links[keep_link], credible
    return _tables(ctx, res, score, links, sources)


#: Median normalised residual (see :func:`tolerance_factor`) of well-recorded events when the
#: velocity model and the picks are as accurate as the association tolerance assumes.
TYPICAL_RESIDUAL = 0.2
#: Fitting picks an event needs beyond the chance coincidences expected at its position.
CHANCE_MARGIN = 4.0


def tolerance_factor(normalised_residual: np.ndarray, source: np.ndarray) -> float:
    """How much wider than the association tolerance the fit check must be for this input.

    The median residual (in tolerance units, see :func:`_normalised_residuals`) of the picks
    of the better-recorded half of the events (by associated picks) measures how well the
    velocity model predicts this data set. It is about :data:`TYPICAL_RESIDUAL` when the model
    is good to about 1 %; with 5-10 % travel-time errors it is 3-4 times larger, and so is the
    tolerance of the fit check, which then no longer removes real events.

    Examples
    --------
    >>> tolerance_factor(np.array([0.1, 0.2, 0.3, 2.0]), np.array([0, 0, 0, 1]))
    1.0
    >>> tolerance_factor(np.array([0.8, 0.8, 0.8]), np.array([0, 0, 0]))
    4.0
    """
    if len(source) == 0:
        return 1.0
    counts = np.bincount(source)
    well_recorded = counts[source] >= np.median(counts[counts > 0])
    finite = well_recorded & np.isfinite(normalised_residual)
    if not finite.any():
        return 1.0
    return float(max(1.0, np.median(normalised_residual[finite]) / TYPICAL_RESIDUAL))


def chance_picks(bound, xyz: torch.Tensor, pick_station: torch.Tensor, pick_time_s: torch.Tensor,
                 max_distance_km: float, tolerance_factor: float = 1.0) -> np.ndarray:
    """Picks expected by chance within the fit tolerance of the P and S arrivals of sources.

    Each station's picks are taken as a Poisson process at its mean rate over the input;
    the expectation sums, over the stations within ``max_distance_km``, the rate times the
    width of the P and S tolerance windows. On a quiet day it is well below one pick, on the
    densest benchmark days over ten.

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations.
    xyz
        (S, 3) source positions (km).
    pick_station, pick_time_s
        (P,) station index and time (s) of every pick of the input.
    max_distance_km
        Largest epicentral distance of a pair.
    tolerance_factor
        Width of the windows in association tolerances.

    Returns
    -------
    numpy.ndarray
        (S,) expected chance picks.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    n_stations = int(bound.station_xyz_km.shape[0])
    span_s = float(pick_time_s.max() - pick_time_s.min()) if len(pick_time_s) > 1 else 0.0
    if span_s <= 0 or len(xyz) == 0:
        return np.zeros(len(xyz))
    rate = np.bincount(pick_station.numpy(), minlength=n_stations) / span_s
    tp, _, _ = travel_times_within(bound, xyz, max_distance_km)
    tp = tp.numpy().astype(np.float64)
    reach = np.isfinite(tp)
    width = 2.0 * tolerance_factor * arrival_tolerance_s(np.where(reach, tp, 0.0)) * (
        1.0 + S_TOLERANCE_FACTOR)
    return (np.where(reach, width, 0.0) * rate[None, :]).sum(axis=1)


def _locate_sources(ctx: _Context, xyz: torch.Tensor, origin: torch.Tensor,
                    links: pd.DataFrame, sources: np.ndarray):
    """Locate ``sources`` (sorted) with their links, starting from ``xyz``, ``origin``."""
    remap = np.full(len(xyz), -1)
    remap[sources] = np.arange(len(sources))
    ev = torch.as_tensor(remap[links["source"].to_numpy()], dtype=torch.long)
    idx = torch.as_tensor(sources)
    return locate(ctx.bound, xyz[idx], origin[idx], ev,
                  torch.as_tensor(links["station"].to_numpy(), dtype=torch.long),
                  torch.as_tensor(links["phase"].to_numpy(), dtype=torch.long),
                  ctx.pick_time[torch.as_tensor(links["pick"].to_numpy())],
                  torch.as_tensor(links["probability"].to_numpy()),
                  bounds_km=_location_bounds(ctx))


def _tables(ctx: _Context, res, score: torch.Tensor, links: pd.DataFrame, sources: np.ndarray
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event and assignment tables of located ``sources`` (sorted) and their links."""
    remap = np.full(int(sources.max()) + 1, -1)
    remap[sources] = np.arange(len(sources))
    ev = torch.as_tensor(remap[links["source"].to_numpy()], dtype=torch.long)
    ph = torch.as_tensor(links["phase"].to_numpy(), dtype=torch.long)
    idx = torch.as_tensor(sources)
    n_picks = np.bincount(ev.numpy(), minlength=len(sources))
    n_stations = links.assign(e=ev.numpy()).groupby("e")["station"].nunique() \
        .reindex(range(len(sources)), fill_value=0).to_numpy()
    events = pd.DataFrame({
        "event_idx": np.arange(len(sources)),
        "time": res.origin_s.numpy() + ctx.t_ref,
        "x_km": res.xyz_km[:, 0].numpy(), "y_km": res.xyz_km[:, 1].numpy(),
        "depth_km": res.xyz_km[:, 2].numpy(),
        "horizontal_uncertainty_km": res.horizontal_uncertainty_km.numpy(),
        "depth_uncertainty_km": res.depth_uncertainty_km.numpy(),
        "time_uncertainty_s": res.time_uncertainty_s.numpy(),
        "n_picks": n_picks, "n_stations": n_stations,
        "score": score[idx].numpy().astype(float), "rms_s": res.rms_s.numpy(),
    })
    order = np.argsort(events["time"].to_numpy(), kind="stable")
    new_id = np.empty(len(order), dtype=int)
    new_id[order] = np.arange(len(order))
    events = events.iloc[order].reset_index(drop=True)
    events["event_idx"] = np.arange(len(events))
    assignments = pd.DataFrame({
        "pick_idx": ctx.pick_idx[links["pick"].to_numpy()],
        "event_idx": new_id[ev.numpy()],
        "phase": np.where(ph.numpy() == 1, "S", "P"),
        "probability": links["probability"].to_numpy().astype(float),
        "residual_s": res.residual_s.numpy(),
    }).sort_values(["event_idx", "pick_idx"]).reset_index(drop=True)
    return events, assignments
