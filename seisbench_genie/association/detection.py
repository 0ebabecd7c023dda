"""Detection (steps 1-3): candidate windows, the network's source field on a node grid, and
its peaks.

Windows are ``window_step_s`` apart on one global grid of origin times. Only windows where
back-projected picks could make an event (enough picks, and stations with both a P and an S
pick) are evaluated (:func:`candidate_windows`), every
:data:`DETECTION_STRIDE`-th first and then the neighbours of busy ones, in chunks of windows
that bound the memory (:func:`detect_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.association.params import AssociationParams
from seisbench_genie.nn.features import PickIndex, window_features
from seisbench_genie.nn.graphs import RegionGraph
from seisbench_genie.nn.network import GENIENetwork

#: The first detection pass evaluates every DETECTION_STRIDE-th window of the global grid;
#: chunks of windows are padded by as many windows on each side.
DETECTION_STRIDE = 2
#: A window is "busy" when the field reaches this fraction of the detection threshold at
#: some node: its neighbours are evaluated too, and the shifted grids look only near busy
#: windows. The labels are Gaussians of one window step in time, so a peak of height >= 0.75
#: threshold keeps >= 0.45 threshold one window away: with 0.4, every peak and its two
#: neighbours are evaluated.
BUSY_FACTOR = 0.4
#: Sampled field maxima down to this fraction of the threshold are peak candidates; they are
#: kept when the peak height estimated between windows (:func:`peak_estimate`) reaches it.
PEAK_FLOOR_FACTOR = 0.75
#: A window is a candidate when some node collects at least this fraction of ``min_picks``
#: back-projected picks within +-1 window: an event with ``min_picks`` picks back-projects at
#: least ~70 % of them into one node and +-1 window (S residuals of a node half a cell away
#: can fall outside). The same fraction of ``min_p_and_s_stations`` of that node's stations
#: must each back-project a P and an S pick there (measured on the synthetic days of
#: ``docs/benchmarks.md``, "Candidate windows with stations that have P and S": no event
#: lost beyond one on any kind of day, a third fewer windows in the later rounds) ...
BACKPROJECTED_FRACTION = 0.7
#: ... and never fewer than this many.
MIN_BACKPROJECTED = 3
#: Picks this many window steps before a chunk's first window or after its last predicted
#: arrival are left out of its candidate-window count.
PICK_MARGIN_STEPS = 3


def candidate_windows(
    pick_station: torch.Tensor,
    pick_time_s: torch.Tensor,
    graph: RegionGraph,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    t_start_s: float,
    n_windows: int,
    step_s: float,
    min_count: int,
    pick_phase: torch.Tensor | None = None,
    min_p_and_s: int = 0,
    chunk: int = 4096,
) -> torch.Tensor:
    """Windows where enough picks could make an event (the rest is never evaluated).

    Every pick is back-projected to the origin time it implies at each source node linked to
    its station, for a P and an S hypothesis (or, when ``pick_phase`` (0 = P, 1 = S) is
    given, for its labelled phase only); a window is kept when some node collects at least
    ``min_count`` back-projected picks within +-1 window and, with ``pick_phase`` and
    ``min_p_and_s`` > 0, at least ``min_p_and_s`` of its stations each back-project both a
    P and an S pick there. Returns a (n_windows,) bool mask.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    n = graph.n_sources
    counts = torch.zeros(n_windows + 2, n, dtype=torch.int32)
    # Pairs per station, as a padded table for vectorised gathering.
    order = torch.argsort(graph.pair_station, stable=True)
    per_sta = torch.bincount(graph.pair_station, minlength=int(graph.station_xyz.shape[0]))
    width = int(per_sta.max()) if per_sta.numel() else 0
    if width == 0 or pick_time_s.numel() == 0:
        return torch.zeros(n_windows, dtype=torch.bool)
    first = torch.cumsum(per_sta, 0) - per_sta
    slot = torch.arange(width)
    table = first[:, None] + slot[None, :]
    valid = slot[None, :] < per_sta[:, None]
    table = torch.where(valid, order[table.clamp(max=len(order) - 1)], -1)
    by_phase = pick_phase is not None and min_p_and_s > 0
    n_pairs = len(graph.pair_station)
    # With by_phase: the phases whose picks reach each (window, station-node pair), as bits
    # (1 = P, 2 = S).
    reached = torch.zeros((n_windows + 2, n_pairs) if by_phase else (0, 0), dtype=torch.uint8)
    for i in range(0, len(pick_time_s), chunk):
        st = pick_station[i:i + chunk]
        t = pick_time_s[i:i + chunk]
        pairs = table[st]  # (c, width)
        ok = pairs >= 0
        p = pairs.clamp(min=0)
        for code, tt in enumerate((travel_p_s, travel_s_s)):
            origin = t[:, None] - tt[p].to(torch.float64)
            w = torch.round((origin - t_start_s) / step_s).long() + 1
            keep = ok & (w >= 0) & (w < n_windows + 2)
            if pick_phase is not None:
                keep &= (pick_phase[i:i + chunk] == code)[:, None]
            flat = w[keep] * n + graph.pair_source[p[keep]]
            counts.view(-1).index_add_(0, flat, torch.ones_like(flat, dtype=torch.int32))
            if by_phase:
                at = w[keep] * n_pairs + p[keep]
                reached.view(-1)[at] = reached.view(-1)[at] | (1 << code)
    smooth = counts[:-2] + counts[1:-1] + counts[2:]
    enough = smooth >= min_count  # (n_windows, n)
    if by_phase:
        # Only where the count already suffices (row w of the +-1 sums is w .. w + 2).
        rows = torch.nonzero(enough.any(dim=1)).squeeze(1)
        phases = reached[rows] | reached[rows + 1] | reached[rows + 2]
        row, pair = torch.nonzero(phases == 3, as_tuple=True)
        stations = torch.zeros(len(rows) * n, dtype=torch.int32)
        stations.index_add_(0, row * n + graph.pair_source[pair],
                            torch.ones_like(row, dtype=torch.int32))
        enough[rows] &= stations.view(len(rows), n) >= min_p_and_s
    return enough.any(dim=1)


