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
        self.keys = {
            "any": torch.sort(key).values,
            "P": torch.sort(key[phase == 0]).values,
            "S": torch.sort(key[phase == 1]).values,
        }

    def to(self, device: torch.device | str) -> PickIndex:
        new = object.__new__(PickIndex)
        new.keys = {k: v.to(device) for k, v in self.keys.items()}
        return new

    def nearest_residual(self, which: str, station: torch.Tensor, time_s: torch.Tensor
                         ) -> torch.Tensor:
        """Absolute time (s) from ``time_s`` to the nearest pick of channel ``which`` at
        ``station`` (broadcast shapes); ``inf`` when the station has none."""
        return self.nearest_residual_key(which, station.to(torch.float64) * STRIDE_S + time_s)

    def nearest_residual_key(self, which: str, query: torch.Tensor) -> torch.Tensor:
        """As :meth:`nearest_residual`, for query keys ``station * STRIDE_S + time_s``."""
        keys = self.keys[which]
        if keys.numel() == 0:
            return torch.full(query.shape, float("inf"), dtype=torch.float64,
                              device=query.device)
        pos = torch.searchsorted(keys, query.contiguous())
        hi = keys[pos.clamp(max=keys.numel() - 1)]
        lo = keys[(pos - 1).clamp(min=0)]
        d = torch.minimum((hi - query).abs(), (query - lo).abs())
        return torch.where(d > 0.5 * STRIDE_S, torch.full_like(d, float("inf")), d)


def window_features(
    index: PickIndex,
    t0_s: torch.Tensor,
    pair_station: torch.Tensor,
    travel_p_s: torch.Tensor,
    travel_s_s: torch.Tensor,
    kernel_s: float,
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

    Returns
    -------
    torch.Tensor
        (B, E, 4) float32 features in [0, 1].

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
    base = pair_station.to(torch.float64) * STRIDE_S
    key_p = t0 + (base + travel_p_s.to(torch.float64))[None, :]  # predicted P arrival keys
    key_s = t0 + (base + travel_s_s.to(torch.float64))[None, :]
    res = torch.stack([
        index.nearest_residual_key("any", key_p),
        index.nearest_residual_key("any", key_s),
        index.nearest_residual_key("P", key_p),
        index.nearest_residual_key("S", key_s),
    ], dim=-1)
    return torch.exp(-0.5 * (res / kernel_s) ** 2).to(torch.float32)
