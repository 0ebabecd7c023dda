"""The association pipeline: windows -> source field -> peaks -> association -> location.

Each numbered step is a stage in its own module; the numbers match ``docs/architecture.md``
(section "Inference"). The pipeline works in the local km frame of a bound travel-time
backend: inputs are a normalised pick table (see :func:`seisbench_genie.picks.pick_table` and
:func:`~seisbench_genie.picks.match_stations`); outputs are event and assignment tables, still
in the local frame (the model class converts them to geographic coordinates and an ObsPy
Catalog).

====  ==========================================  ==========================================
step  what                                        module
====  ==========================================  ==========================================
1-3   candidate windows, source field, peaks      :mod:`~.detection` (per grid)
3-4   suppression, refinement; a shifted grid     :mod:`~.candidates`, :mod:`~.queries`
5, 8  association passes                          :mod:`~.linking`
6     provisional relocation                      :mod:`~.relocation`
7     re-embedding (or aligned-lattice check)     :mod:`~.queries`
9     competitive assignment                      :mod:`~.assignment`
10    duplicate merge                             :mod:`~.merge`
11    fit check                                   :mod:`~.credibility`
12    final location and tables                   :mod:`~.relocation`, :mod:`~.tables`
13    later rounds on the picks no event holds    :mod:`~.rounds`
14    events inside the region (edge tolerance)   :mod:`~.tables`
====  ==========================================  ==========================================
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from seisbench_genie.association.assignment import competitive_assignment
from seisbench_genie.association.candidates import (
    CROWDED_EVENT_PICKS,
    SUPPRESSION_SPACINGS,
    SUPPRESSION_STEPS,
    GridCandidates,
    event_pick_density,
    grid_candidates,
    suppress_duplicates,
)
from seisbench_genie.association.credibility import (
    credible_sources,
    normalised_residuals,
    tolerance_factor,
)
from seisbench_genie.association.detection import DETECTION_STRIDE, widen
from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.association.linking import (
    FIRST_PASS_TOLERANCE_KERNELS,
    SECOND_PASS_TOLERANCE_KERNELS,
    link_picks,
)
from seisbench_genie.association.merge import merge_duplicates
from seisbench_genie.association.params import AssociationParams, Region
from seisbench_genie.association.queries import embed, verify
from seisbench_genie.association.relocation import relocate_provisional
from seisbench_genie.association.rounds import (
    add_round,
    later_round_spacing_factor,
    leftover_picks,
    without_pieces,
)
from seisbench_genie.association.tables import empty_tables, event_tables, keep_events
from seisbench_genie.association.trace import paused, record
from seisbench_genie.nn.network import GENIENetwork

#: Default edge tolerance (``AssociationParams.edge_tolerance_km``) in model margins around
#: the stations. Measured on six kinds of synthetic day (crustal, tolerances 0-15 km, in
#: ``docs/benchmarks.md``): at half the margin (10 km) the recall stayed within 0.003 of
#: reporting every event while most of the events located farther out were pieces of events
#: outside the region; at 0-5 km, true events inside it near the edge were lost.
EDGE_TOLERANCE_MARGINS = 0.5


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
        Columns ``pick_idx``, ``station_index``, ``phase`` ("P"/"S"), ``time`` (POSIX s),
        sorted by time.
    params
        Association parameters.

    Returns
    -------
    events, assignments : pandas.DataFrame
        :data:`~seisbench_genie.schema.LOCAL_EVENT_COLUMNS` (``x_km``, ``y_km`` in the local
        frame) and :data:`~seisbench_genie.schema.ASSIGNMENT_COLUMNS`.

    Examples
    --------
    >>> # see seisbench_genie.GENIE.classify, which wraps this function
    """
    grids: dict[tuple[float, float], NodeGrid] = {}  # by (shift, spacing factor)
    events, assignments = associate_round(network, bound, region, picks, params, grids=grids)
    # 13. Later rounds on the picks that no event holds, on a finer node grid where the
    #     stations are closer together than the nodes (their stages are not recorded: the
    #     stage record stays the first round's).
    rest, later = picks, replace(params, progress=False)
    spacing = later_round_spacing_factor(bound.station_xyz_km.cpu().numpy(),
                                         network.scale.node_spacing_km,
                                         params.later_round_spacing)
    for _ in range(1, params.rounds):
        if len(events) == 0:
            break
        rest = leftover_picks(rest, assignments)
        with paused():
            new_events, new_assignments = associate_round(
                network, bound, region, rest, later, leftover=True, grids=grids,
                spacing_factor=spacing)
        new_events, new_assignments = without_pieces(bound, events, new_events, new_assignments,
                                                     rest, network.scale.max_distance_km)
        if len(new_events) == 0:
            break
        events, assignments = add_round(events, assignments, new_events, new_assignments)
    # 14. Only the events inside the region (up to the edge tolerance) are reported; the
    #     picks of those located farther out stay unassociated (held until now, they formed
    #     no piece in a later round).
    tolerance_km = (params.edge_tolerance_km if params.edge_tolerance_km is not None
                    else network.scale.margin_km * EDGE_TOLERANCE_MARGINS)
    return keep_events(events, assignments, region.holds_epicentres(
        events["x_km"].to_numpy(), events["y_km"].to_numpy(), tolerance_km))


