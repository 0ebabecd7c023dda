"""Graphs of one region: station graph, source graph and their (sparse) Cartesian product.

All positions are in a local km frame: ``x`` east, ``y`` north, ``z`` down (source depth in km,
stations at ``-elevation_km``). Offsets handed to the network are divided by the model's
``length_km`` so no absolute coordinate ever reaches it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from scipy.spatial import cKDTree

from seisbench_genie.nn.config import ModelScale


def source_nodes(
    x_km: tuple[float, float],
    y_km: tuple[float, float],
    depth_km: tuple[float, float],
    spacing_km: float,
    depth_spacing_km: float | None = None,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Nodes covering a box: cell centres of a regular grid, optionally jittered.

    Parameters
    ----------
    x_km, y_km, depth_km
        Box extent (km); depth positive down.
    spacing_km
        Horizontal spacing (km); the grid uses the nearest cell count that tiles the box.
    depth_spacing_km
        Vertical spacing (km); default ``spacing_km``.
    jitter
        Random displacement as a fraction of the spacing (training uses it so that the
        weights do not learn one grid).
    rng
        Random generator for the jitter.

    Returns
    -------
    numpy.ndarray
        (N, 3) node positions x, y, depth (km).

    Examples
    --------
    >>> source_nodes((0, 100), (0, 100), (0, 50), 25.0).shape
    (32, 3)
    """
    dz = depth_spacing_km or spacing_km
    axes = []
    for (lo, hi), h in ((x_km, spacing_km), (y_km, spacing_km), (depth_km, dz)):
        n = max(1, int(round((hi - lo) / h)))
        axes.append(lo + (np.arange(n) + 0.5) * (hi - lo) / n)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    if jitter > 0:
        rng = rng or np.random.default_rng()
        step = np.array([spacing_km, spacing_km, dz])
        grid = grid + rng.uniform(-jitter, jitter, grid.shape) * step
        grid[:, 2] = np.clip(grid[:, 2], depth_km[0], depth_km[1])
    return grid


