"""The two solvers of the relocation objective: the GraphDD network and damped least squares.

Both start from the catalog positions, work in outer iterations that re-evaluate travel times
and residuals at the current positions, and minimise the same objective
(:class:`~seisbench_genie.relocation.objective.Objective`).

- :func:`solve_graphdd` trains a :class:`~seisbench_genie.relocation.network.GraphDDNetwork`
  on the catalog itself: in each outer iteration the network maps the current residuals to
  steps, and Adam steps on its weights (on sub-graphs of seed events and their neighbours
  when the catalog is larger than ``batch_events``) minimise the objective after the step.
  The step of the trained network is then applied to all events at once: the full, half
  or quarter step, whichever lowers the objective most (none if none does).
- :func:`solve_lsqr` is the baseline: a Gauss-Newton step per outer iteration, the
  linearised, Huber-reweighted objective solved by ``scipy.sparse.linalg.lsqr`` with
  damping on a column-normalised sparse system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.sparse import coo_matrix, diags
from scipy.sparse.linalg import lsqr
from torch_geometric.utils import k_hop_subgraph
from tqdm.auto import tqdm

from .network import GraphDDNetwork
from .objective import Objective, huber_weights
from .problem import RelocationProblem

__all__ = ["SolveResult", "solve_graphdd", "solve_lsqr"]

#: Step fractions tried, in order, when applying a trained network's step (a line search:
#: the first that lowers the objective most among them is kept; none: no move).
STEP_FRACTIONS = (1.0, 0.5, 0.25)
#: Normalised residuals are clipped at this many residual scales before entering the
#: network (a 1 s outlier must not dominate a mean of tens of picks).
RESIDUAL_CLIP = 20.0
#: Fraction of each outer iteration's training steps (the last ones) over which the running
#: buffers average each event's step: the weights still move at a constant learning rate, so
#: the average is steadier than the last step's output (half: after the weights have adapted
#: to the iteration's new residuals).
AVERAGED_FRACTION = 0.5
#: Hops of the sub-graph around seed events beyond the pair layers: the loss reads the steps
#: of the seeds and their partners (one hop), whose residual summaries need their own
#: partners' picks (a second hop); each pair layer reads one hop further. With
#: ``SUBGRAPH_HOPS + pair_layers`` hops every step the loss reads is the one the whole graph
#: gives.
SUBGRAPH_HOPS = 2


@dataclass
class SolveResult:
    """Positions and origin-time shifts after relocation, with the objective's history.

    Attributes
    ----------
    xyz_km : numpy.ndarray
        ``(N, 3)`` positions (km); unrelocatable events keep the catalog's.
    tau_s : numpy.ndarray
        ``(N,)`` origin-time shifts (s).
    corrections_s : numpy.ndarray or None
        ``(M, 2)`` P and S station corrections (s) when estimated.
    history : list of dict
        Objective parts after each outer iteration (the first entry: the catalog).
    residual_s : numpy.ndarray
        ``(P,)`` final absolute residual of every pick (s).
    dd_residual_s : numpy.ndarray
        ``(D,)`` final residual of every catalog differential time (s).
    """

    xyz_km: np.ndarray
    tau_s: np.ndarray
    corrections_s: np.ndarray | None
    history: list[dict[str, float]] = field(default_factory=list)
    residual_s: np.ndarray | None = None
    dd_residual_s: np.ndarray | None = None


def _final(objective: Objective, xyz: torch.Tensor, tau: torch.Tensor,
           corr: torch.Tensor | None, history: list[dict[str, float]]) -> SolveResult:
    with torch.no_grad():
        sel = dict(objective.selection(None),
                   picks=torch.arange(len(objective.pick_event), device=xyz.device))
        sel.pop("rows")
        terms = objective.evaluate(xyz, tau, corr, sel)
    return SolveResult(
        xyz_km=xyz.detach().cpu().numpy().astype(float),
        tau_s=tau.detach().cpu().numpy().astype(float),
        corrections_s=None if corr is None else corr.detach().cpu().numpy().astype(float),
        history=history, residual_s=terms.absolute.cpu().numpy().astype(float),
        dd_residual_s=terms.dd.cpu().numpy().astype(float))


def _limit(step_km: torch.Tensor, max_step_km: float) -> torch.Tensor:
    """Steps shortened to at most ``max_step_km`` (direction kept)."""
    norm = step_km.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return step_km * torch.clamp(max_step_km / norm, max=1.0)


class _Features:
    """Pick-node features of the current positions, for the network."""

    def __init__(self, objective: Objective, xyz: torch.Tensor, tau: torch.Tensor,
                 corr: torch.Tensor | None, scale_s: float, slowness_ref: float,
                 max_separation_km: float, step_km: float, step_s: float) -> None:
        o = objective
        idx = o.pick_index
        ev, st, ph = o.pick_event[idx], o.pick_station[idx], o.pick_phase[idx]
        t, grad = o.tt.with_gradient(xyz[ev], st, ph)
        r = o.travel_time_s[idx] - t - tau[ev]
        if corr is not None:
            r = r - corr.detach()[st, ph]
        f32 = torch.float32
        self.residual = torch.clamp(r / scale_s, -RESIDUAL_CLIP, RESIDUAL_CLIP).to(f32)
        onehot = torch.nn.functional.one_hot(ph, 2).to(f32)
        self.geometry = torch.cat([(grad / slowness_ref).to(f32), onehot], dim=1)
        ones = torch.ones_like(grad[:, :1])
        self.sensitivity = (torch.cat([grad * step_km, ones * step_s], dim=1)
                            / scale_s).to(f32)
        self.pick_event = ev
        # The two pick nodes of each catalog double difference (positions among ``idx``).
        where = torch.full((len(o.pick_event),), -1, dtype=torch.long, device=idx.device)
        where[idx] = torch.arange(len(idx), device=idx.device)
        self.dd_picks = torch.stack([where[o.dd_a], where[o.dd_b]])
        pairs = o.pairs
        self.pair_edges = torch.cat([pairs.T, pairs.T.flip(0)], dim=1)
        src, dst = self.pair_edges
        self.offset = ((xyz[src] - xyz[dst]) / max_separation_km).to(f32)
        self.n_events = o.n_events

    def step(self, net: GraphDDNetwork, subset: torch.Tensor | None) -> tuple[
            torch.Tensor | None, torch.Tensor]:
        """Unscaled steps of the events of ``subset`` (all events when None) and the event
        indices they belong to (None: all)."""
        n = self.n_events
        if subset is None:
            pick_edges = torch.stack([torch.arange(len(self.pick_event),
                                                   device=self.pick_event.device),
                                      self.pick_event])
            return None, net(self.geometry, self.residual, self.sensitivity, pick_edges,
                             self.dd_picks, self.pair_edges, self.offset, n)
        position = torch.full((n,), -1, dtype=torch.long, device=subset.device)
        position[subset] = torch.arange(len(subset), device=subset.device)
        inside = position[self.pick_event] >= 0
        keep_picks = torch.nonzero(inside).squeeze(1)
        renumber = torch.cumsum(inside.long(), 0) - 1
        a, b = self.dd_picks
        keep_dd = inside[a] & inside[b]
        dd_picks = renumber[self.dd_picks[:, keep_dd]]
        pick_edges = torch.stack([torch.arange(len(keep_picks), device=subset.device),
                                  position[self.pick_event[keep_picks]]])
        src, dst = self.pair_edges
        keep_edges = torch.nonzero((position[src] >= 0) & (position[dst] >= 0)).squeeze(1)
        edges = position[self.pair_edges[:, keep_edges]]
        out = net(self.geometry[keep_picks], self.residual[keep_picks],
                  self.sensitivity[keep_picks], pick_edges, dd_picks, edges,
                  self.offset[keep_edges], len(subset))
        return subset, out


def _rows_of(events: torch.Tensor, raw: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """The rows of ``raw`` (ordered as ``events``) of the events ``wanted`` (a subset)."""
    position = torch.full((int(events.max()) + 1,), -1, dtype=torch.long, device=raw.device)
    position[events] = torch.arange(len(events), device=raw.device)
    return raw[position[wanted]]


def _buffer(buffer: torch.Tensor, count: torch.Tensor, events: torch.Tensor | None,
            raw: torch.Tensor, involved: torch.Tensor) -> None:
    """Add the steps ``raw`` of the ``involved`` events (rows of ``raw`` ordered as
    ``events``; all events when None) to the running buffers, in place."""
    raw = raw.detach().to(buffer.dtype)
    buffer[involved] += raw[involved] if events is None else _rows_of(events, raw, involved)
    count[involved] += 1.0


def _apply(xyz: torch.Tensor, tau: torch.Tensor, events: torch.Tensor | None,
           raw: torch.Tensor, movable: torch.Tensor, step_km: float, step_s: float,
           max_step_km: float, fraction: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions and shifts after a (scaled) network step on ``events`` (all when None)."""
    raw = raw.to(xyz.dtype) * fraction
    dx = _limit(raw[:, :3] * step_km, max_step_km)
    dt = raw[:, 3] * step_s
    if events is None:
        m = movable.to(xyz.dtype)
        return xyz + dx * m[:, None], tau + dt * m
    m = movable[events].to(xyz.dtype)
    return (xyz.index_add(0, events, dx * m[:, None]), tau.index_add(0, events, dt * m))


