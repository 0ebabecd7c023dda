"""Robust travel-time location, vectorised over events.

Each event's hypocentre and origin time minimise a Huber misfit of its picks' arrival times,
solved by damped Gauss-Newton (iteratively reweighted least squares) for all events at once;
the Jacobian comes from autograd through the travel-time backend. Uncertainties come from the
inverse of the weighted normal matrix scaled by the residual variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LocationResult:
    """Located events (local frame) and per-pick residuals.

    Attributes
    ----------
    xyz_km : torch.Tensor
        (C, 3) x, y, depth (km).
    origin_s : torch.Tensor
        (C,) origin time (s, float64, the picks' reference).
    residual_s : torch.Tensor
        (K,) observed minus predicted arrival of every input row (s).
    rms_s : torch.Tensor
        (C,) weighted RMS residual (s).
    horizontal_uncertainty_km, depth_uncertainty_km, time_uncertainty_s : torch.Tensor
        (C,) one-sigma uncertainties (semi-major horizontal axis, depth, origin time).
    """

    xyz_km: torch.Tensor
    origin_s: torch.Tensor
    residual_s: torch.Tensor
    rms_s: torch.Tensor
    horizontal_uncertainty_km: torch.Tensor
    depth_uncertainty_km: torch.Tensor
    time_uncertainty_s: torch.Tensor


def _predicted(bound, xyz: torch.Tensor, event: torch.Tensor, station: torch.Tensor,
               phase: torch.Tensor, with_grad: bool
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predicted arrivals (K,), their gradient (K, 3) and whether each row is within the
    backend's distance range (K,). A row beyond it (a trial hypocentre moved away from a
    distant station) is evaluated at the range's edge, on the line to its station."""
    rows = xyz[event].detach().clone().requires_grad_(with_grad)
    within = torch.ones(len(event), dtype=torch.bool)
    points = rows
    limit = getattr(getattr(bound, "backend", None), "max_distance_km", None)
    if limit is not None and len(event):
        sta = bound.station_xyz_km.to(xyz.dtype)[station, :2]
        offset = rows[:, :2] - sta
        dist = offset.detach().norm(dim=1)
        within = dist <= 0.999 * limit
        shrink = torch.where(within, torch.ones_like(dist), 0.999 * limit / dist.clamp(min=1e-9))
        points = torch.cat([sta + offset * shrink[:, None], rows[:, 2:]], dim=1)
    t = torch.zeros(len(event), dtype=xyz.dtype)
    for ph, name in ((0, "P"), (1, "S")):
        sel = phase == ph
        if sel.any():
            t = t.index_put((sel.nonzero().squeeze(1),),
                            bound.pair_times(points[sel], station[sel], name).to(xyz.dtype))
    if not with_grad:
        return t.detach(), torch.zeros_like(rows), within
    (grad,) = torch.autograd.grad(t.sum(), rows)
    return t.detach(), grad, within


def locate(
    bound,
    start_xyz_km: torch.Tensor,
    start_origin_s: torch.Tensor,
    event: torch.Tensor,
    station: torch.Tensor,
    phase: torch.Tensor,
    time_s: torch.Tensor,
    weight: torch.Tensor | None = None,
    bounds_km: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] | None = None,
    iterations: int = 8,
    huber_s: float = 1.0,
    min_sigma_s: float = 0.1,
) -> LocationResult:
    """Locate many events at once.

    Parameters
    ----------
    bound
        A :class:`~seisbench_genie.traveltimes.BoundTravelTimes`.
    start_xyz_km, start_origin_s
        (C, 3) starting hypocentres (km) and (C,) origin times (s, float64).
    event, station, phase, time_s
        (K,) each pick row's event, station index, phase (0 = P, 1 = S) and time (s, float64).
    weight
        (K,) optional weights (e.g. association probabilities).
    bounds_km
        ((x_min, x_max), (y_min, y_max), (depth_min, depth_max)) to clip to.
        Rows whose station is beyond the backend's ``max_distance_km`` from the trial
        hypocentre get no weight in that iteration.
    iterations
        Gauss-Newton iterations.
    huber_s
        Huber threshold (s): residuals beyond it get down-weighted.
    min_sigma_s
        Floor of the residual standard deviation used for uncertainties (s).

    Returns
    -------
    LocationResult

    Examples
    --------
    >>> import pandas as pd
    >>> from seisbench_genie.traveltimes import get
    >>> st = pd.DataFrame({"id": list("ABCD"), "latitude": [0, 0.3, -0.3, 0],
    ...                    "longitude": [0.3, 0, 0, -0.3]})
    >>> bound = get("homogeneous", vp=6.0, vs=3.5).bind(st)
    >>> true = torch.tensor([[5.0, -3.0, 10.0]], dtype=torch.float64)
    >>> sta = torch.arange(4).repeat(2); ph = torch.arange(2).repeat_interleave(4)
    >>> obs = torch.cat([bound.pair_times(true.expand(4, 3), torch.arange(4), "P"),
    ...                  bound.pair_times(true.expand(4, 3), torch.arange(4), "S")]) + 100.0
    >>> res = locate(bound, torch.zeros(1, 3, dtype=torch.float64) + 5,
    ...              torch.tensor([101.0], dtype=torch.float64), torch.zeros(8, dtype=torch.long),
    ...              sta, ph, obs.to(torch.float64))
    >>> [round(v, 1) for v in res.xyz_km[0].tolist()], round(float(res.origin_s[0]), 2)
    ([5.0, -3.0, 10.0], 100.0)
    """
    dtype = torch.float64
    xyz = start_xyz_km.to(dtype).clone()
    origin = start_origin_s.to(dtype).clone()
    n = len(xyz)
    w0 = torch.ones(len(event), dtype=dtype) if weight is None else weight.to(dtype)
    eye = torch.eye(4, dtype=dtype)
    lam = torch.full((n,), 1e-2, dtype=dtype)
    cost_prev = torch.full((n,), float("inf"), dtype=dtype)
    lo = hi = None
    if bounds_km is not None:
        lo = torch.tensor([b[0] for b in bounds_km], dtype=dtype)
        hi = torch.tensor([b[1] for b in bounds_km], dtype=dtype)
    for _ in range(iterations):
        tt, grad, within = _predicted(bound, xyz, event, station, phase, True)
        r = time_s - origin[event] - tt
        w = w0 * within * torch.where(r.abs() <= huber_s, torch.ones_like(r), huber_s / r.abs())
        jac = torch.cat([grad, torch.ones(len(event), 1, dtype=dtype)], dim=1)  # d pred / d p
        h = torch.zeros(n, 4, 4, dtype=dtype).index_add_(
            0, event, w[:, None, None] * jac[:, :, None] * jac[:, None, :])
        g = torch.zeros(n, 4, dtype=dtype).index_add_(0, event, (w * r)[:, None] * jac)
        cost = torch.zeros(n, dtype=dtype).index_add_(0, event, w * r * r)
        worse = cost > cost_prev
        lam = torch.where(worse, lam * 10, (lam / 3).clamp(min=1e-4))
        cost_prev = torch.minimum(cost, cost_prev)
        diag = torch.diagonal(h, dim1=1, dim2=2)
        damped = h + lam[:, None, None] * (torch.diag_embed(diag) + 1e-6 * eye)
        step = torch.linalg.solve(damped, g.unsqueeze(-1)).squeeze(-1)
        step[:, :3] = step[:, :3].clamp(-50, 50)
        xyz = xyz + step[:, :3]
        origin = origin + step[:, 3]
        if lo is not None:
            xyz = torch.maximum(torch.minimum(xyz, hi), lo)
    tt, grad, within = _predicted(bound, xyz, event, station, phase, True)
    w0 = w0 * within
    r = time_s - origin[event] - tt
    wsum = torch.zeros(n, dtype=dtype).index_add_(0, event, w0).clamp(min=1e-9)
    rms = (torch.zeros(n, dtype=dtype).index_add_(0, event, w0 * r * r) / wsum).sqrt()
    jac = torch.cat([grad, torch.ones(len(event), 1, dtype=dtype)], dim=1)
    h = torch.zeros(n, 4, 4, dtype=dtype).index_add_(
        0, event, w0[:, None, None] * jac[:, :, None] * jac[:, None, :])
    sigma2 = rms.clamp(min=min_sigma_s) ** 2
    cov = torch.linalg.pinv(h + 1e-9 * eye) * sigma2[:, None, None]
    horiz = torch.linalg.eigvalsh(cov[:, :2, :2]).clamp(min=0)[:, -1].sqrt()
    return LocationResult(
        xyz_km=xyz, origin_s=origin, residual_s=r, rms_s=rms,
        horizontal_uncertainty_km=horiz, depth_uncertainty_km=cov[:, 2, 2].clamp(min=0).sqrt(),
        time_uncertainty_s=cov[:, 3, 3].clamp(min=0).sqrt(),
    )
