"""Locating candidate sources with their linked picks: the provisional relocation between
the association passes (step 6) and the location of kept sources (steps 11-12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.location import LocationResult, locate

#: Sources with fewer provisional picks keep the network's estimate (a hypocentre and an
#: origin time need four arrivals).
MIN_RELOCATION_PICKS = 4
#: A provisional relocation that moves a source farther than this many node spacings from
#: the network's estimate is not trusted (the network is good to about one spacing).
MAX_RELOCATION_SPACINGS = 2.0


def relocate_provisional(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor,
                         origin: torch.Tensor, links: pd.DataFrame
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Locate sources with their provisional picks: each pick with its likeliest source, and
    per source the likeliest P and S pick of each station.

    Sources with fewer than :data:`MIN_RELOCATION_PICKS` picks, or moved farther than
    :data:`MAX_RELOCATION_SPACINGS` node spacings, keep the network's estimate.

    Returns
    -------
    xyz, origin : torch.Tensor
        (S, 3) positions (km) and (S,) origin times (s).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    if links.empty:
        return xyz, origin
    best = links.sort_values("probability", ascending=False).drop_duplicates("pick")
    best = best.drop_duplicates(["source", "station", "phase"])  # one P and one S per station
    counts = best["source"].value_counts()
    best = best[best["source"].isin(counts[counts >= MIN_RELOCATION_PICKS].index)]
    if best.empty:
        return xyz, origin
    ev = torch.as_tensor(best["source"].to_numpy(), dtype=torch.long)
    res = locate(grid.bound, xyz, origin, ev,
                 torch.as_tensor(best["station"].to_numpy(), dtype=torch.long),
                 torch.as_tensor(best["phase"].to_numpy(), dtype=torch.long),
                 picks.time_s[torch.as_tensor(best["pick"].to_numpy())],
                 torch.as_tensor(best["probability"].to_numpy()),
                 bounds_km=grid.location_bounds())
    moved = torch.zeros(len(xyz), dtype=torch.bool)
    moved[ev] = True
    far = (res.xyz_km - xyz).norm(dim=1) > MAX_RELOCATION_SPACINGS * grid.scale.node_spacing_km
    use = moved & ~far
    return torch.where(use[:, None], res.xyz_km, xyz), torch.where(use, res.origin_s, origin)


def locate_sources(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor,
                   links: pd.DataFrame, sources: np.ndarray) -> LocationResult:
    """Locate ``sources`` (sorted) with all their links, starting from ``xyz``, ``origin``.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    remap = np.full(len(xyz), -1)
    remap[sources] = np.arange(len(sources))
    ev = torch.as_tensor(remap[links["source"].to_numpy()], dtype=torch.long)
    idx = torch.as_tensor(sources)
    return locate(grid.bound, xyz[idx], origin[idx], ev,
                  torch.as_tensor(links["station"].to_numpy(), dtype=torch.long),
                  torch.as_tensor(links["phase"].to_numpy(), dtype=torch.long),
                  picks.time_s[torch.as_tensor(links["pick"].to_numpy())],
                  torch.as_tensor(links["probability"].to_numpy()),
                  bounds_km=grid.location_bounds())