def solve_graphdd(problem: RelocationProblem, objective: Objective, *, iterations: int,
                  warmup_steps: int, steps_per_iteration: int, learning_rate: float, hidden: int,
                  pair_layers: int, refinements: int, batch_events: int, step_km: float,
                  max_step_km: float, max_separation_km: float, station_corrections: bool, seed: int,
                  progress: bool) -> SolveResult:
    """Relocate by training a GraphDD network on the catalog itself (see the module
    docstring); arguments as in :class:`~seisbench_genie.relocation.GraphDD`.

    Returns
    -------
    SolveResult

    Examples
    --------
    >>> # exercised through GraphDD.relocate (tests/test_relocation.py)
    """
    device = objective.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = GraphDDNetwork(hidden, pair_layers, refinements).to(device)
    xyz = objective.xyz0.clone()
    tau = torch.zeros(objective.n_events, dtype=torch.float64, device=device)
    corr = (torch.zeros(objective.n_stations, 2, dtype=torch.float64, device=device,
                        requires_grad=True) if station_corrections else None)
    movable = objective.relocatable
    candidates = torch.nonzero(movable).squeeze(1)
    scale = objective.scale
    phases = objective.pick_phase[objective.pick_index]
    with torch.no_grad():
        _, g = objective.tt.with_gradient(
            xyz[objective.pick_event[objective.pick_index]],
            objective.pick_station[objective.pick_index], phases)
    g_p = g[phases == 0].norm(dim=1) if bool((phases == 0).any()) else g.norm(dim=1)
    slowness_ref = float(g_p.median()) if len(g_p) else 1.0 / 6.0
    step_s = step_km * slowness_ref
    full = batch_events >= len(candidates)

    with torch.no_grad():
        history = [objective.evaluate(xyz, tau, corr).parts]
    params: list[Any] = list(net.parameters()) + ([corr] if corr is not None else [])
    opt = torch.optim.Adam(params, lr=learning_rate)
    n_steps = [warmup_steps] + [steps_per_iteration] * (iterations - 1)
    bar = tqdm(total=sum(n_steps), desc="GraphDD", disable=not progress, leave=False)
    for steps in n_steps:
        feats = _Features(objective, xyz, tau, corr, scale, slowness_ref, max_separation_km,
                          step_km, step_s)
        # Running buffers: each event's step, averaged over the last part of the training
        # steps (over the sub-graphs it was in), is the step applied.
        buffer = torch.zeros(objective.n_events, 4, dtype=torch.float64, device=device)
        count = torch.zeros(objective.n_events, dtype=torch.float64, device=device)
        average_from = int(steps * (1.0 - AVERAGED_FRACTION))
        for k in range(steps):
            if full:
                seeds, subset = None, None
            else:
                # A compact sub-graph: the relocatable events nearest a random one.
                centre = candidates[int(torch.randint(len(candidates), (1,),
                                                      generator=generator))]
                dist = (xyz[candidates] - xyz[centre]).norm(dim=1)
                seeds = candidates[torch.topk(dist, batch_events, largest=False).indices]
                subset, _, _, _ = k_hop_subgraph(seeds, SUBGRAPH_HOPS + pair_layers,
                                                 feats.pair_edges,
                                                 num_nodes=objective.n_events)
            sel = objective.selection(seeds)
            events, raw = feats.step(net, subset)
            if events is not None:  # move only the events whose steps the loss reads
                raw, events = _rows_of(events, raw, sel["events"]), sel["events"]
            new_xyz, new_tau = _apply(xyz, tau, events, raw, movable, step_km, step_s,
                                      max_step_km)
            terms = objective.evaluate(new_xyz, new_tau, corr, sel)
            opt.zero_grad(set_to_none=True)
            terms.loss.backward()
            opt.step()
            bar.update(1)
            if k >= average_from:
                with torch.no_grad():
                    _buffer(buffer, count, events, raw, sel["events"])
        with torch.no_grad():
            _, raw = feats.step(net, None)
            seen = count > 0
            raw = torch.where(seen[:, None], buffer / count.clamp(min=1.0)[:, None],
                              raw.to(buffer.dtype))
            best = objective.evaluate(xyz, tau, corr)
            chosen = (xyz, tau)
            for fraction in STEP_FRACTIONS:
                cand = _apply(xyz, tau, None, raw, movable, step_km, step_s, max_step_km,
                              fraction)
                cand = (objective.tt.clamp(cand[0]), cand[1])
                terms = objective.evaluate(cand[0], cand[1], corr)
                if float(terms.loss) < float(best.loss):
                    best, chosen = terms, cand
            xyz, tau = chosen
            history.append(best.parts)
            bar.set_postfix(loss=f"{float(best.loss):.4g}")
    bar.close()
    return _final(objective, xyz, tau, corr, history)


