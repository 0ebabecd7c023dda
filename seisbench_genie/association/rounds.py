"""Later rounds (step 13): the whole association once more, on the picks no event holds.

On a day crowded with events, the arrivals of one event can hide another from the network:
its field at the hidden event stays below the threshold while the other event's picks are in
the stream, and reaches it once they are taken out (the *crowded* detection losses of
``docs/benchmarks.md``). After a round, the next one runs steps 1-12 on the picks that no
event holds, with two stricter rules, because leftover picks are where false events are made:

- the fit check asks every event for more fitting picks than chance coincidences of those
  picks would give (:data:`~seisbench_genie.association.credibility.CHANCE_MARGIN` more), on
  every kind of day (:func:`~seisbench_genie.association.credibility.credible_sources`);
- an event made mostly of picks at the arrivals of an event found before (its outliers, a
  doubled pick, a wrong phase label) is a piece of that event, not a new one, and is dropped
  (:func:`without_pieces`).

:func:`add_round` then joins the rounds' tables.

Examples
--------
>>> # exercised through seisbench_genie.GENIE.classify(rounds=2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree

from seisbench_genie.association.tables import keep_events
from seisbench_genie.nn.candidates import (
    S_TOLERANCE_FACTOR,
    arrival_tolerance_s,
    travel_times_within,
)

#: A later round's event is a piece of the earlier events when at least PIECE_SHARE of its
#: picks each lie within PIECE_TOLERANCES association tolerances (0.5 s + 2 % of the P travel
#: time, x 1.7 for S) of a predicted P or S arrival of an earlier event at their station. Two
#: tolerances hold the pick errors of an event whose location fits its picks and stay short
#: of the arrivals of an event one window step (3 s on the crustal scale) later. Measured on
#: the synthetic days of ``docs/benchmarks.md`` ("Later rounds on the picks no event holds"):
#: without this rule the second round made 18 pieces of events already found in 16 hours of
#: crowded days; with it, 6.
PIECE_TOLERANCES = 2.0
#: ... and half of the picks: an event hidden behind another shares some arrival times with
#: it by chance, a piece most of them.
PIECE_SHARE = 0.5
#: Seconds before an origin time and after its latest predicted S arrival within which picks
#: are compared with its arrivals (a margin for the tolerance, which stays below it).
ARRIVAL_MARGIN_S = 5.0
#: The finest node spacing of a later round, as a fraction of the model's. Measured on the
#: synthetic days of ``docs/benchmarks.md`` ("A finer node grid in the later rounds"): on
#: very dense arrays 0.7 found fewer small events than 0.5, and a grid as fine as that in
#: the first round already split many events into pieces; each halving quadruples the
#: nodes, and with them a later round's time.
FINEST_LATER_ROUND_SPACING = 0.5
#: Stations closer together than this (km) are one site when the station spacing is measured:
#: instruments sharing a site under different location codes (a broadband sensor and an
#: accelerometer, say) would otherwise make a sparse network look dense. 50 m is below the
#: spacing of any array the models cover and above a site's GPS scatter.
SAME_SITE_KM = 0.05
#: Neighbours searched for a station's nearest other site: more instruments than this at one
#: site would hide it (8 is more than any site's location codes hold).
SITE_NEIGHBOURS = 8


def later_round_spacing_factor(station_xyz_km: np.ndarray, node_spacing_km: float,
                               given: float | None = None) -> float:
    """Node spacing of the later rounds as a fraction of the model's ``node_spacing_km``.

    ``given`` (a fraction in (0, 1]) is returned as it is. None: the stations' median
    distance to their nearest other station (epicentral, km; stations within
    :data:`SAME_SITE_KM` of each other count as one site) over ``node_spacing_km``, between
    :data:`FINEST_LATER_ROUND_SPACING` and 1. A small event seen only by the
    stations nearest to it is missed by a node farther from it than those stations are
    from each other; on a network as sparse as the nodes a finer grid adds only time.

    Parameters
    ----------
    station_xyz_km
        Station positions (n, 3 or more; x and y in km are the first two columns).
    node_spacing_km
        The model's horizontal node spacing (km).
    given
        An explicit fraction, or None for the rule above.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [20.0, 0.0, 0.0]])
    >>> later_round_spacing_factor(xy, node_spacing_km=25.0)
    0.5
    >>> later_round_spacing_factor(xy * 2, node_spacing_km=25.0)
    0.8
    >>> later_round_spacing_factor(xy * 4, node_spacing_km=25.0)
    1.0
    >>> later_round_spacing_factor(np.vstack([xy, xy]) * 4, node_spacing_km=25.0)  # two per site
    1.0
    >>> later_round_spacing_factor(xy, node_spacing_km=25.0, given=1.0)
    1.0
    """
    if given is not None:
        return float(given)
    xy = np.asarray(station_xyz_km, dtype=float)[:, :2]
    k = min(len(xy), SITE_NEIGHBOURS + 1)
    if k < 2:
        return 1.0
    distance_km, _ = cKDTree(xy).query(xy, k=k)
    # Each station's nearest neighbour at another site (inf: none among its k nearest).
    nearest_km = np.where(distance_km > SAME_SITE_KM, distance_km, np.inf).min(axis=1)
    nearest_km = nearest_km[np.isfinite(nearest_km)]
    if len(nearest_km) == 0:
        return 1.0
    ratio = float(np.median(nearest_km)) / node_spacing_km
    return float(min(1.0, max(FINEST_LATER_ROUND_SPACING, ratio)))


def explained_picks(bound, events: pd.DataFrame, picks: pd.DataFrame, max_distance_km: float,
                    tolerances: float = PIECE_TOLERANCES) -> np.ndarray:
    """Which picks lie within ``tolerances`` association tolerances of a predicted P or S
    arrival of one of ``events`` at their station (whatever their phase label).

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations (local frame).
    events
        ``time`` (POSIX s), ``x_km``, ``y_km``, ``depth_km`` (local frame).
    picks
        ``station_index``, ``time`` (POSIX s).
    max_distance_km
        Stations farther from an event than this have no predicted arrival.
    tolerances
        Width of the window on each side of an arrival, in association tolerances.

    Returns
    -------
    numpy.ndarray
        (len(picks),) bool.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify(rounds=2)
    """
    explained = np.zeros(len(picks), dtype=bool)
    if len(events) == 0 or len(picks) == 0:
        return explained
    xyz = torch.tensor(events[["x_km", "y_km", "depth_km"]].to_numpy(np.float64))
    tp, ts, _ = travel_times_within(bound, xyz, max_distance_km)
    tp, ts = tp.numpy().astype(np.float64), ts.numpy().astype(np.float64)
    origin = events["time"].to_numpy(np.float64)
    time = picks["time"].to_numpy(np.float64)
    order = np.argsort(time, kind="stable")
    time, station = time[order], picks["station_index"].to_numpy()[order]
    # Each event against the picks of its time span only (picks sorted by time).
    latest = np.where(np.isfinite(ts), ts, -np.inf).max(axis=1)
    latest = np.where(np.isfinite(latest), latest, 0.0)
    lo = np.searchsorted(time, origin - ARRIVAL_MARGIN_S)
    hi = np.searchsorted(time, origin + latest + ARRIVAL_MARGIN_S, side="right")
    count = np.maximum(hi - lo, 0)
    event = np.repeat(np.arange(len(origin)), count)
    pos = np.arange(int(count.sum())) + np.repeat(lo - (np.cumsum(count) - count), count)
    travel_p, travel_s = tp[event, station[pos]], ts[event, station[pos]]
    width = tolerances * arrival_tolerance_s(np.where(np.isfinite(travel_p), travel_p, 0.0))
    delay = time[pos] - origin[event]
    with np.errstate(invalid="ignore"):
        hit = (np.abs(delay - travel_p) <= width) | (
            np.abs(delay - travel_s) <= S_TOLERANCE_FACTOR * width)
    explained[order[pos[hit]]] = True
    return explained


def leftover_picks(picks: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The picks of ``picks`` that no event of ``assignments`` holds, in their order.

    Examples
    --------
    >>> picks = pd.DataFrame({"pick_idx": [0, 1, 2], "time": [1.0, 2.0, 3.0]})
    >>> leftover_picks(picks, pd.DataFrame({"pick_idx": [1], "event_idx": [0]}))["pick_idx"].tolist()
    [0, 2]
    """
    return picks[~picks["pick_idx"].isin(assignments["pick_idx"])].reset_index(drop=True)


