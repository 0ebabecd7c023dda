"""Pick features of the product graph: kernels of pick-time residuals, vectorised.

For a window with reference origin time ``t0`` and a product node (station ``s``, source node
``x``), the predicted arrivals are ``t0 + T_P(x, s)`` and ``t0 + T_S(x, s)``. The features are
Gaussian kernels ``exp(-r^2 / 2 kernel_s^2)`` of the residual ``r`` to the nearest pick at ``s``,
in four channels: any pick vs predicted P, any pick vs predicted S (phase-agnostic), P-labelled
picks vs predicted P and S-labelled picks vs predicted S (phase-aware). Nearest-pick look-ups
use one sorted key array per channel (``station * stride + time``) and ``torch.searchsorted``.
"""

from __future__ import annotations

import torch

STRIDE_S = 1.0e7  # separates stations in the key arrays; chunks must be shorter than this


class PickIndex:
    """Sorted pick keys for nearest-pick queries.

    Parameters
    ----------
    station_index
        (P,) station of each pick (row in the station table).
    time_s
        (P,) pick times relative to a reference (s, float64, |t| < 5e6).
    phase
        (P,) 0 for P, 1 for S.

    Examples
    --------
    >>> idx = PickIndex(torch.tensor([0, 0, 1]), torch.tensor([1.0, 5.0, 2.0],
    ...                 dtype=torch.float64), torch.tensor([0, 1, 0]))
    >>> idx.nearest_residual("any", torch.tensor([0]), torch.tensor([4.0], dtype=torch.float64))
    tensor([1.], dtype=torch.float64)
    """

    def __init__(self, station_index: torch.Tensor, time_s: torch.Tensor, phase: torch.Tensor):
        key = station_index.to(torch.float64) * STRIDE_S + time_s.to(torch.float64)
        self.n_stations = int(station_index.max()) + 1 if station_index.numel() else 0
        self.keys = {
            "any": torch.sort(key).values,
            "P": torch.sort(key[phase == 0]).values,
            "S": torch.sort(key[phase == 1]).values,
        }

    def within(self, t_min_s: float, t_max_s: float) -> PickIndex:
        """The picks with times in [``t_min_s``, ``t_max_s``] (s), as a smaller index.

        Nearest-pick queries inside the interval give the same answer as on the full index
        whenever the nearest pick is closer than the query's distance to the interval's ends;
        the look-ups then search a short, cache-resident array.

        Examples
        --------
        >>> idx = PickIndex(torch.tensor([0, 0, 1]), torch.tensor([1.0, 5.0, 2.0],
        ...                 dtype=torch.float64), torch.tensor([0, 1, 0]))
        >>> idx.within(0.0, 3.0).keys["any"].tolist()
        [1.0, 10000002.0]
        """
        new = object.__new__(PickIndex)
        new.n_stations = self.n_stations
        new.keys = {}
        device = self.keys["any"].device
        base = torch.arange(self.n_stations, dtype=torch.float64, device=device) * STRIDE_S
        for name, keys in self.keys.items():
            lo = torch.searchsorted(keys, base + t_min_s)
            hi = torch.searchsorted(keys, base + t_max_s, right=True)
            count = hi - lo
            start = torch.cumsum(count, 0) - count
            total = int(count.sum())
            pos = torch.arange(total, device=device) + torch.repeat_interleave(
                lo - start, count, output_size=total)
            new.keys[name] = keys[pos]
        return new

    def to(self, device: torch.device | str) -> PickIndex:
        new = object.__new__(PickIndex)
        new.n_stations = self.n_stations
        new.keys = {k: v.to(device) for k, v in self.keys.items()}
        return new

    def nearest_residual(self, which: str, station: torch.Tensor, time_s: torch.Tensor
                         ) -> torch.Tensor:
        """Absolute time (s) from ``time_s`` to the nearest pick of channel ``which`` at
        ``station`` (broadcast shapes); ``inf`` when the station has none."""
        return self.nearest_residual_key(which, station.to(torch.float64) * STRIDE_S + time_s)

    def nearest_residual_key(self, which: str, query: torch.Tensor) -> torch.Tensor:
        """As :meth:`nearest_residual`, for query keys ``station * STRIDE_S + time_s``."""
        return self.nearest_offset_key(which, query).abs()

    def nearest_offset_key(self, which: str, query: torch.Tensor) -> torch.Tensor:
        """Signed time (s) of the nearest pick of channel ``which`` minus the query, for query
        keys ``station * STRIDE_S + time_s``; ``inf`` when the station has none."""
        keys = self.keys[which]
        if keys.numel() == 0:
            return torch.full(query.shape, float("inf"), dtype=torch.float64,
                              device=query.device)
        pos = torch.searchsorted(keys, query.contiguous())
        after = keys[pos.clamp(max=keys.numel() - 1)] - query
        before = keys[(pos - 1).clamp(min=0)] - query
        d = torch.where(after.abs() <= before.abs(), after, before)
        return torch.where(d.abs() > 0.5 * STRIDE_S, torch.full_like(d, float("inf")), d)