class _Rows:
    """A sparse linear system built block by block (COO entries and right-hand side)."""

    def __init__(self, column: np.ndarray) -> None:
        self.column = column
        self.i: list[np.ndarray] = []
        self.j: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.rhs: list[np.ndarray] = []
        self.n = 0

    def events(self, events: np.ndarray, slowness: np.ndarray, sign: float,
               weight: np.ndarray) -> None:
        """Entries ``sign * weight * [dT/dx, dT/dy, dT/dz, 1]`` of one event per row, for the
        rows starting at the current row count (call :meth:`close` after a block)."""
        n = len(events)
        cols = self.column[events][:, None] * 4 + np.arange(4)[None, :]
        v = sign * np.concatenate([slowness, np.ones((n, 1))], axis=1) * weight[:, None]
        self.i.append(np.repeat(self.n + np.arange(n), 4))
        self.j.append(cols.ravel())
        self.v.append(v.ravel())

    def close(self, rhs: np.ndarray) -> None:
        """End a block of ``len(rhs)`` rows with right-hand side ``rhs``."""
        self.rhs.append(rhs)
        self.n += len(rhs)

    def matrix(self, n_cols: int) -> Any:
        return coo_matrix((np.concatenate(self.v), (np.concatenate(self.i),
                                                    np.concatenate(self.j))),
                          shape=(self.n, n_cols)).tocsc()


