"""Candidate sources (steps 3-4 per grid): the field's peaks of one node grid, suppressed and
refined through the grid's continuous field, and the choice of a second, shifted grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seisbench_genie.association.detection import WindowPeaks, detect_windows
from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.association.params import AssociationParams
from seisbench_genie.association.queries import refine

#: With ``verify_candidates``, detection candidates are field peaks above this fraction of the
#: detection threshold; a candidate is kept when its peak, or the field on a lattice centred on
#: its relocated position (:func:`~seisbench_genie.association.queries.verify`), reaches the
#: threshold.
CANDIDATE_FACTOR = 0.75
#: Event pick density (:func:`event_pick_density`) of the first grid's events from which the
#: automatic ``detection_grids`` adds a second, shifted grid. Measured (docs/benchmarks.md,
#: "shifted detection grid"): 0.20-0.25 on the subduction benchmark's 2000-event days, where
#: a second grid raised F1 by 0.01-0.05; at most 0.07 on its other days; 0.01-0.25 on held-out
#: synthetic days made mostly of false picks, where it lowered F1 by up to 0.04 on the days it
#: reached.
CROWDED_EVENT_PICKS = 0.15
#: Non-maximum suppression drops a candidate within this many node spacings ...
SUPPRESSION_SPACINGS = 1.0
#: ... and this many window steps (scaled offsets within sqrt 2 of a kept candidate; see
#: :func:`suppress_duplicates`) of a stronger one: a peak's neighbours on the node graph and
#: in time are one event. One step is the width of the source labels in origin time
#: (``label_time_s`` = ``window_step_s``): two peaks two or more steps apart are two
#: maxima of the field, as training labels two events that far apart; 2 steps (8.5 s on
#: crustal) merged aftershocks a few seconds apart into one candidate. Measured
#: (``docs/benchmarks.md``, "Close aftershocks and node depth levels"): more events found on
#: aftershock-like synthetic days and on Ridgecrest at the same precision; on the synthetic
#: grid (with the depth levels of ``inputs.depth_spacing_km``) the crowded days gain up to
#: 0.016 event F1 and one 100-event day loses one event.
SUPPRESSION_STEPS = 1.0
#: Fewest windows per detection chunk (a chunk carries DETECTION_STRIDE windows of padding on
#: each side; shorter chunks would spend more on padding than on their own windows).
MIN_CHUNK_WINDOWS = 8


@dataclass
class GridCandidates:
    """Detections of one node grid.

    Attributes
    ----------
    grid : NodeGrid
    xyz : torch.Tensor
        (S, 3) refined positions (km, float64).
    origin : torch.Tensor
        (S,) origin times (s, picks' reference, float64).
    score : torch.Tensor
        (S,) peak heights (0-1).
    embedding : torch.Tensor
        (S, C) network embeddings at the refined positions.
    busy_windows : torch.Tensor
        Windows whose field reached ``BUSY_FACTOR`` x the threshold.
    """

    grid: NodeGrid
    xyz: torch.Tensor
    origin: torch.Tensor
    score: torch.Tensor
    embedding: torch.Tensor
    busy_windows: torch.Tensor


def detection_threshold(params: AssociationParams) -> float:
    """The threshold peaks must reach to be candidates (lower with ``verify_candidates``).

    Examples
    --------
    >>> detection_threshold(AssociationParams(detection_threshold=0.4, verify_candidates=True))
    0.30000000000000004
    """
    return params.detection_threshold * (CANDIDATE_FACTOR if params.verify_candidates else 1.0)


def grid_candidates(grid: NodeGrid, picks: PickSet, params: AssociationParams, t_start: float,
                    n_windows: int, active: torch.Tensor | None = None, progress=None
                    ) -> GridCandidates:
    """Steps 1-4 on one node grid: candidate windows, source field and peaks (in chunks of
    ``detection_chunk_s``), suppression, and refinement through the grid's continuous field.

    Parameters
    ----------
    grid, picks
        The node grid and the run's picks.
    params
        Association parameters.
    t_start, n_windows
        Origin time (s) of window 0 and the number of windows of the global grid.
    active
        (n_windows,) bool: evaluate only these windows (the shifted grids).
    progress
        A ``tqdm`` bar advanced by the windows covered (or None).

    Returns
    -------
    GridCandidates

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    sc = grid.scale
    step = sc.window_step_s
    per_chunk = max(MIN_CHUNK_WINDOWS, int(params.detection_chunk_s / step))
    threshold = detection_threshold(params)
    parts = []
    for lo in range(0, n_windows, per_chunk):
        hi = min(lo + per_chunk, n_windows)
        parts.append(detect_windows(grid, picks, params, threshold, t_start, lo, hi, active))
        if progress is not None:
            progress.update(hi - lo if active is None else int(active[lo:hi].sum()))
    peaks = WindowPeaks.cat(parts)
    xyz = grid.graph.source_xyz[peaks.node].to(torch.float64)
    origin = t_start + (peaks.window.to(torch.float64) + peaks.offset) * step
    keep = suppress_duplicates(xyz.numpy(), origin.numpy(), peaks.height.numpy(),
                               radius_km=SUPPRESSION_SPACINGS * sc.node_spacing_km,
                               radius_s=SUPPRESSION_STEPS * step)
    xyz, embedding = refine(grid, picks, xyz[keep], origin[keep], grid.batch_size(params))
    return GridCandidates(grid, xyz, origin[keep], peaks.height[keep], embedding,
                          peaks.busy_windows)


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


def suppress_duplicates(xyz_km: np.ndarray, time_s: np.ndarray, score: np.ndarray,
                        radius_km: float, radius_s: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of candidates kept, strongest first, dropping
    any within ``radius_km`` and ``radius_s`` of a kept one.

    Examples
    --------
    >>> suppress_duplicates(np.zeros((2, 3)), np.array([0.0, 1.0]), np.array([0.5, 0.9]),
    ...                     10.0, 5.0).tolist()
    [1]
    """
    from scipy.spatial import cKDTree

    order = np.argsort(-score, kind="stable")
    pts = np.column_stack([xyz_km / radius_km, time_s / radius_s])
    tree = cKDTree(pts)
    pairs = tree.query_pairs(np.sqrt(2.0), p=np.inf, output_type="ndarray")
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    removed = np.zeros(len(score), bool)
    keep = []
    for i in order:
        if removed[i]:
            continue
        keep.append(i)
        removed[neighbours.get(int(i), [])] = True
    return np.array(keep, dtype=int)
