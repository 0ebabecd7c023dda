"""Linking picks to candidate sources (steps 5 and 8): the network's association head on
the (source, pick) pairs within a tolerance of the predicted arrivals."""

from __future__ import annotations

import pandas as pd
import torch

from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.association.params import AssociationParams
from seisbench_genie.nn.candidates import association_candidates, travel_times_within

#: Columns of a links table: source (row of the candidate arrays), pick (row of the
#: PickSet), station, phase (0 = P, 1 = S) and association probability.
LINK_COLUMNS = ["source", "pick", "station", "phase", "probability"]
#: Residual tolerance of the first association pass, in kernel widths: the network's
#: location is good to about a node spacing, so its predicted arrivals are looser ...
FIRST_PASS_TOLERANCE_KERNELS = 2.0
#: ... than those of the second pass at the relocated hypocentres.
SECOND_PASS_TOLERANCE_KERNELS = 1.0


def empty_links() -> pd.DataFrame:
    """A links table with no rows.

    Examples
    --------
    >>> list(empty_links().columns)
    ['source', 'pick', 'station', 'phase', 'probability']
    """
    return pd.DataFrame({c: [] for c in LINK_COLUMNS}).astype({"source": int, "pick": int})


def link_picks(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor,
               embedding: torch.Tensor, params: AssociationParams, tolerance_s: float
               ) -> pd.DataFrame:
    """Association probabilities of picks for each source; the links above the
    association threshold.

    Sources are grouped in blocks of ``chunk_s`` of origin time, each block against the picks
    in its time span only (bounded memory; the block size does not change the result). A
    link's phase is the likelier of P and S.

    Parameters
    ----------
    grid, picks
        A node grid (its network, backend and scale are used) and the run's picks.
    xyz, origin, embedding
        (S, 3) source positions (km), (S,) origin times (s), (S, C) embeddings.
    params
        Association parameters (``association_threshold``, ``chunk_s``).
    tolerance_s
        Residual tolerance (s) of the (source, pick) candidates.

    Returns
    -------
    pandas.DataFrame
        :data:`LINK_COLUMNS`.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    net, sc, dev = grid.network, grid.scale, grid.device
    block_of = torch.floor((origin - origin.min()) / params.chunk_s).long()
    rows = []
    for blk in torch.unique(block_of):
        sel = torch.nonzero(block_of == blk).squeeze(1)
        tp, ts, dist = travel_times_within(grid.bound, xyz[sel], sc.max_distance_km)
        finite = ts[torch.isfinite(ts)]
        latest = float(finite.max()) if finite.numel() else 0.0
        a, b = picks.span(float(origin[sel].min()) - tolerance_s,
                          float(origin[sel].max()) + latest + tolerance_s)
        if b <= a:
            continue
        cand = association_candidates(origin[sel], tp, ts, dist, picks.station[a:b],
                                      picks.time_s[a:b], picks.phase[a:b], sc, tolerance_s)
        if cand.pick.numel() == 0:
            continue
        e = embedding[sel]
        group_context = torch.cat([e[cand.group_source],
                                   (cand.group_distance / sc.length_km)[:, None]], -1)
        with torch.no_grad():
            prob = net.associate(e[cand.source].to(dev), cand.features.to(dev),
                                 cand.group.to(dev), group_context.to(dev)).cpu()
        best_phase = prob.argmax(dim=1)
        best = prob.max(dim=1).values
        ok = best >= params.association_threshold
        rows.append(pd.DataFrame({
            "source": sel[cand.source[ok]].numpy(), "pick": (cand.pick[ok] + a).numpy(),
            "station": picks.station[a:b][cand.pick[ok]].numpy(),
            "phase": best_phase[ok].numpy(), "probability": best[ok].numpy(),
        }))
    if not rows:
        return empty_links()
    return pd.concat(rows, ignore_index=True)