def _huber_row_weights(r: np.ndarray, sigma: float, delta: float, share: np.ndarray | float
                       ) -> np.ndarray:
    """Row weights of residuals ``r`` whose term in the objective has weight ``share`` per
    row: ``sqrt(share * huber_weight) / sigma``."""
    w = huber_weights(torch.as_tensor(r / sigma), delta).numpy()
    return np.sqrt(share * w) / sigma


def _linear_system(o: Objective, xyz: torch.Tensor, tau: torch.Tensor, column: np.ndarray,
                   movable: np.ndarray) -> tuple[Any, np.ndarray]:
    """The linearised, reweighted objective at ``xyz``, ``tau`` as ``(A, b)``."""
    sigma, delta = o.scale, o.delta
    rows = _Rows(column)
    t, g = o.tt.with_gradient(xyz[o.pick_event], o.pick_station, o.pick_phase)
    r = (o.travel_time_s - t - tau[o.pick_event]).cpu().numpy()
    g = g.cpu().numpy()
    ev = o.pick_event.cpu().numpy()
    a, b = o.dd_a.cpu().numpy(), o.dd_b.cpu().numpy()
    # Catalog differential times.
    r_dd = r[a] - r[b]
    if len(r_dd):
        w = _huber_row_weights(r_dd, sigma, delta, 1.0 / len(r_dd))
        rows.events(ev[a], g[a], 1.0, w)
        rows.events(ev[b], g[b], -1.0, w)
        rows.close(r_dd * w)
    # Cross-correlation differential times.
    if len(o.cc_a):
        ca, cb = o.cc_a, o.cc_b
        ta, ga = o.tt.with_gradient(xyz[ca], o.cc_station, o.cc_phase)
        tb, gb = o.tt.with_gradient(xyz[cb], o.cc_station, o.cc_phase)
        r_cc = (o.cc_dt_s - (ta + tau[ca] - tb - tau[cb])).cpu().numpy()
        wo = o.cc_weight_obs.cpu().numpy()
        w = _huber_row_weights(r_cc, sigma, delta, o.cc_weight * wo / wo.sum())
        rows.events(ca.cpu().numpy(), ga.cpu().numpy(), 1.0, w)
        rows.events(cb.cpu().numpy(), gb.cpu().numpy(), -1.0, w)
        rows.close(r_cc * w)
    # Absolute times (weak anchor).
    picks = o.pick_index.cpu().numpy()
    if o.absolute_weight > 0 and len(picks):
        ra = r[picks]
        w = _huber_row_weights(ra, sigma, delta, o.absolute_weight / len(ra))
        rows.events(ev[picks], g[picks], 1.0, w)
        rows.close(ra * w)
    # Mean shift of each cluster, one row per cluster and axis:
    # sqrt(2 * weight / n_clusters) * mean(dx) = -sqrt(...) * current mean shift.
    events = np.flatnonzero(movable)
    if o.shift_weight > 0 and len(events):
        n_comp = o.n_components
        comp = o.component.cpu().numpy()[events]
        counts = np.bincount(comp, minlength=n_comp).astype(float)
        current = (xyz - o.xyz0).cpu().numpy()[events]
        w = np.sqrt(2.0 * o.shift_weight / n_comp)
        for axis in range(3):
            rows.i.append(rows.n + comp)
            rows.j.append(column[events] * 4 + axis)
            rows.v.append(w / counts[comp])
            rows.close(-w * np.bincount(comp, weights=current[:, axis], minlength=n_comp)
                       / counts)
    return rows.matrix(4 * len(events)), np.concatenate(rows.rhs)


