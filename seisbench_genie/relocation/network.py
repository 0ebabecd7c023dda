"""The GraphDD network: pick residuals of a subgraph to per-event perturbations.

The graph is the product of the event-pair graph and the stations. A *pick node* is one
(event, station, phase): it carries its residual ``r`` (observed minus predicted time at the
event's current position, in residual scales) and the geometry of its ray, the slowness
vector ``dT/dx`` (normalised by the median P slowness) and the phase. A *pair-station node*
is one station and phase shared by the two events of a pair: its double difference is
``r_a - r_b``. An *event node* is one event.

1. :class:`PickEncoder` gathers, per event, two residual summaries and a geometry context:
   ``mean_picks phi_abs(geometry) * r`` (absolute residuals), and
   ``mean_pair-station phi_dd(geometry) * (r_a - r_b)`` (the double differences of the
   event's pairs, each seen from the event's side), plus ``mean_picks chi(geometry)``. Both
   summaries are linear in the residuals (learned, geometry-weighted sums, as in a
   Gauss-Newton step); exact channels carry the slowness vectors and their products, so
   the context holds the normal matrix of a location.
2. :class:`PairConv` (event to neighbouring event along the pair edges, mean): adds
   ``(h_j - h_i) * gate(relative position, context)``.
3. :class:`StepHead`: a context-dependent matrix times the residual summaries gives
   ``(dx, dy, dz, dt)``; its last layer starts at zero, so an untrained network moves
   nothing, and zero residuals give a zero step.

:class:`GraphDDNetwork` refines its step a few times: each refinement re-reads the residuals
linearised at the step so far, so it iterates towards the step at which its weighted
residual sums vanish, as a preconditioned least-squares iteration does; the double
differences then couple neighbouring events as the double-difference equations do.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

__all__ = ["GEOMETRY_FEATURES", "GraphDDNetwork", "PairConv", "PickEncoder", "StepHead"]

#: Features of a pick node besides its residual: slowness vector (3) and phase one-hot (2).
GEOMETRY_FEATURES = 5
#: Outputs per event: dx, dy, dz and the origin-time shift, in output units.
N_OUTPUTS = 4
#: Exact channels of the residual weights (slowness vector, 1) and of the geometry context
#: (slowness vector, its 6 distinct products, 1).
EXACT_WEIGHTS = 4
EXACT_CONTEXT = 10


def _mlp(c_in: int, c_hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, c_hidden), nn.SiLU(), nn.Linear(c_hidden, c_out))


class PickEncoder(MessagePassing):
    """Residual summaries and geometry context of each event (see the module docstring).

    :meth:`embed` computes the residual-independent parts once; :meth:`forward` then
    aggregates any residuals (the refinements reuse the embedding).

    Parameters
    ----------
    hidden
        Channels of each summary and of the context (> 10).

    Examples
    --------
    >>> enc = PickEncoder(16)
    >>> geo, edges = torch.zeros(3, GEOMETRY_FEATURES), torch.tensor([[0, 1, 2], [0, 0, 1]])
    >>> w_abs, w_dd, context = enc.embed(geo, edges, 2)
    >>> h = enc(w_abs, w_dd, torch.ones(3), torch.zeros(3), edges, torch.ones(2, 2))
    >>> h.shape, context.shape
    (torch.Size([2, 32]), torch.Size([2, 16]))
    """

    def __init__(self, hidden: int) -> None:
        super().__init__(aggr="sum")
        if hidden <= EXACT_CONTEXT:
            raise ValueError(f"hidden: must be > {EXACT_CONTEXT}, got {hidden}")
        self.hidden = hidden
        self.phi_abs = _mlp(GEOMETRY_FEATURES, hidden, hidden - EXACT_WEIGHTS)
        self.phi_dd = _mlp(GEOMETRY_FEATURES, hidden, hidden - EXACT_WEIGHTS)
        self.chi = _mlp(GEOMETRY_FEATURES, hidden, hidden - EXACT_CONTEXT)

    def embed(self, geometry: torch.Tensor, edge_index: torch.Tensor, n_events: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-pick weights of the absolute and double-difference residuals ``(P, H)`` each,
        and the per-event geometry context ``(N, H)`` (a mean over the event's picks)."""
        g = geometry[:, :3]
        one = torch.ones_like(g[:, :1])
        i, j = torch.triu_indices(3, 3, device=g.device)
        msg = torch.cat([self.chi(geometry), g[:, i] * g[:, j], g, one], dim=1)
        total = self.propagate(edge_index, x=(msg, None), size=(len(geometry), n_events))
        context = total / total[:, -1:].clamp(min=1.0)
        return (torch.cat([self.phi_abs(geometry), g, one], dim=1),
                torch.cat([self.phi_dd(geometry), g, one], dim=1), context)

    def forward(self, w_abs: torch.Tensor, w_dd: torch.Tensor, residual: torch.Tensor,
                dd_sum: torch.Tensor, edge_index: torch.Tensor, counts: torch.Tensor
                ) -> torch.Tensor:
        """``(N, 2H)``: mean of ``w_abs * residual`` over the event's picks and of
        ``w_dd * dd`` over its double differences (``dd_sum``: per pick, the sum of its
        double differences; ``counts``: ``(N, 2)`` picks and double differences per event)."""
        msg = torch.cat([w_abs * residual[:, None], w_dd * dd_sum[:, None]], dim=1)
        total = self.propagate(edge_index, x=(msg, None), size=(len(msg), len(counts)))
        h = self.hidden
        return torch.cat([total[:, :h] / counts[:, :1], total[:, h:] / counts[:, 1:]], dim=1)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        return x_j