def aligned_lattices(
    centres_km: np.ndarray,
    spacing_km: float,
    depth_spacing_km: float,
    radius: int,
    bounds_km: tuple[tuple[float, float], ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One small node lattice centred on each point, for evaluating the network there.

    Each lattice has the model's node spacing, ``2 * radius + 1`` nodes along x and y and as
    many depth layers as fit in the depth bounds; nodes outside ``bounds_km`` are left out.
    A node sits exactly on each centre, so the network's features there are the pick residuals
    to the arrivals predicted from that point.

    Parameters
    ----------
    centres_km
        (C, 3) lattice centres x, y, depth (km).
    spacing_km, depth_spacing_km
        Horizontal and vertical node spacing (km).
    radius
        Nodes on each side of the centre along x and y.
    bounds_km
        ((x_min, x_max), (y_min, y_max), (depth_min, depth_max)) in km.

    Returns
    -------
    nodes, group, centre : numpy.ndarray
        (N, 3) node positions, (N,) lattice of each node, (C,) index of each centre's node.

    Examples
    --------
    >>> nodes, group, centre = aligned_lattices(np.array([[0.0, 0.0, 10.0]]), 20.0, 20.0, 1,
    ...                                         ((-50, 50), (-50, 50), (0, 40)))
    >>> len(nodes), nodes[centre[0]].tolist()
    (18, [0.0, 0.0, 10.0])
    """
    centres_km = np.asarray(centres_km, dtype=float).reshape(-1, 3)
    steps = np.arange(-radius, radius + 1)
    n_depth = int(np.ceil((bounds_km[2][1] - bounds_km[2][0]) / depth_spacing_km)) + 1
    dz = np.arange(-n_depth, n_depth + 1) * depth_spacing_km
    gx, gy, gz = np.meshgrid(steps * spacing_km, steps * spacing_km, dz, indexing="ij")
    template = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    nodes = centres_km[:, None, :] + template[None]  # (C, T, 3)
    inside = np.ones(nodes.shape[:2], dtype=bool)
    for axis, (lo, hi) in enumerate(bounds_km):
        inside &= (nodes[..., axis] >= lo) & (nodes[..., axis] <= hi)
    is_centre = np.zeros(len(template), dtype=bool)
    is_centre[np.flatnonzero((template == 0).all(axis=1))] = True
    inside |= is_centre[None, :]  # a centre is its lattice's node even at the bounds
    group = np.broadcast_to(np.arange(len(centres_km))[:, None], inside.shape)[inside]
    position = np.cumsum(inside.ravel()) - 1
    centre = position.reshape(inside.shape)[:, is_centre][:, 0]
    return nodes[inside], group, centre


def grouped_points(points: np.ndarray, group: np.ndarray, span: float | None = None
                   ) -> np.ndarray:
    """``points`` with a last coordinate ``group * 4 * span`` (default span: the points'
    extent), so that a k-d tree finds neighbours within a group first.

    Examples
    --------
    >>> grouped_points(np.zeros((2, 3)), np.array([0, 1]), span=1.0)[:, 3].tolist()
    [0.0, 4.0]
    """
    span = np.ptp(points, axis=0).max() + 1.0 if span is None else span
    return np.column_stack([points, np.asarray(group) * 4.0 * span])


def knn_edges(points: np.ndarray, k: int, group: np.ndarray | None = None) -> np.ndarray:
    """Directed k-NN edges ``(2, n*k)`` from each neighbour (row 0) to each point (row 1);
    with ``group`` (n,), only between points of the same group."""
    n = len(points)
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((2, 0), dtype=np.int64)
    if group is not None:
        points = grouped_points(points, group)
    _, idx = cKDTree(points).query(points, k=k + 1)
    dst = np.repeat(np.arange(n), k)
    src = idx[:, 1:].reshape(-1)
    edges = np.stack([src, dst]).astype(np.int64)
    if group is not None:
        edges = edges[:, group[edges[0]] == group[edges[1]]]
    return edges


@dataclass
class RegionGraph:
    """The static graphs of one station set and search volume.

    Attributes
    ----------
    station_xyz, source_xyz : torch.Tensor
        (M, 3) and (N, 3) positions (km, z down).
    pair_station, pair_source : torch.Tensor
        Station and source node of each product-graph node (E,).
    pair_offset : torch.Tensor
        (E, 3) station minus source position divided by ``length_km``.
    pair_distance_km : torch.Tensor
        (E,) epicentral distance (km).
    product_station_edges, product_source_edges : torch.Tensor
        (2, *) product-graph edges: same source and neighbouring stations; same station and
        neighbouring sources.
    source_edges : torch.Tensor
        (2, *) source-graph k-NN edges.
    source_edge_offset : torch.Tensor
        Relative offsets of the source edges divided by ``length_km``.
    """

    station_xyz: torch.Tensor
    source_xyz: torch.Tensor
    pair_station: torch.Tensor
    pair_source: torch.Tensor
    pair_offset: torch.Tensor
    pair_distance_km: torch.Tensor
    product_station_edges: torch.Tensor
    product_source_edges: torch.Tensor
    source_edges: torch.Tensor
    source_edge_offset: torch.Tensor
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def product_adjacency(self, which: str) -> torch.Tensor:
        """Row-normalised sparse (E, E) adjacency of the product graph's ``"station"`` or
        ``"source"`` edges (mean aggregation as one sparse matrix product for all windows)."""
        edges = self.product_station_edges if which == "station" else self.product_source_edges
        return _mean_adjacency(edges, self.n_pairs, self.n_pairs)

    def readin_adjacency(self) -> torch.Tensor:
        """Sparse (N, E) matrix summing product nodes into their source node."""
        e = self.n_pairs
        edges = torch.stack([torch.arange(e, device=self.pair_source.device), self.pair_source])
        return _csr(edges.flip(0), torch.ones(e, device=edges.device), (self.n_sources, e))

    @property
    def n_pairs(self) -> int:
        return int(self.pair_station.shape[0])

    @property
    def n_sources(self) -> int:
        return int(self.source_xyz.shape[0])

    def to(self, device: torch.device | str) -> RegionGraph:
        return RegionGraph(**{f.name: getattr(self, f.name).to(device) for f in fields(self)
                              if f.init})


def _mean_adjacency(edges: torch.Tensor, n_dst: int, n_src: int) -> torch.Tensor:
    dst, src = edges[1], edges[0]
    deg = torch.bincount(dst, minlength=n_dst).clamp(min=1).to(torch.float32)
    values = 1.0 / deg[dst]
    return _csr(torch.stack([dst, src]), values, (n_dst, n_src))


def _csr(index: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # CSR is "beta" in torch; the ops used here are stable
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(index, values, shape, check_invariants=False)
        return coo.coalesce().to_sparse_csr()


def build_region_graph(
    station_xyz: np.ndarray, source_xyz: np.ndarray, scale: ModelScale,
    source_group: np.ndarray | None = None,
) -> RegionGraph:
    """Build the station, source and product graphs.

    Parameters
    ----------
    station_xyz
        (M, 3) station positions (km; z = -elevation).
    source_xyz
        (N, 3) source-node positions (km; z = depth).
    scale
        Model scale (``k_station``, ``k_source``, ``k_pairs``, ``max_distance_km``,
        ``length_km``).
    source_group
        (N,) optional group of each source node: the source graph then links nodes of the
        same group only (several independent lattices, e.g. from :func:`aligned_lattices`,
        evaluated in one pass).

    Returns
    -------
    RegionGraph

    Examples
    --------
    >>> from seisbench_genie.nn.config import ModelScale
    >>> sc = ModelScale("t", 50.0, 25.0, (0, 30), 150.0, 2.0, 2.0)
    >>> sta = np.random.default_rng(0).uniform(0, 100, (10, 3)) * [1, 1, 0]
    >>> g = build_region_graph(sta, source_nodes((0, 100), (0, 100), (0, 30), 25.0), sc)
    >>> g.n_pairs > 0
    True
    """
    station_xyz = np.asarray(station_xyz, dtype=float)
    source_xyz = np.asarray(source_xyz, dtype=float)
    m, n = len(station_xyz), len(source_xyz)
    k = min(scale.k_pairs, m)
    dist, sta = cKDTree(station_xyz[:, :2]).query(
        source_xyz[:, :2], k=k, distance_upper_bound=scale.max_distance_km)
    dist, sta = dist.reshape(n, k), sta.reshape(n, k)
    ok = sta < m
    pair_source = np.repeat(np.arange(n), k)[ok.reshape(-1)]
    pair_station = sta.reshape(-1)[ok.reshape(-1)]
    pair_dist = dist.reshape(-1)[ok.reshape(-1)]
    pair_id = np.full((m, n), -1, dtype=np.int64)
    pair_id[pair_station, pair_source] = np.arange(len(pair_station))

    sta_knn = knn_edges(station_xyz, scale.k_station)  # src -> dst stations
    src_knn = knn_edges(source_xyz, scale.k_source, source_group)
    # Product edges along the station graph: (s', n) -> (s, n) for s' in kNN(s).
    nbr_sta = np.full((m, max(1, scale.k_station)), -1, dtype=np.int64)
    if sta_knn.shape[1]:
        kk = sta_knn.shape[1] // m
        nbr_sta = sta_knn[0].reshape(m, kk)
    cand = pair_id[nbr_sta[pair_station], pair_source[:, None]]
    cand[nbr_sta[pair_station] < 0] = -1
    dst = np.repeat(np.arange(len(pair_station)), cand.shape[1])
    keep = cand.reshape(-1) >= 0
    product_station_edges = np.stack([cand.reshape(-1)[keep], dst[keep]])
    # Product edges along the source graph: (s, n') -> (s, n) for n' in kNN(n).
    if src_knn.shape[1]:
        kn = src_knn.shape[1] // n
        nbr_src = src_knn[0].reshape(n, kn)
        cand = pair_id[pair_station[:, None], nbr_src[pair_source]]
        dst = np.repeat(np.arange(len(pair_station)), kn)
        keep = cand.reshape(-1) >= 0
        product_source_edges = np.stack([cand.reshape(-1)[keep], dst[keep]])
    else:
        product_source_edges = np.zeros((2, 0), dtype=np.int64)
    offset = (station_xyz[pair_station] - source_xyz[pair_source]) / scale.length_km
    src_off = (source_xyz[src_knn[0]] - source_xyz[src_knn[1]]) / scale.length_km

    def t(a, dtype=torch.float32):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    return RegionGraph(
        station_xyz=t(station_xyz), source_xyz=t(source_xyz),
        pair_station=t(pair_station, torch.long), pair_source=t(pair_source, torch.long),
        pair_offset=t(offset), pair_distance_km=t(pair_dist),
        product_station_edges=t(product_station_edges, torch.long),
        product_source_edges=t(product_source_edges, torch.long),
        source_edges=t(src_knn, torch.long), source_edge_offset=t(src_off),
    )
