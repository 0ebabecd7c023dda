"""The GENIE network: product-graph aggregation, read-in to the source graph, spatial
aggregation, a source-likelihood decoder queryable anywhere, and the association head."""

from __future__ import annotations

import torch
from torch import nn

from seisbench_genie.nn.candidates import N_ASSOCIATION_FEATURES
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.graphs import RegionGraph
from seisbench_genie.nn.layers import (
    EdgeConv,
    MeanConv,
    ProductReadIn,
    QueryAttention,
    StationCompetition,
    mlp,
)


def n_features(signed_residuals: bool) -> int:
    """Input channels per product node: four residual kernels, and as many signed channels
    when ``signed_residuals`` (see :func:`~seisbench_genie.nn.features.window_features`)."""
    return 8 if signed_residuals else 4


def _batched_edges(edges: torch.Tensor, n_nodes: int, batch: int) -> torch.Tensor:
    shift = (torch.arange(batch, device=edges.device) * n_nodes).repeat_interleave(edges.shape[1])
    return edges.repeat(1, batch) + shift


class GENIENetwork(nn.Module):
    """Graph network for phase association (after McBrearty & Beroza 2023).

    Parameters
    ----------
    scale
        Model scale (lengths and times that make the weights transferable).
    hidden
        Width of the hidden layers.
    signed_residuals
        Input features with the signed residual channels (8 per product node instead of 4).

    Examples
    --------
    >>> from seisbench_genie.nn.config import ModelScale
    >>> net = GENIENetwork(ModelScale("t", 50.0, 25.0, (0, 30), 150.0, 2.0, 2.0))
    >>> sum(p.numel() for p in net.parameters()) < 300_000
    True
    """

    def __init__(self, scale: ModelScale, hidden: int = 32, signed_residuals: bool = False):
        super().__init__()
        self.scale = scale
        self.hidden = hidden
        self.signed_residuals = bool(signed_residuals)
        self.n_features = nf = n_features(self.signed_residuals)
        c = hidden
        self.embed = mlp(nf + 3, c, c)
        self.product_station_1 = MeanConv(c + nf, c)
        self.product_source_1 = MeanConv(c + nf, c)
        self.product_station_2 = MeanConv(c + nf, c)
        self.product_source_2 = MeanConv(c + nf, c)
        self.read_in = ProductReadIn(c + nf, c, norm=scale.k_pairs)
        self.spatial_1 = EdgeConv(c, c)
        self.spatial_2 = EdgeConv(c, c)
        self.spatial_3 = EdgeConv(c, c)
        self.node_head = mlp(c, c, 1)
        self.query = QueryAttention(c)
        self.query_head = mlp(c, c, 1)
        self.assoc = mlp(c + N_ASSOCIATION_FEATURES, c, 2)
        self.compete_p = StationCompetition(c + 1)
        self.compete_s = StationCompetition(c + 1)

    # ------------------------------------------------------------------ source branch
    def encode(self, features: torch.Tensor, graph: RegionGraph) -> torch.Tensor:
        """Latent source field.

        Parameters
        ----------
        features
            (B, E, F) product-graph features of B windows (F = ``self.n_features``).
        graph
            The region's graphs.

        Returns
        -------
        torch.Tensor
            (B, N, C) latent per window and source node.
        """
        b, e, _ = features.shape
        n = graph.n_sources
        adj_sta, adj_src, readin = self._adjacency(graph)
        x = features.transpose(0, 1).contiguous()  # (E, B, F)
        nf = self.n_features
        # The raw features are an input of every layer; they are passed beside the hidden
        # state (not concatenated) and their neighbour means are computed once.
        first, act, last = self.embed
        static = graph.pair_offset @ first.weight[:, nf:].T + first.bias  # (E, H)
        h = last(act((x @ first.weight[:, :nf].T).add_(static[:, None, :])))
        x_sta = self.product_station_1.mean(adj_sta, x)
        x_src = self.product_source_1.mean(adj_src, x)
        h = self.product_station_1(h, adj_sta, x, x_sta)
        h = self.product_source_1(h, adj_src, x, x_src)
        h = self.product_station_2(h, adj_sta, x, x_sta)
        h = self.product_source_2(h, adj_src, x, x_src)
        z = self.read_in(h, graph.pair_offset, readin, x)  # (N, B, C)
        neighbours, offsets = self._source_knn(graph)
        if neighbours is not None:
            z = self.spatial_1.forward_knn(z, neighbours, offsets)
            z = self.spatial_2.forward_knn(z, neighbours, offsets)
            z = self.spatial_3.forward_knn(z, neighbours, offsets)
            return z.transpose(0, 1)
        z = z.transpose(0, 1).reshape(b * n, -1)
        s_edges = _batched_edges(graph.source_edges, n, b)
        s_attr = graph.source_edge_offset.repeat(b, 1)
        z = self.spatial_1(z, s_edges, s_attr)
        z = self.spatial_2(z, s_edges, s_attr)
        z = self.spatial_3(z, s_edges, s_attr)
        return z.reshape(b, n, -1)

    @staticmethod
    def _source_knn(graph: RegionGraph) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The source graph as (N, k) neighbour table when every node has k in-edges, listed
        node by node (as :func:`~seisbench_genie.nn.graphs.knn_edges` builds it)."""
        n, e = graph.n_sources, graph.source_edges.shape[1]
        if e == 0 or e % n:
            return None, None
        k = e // n
        dst = graph.source_edges[1].reshape(n, k)
        if not bool((dst == torch.arange(n, device=dst.device)[:, None]).all()):
            return None, None
        return graph.source_edges[0].reshape(n, k), graph.source_edge_offset.reshape(n, k, 3)

    def _adjacency(self, graph: RegionGraph) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sparse adjacencies of ``graph``, cached on the graph object."""
        if "adjacency" not in graph.cache:
            graph.cache["adjacency"] = (graph.product_adjacency("station"),
                                        graph.product_adjacency("source"),
                                        graph.readin_adjacency())
        return graph.cache["adjacency"]

    def node_logits(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, N) logits of the source likelihood at the source nodes."""
        return self.node_head(latent).squeeze(-1)

    def query_field(self, latent: torch.Tensor, graph: RegionGraph, window: torch.Tensor,
                    query_xyz: torch.Tensor, k: int = 6, nodes: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Source likelihood (logits) and embedding at arbitrary points.

        Parameters
        ----------
        latent
            (B, N, C) output of :meth:`encode`.
        graph
            The region's graphs.
        window
            (Q,) window index of each query.
        query_xyz
            (Q, 3) query positions (km, z = depth).
        k
            Source nodes attended to.
        nodes
            (Q, M) optional source nodes each query may attend to (default: all); for
            independent lattices evaluated in one graph (``M >= k``).

        Returns
        -------
        logits, embedding : torch.Tensor
            (Q,) and (Q, C).
        """
        if nodes is None:
            k = min(k, graph.n_sources)
            d = torch.cdist(query_xyz, graph.source_xyz)
            nearest = d.topk(k, largest=False).indices  # (Q, k)
        else:
            k = min(k, nodes.shape[1])
            d = (query_xyz[:, None, :] - graph.source_xyz[nodes]).norm(dim=-1)
            nearest = nodes.gather(1, d.topk(k, largest=False).indices)
        z = latent[window[:, None], nearest]  # (Q, k, C)
        off = (query_xyz[:, None, :] - graph.source_xyz[nearest]) / self.scale.length_km
        emb = self.query(z, off)
        return self.query_head(emb).squeeze(-1), emb

    # ------------------------------------------------------------------ association branch
    def associate(self, embedding: torch.Tensor, assoc_features: torch.Tensor,
                  group: torch.Tensor, group_embedding: torch.Tensor) -> torch.Tensor:
        """P and S association probabilities for (source, pick) candidates.

        Parameters
        ----------
        embedding
            (K, C) source embedding of each candidate's source.
        assoc_features
            (K, 8) see :func:`seisbench_genie.nn.candidates.association_features`.
        group
            (K,) index of the candidate's (source, station) group.
        group_embedding
            (G, C + 1) context of each group (source embedding and scaled distance).

        Returns
        -------
        torch.Tensor
            (K, 2) probabilities that the pick is this source's P / S arrival; within a group
            they sum to at most one per phase, the rest going to "no arrival".
        """
        logits = self.assoc(torch.cat([embedding, assoc_features], dim=-1))
        p = self.compete_p(logits[:, 0], group, group_embedding)
        s = self.compete_s(logits[:, 1], group, group_embedding)
        return torch.stack([p, s], dim=-1)
