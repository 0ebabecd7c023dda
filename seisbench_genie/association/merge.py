"""Duplicate merge (step 10): two kept sources that are one event seen twice become one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.credibility import arrival_fit
from seisbench_genie.association.linking import LINK_COLUMNS
from seisbench_genie.location import locate

#: Sources are merge candidates when within this many node spacings and window steps of
#: each other: two detections of one event lie within the network's resolution of it.
MERGE_RADIUS = 4.0
#: ... and when at most this fraction of the smaller one's picks sit at station-phase slots
#: the larger one holds (a split of one event's picks, not two events).
MAX_SHARED_SLOTS = 0.4
#: One hypocentre must still fit this fraction of the larger source's own fitting picks ...
MIN_FIT_LARGER = 0.8
#: ... and this fraction of the smaller one's (it held fewer picks, and more false ones).
MIN_FIT_SMALLER = 0.7


def merge_duplicates(bound, xyz: torch.Tensor, origin: torch.Tensor, links: pd.DataFrame,
                     pick_time_s: torch.Tensor, scale, bounds_km=None,
                     tolerance_factor: float = 1.0
                     ) -> tuple[pd.DataFrame, torch.Tensor, torch.Tensor]:
    """Merge two kept sources that are one event seen twice.

    Two detections of one event can both survive the competition, each with part of its picks
    (and, on a noisy day, enough false picks to reach ``min_picks``), often at two positions
    that the network's geometry cannot tell apart. For two sources within
    :data:`MERGE_RADIUS` node spacings and window steps whose picks are at different stations
    or phases (at most :data:`MAX_SHARED_SLOTS` of the smaller one's picks at station-phase
    slots the larger one holds), their picks are located together (one P and one S per
    station, the likelier kept); they are merged when that one hypocentre still fits (within
    the association tolerance, see
    :func:`~seisbench_genie.association.credibility.arrival_fit`) at least
    :data:`MIN_FIT_LARGER` of the larger source's and :data:`MIN_FIT_SMALLER` of the smaller
    source's picks that fitted their own source. Two distinct events close in space and time have different moveouts across the
    network and cannot be fitted by one hypocentre.

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations (local frame).
    xyz, origin
        (S, 3) source positions (km) and (S,) origin times (s, pick time reference).
    links
        Kept links (``source``, ``pick``, ``station``, ``phase``, ``probability``).
    pick_time_s
        (P,) pick times (s) indexed by ``links["pick"]``.
    scale
        The model's :class:`~seisbench_genie.nn.ModelScale`.
    bounds_km
        Location bounds (see :func:`~seisbench_genie.location.locate`).
    tolerance_factor
        The fit tolerance in association tolerances (see
        :func:`~seisbench_genie.association.credibility.tolerance_factor`): with
        travel times off by several percent, an event's picks fit its own hypocentre only
        within a wider tolerance, and so do the picks of its two halves.

    Returns
    -------
    links, xyz, origin
        The links after merging (a merged source's links move to the one it joins) and the
        source positions and origin times, updated for the sources that received picks.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    from scipy.spatial import cKDTree

    sources, n_picks = np.unique(links["source"].to_numpy(), return_counts=True)
    if len(sources) < 2:
        return links, xyz, origin
    pos = np.column_stack([xyz[sources].numpy() / (MERGE_RADIUS * scale.node_spacing_km),
                           origin[sources].numpy() / (MERGE_RADIUS * scale.window_step_s)])
    pairs = cKDTree(pos).query_pairs(1.0, p=np.inf, output_type="ndarray")
    if not len(pairs):
        return links, xyz, origin
    larger_first = (n_picks[pairs[:, 0]] > n_picks[pairs[:, 1]]) | (
        (n_picks[pairs[:, 0]] == n_picks[pairs[:, 1]]) & (pairs[:, 0] < pairs[:, 1]))
    pair = pd.DataFrame({"a": sources[np.where(larger_first, pairs[:, 0], pairs[:, 1])],
                         "b": sources[np.where(larger_first, pairs[:, 1], pairs[:, 0])]})
    # Pairs whose picks sit mostly at different station-phase slots (a split, not two events).
    slots = links[["source", "station", "phase"]]
    b_rows = pair.reset_index(names="pair").merge(slots, left_on="b", right_on="source")
    a_slots = pd.MultiIndex.from_frame(slots)
    b_rows["shared"] = pd.MultiIndex.from_arrays(
        [b_rows["a"], b_rows["station"], b_rows["phase"]]).isin(a_slots)
    split = b_rows.groupby("pair")["shared"].mean() <= MAX_SHARED_SLOTS
    pair = pair.loc[split[split].index].reset_index(drop=True)
    if pair.empty:
        return links, xyz, origin
    # Which picks of the paired sources fit their own source.
    involved = links[links["source"].isin(np.union1d(pair["a"], pair["b"]))]
    involved = involved.assign(own_fit=arrival_fit(
        bound, xyz, origin, involved["source"].to_numpy(), involved["station"].to_numpy(),
        involved["phase"].to_numpy(), pick_time_s[involved["pick"].to_numpy()].numpy(),
        scale.max_distance_km, tolerance_factor))
    # Locate each pair's picks together (one P and one S per station, the likelier kept).
    union = pd.concat([
        pair.reset_index(names="pair").merge(involved, left_on=side, right_on="source")
        .assign(side=side) for side in ("a", "b")], ignore_index=True)
    union = (union.sort_values("probability", ascending=False, kind="stable")
             .drop_duplicates(["pair", "station", "phase"]))
    pid = union["pair"].to_numpy()
    t_union = pick_time_s[union["pick"].to_numpy()]
    res = locate(bound, xyz[pair["a"].to_numpy()], origin[pair["a"].to_numpy()],
                 torch.as_tensor(pid), torch.as_tensor(union["station"].to_numpy()),
                 torch.as_tensor(union["phase"].to_numpy()), t_union,
                 torch.as_tensor(union["probability"].to_numpy()), bounds_km=bounds_km)
    union["merged_fit"] = arrival_fit(
        bound, res.xyz_km, res.origin_s, pid, union["station"].to_numpy(),
        union["phase"].to_numpy(), t_union.numpy(), scale.max_distance_km, tolerance_factor)
    still = (union[union["own_fit"]].groupby(["pair", "side"])["merged_fit"].mean()
             .unstack("side").reindex(index=pair.index, columns=["a", "b"]).fillna(0.0))
    good = pair.index[(still["a"] >= MIN_FIT_LARGER)
                      & (still["b"] >= MIN_FIT_SMALLER)].to_numpy()
    if not len(good):
        return links, xyz, origin
    # Largest receiving sources first; a source takes part in one merge at most.
    order = good[np.argsort(-pair.loc[good, "a"].map(
        dict(zip(sources, n_picks, strict=True))).to_numpy(), kind="stable")]
    used: set[int] = set()
    accepted = []
    for k in order:
        a, b = int(pair.at[k, "a"]), int(pair.at[k, "b"])
        if a in used or b in used:
            continue
        used |= {a, b}
        accepted.append(k)
    accepted = np.asarray(accepted)
    merged = union[union["pair"].isin(accepted)]
    merged = merged.assign(source=pair["a"].to_numpy()[merged["pair"].to_numpy()])
    gone = pair.loc[accepted, ["a", "b"]].to_numpy().ravel()
    links = pd.concat([links[~links["source"].isin(gone)],
                       merged[LINK_COLUMNS]],
                      ignore_index=True).sort_values(["source", "pick"]).reset_index(drop=True)
    xyz, origin = xyz.clone(), origin.clone()
    xyz[pair.loc[accepted, "a"].to_numpy()] = res.xyz_km[accepted]
    origin[pair.loc[accepted, "a"].to_numpy()] = res.origin_s[accepted]
    return links, xyz, origin