class PairConv(MessagePassing):
    """Residual summaries exchanged along event-pair edges, gated by geometry.

    Examples
    --------
    >>> conv = PairConv(8, 4)
    >>> h, g = torch.randn(2, 8), torch.zeros(2, 4)
    >>> conv(h, g, torch.tensor([[0, 1], [1, 0]]), torch.zeros(2, 3)).shape
    torch.Size([2, 8])
    """

    def __init__(self, channels: int, context: int) -> None:
        super().__init__(aggr="mean")
        self.gate = _mlp(3 + context, context, channels)

    def forward(self, h: torch.Tensor, context: torch.Tensor, edge_index: torch.Tensor,
                offset: torch.Tensor) -> torch.Tensor:
        return h + self.propagate(edge_index, h=h, context=context, offset=offset)

    def message(self, h_i: torch.Tensor, h_j: torch.Tensor, context_i: torch.Tensor,
                offset: torch.Tensor) -> torch.Tensor:
        return (h_j - h_i) * self.gate(torch.cat([offset, context_i], dim=1))


class StepHead(nn.Module):
    """A context-dependent linear map of the residual summaries to the four outputs.

    Examples
    --------
    >>> head = StepHead(8, 4)
    >>> head(torch.ones(2, 8), torch.ones(2, 4)).tolist()  # zero at initialisation
    [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, channels: int, context: int) -> None:
        super().__init__()
        self.channels = channels
        self.matrix = _mlp(context, context, N_OUTPUTS * channels)
        nn.init.zeros_(self.matrix[-1].weight)
        nn.init.zeros_(self.matrix[-1].bias)

    def forward(self, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        w = self.matrix(context).view(-1, N_OUTPUTS, self.channels)
        return torch.einsum("noh,nh->no", w, h)


class GraphDDNetwork(nn.Module):
    """Pick residuals of a (sub)graph to per-event steps ``(dx, dy, dz, dt)``.

    Parameters
    ----------
    hidden
        Width of the layers (> 10).
    n_pair_layers
        Number of :class:`PairConv` layers (rounds of exchange between neighbours).
    refinements
        Refinement steps (unrolled, shared weights; see the module docstring).

    Examples
    --------
    >>> net = GraphDDNetwork(16)
    >>> geo, res = torch.zeros(3, GEOMETRY_FEATURES), torch.ones(3)
    >>> picks = torch.tensor([[0, 1, 2], [0, 0, 1]])
    >>> dd = torch.tensor([[0], [2]])
    >>> pairs = torch.tensor([[0, 1], [1, 0]])
    >>> net(geo, res, torch.zeros(3, N_OUTPUTS), picks, dd, pairs, torch.zeros(2, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(self, hidden: int, n_pair_layers: int = 1, refinements: int = 1) -> None:
        super().__init__()
        self.encoder = PickEncoder(hidden)
        channels = 2 * hidden
        self.pair_layers = nn.ModuleList(PairConv(channels, hidden)
                                         for _ in range(n_pair_layers))
        self.head = StepHead(channels, hidden)
        self.refinements = int(refinements)

    def forward(self, geometry: torch.Tensor, residual: torch.Tensor,
                sensitivity: torch.Tensor, pick_edges: torch.Tensor, dd_picks: torch.Tensor,
                pair_edges: torch.Tensor, offset: torch.Tensor,
                n_events: int | None = None) -> torch.Tensor:
        """Steps of the events (``(n_events, 4)``, in output units).

        Parameters
        ----------
        geometry
            ``(P, 5)`` pick-node features.
        residual
            ``(P,)`` normalised residuals.
        sensitivity
            ``(P, 4)`` change of each normalised residual per output unit of its event's
            step (the travel-time gradient and the origin-time term, scaled).
        pick_edges
            ``(2, P)`` pick node -> event.
        dd_picks
            ``(2, D)`` the two pick nodes of each double difference.
        pair_edges
            ``(2, E)`` directed event-pair edges (both directions).
        offset
            ``(E, 3)`` relative position of each edge's source (normalised).
        n_events
            Number of event nodes (default: one more than the largest in ``pick_edges``).
        """
        event = pick_edges[1]
        n = int(event.max()) + 1 if n_events is None else n_events
        w_abs, w_dd, context = self.encoder.embed(geometry, pick_edges, n)
        a, b = dd_picks
        ones = torch.ones_like(residual)
        n_picks = torch.zeros(n, dtype=residual.dtype, device=residual.device).index_add(
            0, event, ones)
        n_dd = torch.zeros_like(n_picks).index_add(
            0, torch.cat([event[a], event[b]]), torch.ones(2 * len(a), dtype=residual.dtype,
                                                            device=residual.device))
        counts = torch.stack([n_picks, n_dd], dim=1).clamp(min=1.0)
        step = torch.zeros(n, N_OUTPUTS, dtype=residual.dtype, device=residual.device)
        for _ in range(self.refinements):
            r = residual - (sensitivity * step[event]).sum(dim=1)
            d = r[a] - r[b]
            dd_sum = torch.zeros_like(r).index_add(0, a, d).index_add(0, b, -d)
            h = self.encoder(w_abs, w_dd, r, dd_sum, pick_edges, counts)
            for layer in self.pair_layers:
                h = layer(h, context, pair_edges, offset)
            step = step + self.head(h, context)
        return step
