"""Synthetic clusters to test relocation: a fault plane inside a network, a perturbed catalog.

True hypocentres lie on a rectangular fault plane; picks come from a "true" travel-time
model (one the relocation does not use) with relative noise; the catalog given to the
relocation has each hypocentre scattered at random plus one common shift, and origin times
with an error. The relocation gets the true model's layers with every velocity changed by a
few percent. :func:`relative_errors` scores a relocation: the error of inter-event vectors
(what double differences improve) and the shift of the cluster's centroid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import build_catalog
from ..geo import LocalProjection
from ..synthetic.scenarios import load_velocity_model, ridgecrest_stations
from ..traveltimes import TravelTimeBackend, get
from ..traveltimes.velocity_model import layer_velocity_at

__all__ = ["SyntheticCluster", "make_cluster", "origins_xyz", "relative_errors"]

#: Centre of the default cluster (deg): inside GaMMA's Ridgecrest station set, whose 23
#: stations lie 12-58 km away.
DEFAULT_CENTRE = (35.7, -117.55)
#: Node spacing (km) of the 3-D grid of the ``grid3d`` truth: its eikonal error is about
#: 0.03 s (Grid3DTravelTimes' measurement), below the 1 % pick noise of 5-10 s travel times.
TRUTH_GRID_KM = 1.0
#: Node spacing (km) of the ``layered`` truth table, a fifth of the relocation table's.
TRUTH_LAYERED_KM = 0.05
#: Depth (km) of the bottom of the truth grids and tables.
TRUTH_DEPTH_KM = 20.0
#: Horizontal half-width (km) of the ``grid3d`` truth grid: it holds every station.
TRUTH_HALF_WIDTH_KM = 64.0
#: Shallowest perturbed catalog depth (km): catalogs rarely put events above 0.5 km.
MIN_CATALOG_DEPTH_KM = 0.5
#: Truth models :func:`make_cluster` offers.
TRUTHS = ("homogeneous", "layered", "grid3d")


@dataclass
class SyntheticCluster:
    """A synthetic catalog with its truth (see :func:`make_cluster`).

    Attributes
    ----------
    catalog : obspy.core.event.Catalog
        The perturbed catalog, with picks and arrivals.
    stations : pandas.DataFrame
        Station table.
    velocity_model : pandas.DataFrame
        The layers to relocate with (velocities off by ``velocity_error``).
    projection : LocalProjection
        Frame centred on the cluster.
    true_xyz_km, catalog_xyz_km : numpy.ndarray
        ``(N, 3)`` true and catalog x, y, depth (km) in ``projection``.
    true_time : numpy.ndarray
        ``(N,)`` true origin times (POSIX s).
    n_picks : int
        Number of picks.
    """

    catalog: Any
    stations: pd.DataFrame
    velocity_model: pd.DataFrame
    projection: LocalProjection
    true_xyz_km: np.ndarray
    catalog_xyz_km: np.ndarray
    true_time: np.ndarray
    n_picks: int


def _truth_backend(truth: str, model: pd.DataFrame, projection: LocalProjection
                   ) -> TravelTimeBackend:
    if truth == "homogeneous":
        return get("homogeneous", vp=float(model["vp"].iloc[0]), vs=float(model["vs"].iloc[0]))
    if truth == "layered":
        return get("layered", model=model, max_distance_km=2 * TRUTH_HALF_WIDTH_KM,
                   max_depth_km=TRUTH_DEPTH_KM, grid_spacing_km=TRUTH_LAYERED_KM)
    if truth == "grid3d":
        h = TRUTH_GRID_KM
        axis = np.arange(-TRUTH_HALF_WIDTH_KM, TRUTH_HALF_WIDTH_KM + h / 2, h)
        z = np.arange(0.0, TRUTH_DEPTH_KM + h / 2, h)
        tops = model["depth_km"].to_numpy(float)
        shape = (len(axis), len(axis), len(z))
        vp = np.broadcast_to(layer_velocity_at(tops, model["vp"].to_numpy(float), z), shape)
        vs = np.broadcast_to(layer_velocity_at(tops, model["vs"].to_numpy(float), z), shape)
        return get("grid3d", vp=vp, vs=vs, x_km=axis, y_km=axis, z_km=z,
                   origin_lat=projection.lat0, origin_lon=projection.lon0)
    raise ValueError(f"truth: expected one of {list(TRUTHS)}, got {truth!r}")


def make_cluster(n_events: int = 200, *, truth: str = "grid3d",
                 velocity_model: pd.DataFrame | None = None,
                 stations: pd.DataFrame | None = None,
                 centre: tuple[float, float] = DEFAULT_CENTRE, depth_km: float = 8.0,
                 fault_length_km: float = 5.0, fault_width_km: float = 5.0,
                 strike_deg: float = 320.0, dip_deg: float = 80.0,
                 velocity_error: float = 0.02, pick_noise: float = 0.01,
                 pick_fraction: float = 0.85, scatter_km: float = 1.5,
                 common_shift_km: tuple[float, float, float] = (1.0, -1.0, 1.0),
                 origin_time_error_s: float = 0.1, seed: int = 0) -> SyntheticCluster:
    """A synthetic cluster on a fault plane and its perturbed catalog.

    Parameters
    ----------
    n_events
        Events, uniformly at random on the fault plane.
    truth
        The model of the picks: ``"grid3d"`` (3-D eikonal grid of the 1-D model, 1 km
        nodes, trilinear), ``"layered"`` (a 0.05 km layered table) or ``"homogeneous"``
        (straight rays at the first layer's velocities).
    velocity_model
        True layers (default: Hadley & Kanamori 1977).
    stations
        Station table (default: GaMMA's 23 Ridgecrest stations).
    centre, depth_km
        Centre of the fault plane (deg, km).
    fault_length_km, fault_width_km, strike_deg, dip_deg
        The plane: length along strike, width down dip (km), strike and dip (deg).
    velocity_error
        Relative change of every velocity of the model given to the relocation (0.02: 2 %
        faster).
    pick_noise
        Picks are true times times ``1 + U(-pick_noise, pick_noise)``.
    pick_fraction
        Probability that a station records an event's P (and, independently, its S).
    scatter_km
        Standard deviation (km) of the catalog's error in each of x, y and depth.
    common_shift_km
        Error (km) shared by every catalog hypocentre (x, y, depth).
    origin_time_error_s
        Standard deviation (s) of the catalog's origin-time errors.
    seed
        Random seed.

    Returns
    -------
    SyntheticCluster

    Examples
    --------
    >>> c = make_cluster(10, truth="homogeneous", seed=1)
    >>> len(c.catalog), c.true_xyz_km.shape
    (10, (10, 3))
    """
    rng = np.random.default_rng(seed)
    model = load_velocity_model("hadley_kanamori") if velocity_model is None else velocity_model
    model = pd.DataFrame(model)[["depth_km", "vp", "vs"]].astype(float)
    if truth == "homogeneous":
        model = model.iloc[:1].reset_index(drop=True)
    stations = ridgecrest_stations() if stations is None else stations
    projection = LocalProjection(*centre)

    # True hypocentres on the plane.
    along = (rng.random(n_events) - 0.5) * fault_length_km
    down = (rng.random(n_events) - 0.5) * fault_width_km
    s, d = np.radians(strike_deg), np.radians(dip_deg)
    strike_vec = np.array([np.sin(s), np.cos(s), 0.0])
    dip_vec = np.array([np.cos(s) * np.cos(d), -np.sin(s) * np.cos(d), np.sin(d)])
    true_xyz = (np.array([0.0, 0.0, depth_km]) + along[:, None] * strike_vec
                + down[:, None] * dip_vec)
    t0 = 1.7e9 + np.sort(rng.random(n_events)) * 86400.0

    # Picks from the truth model.
    backend = _truth_backend(truth, model, projection)
    bound = backend.bind(stations, projection=projection)
    import torch

    with torch.no_grad():
        tt = {p: bound.times(torch.as_tensor(true_xyz), p).numpy() for p in ("P", "S")}
    rows = []
    for k, phase in enumerate(("P", "S")):  # two phases; events x stations vectorised
        keep = rng.random(tt[phase].shape) < pick_fraction
        noise = 1.0 + rng.uniform(-pick_noise, pick_noise, tt[phase].shape)
        ev, st = np.nonzero(keep)
        rows.append(pd.DataFrame({"event_idx": ev, "station": stations["id"].to_numpy()[st],
                                  "phase": phase,
                                  "time": t0[ev] + (tt[phase] * noise)[ev, st],
                                  "order": k}))
    picks = pd.concat(rows).sort_values(["event_idx", "order", "station"]).reset_index(drop=True)
    picks["pick_idx"] = np.arange(len(picks))

    # The perturbed catalog.
    cat_xyz = true_xyz + rng.normal(0.0, scatter_km, (n_events, 3)) + np.asarray(common_shift_km)
    cat_xyz[:, 2] = np.maximum(cat_xyz[:, 2], MIN_CATALOG_DEPTH_KM)
    lat, lon = projection.to_geographic(cat_xyz[:, 0], cat_xyz[:, 1])
    events = pd.DataFrame({"event_idx": np.arange(n_events),
                           "time": t0 + rng.normal(0.0, origin_time_error_s, n_events),
                           "latitude": lat, "longitude": lon, "depth_km": cat_xyz[:, 2]})
    assignments = picks[["pick_idx", "event_idx", "phase"]]
    catalog = build_catalog(events, assignments, picks[["pick_idx", "station", "phase", "time"]],
                            stations, method="synthetic",
                            id_prefix=f"smi:seisbench_genie/synthetic-cluster/{seed}")
    relocation_model = model.copy()
    relocation_model[["vp", "vs"]] *= 1.0 + velocity_error
    return SyntheticCluster(catalog=catalog, stations=stations,
                            velocity_model=relocation_model, projection=projection,
                            true_xyz_km=true_xyz, catalog_xyz_km=cat_xyz, true_time=t0,
                            n_picks=len(picks))


def origins_xyz(catalog: Any, projection: LocalProjection) -> np.ndarray:
    """x, y, depth (km) of the preferred origins of a catalog in ``projection``.

    Examples
    --------
    >>> c = make_cluster(3, truth="homogeneous")
    >>> np.allclose(origins_xyz(c.catalog, c.projection), c.catalog_xyz_km)
    True
    """
    origins = [e.preferred_origin() or e.origins[0] for e in catalog]
    lat = np.array([o.latitude for o in origins])
    lon = np.array([o.longitude for o in origins])
    x, y = projection.to_local(lat, lon)
    return np.stack([np.asarray(x, float), np.asarray(y, float),
                     np.array([o.depth / 1000.0 for o in origins])], axis=1)


#: Pairs scored by :func:`relative_errors`; more are sampled at random (seeded).
MAX_SCORED_PAIRS = 500_000


def relative_errors(true_xyz_km: np.ndarray, xyz_km: np.ndarray, seed: int = 0
                    ) -> dict[str, float]:
    """Errors of a set of hypocentres against the truth.

    Parameters
    ----------
    true_xyz_km, xyz_km
        ``(N, 3)`` true and estimated positions (km).
    seed
        Seed of the pair sample when there are more than :data:`MAX_SCORED_PAIRS` pairs.

    Returns
    -------
    dict
        ``interevent_km``: median length of ``(x_i - x_j) - (true_i - true_j)`` over event
        pairs; ``interevent_horizontal_km`` and ``interevent_depth_km``: the same for the
        horizontal and vertical parts; ``shift_km``: length of the mean error (the
        centroid's offset); ``absolute_km``: median length of the errors.

    Examples
    --------
    >>> t = np.zeros((3, 3)); e = t + [1.0, 0.0, 0.0]
    >>> relative_errors(t, e)["interevent_km"], relative_errors(t, e)["shift_km"]
    (0.0, 1.0)
    """
    err = np.asarray(xyz_km, float) - np.asarray(true_xyz_km, float)
    n = len(err)
    i, j = np.triu_indices(n, k=1)
    if len(i) > MAX_SCORED_PAIRS:
        pick = np.random.default_rng(seed).choice(len(i), MAX_SCORED_PAIRS, replace=False)
        i, j = i[pick], j[pick]
    diff = err[i] - err[j]
    return {
        "interevent_km": float(np.median(np.linalg.norm(diff, axis=1))),
        "interevent_horizontal_km": float(np.median(np.linalg.norm(diff[:, :2], axis=1))),
        "interevent_depth_km": float(np.median(np.abs(diff[:, 2]))),
        "shift_km": float(np.linalg.norm(err.mean(axis=0))),
        "absolute_km": float(np.median(np.linalg.norm(err, axis=1))),
    }
