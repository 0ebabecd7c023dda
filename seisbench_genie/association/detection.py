"""Detection: the network's source likelihood over windows, and its peaks."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from seisbench_genie.nn.features import PickIndex, window_features
from seisbench_genie.nn.graphs import RegionGraph
from seisbench_genie.nn.network import GENIENetwork


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
    chunk: int = 4096,
) -> torch.Tensor:
    """Windows where enough picks could make an event (the rest is never evaluated).

    Every pick is back-projected to the origin time it implies at each source node linked to
    its station, for a P and an S hypothesis (or, when ``pick_phase`` (0 = P, 1 = S) is
    given, for its labelled phase only); a window is kept when some node collects at least
    ``min_count`` back-projected picks within +-1 window. Returns a (n_windows,) bool mask.

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
    smooth = counts[:-2] + counts[1:-1] + counts[2:]
    return (smooth.max(dim=1).values >= min_count)


@torch.no_grad()
def source_field(
    network: GENIENetwork,
    graph: RegionGraph,
    index: PickIndex,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    window_times_s: torch.Tensor,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Source likelihood at the source nodes for each window: (W, N) in [0, 1].

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    out = torch.zeros(len(window_times_s), graph.n_sources)
    starts = range(0, len(window_times_s), batch_size)
    device = graph.pair_station.device
    for i in tqdm(starts, disable=not progress, desc="GENIE windows"):
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
    nb = tmax[:, source_neighbours].amax(dim=-1) if source_neighbours.numel() else tmax
    peak = (field >= threshold) & (field >= tmax) & (field >= nb)
    w, n = torch.nonzero(peak, as_tuple=True)
    return w, n, field[w, n]


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