def window_features(
    index: PickIndex,
    t0_s: torch.Tensor,
    pair_station: torch.Tensor,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    kernel_s: float,
    signed: bool = False,
) -> torch.Tensor:
    """Product-graph input features for a batch of windows.

    Parameters
    ----------
    index
        The picks.
    t0_s
        (B,) window reference origin times (s, same reference as the picks, float64).
    pair_station
        (E,) station of each product node.
    travel_p_s, travel_s_s
        (E,) P and S travel times (s) from each product node's source node to its station.
    kernel_s
        Kernel width (s).
    signed
        Also return the signed channels ``(r / kernel_s) * kernel`` (with ``r`` the nearest
        pick's time minus the predicted arrival), which tell the network on which side of the
        prediction the pick lies: with them, a consistent pattern of early and late picks across
        stations points to a source between the nodes.

    Returns
    -------
    torch.Tensor
        (B, E, 4) float32 kernels in [0, 1], or (B, E, 8) with the signed channels after them.

    Examples
    --------
    >>> idx = PickIndex(torch.tensor([0]), torch.tensor([10.0], dtype=torch.float64),
    ...                 torch.tensor([0]))
    >>> f = window_features(idx, torch.tensor([0.0], dtype=torch.float64), torch.tensor([0]),
    ...                     torch.tensor([10.0]), torch.tensor([17.0]), 1.0)
    >>> f[0, 0].tolist()[0], f[0, 0].tolist()[2]
    (1.0, 1.0)
    """
    t0 = t0_s.to(torch.float64)[:, None]
    if t0.numel() and travel_p_s.numel():
        # Only picks near this batch's predicted arrivals can be nearest within ~10 kernel
        # widths; beyond that every channel is exp(-50) ~ 0 either way.
        margin = 10.0 * kernel_s
        index = index.within(
            float(t0.min()) + float(torch.minimum(travel_p_s.min(), travel_s_s.min())) - margin,
            float(t0.max()) + float(torch.maximum(travel_p_s.max(), travel_s_s.max())) + margin)
    base = pair_station.to(torch.float64) * STRIDE_S
    key_p = t0 + (base + travel_p_s.to(torch.float64))[None, :]  # predicted P arrival keys
    key_s = t0 + (base + travel_s_s.to(torch.float64))[None, :]
    lookup = index.nearest_offset_key if signed else index.nearest_residual_key
    res = torch.stack([
        lookup("any", key_p), lookup("any", key_s), lookup("P", key_p), lookup("S", key_s),
    ], dim=-1)
    if not signed:
        return torch.exp(-0.5 * (res / kernel_s) ** 2).to(torch.float32)
    scaled = (res / kernel_s).clamp(-10.0, 10.0)  # no pick (inf) -> kernel 0, signed 0
    kernel = torch.exp(-0.5 * scaled ** 2)
    return torch.cat([kernel, scaled * kernel], dim=-1).to(torch.float32)
