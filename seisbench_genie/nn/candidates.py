"""(source, pick) candidates for the association head and their features, shared by training
and inference: the arrival tolerance, the features the head reads, and the candidate pairs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seisbench_genie.nn.config import ModelScale

#: Inputs of the association head per (source, pick) candidate (:func:`association_features`).
N_ASSOCIATION_FEATURES = 8

#: The S tolerance is this many times the P tolerance (S picks scatter more).
S_TOLERANCE_FACTOR = 1.7


def arrival_tolerance_s(travel_p_s):
    """Residual tolerance (s) of a P arrival, ``0.5 s + 2 %`` of the P travel time; an S
    arrival's is :data:`S_TOLERANCE_FACTOR` times larger. Works on tensors and arrays.

    Examples
    --------
    >>> float(arrival_tolerance_s(torch.tensor(50.0)))
    1.5
    """
    return 0.5 + 0.02 * abs(travel_p_s)


def association_features(residual_p_s: torch.Tensor, residual_s_s: torch.Tensor,
                         travel_p_s: torch.Tensor, pick_phase: torch.Tensor,
                         scale: ModelScale) -> torch.Tensor:
    """Inputs of the association head for (source, pick) candidates.

    Residuals are observed minus predicted arrival (s). Returns (K, 8): residuals scaled by
    the kernel width and by a travel-time-dependent tolerance (signed), Gaussian kernels of the
    latter, the P travel time relative to the largest moveout, and the pick's phase label
    (0 = P, 1 = S).
    """
    tol = arrival_tolerance_s(travel_p_s)
    tol_s = S_TOLERANCE_FACTOR * tol
    tmax = scale.max_distance_km / 6.0
    return torch.stack([
        residual_p_s / scale.kernel_s, residual_s_s / scale.kernel_s,
        residual_p_s / tol, residual_s_s / tol_s,
        torch.exp(-0.5 * (residual_p_s / tol) ** 2), torch.exp(-0.5 * (residual_s_s / tol_s) ** 2),
        travel_p_s / tmax,
        pick_phase.to(residual_p_s.dtype),
    ], dim=-1)


@dataclass
class AssociationCandidates:
    """Candidate (source, pick) pairs, grouped per (source, station).

    Attributes
    ----------
    source, pick : torch.Tensor
        (K,) index of the candidate's source query and pick.
    features : torch.Tensor
        (K, 8) association-head inputs.
    residual_p_s, residual_s_s : torch.Tensor
        (K,) observed minus predicted P / S arrival (s).
    group : torch.Tensor
        (K,) index of the (source, station) group.
    group_source, group_station : torch.Tensor
        (G,) source and station of each group.
    group_distance : torch.Tensor
        (G,) epicentral distance (km) of each group.
    """

    source: torch.Tensor
    pick: torch.Tensor
    features: torch.Tensor
    residual_p_s: torch.Tensor
    residual_s_s: torch.Tensor
    group: torch.Tensor
    group_source: torch.Tensor
    group_station: torch.Tensor
    group_distance: torch.Tensor


def association_candidates(
    origin_s: torch.Tensor,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    distance_km: torch.Tensor,
    pick_station: torch.Tensor,
    pick_time_s: torch.Tensor,
    pick_phase: torch.Tensor,
    scale: ModelScale,
    tolerance_s: float,
) -> AssociationCandidates:
    """Pairs of (source query, pick) whose residual to the predicted P or S is small.

    Parameters
    ----------
    origin_s
        (Q,) origin time of each source query (s, float64, picks' reference).
    travel_p_s, travel_s_s, distance_km
        (Q, M) travel times (s) and epicentral distances (km) from each query to each station.
    pick_station, pick_time_s, pick_phase
        (P,) the picks (station index, time in s float64, 0 = P / 1 = S label).
    scale
        Model scale (``max_distance_km`` bounds the stations considered).
    tolerance_s
        Largest |residual| (s) to the predicted P or S for a pick to be a candidate.

    Returns
    -------
    AssociationCandidates

    Examples
    --------
    >>> from seisbench_genie.nn.config import ModelScale
    >>> sc = ModelScale("t", 50.0, 25.0, (0, 30), 150.0, 2.0, 2.0)
    >>> c = association_candidates(torch.tensor([0.0], dtype=torch.float64),
    ...     torch.tensor([[5.0]]), torch.tensor([[9.0]]), torch.tensor([[30.0]]),
    ...     torch.tensor([0, 0]), torch.tensor([5.2, 40.0], dtype=torch.float64),
    ...     torch.tensor([0, 0]), sc, 3.0)
    >>> c.pick.tolist()
    [0]
    """
    device = travel_p_s.device
    if pick_time_s.numel() == 0 or origin_s.numel() == 0:
        e = torch.zeros(0, dtype=torch.long, device=device)
        f = torch.zeros(0, device=device)
        return AssociationCandidates(e, e, torch.zeros(0, 8, device=device), f, f, e, e, e, f)
    arrive_p = origin_s[:, None] + travel_p_s[:, pick_station].to(torch.float64)
    arrive_s = origin_s[:, None] + travel_s_s[:, pick_station].to(torch.float64)
    res_p = pick_time_s[None, :] - arrive_p
    res_s = pick_time_s[None, :] - arrive_s
    near = distance_km[:, pick_station] <= scale.max_distance_km
    keep = near & ((res_p.abs() <= tolerance_s) | (res_s.abs() <= tolerance_s))
    source, pick = torch.nonzero(keep, as_tuple=True)
    station = pick_station[pick]
    n_sta = int(travel_p_s.shape[1])
    key = source * n_sta + station
    uniq, group = torch.unique(key, return_inverse=True)
    r_p = res_p[source, pick].to(torch.float32)
    r_s = res_s[source, pick].to(torch.float32)
    tp = travel_p_s[source, station].to(torch.float32)
    feats = association_features(r_p, r_s, tp, pick_phase[pick], scale)
    g_src, g_sta = uniq // n_sta, uniq % n_sta
    return AssociationCandidates(
        source=source, pick=pick, features=feats, residual_p_s=r_p, residual_s_s=r_s,
        group=group, group_source=g_src, group_station=g_sta,
        group_distance=distance_km[g_src, g_sta].to(torch.float32),
    )


def travel_times_within(bound, source_xyz: torch.Tensor, max_distance_km: float
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """P and S travel times (s) and epicentral distances (km) from sources to every station,
    evaluated only within ``max_distance_km`` (``inf`` beyond), as float32 (Q, M) tensors."""
    sta = bound.station_xyz_km.to(source_xyz.dtype)
    dist = torch.cdist(source_xyz[:, :2], sta[:, :2])
    q, s = torch.nonzero(dist <= max_distance_km, as_tuple=True)
    out = []
    for phase in ("P", "S"):
        t = torch.full(dist.shape, float("inf"), dtype=torch.float32)
        if q.numel():
            with torch.no_grad():
                t[q, s] = bound.pair_times(source_xyz[q], s, phase).float()
        out.append(t)
    return out[0], out[1], dist.float()
