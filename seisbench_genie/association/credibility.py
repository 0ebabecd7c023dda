"""The fit check (step 11): whether each kept source's picks fit a hypocentre located from
them, at a tolerance measured on the input itself, and whether they exceed the picks that
chance coincidences would give at its position."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.inputs import NodeGrid, PickSet
from seisbench_genie.association.params import AssociationParams
from seisbench_genie.association.relocation import locate_sources
from seisbench_genie.location import LocationResult
from seisbench_genie.nn.candidates import (
    S_TOLERANCE_FACTOR,
    arrival_tolerance_s,
    travel_times_within,
)

#: Median normalised residual (see :func:`tolerance_factor`) of well-recorded events when the
#: velocity model and the picks are as accurate as the association tolerance assumes.
TYPICAL_RESIDUAL = 0.2
#: Fitting picks an event needs beyond the chance coincidences expected at its position.
CHANCE_MARGIN = 4.0


def tolerance_factor(normalised_residual: np.ndarray, source: np.ndarray) -> float:
    """How much wider than the association tolerance the fit check must be for this input.

    The median residual (in tolerance units, see :func:`normalised_residuals`) of the picks
    of the better-recorded half of the events (by associated picks) measures how well the
    velocity model predicts this data set. It is about :data:`TYPICAL_RESIDUAL` when the model
    is good to about 1 %; with 5-10 % travel-time errors it is 3-4 times larger, and so is the
    tolerance of the fit check, which then no longer removes real events.

    Examples
    --------
    >>> tolerance_factor(np.array([0.1, 0.2, 0.3, 2.0]), np.array([0, 0, 0, 1]))
    1.0
    >>> tolerance_factor(np.array([0.8, 0.8, 0.8]), np.array([0, 0, 0]))
    4.0
    """
    if len(source) == 0:
        return 1.0
    counts = np.bincount(source)
    well_recorded = counts[source] >= np.median(counts[counts > 0])
    finite = well_recorded & np.isfinite(normalised_residual)
    if not finite.any():
        return 1.0
    return float(max(1.0, np.median(normalised_residual[finite]) / TYPICAL_RESIDUAL))


def chance_picks(bound, xyz: torch.Tensor, pick_station: torch.Tensor, pick_time_s: torch.Tensor,
                 max_distance_km: float, tolerance_factor: float = 1.0,
                 span_s: float | None = None) -> np.ndarray:
    """Picks expected by chance within the fit tolerance of the P and S arrivals of sources.

    The background picks at each station (the fit check passes those that no source
    explains) are taken as a Poisson process at their mean rate over the input; the
    expectation sums, over the stations within ``max_distance_km``, the rate times the width
    of the P and S tolerance windows. On a quiet day it is well below one pick, on the
    noisiest benchmark days over ten.

    Parameters
    ----------
    bound
        Travel-time backend bound to the stations.
    xyz
        (S, 3) source positions (km).
    pick_station, pick_time_s
        (P,) station index and time (s) of the background picks.
    max_distance_km
        Largest epicentral distance of a pair.
    tolerance_factor
        Width of the windows in association tolerances.
    span_s
        Duration of the input (s) over which the rates are taken; default: the span of
        ``pick_time_s``.

    Returns
    -------
    numpy.ndarray
        (S,) expected chance picks.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    n_stations = int(bound.station_xyz_km.shape[0])
    if span_s is None:
        span_s = float(pick_time_s.max() - pick_time_s.min()) if len(pick_time_s) > 1 else 0.0
    if span_s <= 0 or len(xyz) == 0:
        return np.zeros(len(xyz))
    rate = np.bincount(pick_station.numpy(), minlength=n_stations) / span_s
    tp, _, _ = travel_times_within(bound, xyz, max_distance_km)
    tp = tp.numpy().astype(np.float64)
    reach = np.isfinite(tp)
    width = 2.0 * tolerance_factor * arrival_tolerance_s(np.where(reach, tp, 0.0)) * (
        1.0 + S_TOLERANCE_FACTOR)
    return (np.where(reach, width, 0.0) * rate[None, :]).sum(axis=1)


def normalised_residuals(bound, xyz: torch.Tensor, origin: torch.Tensor, source: np.ndarray,
                         station: np.ndarray, phase: np.ndarray, time_s: np.ndarray,
                         max_distance_km: float) -> np.ndarray:
    """|residual| of each pick (row) to its source's predicted arrival, in units of the
    association tolerance (0.5 s + 2 % of the P travel time, x 1.7 for S); ``inf`` beyond
    ``max_distance_km``.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    uniq, row = np.unique(source, return_inverse=True)
    tp, ts, _ = travel_times_within(bound, xyz[uniq], max_distance_km)
    t_p = tp[row, station].numpy().astype(np.float64)
    is_s = phase == 1
    travel = np.where(is_s, ts[row, station].numpy(), t_p)
    residual = time_s - origin[uniq].numpy()[row] - travel
    tolerance = arrival_tolerance_s(t_p) * np.where(is_s, S_TOLERANCE_FACTOR, 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(travel), np.abs(residual) / tolerance, np.inf)


def arrival_fit(bound, xyz: torch.Tensor, origin: torch.Tensor, source: np.ndarray,
                station: np.ndarray, phase: np.ndarray, time_s: np.ndarray,
                max_distance_km: float, tolerance_factor: float = 1.0) -> np.ndarray:
    """Whether each pick (row) lies within ``tolerance_factor`` times the association
    tolerance of its source's predicted arrival (see :func:`normalised_residuals`).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    return normalised_residuals(bound, xyz, origin, source, station, phase, time_s,
                                 max_distance_km) <= tolerance_factor