def solve_lsqr(problem: RelocationProblem, objective: Objective, *, iterations: int,
               damping: float, max_step_km: float, progress: bool) -> SolveResult:
    """Relocate by damped, Huber-reweighted least squares (see the module docstring);
    arguments as in :class:`~seisbench_genie.relocation.GraphDD`.

    Each iteration solves for ``(dx, dy, dz, dt)`` of every relocatable event the
    linearised objective: rows for the catalog and cross-correlation differential times,
    the absolute times and the mean shift of each connected cluster, each row weighted as
    its term in the objective (times the Huber weight of its residual), columns scaled to
    unit norm, then ``lsqr(A, b, damp=damping)``.

    Returns
    -------
    SolveResult

    Examples
    --------
    >>> # exercised through GraphDD.relocate (tests/test_relocation.py)
    """
    o = objective
    device = o.device
    xyz = o.xyz0.clone()
    tau = torch.zeros(o.n_events, dtype=torch.float64, device=device)
    movable = o.relocatable.cpu().numpy()
    events = np.flatnonzero(movable)
    column = np.full(o.n_events, -1, dtype=np.int64)
    column[events] = np.arange(len(events))
    idx = torch.as_tensor(events, device=device)
    with torch.no_grad():
        history = [o.evaluate(xyz, tau, None).parts]
    bar = tqdm(range(iterations), desc="GraphDD lsqr", disable=not progress, leave=False)
    for _ in bar:
        a, b = _linear_system(o, xyz, tau, column, movable)
        norms = np.sqrt(np.asarray(a.multiply(a).sum(axis=0))).ravel()
        norms[norms == 0] = 1.0
        a = a @ diags(1.0 / norms)
        sol = lsqr(a, b, damp=damping, atol=1e-8, btol=1e-8)[0] / norms
        step = torch.as_tensor(sol.reshape(-1, 4), dtype=torch.float64, device=device)
        xyz = o.tt.clamp(xyz.index_add(0, idx, _limit(step[:, :3], max_step_km)))
        tau = tau.index_add(0, idx, step[:, 3])
        with torch.no_grad():
            parts = o.evaluate(xyz, tau, None).parts
        history.append(parts)
        bar.set_postfix(loss=f"{sum(parts.values()):.4g}")
    return _final(o, xyz, tau, None, history)
