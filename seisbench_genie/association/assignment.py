"""Competitive assignment of picks to candidate sources."""

from __future__ import annotations

import numpy as np
import pandas as pd


def competitive_assignment(
    links: pd.DataFrame,
    min_picks: int,
    min_p_and_s_stations: int = 0,
    rounds: int = 8,
) -> pd.DataFrame:
    """Assign each pick to at most one source, greedily by association probability.

    Each round gives every pick to its most probable living source (at most one P and one S
    per source and station) and drops the sources left with fewer than ``min_picks``; their
    picks go to the others in the next round. Two detections of one event can split its
    picks so that neither keeps ``min_picks``: of such sources that share candidate picks,
    the strongest (sum of its best probability per station and phase) is spared for one
    round instead of being dropped with the others, so that it can collect the picks they
    held.

    Parameters
    ----------
    links
        Candidate links: ``source``, ``pick``, ``station``, ``phase`` (0 = P, 1 = S),
        ``probability`` (all above the association threshold).
    min_picks
        Sources keeping fewer picks are dropped and their picks offered to the others.
    min_p_and_s_stations
        Minimum number of stations with both a P and an S pick.
    rounds
        Maximum rounds of dropping weak sources and re-assigning.

    Returns
    -------
    pandas.DataFrame
        The kept links: each pick once; per source and station at most one P and one S.

    Examples
    --------
    >>> links = pd.DataFrame({"source": [0, 1, 0], "pick": [7, 7, 8], "station": [0, 0, 1],
    ...                       "phase": [0, 0, 1], "probability": [0.9, 0.8, 0.7]})
    >>> competitive_assignment(links, min_picks=2)["pick"].tolist()
    [7, 8]
    """
    alive = np.ones(int(links["source"].max()) + 1 if len(links) else 0, dtype=bool)
    spared_before = np.zeros_like(alive)
    kept = links.iloc[:0]
    for _ in range(rounds):
        live = links[alive[links["source"].to_numpy()]] if len(links) else links
        cand = live.sort_values("probability", ascending=False, kind="stable")
        cand = cand.drop_duplicates("pick")
        cand = cand.drop_duplicates(["source", "station", "phase"])
        counts = cand["source"].value_counts()
        ok = counts[counts >= min_picks].index
        if min_p_and_s_stations > 0 and len(cand):
            both = (cand.groupby(["source", "station"])["phase"].nunique() == 2)
            n_both = both.groupby(level=0).sum()
            ok = ok.intersection(n_both[n_both >= min_p_and_s_stations].index)
        keep_mask = cand["source"].isin(ok)
        kept = cand[keep_mask]
        weak = np.setdiff1d(cand["source"].unique(), ok.to_numpy())
        if not len(weak):
            break
        spared = _spare_split_sources(live, weak, min_picks, spared_before)
        spared_before[spared] = True
        dropped = np.setdiff1d(weak, spared)
        if not len(dropped):
            break
        alive[dropped] = False
    return kept.sort_values(["source", "pick"]).reset_index(drop=True)


def _spare_split_sources(live: pd.DataFrame, weak: np.ndarray, min_picks: int,
                         spared_before: np.ndarray) -> np.ndarray:
    """Among the ``weak`` sources (below ``min_picks`` this round) that share candidate picks
    with another weak source, those to keep alive one more round: strongest first, each
    sparing none that shares a pick with it. Only sources whose candidate picks could reach
    ``min_picks`` on their own, and that were not spared before, qualify."""
    cand = live[live["source"].isin(weak)]
    best = (cand.sort_values("probability", ascending=False, kind="stable")
            .drop_duplicates(["source", "station", "phase"]))
    n_slots = best.groupby("source").size()
    strength = best.groupby("source")["probability"].sum()
    shared = cand[cand.duplicated("pick", keep=False)]
    contested = shared["source"].unique()
    viable = n_slots[(n_slots >= min_picks) & n_slots.index.isin(contested)].index.to_numpy()
    viable = viable[~spared_before[viable]]
    if not len(viable):
        return viable
    order = viable[np.argsort(-strength.loc[viable].to_numpy(), kind="stable")]
    picks_of = shared[shared["source"].isin(order)].groupby("source")["pick"].unique()
    claimed: set[int] = set()
    spared = []
    for s in order:
        picks = set(picks_of.get(s, ()))
        if picks & claimed:
            continue
        spared.append(s)
        claimed |= picks
    return np.asarray(spared, dtype=int)
