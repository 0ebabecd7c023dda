"""The relocated catalog: new preferred origins beside the input ones, and flags."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from obspy import UTCDateTime
from obspy.core.event import (
    Arrival,
    Catalog,
    Comment,
    CreationInfo,
    Origin,
    OriginQuality,
    ResourceIdentifier,
)

from ..catalog import _Factory, _none_list, _qe, distance_azimuth
from .problem import RelocationProblem
from .solvers import SolveResult

__all__ = ["METHOD_IDS", "NOT_RELOCATED", "relocated_catalog"]

#: ``Origin.method_id`` of the relocated origins, per method.
METHOD_IDS = {"graphdd": "smi:seisbench_genie/method/GraphDD",
              "lsqr": "smi:seisbench_genie/method/GraphDD-lsqr"}
#: Start of the comment on the origin of an event left as it was.
NOT_RELOCATED = "GraphDD: not relocated:"


def _copy(catalog: Any, copy: bool) -> Catalog:
    if isinstance(catalog, Catalog):
        return catalog.copy() if copy else catalog
    return Catalog(events=[e.copy() if copy else e for e in catalog])


def relocated_catalog(catalog: Any, problem: RelocationProblem, result: SolveResult,
                      method: str, copy: bool = True) -> Catalog:
    """A copy of ``catalog`` (``catalog`` itself unless ``copy``) with a relocated, preferred origin in each relocated event.

    The new origin has the relocated time and hypocentre, ``method_id``
    :data:`METHOD_IDS` ``[method]``, one arrival per pick used (pick id and phase of the input
    arrival, the new residual, distance and azimuth), an ``OriginQuality`` (used phases and
    stations, RMS residual) and a comment with the number of pairs and differential times
    and their final RMS. The input origins stay in the event. An event that is not
    relocated keeps its preferred origin, which gets a comment starting with
    :data:`NOT_RELOCATED` and the reason.

    Parameters
    ----------
    catalog
        The input catalog (not modified).
    problem
        The relocation problem built from it.
    result
        The solver's result.
    method
        ``"graphdd"`` or ``"lsqr"``.
    copy
        Work on a deep copy (else on ``catalog``'s events).

    Returns
    -------
    obspy.core.event.Catalog

    Examples
    --------
    >>> # exercised through GraphDD.relocate (tests/test_relocation.py)
    """
    from .. import __version__

    out = _copy(catalog, copy)
    cat = problem.catalog
    now = UTCDateTime()
    author = f"seisbench-genie {__version__}"
    prefix = f"smi:seisbench_genie/relocation/{uuid.uuid4().hex}"
    method_id = METHOD_IDS[method]
    label = "GraphDD" if method == "graphdd" else "GraphDD (lsqr baseline)"

    lat, lon = problem.projection.to_geographic(result.xyz_km[:, 0], result.xyz_km[:, 1])
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    depth_km = result.xyz_km[:, 2]
    ev = problem.pick_event
    st = problem.pick_station
    d_deg, az = distance_azimuth(lat[ev], lon[ev], problem.stations["latitude"].to_numpy()[st],
                                 problem.stations["longitude"].to_numpy()[st])
    res = result.residual_s
    rows = problem.pick_row
    pick_id = cat.picks["pick_id"].to_numpy(dtype=object)[rows]
    phase = cat.picks["arrival_phase"].to_numpy(dtype=object)[rows]
    station_id = problem.stations["id"].to_numpy(dtype=object)[st]
    order = np.argsort(ev, kind="stable")
    bounds = np.searchsorted(ev[order], np.arange(problem.n_events + 1)).tolist()
    n = problem.n_events
    rms = np.sqrt(np.bincount(ev, weights=res ** 2, minlength=n)
                  / np.maximum(np.bincount(ev, minlength=n), 1))
    n_pairs = np.bincount(problem.pairs.ravel(), minlength=n)
    dd_ev = np.concatenate([ev[problem.dd_a], ev[problem.dd_b]])
    dd_res = np.concatenate([result.dd_residual_s, result.dd_residual_s])
    n_dd = np.bincount(dd_ev, minlength=n)
    dd_rms = np.sqrt(np.bincount(dd_ev, weights=dd_res ** 2, minlength=n) / np.maximum(n_dd, 1))
    n_cc = np.bincount(np.concatenate([problem.cc_event_a, problem.cc_event_b]), minlength=n)

    l_pick, l_phase = pick_id[order].tolist(), phase[order].tolist()
    l_res = _none_list(res[order])
    l_dist, l_az = _none_list(d_deg[order]), _none_list(az[order])
    l_sta = station_id[order].tolist()
    make_arrival = _Factory(Arrival)
    make_origin = _Factory(Origin, evaluation_mode="automatic",
                           evaluation_status="preliminary", origin_type="hypocenter")
    make_quality = _Factory(OriginQuality)
    rid = ResourceIdentifier
    for i, event in enumerate(out):  # one pass over the events; arrivals per event below
        if not problem.relocatable[i]:
            origin = event.origins[cat.origin_index[i]]
            origin.comments.append(Comment(
                text=f"{NOT_RELOCATED} {problem.reason[i]}",
                resource_id=rid(f"{prefix}/comment/{i}"),
                creation_info=CreationInfo(author=author, creation_time=now)))
            continue
        arrivals = []
        for j in range(bounds[i], bounds[i + 1]):
            arrivals.append(make_arrival(
                resource_id=rid(f"{prefix}/arrival/{i}/{j}"), pick_id=rid(l_pick[j]),
                phase=l_phase[j], time_residual=l_res[j], distance=l_dist[j],
                azimuth=l_az[j]))
        used = range(bounds[i], bounds[i + 1])
        origin = make_origin(
            resource_id=rid(f"{prefix}/origin/{i}"),
            time=UTCDateTime(float(cat.origin_time[i] + result.tau_s[i])),
            time_errors=_qe(), latitude=float(lat[i]), latitude_errors=_qe(),
            longitude=float(lon[i]), longitude_errors=_qe(),
            depth=float(depth_km[i] * 1000.0), depth_errors=_qe(),
            method_id=rid(method_id), arrivals=arrivals,
            quality=make_quality(used_phase_count=len(used),
                                 used_station_count=len({l_sta[j] for j in used}),
                                 standard_error=float(rms[i])),
            creation_info=CreationInfo(author=author, version=__version__,
                                       creation_time=now),
            comments=[Comment(
                text=(f"{label}: relocated with {int(n_pairs[i])} neighbour pair(s), "
                      f"{int(n_dd[i])} catalog and {int(n_cc[i])} cross-correlation "
                      f"differential time(s); RMS of its catalog differential times "
                      f"{dd_rms[i]:.4f} s"),
                resource_id=rid(f"{prefix}/comment/{i}"))])
        origin.resource_id.set_referred_object(origin, warn=False)
        event.origins.append(origin)
        event.preferred_origin_id = rid(f"{prefix}/origin/{i}")
    return out