def fitting_counts(bound, xyz: torch.Tensor, origin: torch.Tensor, links: pd.DataFrame,
                   pick_time_s: torch.Tensor, max_distance_km: float,
                   tolerance_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per source (index into ``xyz``), the picks and the stations with both a P and an S
    pick that fit its hypocentre within ``tolerance_factor`` times the association tolerance
    (see :func:`arrival_fit`).

    A true event's picks fit its location (pick errors are a fraction of a second); a
    detection assembled from coincident false picks and stray picks of other events keeps
    ``min_picks`` associated picks but few of them fit one hypocentre.

    Returns
    -------
    n_fit, n_fit_p_and_s : numpy.ndarray
        (S,) counts (0 for sources without links).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    source = links["source"].to_numpy()
    fit = arrival_fit(bound, xyz, origin, source, links["station"].to_numpy(),
                       links["phase"].to_numpy(), pick_time_s[links["pick"].to_numpy()].numpy(),
                       max_distance_km, tolerance_factor)
    n_fit = np.bincount(source[fit], minlength=len(xyz))
    fitting = links[fit]
    both = fitting.groupby(["source", "station"])["phase"].nunique() == 2
    per_source = both.groupby(level=0).sum()
    n_both = np.zeros(len(xyz), dtype=int)
    n_both[per_source.index.to_numpy()] = per_source.to_numpy()
    return n_fit, n_both


def credible_sources(grid: NodeGrid, picks: PickSet, xyz: torch.Tensor, origin: torch.Tensor,
                     links: pd.DataFrame, params: AssociationParams, leftover: bool = False
                     ) -> tuple[pd.DataFrame, np.ndarray, LocationResult]:
    """Locate the kept sources and keep those whose picks fit (``require_fit``).

    Each source is located with all its picks, then again from the picks that fit that
    location (false picks among the associated ones pull the first one). The fit tolerance
    is the association tolerance times :func:`tolerance_factor`. Chance coincidences
    (:func:`chance_picks`) are counted among the picks that no source explains (not linked to
    any source), so that the picks of the other events of a crowded day do not count as
    noise. Where chance coincidences alone could reach ``min_picks`` (chance +
    :data:`CHANCE_MARGIN`; days with many false picks), ``min_picks`` and
    ``min_p_and_s_stations`` count fitting picks only; elsewhere (the associated picks
    already meet both) the fitting picks must exceed chance by :data:`CHANCE_MARGIN`. The
    dropped sources' picks stay unassociated; the other events' first locations stand.
    With ``leftover`` (a later round on the picks no earlier event holds, see
    :mod:`~seisbench_genie.association.rounds`) every source needs both: ``min_picks``
    fitting picks and chance + :data:`CHANCE_MARGIN`.

    Returns
    -------
    links, sources, location
        The links of the credible sources, the sorted credible sources and their locations
        with all their links (residuals per link).

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify (tests/test_association.py)
    """
    sources = np.sort(links["source"].unique())
    res = locate_sources(grid, picks, xyz, origin, links, sources)
    if not params.require_fit:
        return links, sources, res
    located_xyz, located_origin = xyz.clone(), origin.clone()
    located_xyz[sources], located_origin[sources] = res.xyz_km, res.origin_s
    residual = normalised_residuals(
        grid.bound, located_xyz, located_origin, links["source"].to_numpy(),
        links["station"].to_numpy(), links["phase"].to_numpy(),
        picks.time_s[links["pick"].to_numpy()].numpy(), grid.scale.max_distance_km)
    factor = tolerance_factor(residual, links["source"].to_numpy())
    core = links[residual <= factor]
    core_sources = np.sort(core["source"].unique())
    if len(core_sources):
        res_core = locate_sources(grid, picks, located_xyz, located_origin, core, core_sources)
        located_xyz[core_sources] = res_core.xyz_km
        located_origin[core_sources] = res_core.origin_s
    n_fit, n_both = fitting_counts(grid.bound, located_xyz, located_origin, links,
                                   picks.time_s, grid.scale.max_distance_km, factor)
    # Chance coincidences come from the picks that no source explains: on a day crowded
    # with events most picks belong to one, on a noisy day most are false.
    unexplained = torch.ones(len(picks.time_s), dtype=torch.bool)
    unexplained[torch.as_tensor(links["pick"].to_numpy(), dtype=torch.long)] = False
    chance = chance_picks(grid.bound, located_xyz[sources], picks.station[unexplained],
                          picks.time_s[unexplained], grid.scale.max_distance_km, factor,
                          span_s=float(picks.time_s.max() - picks.time_s.min()))
    needed = np.ceil(chance + CHANCE_MARGIN)
    dense = needed >= params.min_picks
    if leftover:
        # Leftover picks are where false events are made: chance must be beaten everywhere.
        dense[:] = False
        needed = np.maximum(needed, params.min_picks)
    credible = sources[np.where(
        dense, (n_fit[sources] >= params.min_picks)
        & (n_both[sources] >= params.min_p_and_s_stations), n_fit[sources] >= needed)]
    if len(credible) < len(sources):
        keep_link = links["source"].isin(credible).to_numpy()
        keep_event = torch.as_tensor(np.isin(sources, credible))
        res = LocationResult(**{f.name: getattr(res, f.name)[keep_event]
                                for f in fields(res) if f.name != "residual_s"},
                             residual_s=res.residual_s[torch.as_tensor(keep_link)])
        links, sources = links[keep_link], credible
    return links, sources, res