def without_pieces(bound, events: pd.DataFrame, new_events: pd.DataFrame,
                   new_assignments: pd.DataFrame, picks: pd.DataFrame, max_distance_km: float
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``new_events`` and ``new_assignments`` without the events that are pieces of
    ``events`` (:data:`PIECE_SHARE` of their picks each explained by one of them, see
    :func:`explained_picks`), renumbered 0, 1, ... in their order; the pieces' picks stay
    unassociated.

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations (local frame).
    events
        The earlier rounds' events (``time``, ``x_km``, ``y_km``, ``depth_km``).
    new_events, new_assignments
        The later round's tables (``event_idx`` numbered 0, 1, ... by row).
    picks
        ``pick_idx``, ``station_index``, ``time`` of (at least) the later round's picks.
    max_distance_km
        Stations farther from an event than this have no predicted arrival.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify(rounds=2)
    """
    if len(new_events) == 0 or len(events) == 0:
        return new_events, new_assignments
    at = picks.set_index("pick_idx").loc[new_assignments["pick_idx"].to_numpy(),
                                         ["station_index", "time"]]
    explained = explained_picks(bound, events, at, max_distance_km)
    event = new_assignments["event_idx"].to_numpy()
    n = len(new_events)
    share = (np.bincount(event, weights=explained, minlength=n)
             / np.maximum(np.bincount(event, minlength=n), 1))
    return keep_events(new_events, new_assignments, share < PIECE_SHARE)


def add_round(events: pd.DataFrame, assignments: pd.DataFrame, new_events: pd.DataFrame,
              new_assignments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The event and assignment tables of two rounds as one, events numbered by origin time
    (as :func:`~seisbench_genie.association.tables.event_tables` numbers one round's).

    Examples
    --------
    >>> ev = pd.DataFrame({"event_idx": [0, 1], "time": [10.0, 30.0]})
    >>> asg = pd.DataFrame({"pick_idx": [0, 1], "event_idx": [0, 1]})
    >>> new_ev = pd.DataFrame({"event_idx": [0], "time": [20.0]})
    >>> new_asg = pd.DataFrame({"pick_idx": [2], "event_idx": [0]})
    >>> e, a = add_round(ev, asg, new_ev, new_asg)
    >>> e["time"].tolist(), a.sort_values("pick_idx")["event_idx"].tolist()
    ([10.0, 20.0, 30.0], [0, 2, 1])
    """
    if len(new_events) == 0:
        return events, assignments
    n_old = len(events)
    joined = pd.concat([events, new_events], ignore_index=True)
    old_id = np.concatenate([events["event_idx"].to_numpy(),
                             new_events["event_idx"].to_numpy() + n_old])
    order = np.argsort(joined["time"].to_numpy(), kind="stable")
    new_id = np.empty(len(joined), dtype=int)
    new_id[old_id[order]] = np.arange(len(order))
    joined = joined.iloc[order].reset_index(drop=True)
    joined["event_idx"] = np.arange(len(joined))
    both = pd.concat([assignments, new_assignments.assign(
        event_idx=new_assignments["event_idx"].to_numpy() + n_old)], ignore_index=True)
    both["event_idx"] = new_id[both["event_idx"].to_numpy()]
    return joined, both.sort_values(["event_idx", "pick_idx"]).reset_index(drop=True)
