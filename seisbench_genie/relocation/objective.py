"""The misfit both relocation methods minimise.

For event positions ``x`` (km), origin-time shifts ``tau`` (s) and, optionally, station
corrections ``c`` (s, per station and phase), a pick ``a`` of event ``i`` at station ``s`` has
the absolute residual ``r_a = t_a - T(x_i, s) - tau_i - c_s`` (``t_a``: pick time minus the
catalog origin time). The objective is::

    mean_dd H(r_a - r_b)                         catalog differential times of event pairs
    + cc_weight * wmean_cc H(dt - (T(x_i) + tau_i - T(x_j) - tau_j))    cross-correlation
    + absolute_weight * mean_picks H(r_a)        weak anchor on the absolute times
    + shift_weight * mean_clusters |mean(x - x_catalog)|^2 / (1 km)^2   mean-shift anchor
    + correction_damping * mean(c^2) / scale^2   (with station corrections)

where ``H(r) = huber(r / residual_scale_s)`` (quadratic up to ``huber_delta``, linear beyond).
Station corrections cancel in the differential times; they only absorb station-wise
absolute residuals. Travel times come from
:class:`~seisbench_genie.relocation.traveltimes.RelocationTravelTimes` (differentiable), so
the objective is differentiable with respect to positions, shifts and corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .problem import RelocationProblem
from .traveltimes import RelocationTravelTimes

__all__ = ["Objective", "huber", "huber_weights"]


def huber(u: torch.Tensor, delta: float) -> torch.Tensor:
    """Huber function of normalised residuals: ``u^2 / 2`` up to ``delta``, linear beyond.

    Examples
    --------
    >>> huber(torch.tensor([0.5, 3.0]), 1.0).tolist()
    [0.125, 2.5]
    """
    a = u.abs()
    return torch.where(a <= delta, 0.5 * u * u, delta * (a - 0.5 * delta))


def huber_weights(u: torch.Tensor, delta: float) -> torch.Tensor:
    """Iteratively-reweighted least-squares weights of the Huber function: ``min(1, delta/|u|)``.

    Examples
    --------
    >>> huber_weights(torch.tensor([0.5, 4.0]), 2.0).tolist()
    [1.0, 0.5]
    """
    return torch.clamp(delta / u.abs().clamp(min=1e-12), max=1.0)


@dataclass
class Terms:
    """The residuals of one evaluation (s) and the objective's parts."""

    absolute: torch.Tensor
    dd: torch.Tensor
    cc: torch.Tensor
    loss: torch.Tensor
    parts: dict[str, float]


