"""Message-passing layers of the GENIE network, one concern per module (PyTorch Geometric)."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax


def mlp(c_in: int, c_hidden: int, c_out: int) -> nn.Sequential:
    """Two-layer perceptron with PReLU."""
    return nn.Sequential(nn.Linear(c_in, c_hidden), nn.PReLU(), nn.Linear(c_hidden, c_out))


class EdgeConv(MessagePassing):
    """Mean-aggregated convolution with relative-offset edge features.

    ``h_i' = PReLU(W h_i + mean_j MLP([h_j, h_i, offset_ji]))``. Used along the product graph's
    station edges, its source edges, and on the source graph.

    Examples
    --------
    >>> conv = EdgeConv(4, 8)
    >>> x = torch.zeros(3, 4); ei = torch.tensor([[0, 1], [1, 2]]); off = torch.zeros(2, 3)
    >>> conv(x, ei, off).shape
    torch.Size([3, 8])
    """

    def __init__(self, c_in: int, c_out: int, c_edge: int = 3):
        super().__init__(aggr="mean")
        self.message_mlp = mlp(2 * c_in + c_edge, c_out, c_out)
        self.root = nn.Linear(c_in, c_out)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
                ) -> torch.Tensor:
        return self.act(self.root(x) + self.propagate(edge_index, x=x, edge_attr=edge_attr))

    def message(self, x_j: torch.Tensor, x_i: torch.Tensor, edge_attr: torch.Tensor
                ) -> torch.Tensor:
        return self.message_mlp(torch.cat([x_j, x_i, edge_attr], dim=-1))

    def forward_knn(self, x: torch.Tensor, neighbours: torch.Tensor, offsets: torch.Tensor
                    ) -> torch.Tensor:
        """Same result as :meth:`forward` for a k-NN graph, batched over windows.

        ``x`` is (N, B, C), ``neighbours`` (N, k) the source of each node's k incoming
        edges and ``offsets`` (N, k, 3) their edge features. The message MLP's first layer
        is split into per-node parts and its last layer applied after the mean (a linear map
        commutes with the mean), so the per-edge work is one addition and one activation.
        """
        first, act, last = self.message_mlp
        c_in = x.shape[-1]
        w = first.weight
        from_j = x @ w[:, :c_in].T                      # (N, B, H)
        from_i = x @ w[:, c_in:2 * c_in].T + first.bias  # (N, B, H)
        from_e = offsets @ w[:, 2 * c_in:].T             # (N, k, H)
        gathered = from_j[neighbours]  # (N, k, B, H), a fresh tensor: added to in place
        hidden = act(gathered.add_(from_i[:, None]).add_(from_e[:, :, None, :]))
        mean = last(hidden.mean(dim=1))
        return self.act(self.root(x) + mean)


class MeanConv(MessagePassing):
    """SAGE-style convolution: ``h_i' = PReLU(W_root h_i + W_nbr mean_j h_j)``.

    Aggregates before transforming, so its cost grows with the nodes, not the edges; used on
    the product graph, whose edges are many. The graph is shared by all windows, so node
    features are laid out (nodes, windows, channels) and the mean over neighbours is a single
    sparse-matrix product with a row-normalised adjacency.

    Examples
    --------
    >>> conv = MeanConv(4, 8)
    >>> adj = torch.sparse_coo_tensor(torch.tensor([[1, 2], [0, 1]]), torch.ones(2), (3, 3))
    >>> conv(torch.zeros(3, 5, 4), adj.to_sparse_csr()).shape
    torch.Size([3, 5, 8])
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__(aggr="mean")
        self.root = nn.Linear(c_in, c_out)
        self.neighbour = nn.Linear(c_in, c_out, bias=False)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor,
                extra: torch.Tensor | None = None, extra_mean: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``x`` (N, B, C) node features; ``extra`` (N, B, C') further input channels that are
        logically concatenated to ``x`` (given apart so nothing is copied), with
        ``extra_mean`` their neighbour mean (the same for every layer, computed once)."""
        n, b, c = x.shape
        mean = self.propagate(adjacency, x=x.reshape(n, b * c)).reshape(n * b, c)
        w_root, w_nbr = self.root.weight, self.neighbour.weight
        # One GEMM per input block, each accumulating into the output (no temporaries).
        out = torch.addmm(self.root.bias, x.reshape(-1, c), w_root[:, :c].T)
        out.addmm_(mean, w_nbr[:, :c].T)
        if extra is not None:
            ce = extra.shape[-1]
            out.addmm_(extra.reshape(-1, ce), w_root[:, c:].T)
            out.addmm_(extra_mean.reshape(-1, ce), w_nbr[:, c:].T)
        return self.act(out.reshape(n, b, -1))

    def mean(self, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Neighbour mean of (N, B, C) features."""
        n, b, c = x.shape
        return self.propagate(adjacency, x=x.reshape(n, b * c)).reshape(n, b, c)

    def message_and_aggregate(self, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return adj_t @ x


class ProductReadIn(MessagePassing):
    """Read-in from the product graph to the source graph: a sum over each source node's
    stations of ``MLP([h_pair, offset])``, divided by ``norm`` (the model's ``k_pairs``), so
    the result grows with the number of stations that see an arrival.

    ``h_pair`` is laid out (pairs, windows, channels); ``readin`` is the sparse (N, E)
    pair-to-source matrix."""

    def __init__(self, c_in: int, c_out: int, norm: float):
        super().__init__(aggr="add")
        self.message_mlp = mlp(c_in + 3, c_out, c_out)
        self.norm = float(norm)

    def forward(self, h_pair: torch.Tensor, offset: torch.Tensor, readin: torch.Tensor,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """``h_pair`` (E, B, C), ``offset`` (E, 3), ``readin`` sparse (N, E); ``extra``
        (E, B, C') further input channels logically concatenated to ``h_pair``."""
        e, b, c = h_pair.shape
        first, act, last = self.message_mlp
        w = first.weight
        ce = 0 if extra is None else extra.shape[-1]
        static = offset @ w[:, c + ce:].T + first.bias  # (E, H): the offsets do not vary
        hidden = (h_pair @ w[:, :c].T).add_(static[:, None, :]).reshape(e * b, -1)
        if extra is not None:
            hidden.addmm_(extra.reshape(e * b, ce), w[:, c:c + ce].T)
        msg = last(act(hidden))
        out = self.propagate(readin, x=msg.reshape(e, -1))
        return out.reshape(readin.shape[0], b, -1) / self.norm

    def message_and_aggregate(self, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return adj_t @ x


class QueryAttention(nn.Module):
    """Interpolates the latent source field to any point: attention over the ``k`` nearest
    source nodes with relative offsets (GENIE's spatial attention decoder)."""

    def __init__(self, c: int):
        super().__init__()
        self.score = mlp(c + 3, c, 1)
        self.value = mlp(c + 3, c, c)

    def forward(self, z_nodes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """``z_nodes`` (Q, k, C) latents of the neighbours, ``offsets`` (Q, k, 3) query minus
        node position / length; returns (Q, C)."""
        inp = torch.cat([z_nodes, offsets], dim=-1)
        w = torch.softmax(self.score(inp), dim=1)
        return (w * self.value(inp)).sum(dim=1)


class StationCompetition(nn.Module):
    """Per (source, station) competition between picks with a learned "no arrival" option.

    Given one logit per (source, pick) candidate and its group (the source and the pick's
    station), returns probabilities that sum with the null option's to one within each group.
    """

    def __init__(self, c: int):
        super().__init__()
        self.null = mlp(c, c, 1)

    def forward(self, logits: torch.Tensor, group: torch.Tensor, group_context: torch.Tensor
                ) -> torch.Tensor:
        n_groups = group_context.shape[0]
        null = self.null(group_context).squeeze(-1)
        all_logits = torch.cat([logits, null])
        all_groups = torch.cat([group, torch.arange(n_groups, device=group.device)])
        return softmax(all_logits, all_groups, num_nodes=n_groups)[: logits.shape[0]]