def associate_round(network: GENIENetwork, bound, region: Region, picks: pd.DataFrame,
                    params: AssociationParams, leftover: bool = False,
                    grids: dict[tuple[float, float], NodeGrid] | None = None,
                    spacing_factor: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 1-12 once: :func:`associate_table` without later rounds.

    ``leftover``: the picks are what earlier rounds left (the fit check then asks every
    event to beat chance coincidences, see
    :func:`~seisbench_genie.association.credibility.credible_sources`). ``grids``: node
    grids by (shift, spacing factor), built when missing and added (a cache shared by the
    rounds). ``spacing_factor``: node spacing as a fraction of the model's (see
    :class:`~seisbench_genie.association.inputs.NodeGrid`).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    if len(picks) == 0 or picks["station_index"].nunique() < 2:
        return empty_tables()
    network.eval()
    sc = network.scale
    grids = {} if grids is None else grids

    def node_grid(shift: float) -> NodeGrid:
        if (shift, spacing_factor) not in grids:
            grids[shift, spacing_factor] = NodeGrid(network, bound, region, grid_shift=shift,
                                                    spacing_factor=spacing_factor)
        return grids[shift, spacing_factor]

    first = node_grid(0.0)
    pick_set = PickSet(picks, first.device)
    # The global window grid: from the latest arrival before the first pick to the last pick,
    # on multiples of the window step in POSIX time, so that the windows an event sees do not
    # depend on the earliest pick (picks added far away in time change no event).
    t_first = pick_set.t_ref + float(pick_set.time_s.min()) - first.max_travel_s
    t_start = (np.floor(t_first / sc.window_step_s) - 1.0) * sc.window_step_s - pick_set.t_ref
    n_windows = int(np.ceil((float(pick_set.time_s.max()) - t_start) / sc.window_step_s)) + 1
    with tqdm(total=n_windows, disable=not params.progress, desc="GENIE windows",
              unit="win") as bar:
        # 1-4 on the first grid.
        found = [grid_candidates(first, pick_set, params, t_start, n_windows, progress=bar)]
        n_grids = params.detection_grids
        if n_grids is None:
            # Automatic: 5-12 on the first grid, then a second grid when its events crowd
            # the stations.
            events, assignments = associate_candidates(first, pick_set, found, params,
                                                       leftover)
            if event_pick_density(len(assignments), picks["station_index"].to_numpy(),
                                  picks["time"].to_numpy(), sc.kernel_s) < CROWDED_EVENT_PICKS:
                return events, assignments
            n_grids = 2
        # 1-4 on the shifted grids, only near windows where the first grid saw activity:
        # events that mask each other crowd the busy windows; a quiet window holds no hidden
        # event.
        busy = torch.zeros(n_windows, dtype=torch.bool)
        busy[found[0].busy_windows] = True
        active = widen(busy, DETECTION_STRIDE)
        bar.total += (n_grids - 1) * int(active.sum())
        bar.refresh()
        for k in range(1, n_grids):
            grid = node_grid(k / n_grids)
            found.append(grid_candidates(grid, pick_set, params, t_start, n_windows, active,
                                         progress=bar))
    return associate_candidates(first, pick_set, found, params, leftover)


