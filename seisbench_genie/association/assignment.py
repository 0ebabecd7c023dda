"""Competitive assignment of picks to candidate sources."""

from __future__ import annotations

import numpy as np
import pandas as pd


def competitive_assignment(
    links: pd.DataFrame,
    min_picks: int,
    min_p_and_s_stations: int = 0,
    rounds: int = 4,
) -> pd.DataFrame:
    """Assign each pick to at most one source, greedily by association probability.

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
        Rounds of dropping weak sources and re-assigning.

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
    kept = links.iloc[:0]
    for _ in range(rounds):
        cand = links[alive[links["source"].to_numpy()]] if len(links) else links
        cand = cand.sort_values("probability", ascending=False, kind="stable")
        cand = cand.drop_duplicates("pick")
        cand = cand.drop_duplicates(["source", "station", "phase"])
        counts = cand["source"].value_counts()
        ok = counts[counts >= min_picks].index
        if min_p_and_s_stations > 0 and len(cand):
            both = (cand.groupby(["source", "station"])["phase"].nunique() == 2)
            n_both = both.groupby(level=0).sum()
            ok = ok.intersection(n_both[n_both >= min_p_and_s_stations].index)
        keep_mask = cand["source"].isin(ok)
        dropped = set(cand.loc[~keep_mask, "source"])
        kept = cand[keep_mask]
        if not dropped:
            break
        alive[list(dropped)] = False
    return kept.sort_values(["source", "pick"]).reset_index(drop=True)