class Objective:
    """The relocation objective on one device (see the module docstring).

    Parameters
    ----------
    problem
        The relocation problem.
    tt
        Differentiable travel times bound to ``problem.stations``.
    residual_scale_s, huber_delta, absolute_weight, cc_weight, shift_weight,
    correction_damping
        Weights, as in :class:`~seisbench_genie.relocation.GraphDD`.
    device
        Torch device of the tensors.

    Examples
    --------
    >>> # exercised through GraphDD.relocate (tests/test_relocation.py)
    """

    def __init__(self, problem: RelocationProblem, tt: RelocationTravelTimes, *,
                 residual_scale_s: float, huber_delta: float, absolute_weight: float,
                 cc_weight: float, shift_weight: float, correction_damping: float,
                 device: torch.device) -> None:
        f64 = torch.float64

        def tensor(a: np.ndarray, dtype: torch.dtype = torch.long) -> torch.Tensor:
            return torch.as_tensor(np.array(a), dtype=dtype, device=device)

        self.tt = tt
        self.device = device
        self.n_events = problem.n_events
        self.n_stations = len(problem.stations)
        active = problem.relocatable[problem.pick_event]
        #: Picks of relocatable events (the absolute term) ...
        self.pick_index = tensor(np.flatnonzero(active))
        self.pick_event = tensor(problem.pick_event)
        self.pick_station = tensor(problem.pick_station)
        self.pick_phase = tensor(problem.pick_phase)
        self.travel_time_s = tensor(problem.pick_travel_time_s, f64)
        self.dd_a = tensor(problem.dd_a)
        self.dd_b = tensor(problem.dd_b)
        self.dd_pair = tensor(problem.dd_pair)
        self.cc_a = tensor(problem.cc_event_a)
        self.cc_b = tensor(problem.cc_event_b)
        self.cc_station = tensor(problem.cc_station)
        self.cc_phase = tensor(problem.cc_phase)
        self.cc_dt_s = tensor(problem.cc_dt_s, f64)
        self.cc_weight_obs = tensor(problem.cc_weight, f64)
        self.pairs = tensor(problem.pairs.reshape(-1, 2))
        self.xyz0 = tensor(problem.xyz_km, f64)
        self.relocatable = tensor(problem.relocatable, torch.bool)
        comp = problem.component
        self.n_components = int(comp.max()) + 1 if (comp >= 0).any() else 0
        self.component = tensor(comp)
        self._movable = torch.nonzero(self.relocatable).squeeze(1)
        self._component_size = torch.bincount(
            self.component[self._movable], minlength=self.n_components).to(f64)
        self.scale = float(residual_scale_s)
        self.delta = float(huber_delta)
        self.absolute_weight = float(absolute_weight)
        self.cc_weight = float(cc_weight)
        self.shift_weight = float(shift_weight)
        self.correction_damping = float(correction_damping)
        self._all: dict[str, torch.Tensor] | None = None

    # ---- selections of a (sub)graph ------------------------------------------------------
    def selection(self, seeds: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Indices of the observations a set of seed events constrains (all when None):
        picks of the seeds, differential times of pairs with a seed, and the events
        involved (the seeds and their partners).

        Examples
        --------
        >>> # exercised through GraphDD.relocate
        """
        if seeds is None:
            if self._all is None:
                self._all = self._with_rows({
                    "picks": self.pick_index,
                    "dd": torch.arange(len(self.dd_a), device=self.device),
                    "cc": torch.arange(len(self.cc_a), device=self.device),
                    "events": torch.nonzero(self.relocatable).squeeze(1)})
            return self._all
        is_seed = torch.zeros(self.n_events, dtype=torch.bool, device=self.device)
        is_seed[seeds] = True
        picks = self.pick_index[is_seed[self.pick_event[self.pick_index]]]
        pair_sel = is_seed[self.pairs[:, 0]] | is_seed[self.pairs[:, 1]]
        dd = torch.nonzero(pair_sel[self.dd_pair]).squeeze(1)
        cc = torch.nonzero(is_seed[self.cc_a] | is_seed[self.cc_b]).squeeze(1)
        involved = is_seed.clone()
        involved[self.pairs[pair_sel].reshape(-1)] = True
        return self._with_rows({"picks": picks, "dd": dd, "cc": cc,
                                "events": torch.nonzero(involved).squeeze(1)})

    def _with_rows(self, sel: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add the picks whose travel times a selection needs (``rows``) and where each of
        its absolute and differential terms finds them (``inverse``)."""
        need = torch.cat([sel["picks"], self.dd_a[sel["dd"]], self.dd_b[sel["dd"]]])
        sel["rows"], sel["inverse"] = torch.unique(need, return_inverse=True)
        return sel

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self, xyz: torch.Tensor, tau: torch.Tensor, corr: torch.Tensor | None,
                 sel: dict[str, torch.Tensor] | None = None) -> Terms:
        """Residuals and objective at positions ``xyz`` (N, 3), shifts ``tau`` (N,) and
        corrections ``corr`` (M, 2) or None, on the observations of ``sel`` (all when None).

        Examples
        --------
        >>> # exercised through GraphDD.relocate
        """
        sel = sel if sel is not None else self.selection(None)
        picks, dd, cc = sel["picks"], sel["dd"], sel["cc"]
        if "rows" not in sel:
            sel = self._with_rows(dict(sel))
        rows, inverse = sel["rows"], sel["inverse"]
        ev = self.pick_event[rows]
        st, ph = self.pick_station[rows], self.pick_phase[rows]
        t = self.tt(xyz[ev], st, ph)
        r = self.travel_time_s[rows] - t - tau[ev]
        if corr is not None:
            r = r - corr[st, ph]
        n_p = len(picks)
        r_abs = r[inverse[:n_p]]
        r_dd = r[inverse[n_p:n_p + len(dd)]] - r[inverse[n_p + len(dd):]]
        if len(cc):
            ca, cb = self.cc_a[cc], self.cc_b[cc]
            cs, cp = self.cc_station[cc], self.cc_phase[cc]
            pred = (self.tt(xyz[ca], cs, cp) + tau[ca]) - (self.tt(xyz[cb], cs, cp) + tau[cb])
            r_cc = self.cc_dt_s[cc] - pred
        else:
            r_cc = torch.zeros(0, dtype=r.dtype, device=r.device)

        parts: dict[str, torch.Tensor] = {}
        zero = torch.zeros((), dtype=r.dtype, device=r.device)
        parts["dd"] = huber(r_dd / self.scale, self.delta).mean() if len(r_dd) else zero
        if len(r_cc):
            w = self.cc_weight_obs[cc]
            parts["cc"] = self.cc_weight * (w * huber(r_cc / self.scale, self.delta)).sum() / w.sum()
        parts["absolute"] = (self.absolute_weight * huber(r_abs / self.scale, self.delta).mean()
                             if len(r_abs) else zero)
        if self.shift_weight > 0 and self.n_components:
            # Always over every relocatable event (``xyz`` holds the others' positions too):
            # the mean of a sub-graph's moves would pin each part of a cluster to where the
            # catalog put it, not the cluster as a whole.
            events = self._movable
            comp = self.component[events]
            shift = (xyz[events] - self.xyz0[events])
            sums = torch.zeros(self.n_components, 3, dtype=r.dtype, device=r.device)
            sums = sums.index_add(0, comp, shift)
            mean = sums / self._component_size[:, None]
            parts["shift"] = self.shift_weight * (mean ** 2).sum(dim=1).mean()
        if corr is not None and self.correction_damping > 0:
            parts["corrections"] = self.correction_damping * ((corr / self.scale) ** 2).mean()
        loss = torch.stack(list(parts.values())).sum()
        return Terms(r_abs, r_dd, r_cc, loss,
                     {k: float(v.detach()) for k, v in parts.items()})