@torch.no_grad()
def source_field(
    network: GENIENetwork,
    graph: RegionGraph,
    index: PickIndex,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    window_times_s: torch.Tensor,
    batch_size: int = 64,
) -> torch.Tensor:
    """Source likelihood at the source nodes for each window: (W, N) in [0, 1].

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    out = torch.zeros(len(window_times_s), graph.n_sources)
    device = graph.pair_station.device
    for i in range(0, len(window_times_s), batch_size):
        t0 = window_times_s[i:i + batch_size].to(device)
        feats = window_features(index, t0, graph.pair_station, travel_p_s, travel_s_s,
                                network.scale.kernel_s, signed=network.signed_residuals)
        latent = network.encode(feats, graph)
        out[i:i + len(t0)] = torch.sigmoid(network.node_logits(latent)).cpu()
    return out


def field_peaks(
    field: torch.Tensor,
    source_neighbours: torch.Tensor,
    threshold: float,
    time_radius: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Local maxima of a (W, N) field over time (+-``time_radius`` windows) and the source
    graph's neighbours, above ``threshold``.

    Returns window indices, node indices and values of the peaks.

    Examples
    --------
    >>> f = torch.zeros(5, 3); f[2, 1] = 0.9; f[2, 0] = 0.5
    >>> nb = torch.tensor([[1], [0], [1]])
    >>> w, n, v = field_peaks(f, nb, 0.3)
    >>> w.tolist(), n.tolist()
    ([2], [1])
    """
    k = 2 * time_radius + 1
    tmax = torch.nn.functional.max_pool1d(field.T[None], k, stride=1, padding=time_radius)[0].T
    # Maxima over time first (few), then the neighbours of those only: the same peaks as
    # comparing every (window, node) with its neighbours, without a (W, N, k) array.
    w, n = torch.nonzero((field >= threshold) & (field >= tmax), as_tuple=True)
    if source_neighbours.numel() and w.numel():
        keep = field[w, n] >= tmax[w[:, None], source_neighbours[n]].amax(dim=-1)
        w, n = w[keep], n[keep]
    return w, n, field[w, n]


@dataclass
class WindowPeaks:
    """Peaks of the source field in a range of windows (see :func:`detect_windows`).

    Attributes
    ----------
    window, node : torch.Tensor
        (K,) window index (global grid) and node of each peak.
    height : torch.Tensor
        (K,) peak height estimated between windows (0-1).
    offset : torch.Tensor
        (K,) sub-window offset of the peak (windows, float64, in [-0.5, 0.5]).
    busy_windows : torch.Tensor
        Windows of the range whose field reached ``BUSY_FACTOR`` x the threshold.
    """

    window: torch.Tensor
    node: torch.Tensor
    height: torch.Tensor
    offset: torch.Tensor
    busy_windows: torch.Tensor

    @classmethod
    def empty(cls) -> WindowPeaks:
        none = torch.zeros(0, dtype=torch.long)
        return cls(none, none, torch.zeros(0), torch.zeros(0, dtype=torch.float64), none)

    @classmethod
    def cat(cls, parts: list[WindowPeaks]) -> WindowPeaks:
        return cls(*(torch.cat([getattr(p, name) for p in parts])
                     for name in ("window", "node", "height", "offset", "busy_windows")))


