"""Pick features of the product graph: kernels of pick-time residuals, vectorised.

For a window with reference origin time ``t0`` and a product node (station ``s``, source node
``x``), the predicted arrivals are ``t0 + T_P(x, s)`` and ``t0 + T_S(x, s)``. The features are
Gaussian kernels ``exp(-r^2 / 2 kernel_s^2)`` of the residual ``r`` to the nearest pick at ``s``,
in four channels: any pick vs predicted P, any pick vs predicted S (phase-agnostic), P-labelled
picks vs predicted P and S-labelled picks vs predicted S (phase-aware). Nearest-pick look-ups
search the picks sorted by (station, time) with ``torch.searchsorted``, once per predicted
phase; the phase-aware channels read their positions from the ranks of their picks among all
(:class:`PickIndex`).
"""

from __future__ import annotations

import torch

#: Queries whose nearest key lies more than the index's time span plus this much (s) away
#: found a pick of another station (their blocks are at least the span plus 1 s apart, see
#: :class:`PickIndex`): half that 1 s gap, far above float64 rounding of the keys.
_BLOCK_TOLERANCE_S = 0.5


class PickIndex:
    """Picks sorted by (station, time) per channel, for nearest-pick queries at any time span.

    The picks are ordered by station, then time (a stable lexicographic sort), and searched
    through the float64 key ``station * stride + (time - origin)``, where ``origin`` is the
    earliest pick and ``stride = 2 * span + 1`` s with ``span`` the time from the earliest to
    the latest pick of the index. Each station's keys then fill a block of width ``span``,
    separated from the next station's by more than ``span``: a query (its time clamped into
    the block) finds its station's nearest pick, or a key farther than ``span`` away when the
    station has none, for any time span and number of stations; no key of one station can
    fall among another's. Residuals are differences of keys, exact to the float64 spacing
    at ``2 * n_stations * span`` (1e-8 s for a day on 100 stations, 1e-5 s for a year on
    1000). :meth:`within` cuts a short index (a batch's time range) with its own, smaller
    span.

    Parameters
    ----------
    station_index
        (P,) station of each pick (row in the station table).
    time_s
        (P,) pick times (s, float64), any range.
    phase
        (P,) 0 for P, 1 for S.

    Examples
    --------
    >>> idx = PickIndex(torch.tensor([0, 0, 1]), torch.tensor([1.0, 5.0, 2.0],
    ...                 dtype=torch.float64), torch.tensor([0, 1, 0]))
    >>> idx.nearest_residual("any", torch.tensor([0]), torch.tensor([4.0], dtype=torch.float64))
    tensor([1.], dtype=torch.float64)
    >>> far = PickIndex(torch.tensor([0, 1]), torch.tensor([0.0, 1e12], dtype=torch.float64),
    ...                 torch.tensor([0, 0]))  # no key collision, whatever the span
    >>> far.nearest_residual("any", torch.tensor([0, 1]),
    ...                      torch.tensor([3.0, 3.0], dtype=torch.float64)).tolist()
    [3.0, 999999999997.0]
    """

    def __init__(self, station_index: torch.Tensor, time_s: torch.Tensor, phase: torch.Tensor):
        station = torch.as_tensor(station_index).long()
        time = torch.as_tensor(time_s).to(torch.float64)
        phase = torch.as_tensor(phase)
        self.n_stations = int(station.max()) + 1 if station.numel() else 0
        self._frame(time)
        # Lexicographic order: stable by time, then stable by station.
        order = torch.argsort(time, stable=True)
        order = order[torch.argsort(station[order], stable=True)]
        station, time, phase = station[order], time[order], phase[order]
        self._set_keys(self._key(station, time), phase)

    def _set_keys(self, key: torch.Tensor, phase: torch.Tensor) -> None:
        """The search keys of each channel from the sorted ``key`` and ``phase`` (0 = P,
        1 = S) of all picks, and for P and S the rank of each position of the ``"any"``
        keys among that channel's keys (:meth:`channel_position`)."""
        self.phase = phase
        self.keys = {"any": key}
        self.rank = {}
        for name, code in (("P", 0), ("S", 1)):
            mine = phase == code
            self.keys[name] = key[mine]
            self.rank[name] = torch.cat([torch.zeros(1, dtype=torch.long, device=key.device),
                                         torch.cumsum(mine, 0)])

    def channel_position(self, which: str, position: torch.Tensor) -> torch.Tensor:
        """Insertion position in channel ``which``'s keys of queries whose insertion position
        among all picks' keys (``"any"``, as ``torch.searchsorted``) is ``position``: the
        channel's picks before it. The same as searching that channel's keys, without a
        second search.

        Examples
        --------
        >>> idx = PickIndex(torch.tensor([0, 0, 0]), torch.tensor([1.0, 2.0, 3.0],
        ...                 dtype=torch.float64), torch.tensor([1, 0, 1]))
        >>> q = idx.query_key(torch.tensor([0]), torch.tensor([2.5], dtype=torch.float64))[0]
        >>> pos = torch.searchsorted(idx.keys["any"], q)
        >>> idx.channel_position("S", pos).tolist(), torch.searchsorted(idx.keys["S"], q).tolist()
        ([1], [1])
        """
        return self.rank[which][position]

    def _frame(self, time: torch.Tensor) -> None:
        """Origin, span and stride (s) of the keys for picks at ``time``."""
        if time.numel():
            self.origin = float(time.min())
            self.span = float(time.max()) - self.origin
        else:
            self.origin, self.span = 0.0, 0.0
        self.stride = 2.0 * self.span + 1.0

    def _key(self, station: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        return station.to(torch.float64) * self.stride + (time - self.origin)

    def query_key(self, station: torch.Tensor, time_s: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Search keys of queries at ``station`` and ``time_s`` (broadcast shapes), and how
        far (s) each query time lies outside the index's time range (0 inside).

        Examples
        --------
        >>> idx = PickIndex(torch.tensor([0, 1]), torch.tensor([10.0, 20.0],
        ...                 dtype=torch.float64), torch.tensor([0, 0]))
        >>> key, outside = idx.query_key(torch.tensor([1]), torch.tensor([25.0],
        ...                              dtype=torch.float64))
        >>> key.tolist(), outside.tolist()
        ([31.0], [5.0])
        """
        offset = time_s.to(torch.float64) - self.origin
        inside = offset.clamp(0.0, self.span)
        return station.to(torch.float64) * self.stride + inside, offset - inside

    def within(self, t_min_s: float, t_max_s: float) -> PickIndex:
        """The picks with times in [``t_min_s``, ``t_max_s``] (s), as a smaller index.

        Nearest-pick queries inside the interval give the same answer as on the full index
        whenever the nearest pick is closer than the query's distance to the interval's ends;
        the look-ups then search a short, cache-resident array.

        Examples
        --------
        >>> idx = PickIndex(torch.tensor([0, 0, 1]), torch.tensor([1.0, 5.0, 2.0],
        ...                 dtype=torch.float64), torch.tensor([0, 1, 0]))
        >>> sub = idx.within(0.0, 3.0)
        >>> sub.nearest_residual("any", torch.tensor([0, 1, 0]),
        ...                      torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)).tolist()
        [1.0, 2.0, 4.0]
        """
        device = self.keys["any"].device
        lo_s = max(t_min_s - self.origin, 0.0)  # offsets from self.origin, inside the span
        hi_s = min(t_max_s - self.origin, self.span)
        stations = torch.arange(self.n_stations, device=device)
        base = stations.to(torch.float64) * self.stride
        keys = self.keys["any"]
        lo = torch.searchsorted(keys, base + lo_s)
        hi = torch.searchsorted(keys, base + hi_s, right=True)
        count = (hi - lo).clamp(min=0)  # 0 everywhere when hi_s < lo_s
        start = torch.cumsum(count, 0) - count
        total = int(count.sum())
        pos = torch.arange(total, device=device) + torch.repeat_interleave(
            lo - start, count, output_size=total)
        station = torch.repeat_interleave(stations, count, output_size=total)
        offset = keys[pos] - station.to(torch.float64) * self.stride
        # Re-keyed with the selected picks' own, shorter span.
        first = float(offset.min()) if offset.numel() else 0.0
        new = object.__new__(PickIndex)
        new.n_stations = self.n_stations
        new._frame(offset - first)
        new.origin = self.origin + first
        new._set_keys(station.to(torch.float64) * new.stride + (offset - first),
                      self.phase[pos])
        return new

    def to(self, device: torch.device | str) -> PickIndex:
        new = object.__new__(PickIndex)
        new.__dict__.update(self.__dict__)
        new.keys = {k: v.to(device) for k, v in self.keys.items()}
        new.rank = {k: v.to(device) for k, v in self.rank.items()}
        new.phase = self.phase.to(device)
        return new

    def nearest_residual(self, which: str, station: torch.Tensor, time_s: torch.Tensor
                         ) -> torch.Tensor:
        """Absolute time (s) from ``time_s`` to the nearest pick of channel ``which`` at
        ``station`` (broadcast shapes); ``inf`` when the station has none."""
        return self.nearest_offset(which, station, time_s).abs()

    def nearest_offset(self, which: str, station: torch.Tensor, time_s: torch.Tensor
                       ) -> torch.Tensor:
        """Signed time (s) of the nearest pick of channel ``which`` at ``station`` minus
        ``time_s`` (broadcast shapes); ``inf`` when the station has none.

        Examples
        --------
        >>> idx = PickIndex(torch.tensor([0, 0]), torch.tensor([1.0, 5.0],
        ...                 dtype=torch.float64), torch.tensor([0, 1]))
        >>> idx.nearest_offset("S", torch.tensor([0, 1]),
        ...                    torch.tensor([7.0, 7.0], dtype=torch.float64)).tolist()
        [-2.0, inf]
        """
        return self.nearest_offset_key(which, *self.query_key(station, time_s))

    def nearest_offset_key(self, which: str, query: torch.Tensor, outside: torch.Tensor,
                           position: torch.Tensor | None = None) -> torch.Tensor:
        """As :meth:`nearest_offset`, for the ``query`` keys and ``outside`` offsets (s) of
        :meth:`query_key`; ``position``: the queries' insertion positions in channel
        ``which``'s keys when already known (see :meth:`channel_position`)."""
        keys = self.keys[which]
        if keys.numel() == 0:
            return torch.full(query.shape, float("inf"), dtype=torch.float64,
                              device=query.device)
        pos = torch.searchsorted(keys, query.contiguous()) if position is None else position
        after = keys[pos.clamp(max=keys.numel() - 1)] - query
        before = keys[(pos - 1).clamp(min=0)] - query
        d = torch.where(after.abs() <= before.abs(), after, before)
        other = d.abs() > self.span + _BLOCK_TOLERANCE_S  # another station's block
        return torch.where(other, torch.full_like(d, float("inf")), d - outside)


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
    t_p = t0 + travel_p_s.to(torch.float64)[None, :]  # predicted arrivals (B, E)
    t_s = t0 + travel_s_s.to(torch.float64)[None, :]
    key_p, out_p = index.query_key(pair_station, t_p)
    key_s, out_s = index.query_key(pair_station, t_s)
    # One search per predicted phase; the phase-aware channels take their positions from it.
    pos_p = torch.searchsorted(index.keys["any"], key_p)
    pos_s = torch.searchsorted(index.keys["any"], key_s)
    lookup = index.nearest_offset_key
    res = torch.stack([
        lookup("any", key_p, out_p, pos_p), lookup("any", key_s, out_s, pos_s),
        lookup("P", key_p, out_p, index.channel_position("P", pos_p)),
        lookup("S", key_s, out_s, index.channel_position("S", pos_s)),
    ], dim=-1)
    if not signed:
        res = res.abs()
    if not signed:
        return torch.exp(-0.5 * (res / kernel_s) ** 2).to(torch.float32)
    scaled = (res / kernel_s).clamp(-10.0, 10.0)  # no pick (inf) -> kernel 0, signed 0
    kernel = torch.exp(-0.5 * scaled ** 2)
    return torch.cat([kernel, scaled * kernel], dim=-1).to(torch.float32)
