"""Station delays estimated from the association itself (``station_terms="auto"``).

Real arrivals differ from a 1-D model's predictions by a per-station static delay (the
geology under each station, which the model does not hold; S about 1.7x P). With
``station_terms="auto"``, :meth:`seisbench_genie.GENIE.classify` associates once, estimates
these delays from the residuals of the well-constrained events (:func:`estimate_station_terms`)
and associates again with them (:func:`self_calibrate`), a bounded number of times.

Sign: station terms are *added* to the predicted arrival (NonLinLoc convention,
``observed = predicted + term``), and the residuals in the assignments are observed minus
predicted *with the terms used in that pass*, so the updated term is the old term plus the
median residual.

Mean removal: a delay common to every station's P and S arrivals is indistinguishable from
a later origin time, so the terms are only defined up to one constant. After each update that
constant is fixed by removing the network mean of the P terms (over the stations with a P
term) from the P and the S terms alike; the locations then keep the origin times they get
without terms, and the terms do not drift through that trade-off. The network's mean S-P
offset is kept: near-surface low velocities delay S about 1.7x as much as P, and removing
each phase's mean separately pushed that offset back into the locations (on the Ridgecrest
2019 picks, events about 3 km deeper and 50 % farther from the SCSN epicentres than with
one constant; ``docs/usage.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbench_genie.location import locate

__all__ = [
    "AUTO",
    "MAX_RELOCATIONS",
    "MAX_RMS_FACTOR",
    "MIN_RESIDUALS",
    "TERM_TOLERANCE_S",
    "WELL_RECORDED_PICKS_FACTOR",
    "estimate_station_terms",
    "relocated_residuals",
    "self_calibrate",
    "warn_too_few",
]

#: The value of ``station_terms`` that asks for self-calibrated delays.
AUTO = "auto"
#: Residuals a station needs, per phase, for a term; below it the term stays 0. A median of 5
#: residuals with 0.1-0.3 s pick errors is good to about 0.1 s, the accuracy asked of a term.
MIN_RESIDUALS = 5
#: An event is well constrained when it has at least this many times ``min_picks`` picks or is
#: in the better-recorded half of the events (whichever admits more events): on synthetic
#: crustal hours the median event has 3-4x ``min_picks`` picks and 2x admits about 3/4 of
#: the events, while on 10 stations (Ridgecrest, ``min_picks=10``) an event has at most 20
#: picks (median 16), and the median admits half.
WELL_RECORDED_PICKS_FACTOR = 2.0
#: ... and an rms residual at most this many times the median event's: an event that fits
#: clearly worse than the typical one holds wrong picks or a poor location, whose residuals
#: are no station delays. Station delays raise every event's rms alike, so the cut is relative.
MAX_RMS_FACTOR = 2.0
#: Relocations of the well-constrained events with updated terms (their picks kept) per
#: update; each recovers about half of the delay the locations had absorbed, and 3-5 brought
#: the terms within TERM_TOLERANCE_S on the synthetic crustal days with injected delays.
MAX_RELOCATIONS = 10
#: Self-calibration stops when no term changes by this much (s) between two passes: a fifth
#: of the 0.1 s accuracy of a term.
TERM_TOLERANCE_S = 0.02

_PHASES = (("P", "p_term_s", "n_p"), ("S", "s_term_s", "n_s"))
TERM_COLUMNS = ["id", "p_term_s", "s_term_s", "n_p", "n_s"]


def estimate_station_terms(
    assignments: pd.DataFrame,
    events: pd.DataFrame,
    pick_station: pd.Series,
    station_ids: Sequence[str] | None = None,
    previous: pd.DataFrame | None = None,
    *,
    min_picks: int = 10,
    warn: bool = True,
) -> pd.DataFrame:
    """P and S station terms (s) from the residuals of the well-constrained events.

    Per station and phase (the phase the association chose), the term is the previous term
    plus the median residual of the picks of well-constrained events (at least
    :data:`WELL_RECORDED_PICKS_FACTOR` x ``min_picks`` picks or in the better-recorded half,
    and rms at most :data:`MAX_RMS_FACTOR` x the median event's). The network mean of the
    P terms is then removed from the P and the S terms (a delay common to all arrivals is an
    origin-time shift; the mean S-P offset is kept). Stations with fewer than
    :data:`MIN_RESIDUALS` residuals of a phase get 0 for it.

    Parameters
    ----------
    assignments
        ``pick_idx``, ``event_idx``, ``phase`` ("P"/"S"), ``residual_s`` (observed minus
        predicted with ``previous`` applied, s), as in ``AssociationOutput.assignments``.
    events
        ``event_idx``, ``n_picks``, ``rms_s`` (s), as in ``AssociationOutput.events``.
    pick_station
        Station id of each pick, indexed by ``pick_idx``.
    station_ids
        Stations of the result (default: those of ``pick_station``); those without enough
        residuals get 0.
    previous
        The terms (``id``, ``p_term_s``, ``s_term_s``) used for ``assignments``; None: none.
    min_picks
        The association's ``min_picks``.
    warn
        Emit one ``UserWarning`` naming the stations and phases left at 0 (see
        :func:`warn_too_few`).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``p_term_s``, ``s_term_s`` (s, added to the predictions), ``n_p``, ``n_s``
        (residuals used), one row per station of ``station_ids``.

    Examples
    --------
    >>> asg = pd.DataFrame({"pick_idx": range(12), "event_idx": [0] * 12,
    ...                     "phase": ["P"] * 12, "residual_s": [0.5] * 6 + [-0.1] * 6})
    >>> ev = pd.DataFrame({"event_idx": [0], "n_picks": [12], "rms_s": [0.3]})
    >>> stations = pd.Series(["XX.A."] * 6 + ["XX.B."] * 6)
    >>> terms = estimate_station_terms(asg, ev, stations, warn=False)
    >>> terms[["id", "p_term_s", "n_p"]].round(2).values.tolist()
    [['XX.A.', 0.3, 6], ['XX.B.', -0.3, 6]]
    """
    if station_ids is None:
        station_ids = pd.unique(pick_station.astype(str))
    ids = pd.Index([str(i) for i in station_ids], name="id")
    good = _well_constrained(events, min_picks)
    res = assignments[assignments["event_idx"].isin(good)]
    res = pd.DataFrame({
        "id": pick_station.astype(str).reindex(res["pick_idx"].to_numpy()).to_numpy(),
        "phase": res["phase"].to_numpy(),
        "residual_s": res["residual_s"].to_numpy(float),
    }).dropna()
    stats = res.groupby(["phase", "id"])["residual_s"].agg(["median", "size"])
    old = _term_frame(previous, ids)
    out = pd.DataFrame(index=ids)
    for phase, term, count in _PHASES:
        ph = stats.loc[phase] if phase in stats.index.get_level_values(0) else stats.iloc[:0]
        n = ph["size"].reindex(ids).fillna(0).astype(int)
        out[term] = (old[term] + ph["median"].reindex(ids)).where(n >= MIN_RESIDUALS)
        out[count] = n.to_numpy(int)
    # one constant off both phases: the P terms' network mean (the S terms' without P terms)
    common = out["p_term_s"].mean() if out["p_term_s"].notna().any() else out["s_term_s"].mean()
    terms = ["p_term_s", "s_term_s"]
    out[terms] = (out[terms] - (0.0 if np.isnan(common) else common)).fillna(0.0)
    out = out.reset_index()[TERM_COLUMNS]
    if warn:
        warn_too_few(out)
    return out


def warn_too_few(terms: pd.DataFrame, stacklevel: int = 3) -> None:
    """One ``UserWarning`` naming the stations whose P or S term is left at 0 for lack of
    residuals (``n_p`` / ``n_s`` below :data:`MIN_RESIDUALS`); nothing when there are none.

    Examples
    --------
    >>> t = pd.DataFrame({"id": ["XX.A."], "p_term_s": [0.0], "s_term_s": [0.2],
    ...                   "n_p": [2], "n_s": [9]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_too_few(t)
    >>> str(w[0].message)[:60]
    "station_terms='auto': too few well-constrained picks at XX.A"
    """
    parts = []
    for phase, _, count in _PHASES:
        few = terms.loc[terms[count] < MIN_RESIDUALS, "id"].astype(str).tolist()
        if few:
            parts.append(f"{', '.join(few)} ({phase})")
    if parts:
        warnings.warn(
            f"station_terms='auto': too few well-constrained picks at {'; '.join(parts)}; "
            f"their delay is left at 0 (each needs {MIN_RESIDUALS} residuals)", UserWarning,
            stacklevel=stacklevel)


def self_calibrate(
    associate: Callable[[Any], tuple[pd.DataFrame, pd.DataFrame]],
    bind: Callable[[pd.DataFrame | None], Any],
    picks: pd.DataFrame,
    *,
    min_picks: int,
    iterations: int,
    bounds_km: tuple[tuple[float, float], ...] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Associate, estimate station terms, associate again with them: at most ``iterations``
    updates, fewer when no term changes by :data:`TERM_TOLERANCE_S` or more.

    Each update first iterates on the association's picks alone: the terms from
    :func:`estimate_station_terms`, then the well-constrained events relocated with them
    (:func:`relocated_residuals`), up to :data:`MAX_RELOCATIONS` times. A location absorbs
    part of a station's delay, so one median recovers only part of it; relocating is cheap,
    an association is not.

    Parameters
    ----------
    associate
        ``associate(bound)`` -> ``(events, assignments)`` (local-frame events with ``x_km``,
        ``y_km``, ``depth_km``, ``time``) for a bound travel-time object.
    bind
        ``bind(terms)`` -> the bound travel times with station terms ``terms`` (a DataFrame
        ``id``, ``p_term_s``, ``s_term_s``, or None); its ``stations["id"]`` are the
        stations of the terms.
    picks
        The pick table: ``pick_idx``, ``station_index`` (row of the bound stations),
        ``time`` (POSIX s).
    min_picks
        The association's ``min_picks``.
    iterations
        Most term updates (each followed by an association), >= 1.
    bounds_km
        x, y, depth ranges (km) that relocations stay in (the association's location
        bounds).

    Returns
    -------
    tuple of pandas.DataFrame
        ``events``, ``assignments`` of the last association and the terms it used
        (:func:`estimate_station_terms`'s table). One warning names the stations left at 0.

    Examples
    --------
    >>> events, assignments, terms = self_calibrate(
    ...     run, bind, table, min_picks=10, iterations=2)  # doctest: +SKIP
    """
    if iterations < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations}")
    bound = bind(None)
    ids = bound.stations["id"].astype(str).to_numpy()
    pick_station = pd.Series(ids[picks["station_index"].to_numpy()],
                             index=picks["pick_idx"].to_numpy())
    events, assignments = associate(bound)
    used = None  # the terms of the last association
    for _ in range(iterations):
        good = events[events["event_idx"].isin(_well_constrained(events, min_picks))]
        residuals = assignments[assignments["event_idx"].isin(good["event_idx"])]
        terms = used
        for _ in range(MAX_RELOCATIONS):
            new = estimate_station_terms(residuals, good, pick_station, ids, terms,
                                         min_picks=min_picks, warn=False)
            change = _term_change(new, terms)
            terms = new
            if change < TERM_TOLERANCE_S:
                break
            residuals = relocated_residuals(bind(terms), good, residuals, picks, bounds_km)
        if _term_change(terms, used) < TERM_TOLERANCE_S:
            if used is None:  # nothing to correct: the association ran without terms
                used = terms.assign(p_term_s=0.0, s_term_s=0.0)
            break
        used = terms
        events, assignments = associate(bind(used))
    warn_too_few(used, stacklevel=4)
    return events, assignments, used


def relocated_residuals(
    bound: Any,
    events: pd.DataFrame,
    assignments: pd.DataFrame,
    picks: pd.DataFrame,
    bounds_km: tuple[tuple[float, float], ...] | None = None,
) -> pd.DataFrame:
    """``assignments`` of ``events`` with the residuals (s) of the events relocated with
    ``bound`` (its station terms included), each keeping its picks.

    Parameters
    ----------
    bound
        A :class:`~seisbench_genie.traveltimes.BoundTravelTimes`.
    events
        Local-frame events: ``event_idx``, ``time`` (POSIX s), ``x_km``, ``y_km``,
        ``depth_km``; the starting hypocentres.
    assignments
        ``pick_idx``, ``event_idx``, ``phase``, ``probability`` (the location weights) of
        these events.
    picks
        ``pick_idx``, ``station_index``, ``time`` (POSIX s).
    bounds_km
        x, y, depth ranges (km) the locations stay in.

    Returns
    -------
    pandas.DataFrame
        ``assignments`` with ``residual_s`` replaced (observed minus predicted).

    Examples
    --------
    >>> import pandas as pd
    >>> from seisbench_genie.traveltimes import get
    >>> st = pd.DataFrame({"id": list("ABCD"), "latitude": [0, 0.3, -0.3, 0],
    ...                    "longitude": [0.3, 0, 0, -0.3]})
    >>> bound = get("homogeneous", vp=6.0, vs=3.5).bind(st)
    >>> truth = torch.tensor([[5.0, -3.0, 10.0]]).expand(4, 3)
    >>> times = [100 + bound.pair_times(truth, torch.arange(4), ph) for ph in "PS"]
    >>> picks = pd.DataFrame({"pick_idx": range(8), "station_index": list(range(4)) * 2,
    ...                       "time": torch.cat(times).tolist()})
    >>> asg = pd.DataFrame({"pick_idx": range(8), "event_idx": 0, "phase": list("PPPPSSSS"),
    ...                     "probability": 1.0, "residual_s": 9.0})
    >>> ev = pd.DataFrame({"event_idx": [0], "time": [101.0], "x_km": [0.0], "y_km": [0.0],
    ...                    "depth_km": [5.0]})
    >>> relocated_residuals(bound, ev, asg, picks)["residual_s"].abs().max() < 1e-3
    True
    """
    if len(assignments) == 0:
        return assignments
    t_ref = float(events["time"].min())
    row = pd.Series(np.arange(len(events)), index=events["event_idx"].to_numpy())
    pick = picks.set_index("pick_idx").reindex(assignments["pick_idx"].to_numpy())
    ev = torch.tensor(row.reindex(assignments["event_idx"].to_numpy()).to_numpy(np.int64))
    station = torch.tensor(pick["station_index"].to_numpy(np.int64))
    phase = torch.tensor((assignments["phase"].to_numpy() == "S").astype(np.int64))
    time_s = torch.tensor(pick["time"].to_numpy(float) - t_ref, dtype=torch.float64)
    xyz = torch.tensor(events[["x_km", "y_km", "depth_km"]].to_numpy(float))
    origin = torch.tensor(events["time"].to_numpy(float) - t_ref)
    res = locate(bound, xyz, origin, ev, station, phase, time_s,
                 torch.tensor(assignments["probability"].to_numpy(float)),
                 bounds_km=bounds_km)
    return assignments.assign(residual_s=res.residual_s.numpy())


def _term_change(terms: pd.DataFrame, previous: pd.DataFrame | None) -> float:
    """Largest change (s) of a P or S term between ``previous`` and ``terms``."""
    old = _term_frame(previous, pd.Index(terms["id"].astype(str)))
    change = np.abs(terms[["p_term_s", "s_term_s"]].to_numpy() - old.to_numpy())
    return float(change.max()) if change.size else 0.0


def _well_constrained(events: pd.DataFrame, min_picks: int) -> np.ndarray:
    """``event_idx`` of the events whose residuals estimate the terms."""
    if len(events) == 0:
        return np.array([], dtype=int)
    n_picks = events["n_picks"].to_numpy(float)
    enough = min(WELL_RECORDED_PICKS_FACTOR * min_picks, float(np.median(n_picks)))
    rms = events["rms_s"].to_numpy(float)
    fits = rms <= MAX_RMS_FACTOR * float(np.nanmedian(rms))
    return events["event_idx"].to_numpy()[(n_picks >= enough) & fits]


def _term_frame(terms: pd.DataFrame | None, ids: pd.Index) -> pd.DataFrame:
    """``p_term_s``, ``s_term_s`` of ``terms`` aligned with ``ids`` (0 where missing)."""
    cols = ["p_term_s", "s_term_s"]
    if terms is None:
        return pd.DataFrame(0.0, index=ids, columns=cols)
    return terms.set_index(terms["id"].astype(str))[cols].reindex(ids).fillna(0.0)