def detect_windows(grid: NodeGrid, picks: PickSet, params: AssociationParams, threshold: float,
                   t_start: float, lo: int, hi: int, active: torch.Tensor | None = None
                   ) -> WindowPeaks:
    """Peaks of the source field of ``grid`` above ``threshold`` with window index in
    [lo, hi) of the global grid ``t_start + k * window_step_s``.

    The chunk is evaluated with :data:`DETECTION_STRIDE` windows of padding on both sides
    and keeps the peaks of its own windows; which windows are evaluated depends only on the
    grid within that padding, so chunk borders neither lose nor double a peak.

    Parameters
    ----------
    grid, picks
        The node grid and the run's picks.
    params
        Association parameters (``min_picks`` sets the candidate windows).
    threshold
        Detection threshold (0-1).
    t_start
        Origin time (s, picks' reference) of window 0.
    lo, hi
        Window range of this chunk.
    active
        (bool, indexed by window of the global grid) restricts the evaluation to the windows
        it marks.

    Returns
    -------
    WindowPeaks

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    network, sc = grid.network, grid.scale
    step, pad = sc.window_step_s, DETECTION_STRIDE
    a = lo - pad
    n_win = hi - lo + 2 * pad
    t_a = t_start + a * step
    # Only picks that can reach these windows (same sorted order, so indices are offsets).
    i0, i1 = picks.span(t_a - PICK_MARGIN_STEPS * step,
                        t_a + n_win * step + grid.max_travel_s + PICK_MARGIN_STEPS * step)
    if i1 <= i0:
        return WindowPeaks.empty()
    min_count = max(MIN_BACKPROJECTED, int(BACKPROJECTED_FRACTION * params.min_picks))
    min_p_and_s = int(BACKPROJECTED_FRACTION * params.min_p_and_s_stations)
    keep = candidate_windows(picks.station[i0:i1], picks.time_s[i0:i1], grid.graph, grid.tp,
                             grid.ts, t_a, n_win, step, min_count, picks.phase[i0:i1],
                             min_p_and_s)
    if active is not None:
        window = torch.arange(a, a + n_win)
        inside = (window >= 0) & (window < len(active))
        keep &= inside & active[window.clamp(0, len(active) - 1)]
    kept = torch.nonzero(keep).squeeze(1)
    if kept.numel() == 0:
        return WindowPeaks.empty()
    # Every DETECTION_STRIDE-th window of the global grid first, then, repeatedly, the kept
    # windows next to an evaluated busy window: the peaks found are those of the full
    # evaluation (see BUSY_FACTOR).
    field = torch.zeros(n_win, grid.graph.n_sources)
    batch = grid.batch_size(params)
    is_kept = torch.zeros(n_win, dtype=torch.bool)
    is_kept[kept] = True
    done = torch.zeros(n_win, dtype=torch.bool)
    busy = torch.zeros(n_win, dtype=torch.bool)
    todo = kept[(kept + a) % DETECTION_STRIDE == 0]
    while todo.numel():
        field[todo] = source_field(network, grid.net_graph, picks.net_index, grid.net_tp,
                                   grid.net_ts, t_a + todo.to(torch.float64) * step, batch)
        done[todo] = True
        high = torch.zeros(n_win, dtype=torch.bool)
        high[todo] = field[todo].amax(dim=1) >= BUSY_FACTOR * threshold
        busy |= high
        near = widen(high, 1)  # high windows themselves are done
        todo = torch.nonzero(near & is_kept & ~done).squeeze(1)
    w, n, _ = field_peaks(field, grid.source_neighbours(), PEAK_FLOOR_FACTOR * threshold)
    core = (w >= pad) & (w < pad + hi - lo)
    w, n = w[core], n[core]
    offset, height = peak_estimate(field, w, n)
    ok = height >= threshold
    busy_windows = torch.nonzero(busy[pad:pad + hi - lo]).squeeze(1) + lo
    return WindowPeaks(w[ok] + a, n[ok], height[ok], offset[ok], busy_windows)


def widen(mask: torch.Tensor, width: int) -> torch.Tensor:
    """``mask`` (bool, by window) with every marked window's ``width`` neighbours on each
    side marked too.

    Examples
    --------
    >>> widen(torch.tensor([False, False, True, False, False]), 1).tolist()
    [False, True, True, True, False]
    """
    out = mask.clone()
    for d in range(1, width + 1):
        out[d:] |= mask[:-d]
        out[:-d] |= mask[d:]
    return out


def peak_estimate(field: torch.Tensor, w: torch.Tensor, n: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-window offset and height of each peak from a Gaussian (a parabola in log) through
    its three windows: the field is sampled every window step, so the sampled maximum
    under-estimates a peak that falls between two windows.

    Examples
    --------
    >>> f = torch.tensor([[0.25], [0.5], [0.4]])  # a peak a quarter window after window 1
    >>> off, h = peak_estimate(f, torch.tensor([1]), torch.tensor([0]))
    >>> round(float(off[0]), 3), round(float(h[0]), 3)
    (0.256, 0.515)
    """
    eps = 1e-6
    lo = field[(w - 1).clamp(min=0), n].clamp(min=eps).log()
    hi = field[(w + 1).clamp(max=field.shape[0] - 1), n].clamp(min=eps).log()
    mid = field[w, n].clamp(min=eps).log()
    curv = lo - 2 * mid + hi
    off = torch.where(curv < -1e-6, 0.5 * (lo - hi) / curv, torch.zeros_like(mid))
    off = off.clamp(-0.5, 0.5)
    height = torch.exp(mid - 0.25 * (lo - hi) * off).clamp(max=1.0)
    return off.to(torch.float64), torch.maximum(height, field[w, n])
