"""The network queried at arbitrary points: embeddings and field values at candidate
sources (step 4's refinement, step 7's re-embedding and aligned-lattice verification)."""

from __future__ import annotations

import numpy as np
import torch

from seisbench_genie.association.inputs import CPU_BATCH_PAIRS, NodeGrid, PickSet
from seisbench_genie.nn.features import window_features
from seisbench_genie.nn.graphs import aligned_lattices, build_region_graph, grouped_points

#: The refinement lattice: 3 x 3 x 3 points at +- this fraction of the node spacing around a
#: detection (half a spacing reaches the midpoint to the next node).
REFINE_OFFSET_SPACINGS = 0.5
#: Nodes on each side of the centre (along x and y) of the lattices of :func:`verify`: the
#: network's spatial layers see three rings of neighbours.
VERIFY_RADIUS = 3
#: Nodes a query attends to (as the query decoder was trained).
QUERY_NODES = 6
#: Lattices of :func:`verify` are batched up to this many times ``CPU_BATCH_PAIRS`` station-
#: node pairs: one network call per lattice batch, the lattices being small.
VERIFY_BATCH_FACTOR = 4


@torch.no_grad()
def embed(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor, batch: int
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Network embedding (S, C) and field logit (S,) at sources ``xyz`` (S, Q, 3) or (S, 3),
    the window of source ``s`` starting at ``origin[s]``.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    squeeze = xyz.dim() == 2
    pts = xyz[:, None, :] if squeeze else xyz
    n_src, n_q = pts.shape[:2]
    net, dev = grid.network, grid.device
    embs = torch.zeros(n_src, n_q, net.hidden)
    logits = torch.zeros(n_src, n_q)
    for i in range(0, n_src, batch):
        t0 = origin[i:i + batch].to(dev)
        feats = window_features(picks.net_index, t0, grid.net_graph.pair_station, grid.net_tp,
                                grid.net_ts, grid.scale.kernel_s, signed=net.signed_residuals)
        latent = net.encode(feats, grid.net_graph)
        q = pts[i:i + batch]
        window = torch.arange(len(q), device=dev).repeat_interleave(n_q)
        lg, emb = net.query_field(latent, grid.net_graph, window,
                                  q.reshape(-1, 3).float().to(dev))
        embs[i:i + len(q)] = emb.reshape(len(q), n_q, -1).cpu()
        logits[i:i + len(q)] = lg.reshape(len(q), n_q).cpu()
    if squeeze:
        return embs[:, 0], logits[:, 0]
    return embs, logits


def refine(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor, batch: int
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each detection to the best point of a small lattice of queries of the continuous
    field (clipped to the region), the window at the detection's own origin time; returns the
    positions and their embeddings.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    h = REFINE_OFFSET_SPACINGS * grid.scale.node_spacing_km
    offs = torch.tensor([[a, b, c] for a in (-h, 0, h) for b in (-h, 0, h)
                         for c in (-h, 0, h)], dtype=torch.float64)
    lo = torch.tensor([b[0] for b in grid.region.bounds()], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in grid.region.bounds()], dtype=torch.float64)
    cand = torch.maximum(torch.minimum(xyz[:, None, :] + offs[None], hi), lo)
    emb, logit = embed(grid, picks, cand, origin, batch)
    best = logit.argmax(dim=1)
    rows = torch.arange(len(xyz))
    return cand[rows, best], emb[rows, best]


@torch.no_grad()
def verify(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor
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

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify(verify_candidates=True)
    """
    from scipy.spatial import cKDTree

    sc, net = grid.scale, grid.network
    h = sc.node_spacing_km
    r = grid.region
    bounds = ((r.x_km[0] - h, r.x_km[1] + h), (r.y_km[0] - h, r.y_km[1] + h), r.depth_km)
    sta = grid.bound.station_xyz_km.to(torch.float64).numpy()
    n_lattice = (2 * VERIFY_RADIUS + 1) ** 2 * max(
        1, int(np.ceil((r.depth_km[1] - r.depth_km[0]) / (h * sc.depth_spacing_factor))))
    per = max(1, VERIFY_BATCH_FACTOR * CPU_BATCH_PAIRS
              // (n_lattice * min(sc.k_pairs, len(sta))))
    logits = torch.zeros(len(xyz))
    embs = torch.zeros(len(xyz), net.hidden)
    dev = grid.device
    for i in range(0, len(xyz), per):
        centres = xyz[i:i + per].numpy()
        nodes, group, centre = aligned_lattices(centres, h, h * sc.depth_spacing_factor,
                                                VERIFY_RADIUS, bounds)
        graph = build_region_graph(sta, nodes, sc, source_group=group)
        src = graph.source_xyz[graph.pair_source].to(torch.float64)
        start = origin[i:i + per][torch.as_tensor(group)[graph.pair_source]]
        arrival_p = start + grid.bound.pair_times(src, graph.pair_station, "P").to(torch.float64)
        arrival_s = start + grid.bound.pair_times(src, graph.pair_station, "S").to(torch.float64)
        graph = graph.to(dev)
        feats = window_features(picks.net_index, torch.zeros(1, dtype=torch.float64, device=dev),
                                graph.pair_station, arrival_p.to(dev), arrival_s.to(dev),
                                sc.kernel_s, signed=net.signed_residuals)
        latent = net.encode(feats, graph)
        # Each query attends to the nearest nodes of its own lattice.
        span = np.ptp(nodes, axis=0).max() + 1.0
        k = min(QUERY_NODES, int(np.bincount(group).min()))
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