def associate_candidates(grid: NodeGrid, picks: PickSet, found: list[GridCandidates],
                         params: AssociationParams, leftover: bool = False
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 5-12 on the candidates of one or more node grids.

    Parameters
    ----------
    grid
        The first (unshifted) node grid: its backend, scale and region serve every stage.
    picks
        The run's picks.
    found
        Candidates of each grid (steps 1-4).
    params
        Association parameters.
    leftover
        The picks are what earlier rounds left (see :func:`associate_round`).

    Returns
    -------
    events, assignments : pandas.DataFrame
        As :func:`associate_table`.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    sc = grid.scale
    record(picks=picks, grid=grid, candidates=found)
    if sum(len(f.xyz) for f in found) == 0:
        return empty_tables()
    xyz = torch.cat([f.xyz for f in found])
    origin = torch.cat([f.origin for f in found])
    score = torch.cat([f.score for f in found])
    emb = torch.cat([f.embedding for f in found])
    grid_of = torch.cat([torch.full((len(f.xyz),), g, dtype=torch.long)
                         for g, f in enumerate(found)])
    if len(found) > 1:
        # One event found on several grids: the strongest detection stands.
        keep = torch.as_tensor(suppress_duplicates(
            xyz.numpy(), origin.numpy(), score.numpy(),
            radius_km=SUPPRESSION_SPACINGS * sc.node_spacing_km,
            radius_s=SUPPRESSION_STEPS * sc.window_step_s))
        xyz, origin, score, emb, grid_of = (xyz[keep], origin[keep], score[keep], emb[keep],
                                            grid_of[keep])
    # 5. First association pass at the network's locations.
    links = link_picks(grid, picks, xyz, origin, emb, params,
                       tolerance_s=FIRST_PASS_TOLERANCE_KERNELS * sc.kernel_s)
    record(first_pass=links)
    # 6. Provisional relocation.
    new_xyz, new_origin = relocate_provisional(grid, picks, xyz, origin, links)
    moved = torch.nonzero((new_xyz != xyz).any(dim=1) | (new_origin != origin)).squeeze(1)
    xyz, origin = new_xyz, new_origin
    # 7. Embeddings at the new positions: from each candidate's own grid, or (with
    #    verify_candidates) from a lattice centred on it, whose field also decides about
    #    candidates below the threshold (an event's score is the larger of the two).
    if params.verify_candidates:
        logit, emb = verify(grid, picks, xyz, origin)
        score = torch.maximum(score.to(logit.dtype), torch.sigmoid(logit))
        ok = torch.nonzero(score >= params.detection_threshold).squeeze(1)
        if ok.numel() == 0:
            return empty_tables()
        xyz, origin, emb, score = xyz[ok], origin[ok], emb[ok], score[ok]
    elif moved.numel():
        for g, f in enumerate(found):
            redo = moved[grid_of[moved] == g]
            if redo.numel():
                emb[redo] = embed(f.grid, picks, xyz[redo], origin[redo],
                                  f.grid.batch_size(params))[0]
    # 8. Second association pass at the relocated hypocentres.
    links = link_picks(grid, picks, xyz, origin, emb, params,
                       tolerance_s=SECOND_PASS_TOLERANCE_KERNELS * sc.kernel_s)
    record(second_pass=links)
    # 9. Competitive assignment.
    links = competitive_assignment(links, params.min_picks, params.min_p_and_s_stations)
    record(assignment=links)
    if links.empty:
        return empty_tables()
    # 10. Duplicate merge, at the input's fit tolerance.
    residual = normalised_residuals(
        grid.bound, xyz, origin, links["source"].to_numpy(), links["station"].to_numpy(),
        links["phase"].to_numpy(), picks.time_s[links["pick"].to_numpy()].numpy(),
        sc.max_distance_km)
    links, xyz, origin = merge_duplicates(
        grid.bound, xyz, origin, links, picks.time_s, sc, grid.location_bounds(),
        tolerance_factor(residual, links["source"].to_numpy()))
    record(merge=links)
    # 11-12. Fit check and final location; tables.
    links, sources, location = credible_sources(grid, picks, xyz, origin, links, params,
                                                leftover)
    record(fit_check=links)
    return event_tables(picks, location, score, links, sources)
