"""Where an association runs: its local frame, its search region and its travel-time backend.

The frame is the one the backend defines (:meth:`TravelTimeBackend.default_projection`):
centred on the stations with picks for 1-D backends, the grid's own frame for a 3-D model. The
region is the user's box or the stations +- the model's margin, always inside what the
backend covers; a 1-D model given as a DataFrame becomes a ``layered`` backend sized to the
region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.association import Region
from seisbench_genie.geo import LocalProjection
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.traveltimes import TravelTimeBackend, get, validate_velocity_model

#: Node grids, refinement lattices and locations reach up to one node spacing beyond the
#: region horizontally (nodes are cell centres of the region widened by half a spacing, a
#: shifted grid moves them by up to half a spacing, and locations are bounded by the region
#: +- one spacing): a backend with a bounded extent (a 3-D grid) must cover that much more.
EDGE_SPACINGS = 1.0
#: Points of each side of a lat/lon box sampled to find its extent in the local frame.
BOX_SAMPLES = 5
#: A ``layered`` table built for a DataFrame model reaches this factor times the smaller of
#: the region's diagonal and the model's largest distance, plus ``TABLE_PAD_KM`` (room for
#: stations outside the region) ...
TABLE_DISTANCE_FACTOR = 1.3
TABLE_PAD_KM = 50.0
#: ... and this much deeper than the region.
TABLE_DEPTH_PAD_KM = 5.0


@dataclass(frozen=True)
class SearchFrame:
    """The local frame, the search region (local km) and the travel-time backend of a run.

    Examples
    --------
    >>> stations = pd.DataFrame({"id": ["X.A.", "X.B."], "latitude": [35.0, 35.5],
    ...                          "longitude": [-118.0, -117.5], "elevation": [0.0, 0.0]})
    >>> scale = ModelScale("t", 50.0, 25.0, (0.0, 30.0), 150.0, 2.0, 2.0)
    >>> layers = pd.DataFrame({"depth_km": [0.0], "vp": [6.0], "vs": [3.5]})
    >>> frame = search_frame(stations, layers, None, scale)
    >>> frame.region.depth_km, frame.backend.name
    ((0.0, 30.0), 'layered')
    """

    projection: LocalProjection
    region: Region
    backend: TravelTimeBackend


def search_frame(stations: pd.DataFrame, velocity_model: Any, region: dict | None,
                 scale: ModelScale) -> SearchFrame:
    """The frame, region and backend of an association of picks at ``stations``.

    Parameters
    ----------
    stations
        Station table of the stations with picks (``latitude``, ``longitude`` in degrees).
    velocity_model
        A :class:`~seisbench_genie.traveltimes.TravelTimeBackend`, or a 1-D model
        (DataFrame or dict of columns ``depth_km``, ``vp``, ``vs``: layer tops, km and km/s).
    region
        ``None`` (the stations +- ``scale.margin_km``, the model's depth range), or a dict
        with ``latitude`` and ``longitude`` ranges (degrees) and/or a ``depth_km`` range;
        without the latitude and longitude ranges, ``margin_km`` replaces the model's
        margin around the stations (km).
    scale
        The model's scale (margin, depth range, node spacing, largest distance).

    Returns
    -------
    SearchFrame

    Raises
    ------
    ValueError
        Naming ``velocity_model`` or ``region`` when the model is missing, the region is
        malformed, or the region is not covered by the backend.

    Examples
    --------
    >>> # see SearchFrame
    """
    if velocity_model is None:
        raise ValueError("velocity_model: none given and the weights carry no default; pass "
                         "a DataFrame of layer tops (depth_km, vp, vs) or a backend from "
                         "seisbench_genie.traveltimes")
    given = velocity_model if isinstance(velocity_model, TravelTimeBackend) else None
    projection = (given.default_projection(stations) if given is not None
                  else LocalProjection.centred_on(stations))
    search = _region(region, projection, stations, scale, given)
    backend = (given if given is not None
               else _layered(velocity_model, search, scale, stations, projection))
    if backend.max_depth_km is not None and search.depth_km[1] > backend.max_depth_km:
        raise ValueError(
            f"region: depth_km reaches {search.depth_km[1]} km but the travel-time table "
            f"({backend!r}) stops at {backend.max_depth_km} km")
    return SearchFrame(projection, search, backend)


def _layered(velocity_model: Any, region: Region, scale: ModelScale, stations: pd.DataFrame,
             projection: LocalProjection) -> TravelTimeBackend:
    """A ``layered`` backend for a 1-D model, reaching across the region and from it to
    every station it can pair with (up to the model's largest distance)."""
    frame = pd.DataFrame(velocity_model)
    diag = float(np.hypot(region.x_km[1] - region.x_km[0], region.y_km[1] - region.y_km[0]))
    # A small region far from some stations: the table must still reach them (the factor
    # and the pad leave room for nodes and locations up to a node spacing outside it). For
    # a region around the stations this is at most its diagonal.
    x, y = (np.asarray(v) for v in projection.to_local(stations["latitude"],
                                                       stations["longitude"]))
    far = float(np.hypot(np.maximum(np.abs(x - region.x_km[0]), np.abs(x - region.x_km[1])),
                         np.maximum(np.abs(y - region.y_km[0]),
                                    np.abs(y - region.y_km[1]))).max())
    reach = min(max(diag, far), scale.max_distance_km)
    return get("layered", model=validate_velocity_model(frame),
               max_distance_km=float(np.ceil(reach * TABLE_DISTANCE_FACTOR + TABLE_PAD_KM)),
               max_depth_km=float(np.ceil(region.depth_km[1] + TABLE_DEPTH_PAD_KM)))


def _region(region: dict | None, projection: LocalProjection, stations: pd.DataFrame,
            scale: ModelScale, backend: TravelTimeBackend | None) -> Region:
    """The search region in the local frame (see :func:`search_frame`)."""
    if region is not None and not isinstance(region, dict):
        raise ValueError(f"region: expected a dict of latitude, longitude and/or depth_km "
                         f"ranges, got {type(region).__name__}")
    region = dict(region or {})
    unknown = set(region) - {"latitude", "longitude", "depth_km", "margin_km"}
    if unknown:
        raise ValueError(f"region: unknown key(s) {sorted(unknown)}; expected latitude, "
                         "longitude and/or depth_km ranges, or a margin_km")
    if ("latitude" in region) != ("longitude" in region):
        raise ValueError("region: give both latitude and longitude ranges, or neither (the "
                         "stations +- the model's margin)")
    margin_km = (_margin(region.pop("margin_km"), "latitude" in region)
                 if "margin_km" in region else scale.margin_km)
    ranges = {}
    for name in region:
        try:
            lo, hi = (float(v) for v in region[name])
        except (TypeError, ValueError):
            raise ValueError(f"region: {name} must be a (low, high) pair of numbers, got "
                             f"{region[name]!r}") from None
        if not hi > lo:
            raise ValueError(f"region: {name} range must be increasing, got {(lo, hi)}")
        ranges[name] = (lo, hi)
    extent = backend.extent_km() if backend is not None else None
    if "depth_km" in ranges:
        depth = ranges["depth_km"]
        if depth[0] < 0:
            raise ValueError(f"region: depth_km must be >= 0 km, got {depth}")
    else:  # the model's depth range, within what the backend covers
        top, bottom = scale.depth_km
        if extent is not None:
            top, bottom = max(top, extent[2][0]), min(bottom, extent[2][1])
        elif backend is not None and backend.max_depth_km is not None:
            bottom = min(bottom, backend.max_depth_km)
        if not bottom > top:
            raise ValueError(f"region: the model's depth range {scale.depth_km} km and the "
                             f"travel times' ({backend!r}) do not overlap; give depth_km")
        depth = (float(top), float(bottom))
    if "latitude" in ranges:
        glat, glon = np.meshgrid(np.linspace(*ranges["latitude"], BOX_SAMPLES),
                                 np.linspace(*ranges["longitude"], BOX_SAMPLES))
        x, y = projection.to_local(glat.ravel(), glon.ravel())
        xy = [(float(x.min()), float(x.max())), (float(y.min()), float(y.max()))]
    else:
        x, y = projection.to_local(stations["latitude"], stations["longitude"])
        m = margin_km
        xy = [(float(x.min()) - m, float(x.max()) + m), (float(y.min()) - m, float(y.max()) + m)]
    if extent is not None:
        xy = _inside(xy, extent, depth, scale.node_spacing_km * EDGE_SPACINGS,
                     clip="latitude" not in ranges, backend=backend)
    return Region(xy[0], xy[1], depth)


def _margin(value: Any, with_box: bool) -> float:
    """The ``margin_km`` of a region dict: a finite number >= 0, only without a box."""
    if with_box:
        raise ValueError("region: margin_km widens the stations' box; give it without "
                         "latitude and longitude ranges")
    try:
        margin_km = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"region: margin_km must be a number (km), got {value!r}") from None
    if not (np.isfinite(margin_km) and margin_km >= 0):
        raise ValueError(f"region: margin_km must be finite and >= 0 km, got {margin_km}")
    return margin_km


def _inside(xy: list[tuple[float, float]], extent: tuple[tuple[float, float], ...],
            depth: tuple[float, float], edge_km: float, clip: bool,
            backend: TravelTimeBackend) -> list[tuple[float, float]]:
    """The horizontal ranges ``xy`` inside the backend's extent less ``edge_km`` (clipped
    when ``clip``, else an error when they reach beyond it); the depth range inside the
    extent's."""
    usable = [(lo + edge_km, hi - edge_km) for lo, hi in extent[:2]]
    if depth[0] < extent[2][0] or depth[1] > extent[2][1]:
        raise ValueError(f"region: depth_km {depth} is outside the travel-time grid's depths "
                         f"{extent[2]} km ({backend!r})")
    out = []
    for (lo, hi), (u_lo, u_hi), axis in zip(xy, usable, ("x (east)", "y (north)"),
                                            strict=True):
        if clip:
            lo, hi = max(lo, u_lo), min(hi, u_hi)
        if not (hi > lo and lo >= u_lo - 1e-6 and hi <= u_hi + 1e-6):
            raise ValueError(
                f"region: its {axis} range ({lo:.1f}, {hi:.1f}) km must lie inside the "
                f"travel-time grid less one node spacing ({edge_km:g} km) on each side, "
                f"({u_lo:.1f}, {u_hi:.1f}) km in the grid's frame ({backend!r}); give a "
                "smaller region or a larger grid")
        out.append((lo, hi))
    return out
