"""Figures of an association: catalog map and depth sections, the record section of one event,
an overview of the picks and detections over time, and the training curves of a run.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas without
pyplot: nothing is shown, no window opens and no global pyplot state changes, so the functions
run on servers and in batch jobs. Save a figure with ``fig.savefig("map.png")`` or with
:func:`save_figure` (written to a temporary name, then renamed: never a half-written file).

Events come as an ObsPy :class:`~obspy.core.event.Catalog` or as the ``out.events`` /
``out.assignments`` DataFrames of :meth:`seisbench_genie.GENIE.classify` (columns in
:mod:`seisbench_genie.schema`); stations as an ObsPy Inventory or a station DataFrame (``id``,
``latitude``, ``longitude``, ``elevation`` in m); picks as a SeisBench PickList or a pick
DataFrame (see :func:`seisbench_genie.picks.pick_table`), the same picks given to ``classify``
(``pick_idx`` in the assignments is a position in them).

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"event_idx": [0, 1], "time": [1.7e9, 1.7e9 + 60.0],
...                        "latitude": [34.0, 34.2], "longitude": [-117.0, -116.8],
...                        "depth_km": [8.0, 12.0]})
>>> fig = plot_catalog(events)
>>> [ax.get_xlabel() for ax in fig.axes[:3]]
['longitude (°)', 'longitude (°)', 'depth (km)']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .atomic import atomic_write
from .geo import epicentral_distance_km
from .picks import _canonical_ids, pick_table, station_positions, times_to_posix
from .stations import station_table

__all__ = [
    "plot_association_overview",
    "plot_catalog",
    "plot_record_section",
    "plot_training_curves",
    "save_figure",
]

#: Resolution of saved figures (dots per inch): sharp on screen, about 100-200 kB per PNG.
DEFAULT_DPI = 120
#: Data limits are widened by this fraction of their span on each side (markers at the edge
#: stay whole).
PAD_FRACTION = 0.05
#: Smallest half-width (degrees) of a map, so that a single event or station gets a frame.
MIN_HALF_SPAN_DEG = 0.05
#: Map height / width (in km) is kept within these bounds; a longer side is padded instead,
#: so that one long, thin network still gives a readable figure.
MAP_RATIO_RANGE = (0.5, 1.6)
#: Width of the map panel (in) and thickness of the depth sections (in).
MAP_WIDTH_IN = 5.5
SECTION_IN = 1.9
#: Marker area (pt^2) of an event without magnitude, and of the smallest magnitude shown.
EVENT_AREA_PT2 = 14.0
#: Marker area grows by this factor per magnitude unit (x2.5 area = x1.6 diameter: M0 to M4
#: spans about 1 to 40 in area, distinguishable without hiding neighbours) ...
AREA_PER_MAGNITUDE = 2.5
#: ... up to this area (pt^2).
MAX_EVENT_AREA_PT2 = 500.0
#: Kilometres per degree of latitude (6371 km sphere), for the map's proportions only.
KM_PER_DEG = 111.195
#: Points on each predicted moveout curve.
MOVEOUT_SAMPLES = 200
#: The record section reaches this factor times the farthest associated station ...
SECTION_DISTANCE_FACTOR = 1.15
#: ... and its time window this fraction of the associated picks' span before the first and
#: after the last, and at least ``SECTION_MIN_PAD_S`` seconds.
SECTION_TIME_PAD_FRACTION = 0.15
SECTION_MIN_PAD_S = 5.0
#: Smallest half-range (s) of the residual colour scale (sub-sample residuals stay white).
MIN_RESIDUAL_LIMIT_S = 0.05
#: Extra depth (km) and distance (km) of a ``layered`` table built for a moveout curve.
TABLE_PAD_KM = 5.0
#: The overview's histogram has about this many bins; the bin width is the smallest of
#: ``NICE_BINS_S`` (round durations in s) that gives at most that many.
TARGET_BINS = 96
NICE_BINS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800)
#: Station names are written on the overview's y-axis for at most this many stations (every
#: n-th above).
MAX_STATION_LABELS = 40
#: Training losses are smoothed with a running mean over this many steps (the trainer's
#: curve.png uses the same width).
SMOOTH_STEPS = 100
#: The spread of the total loss over those steps is drawn as this quantile band (the raw
#: per-step loss varies over decades between empty and busy samples).
BAND_QUANTILES = (0.1, 0.9)
#: Colours: associated picks cycle through a qualitative map, so that neighbouring events
#: differ; unassociated picks are light grey.
EVENT_CMAP = "tab10"
UNASSOCIATED_COLOR = "0.75"


# --------------------------------------------------------------------------------------------
# helpers


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A Figure on the Agg canvas, outside pyplot (nothing shown, no global state)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Save ``fig`` to ``path`` through a temporary file in the same folder, then rename.

    Parameters
    ----------
    fig
        Figure to save (from any function of this module).
    path
        Output file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    dpi
        Resolution of raster formats (dots per inch).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        When the suffix is not a format matplotlib writes.

    Examples
    --------
    >>> import tempfile
    >>> fig = _new_figure((2, 2))
    >>> out = save_figure(fig, Path(tempfile.mkdtemp()) / "empty.png")
    >>> out.stat().st_size > 0
    True
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"path: cannot write {path.name!r}; use one of "
                         f"{sorted('.' + s for s in supported)}")
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))


def _is_catalog(obj: Any) -> bool:
    return hasattr(obj, "events") and not isinstance(obj, pd.DataFrame)


def _catalog_tables(catalog: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events (``event_idx`` = position in the catalog), assignments and associated picks of
    an ObsPy Catalog; events without an origin are skipped."""
    ev_rows, pk_rows, as_rows = [], [], []
    for i, event in enumerate(catalog):
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        if origin is None:
            continue
        mag = event.preferred_magnitude() or (event.magnitudes[0] if event.magnitudes else None)
        ev_rows.append((i, origin.time.timestamp, origin.latitude, origin.longitude,
                        np.nan if origin.depth is None else origin.depth / 1000.0,
                        np.nan if mag is None or mag.mag is None else mag.mag))
        picks = {p.resource_id.id: p for p in event.picks}
        for arrival in origin.arrivals:
            pick = picks.get(arrival.pick_id.id if arrival.pick_id else None)
            if pick is None or pick.time is None:
                continue
            w = pick.waveform_id
            station = f"{w.network_code or ''}.{w.station_code or ''}.{w.location_code or ''}"
            pk_rows.append((len(pk_rows), station, pick.phase_hint or arrival.phase,
                            pick.time.timestamp))
            as_rows.append((len(as_rows), i, arrival.phase or pick.phase_hint,
                            np.nan if arrival.time_weight is None else arrival.time_weight,
                            np.nan if arrival.time_residual is None else arrival.time_residual))
    events = pd.DataFrame(ev_rows, columns=["event_idx", "time", "latitude", "longitude",
                                            "depth_km", "magnitude"])
    picks = pd.DataFrame(pk_rows, columns=["pick_idx", "station", "phase", "time"])
    assignments = pd.DataFrame(as_rows, columns=["pick_idx", "event_idx", "phase",
                                                 "probability", "residual_s"])
    return events, assignments, picks


def _events_table(events: Any) -> pd.DataFrame:
    """Events as a DataFrame with ``time``, ``latitude``, ``longitude``, ``depth_km`` and
    ``magnitude`` (NaN when unknown)."""
    if _is_catalog(events):
        return _catalog_tables(events)[0]
    if not isinstance(events, pd.DataFrame):
        raise ValueError(f"events: expected an ObsPy Catalog or the events DataFrame of "
                         f"GENIE.classify, got {type(events).__name__}")
    missing = [c for c in ("time", "latitude", "longitude", "depth_km")
               if c not in events.columns]
    if missing:
        raise ValueError(f"events: missing column(s) {missing} (got {list(events.columns)})")
    table = events.copy()
    table["time"] = times_to_posix(table["time"])  # POSIX s; UTCDateTime, datetime64 and ISO too
    if "event_idx" not in table.columns:
        table["event_idx"] = np.arange(len(table))
    table["magnitude"] = (pd.to_numeric(table["magnitude"], errors="coerce")
                          if "magnitude" in table.columns else np.nan)
    return table


def _association_tables(events: Any, assignments: Any, picks: Any, argument: str
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(events, assignments, picks) from a Catalog (+ optional all picks) or the DataFrames;
    the pick table holds every pick given, associated or not."""
    if _is_catalog(events):
        if assignments is not None:
            raise ValueError(f"{argument}: give either a Catalog or the events and "
                             f"assignments DataFrames, not a Catalog with assignments")
        ev, asg, cat_picks = _catalog_tables(events)
        if picks is None:
            return ev, asg, cat_picks
        every = pick_table(picks)
        # A catalog pick is the input pick with its station and time (to the millisecond).
        key_cat = _canonical_ids(cat_picks["station"]) + "|" + (
            cat_picks["time"] * 1000).round().astype("int64").astype(str)
        key_all = _canonical_ids(every["station"]) + "|" + (
            every["time"] * 1000).round().astype("int64").astype(str)
        extra = every[~key_all.isin(key_cat)].assign(
            pick_idx=lambda d: len(cat_picks) + np.arange(len(d)))
        return ev, asg, pd.concat([cat_picks, extra[cat_picks.columns]], ignore_index=True)
    ev = _events_table(events)
    if assignments is None or picks is None:
        raise ValueError(f"{argument}: with the events DataFrame, give the assignments "
                         f"DataFrame and the picks given to classify")
    if not isinstance(assignments, pd.DataFrame) or not {"pick_idx", "event_idx"} <= set(
            assignments.columns):
        raise ValueError("assignments: expected the assignments DataFrame of GENIE.classify "
                         "(columns pick_idx, event_idx, phase, probability, residual_s)")
    return ev, assignments, pick_table(picks)


def _utc(seconds: Any) -> list[str]:
    """POSIX seconds as ``YYYY-MM-DD hh:mm:ss`` (UTC)."""
    t = pd.to_datetime(np.atleast_1d(np.asarray(seconds, dtype=float)), unit="s")
    return list(t.round("1s").strftime("%Y-%m-%d %H:%M:%S"))


def _dates(seconds: Any) -> np.ndarray:
    """POSIX seconds as matplotlib date numbers."""
    return mdates.date2num(pd.to_datetime(np.asarray(seconds, dtype=float), unit="s")
                           .to_numpy())


def _date_axis(axis: Any) -> None:
    locator = mdates.AutoDateLocator()
    axis.set_major_locator(locator)
    axis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _magnitude_area(mag: np.ndarray, reference: float) -> np.ndarray:
    area = EVENT_AREA_PT2 * AREA_PER_MAGNITUDE ** (np.asarray(mag, dtype=float) - reference)
    return np.clip(np.where(np.isfinite(area), area, EVENT_AREA_PT2), 2.0, MAX_EVENT_AREA_PT2)


def _map_limits(lat: np.ndarray, lon: np.ndarray) -> tuple[tuple[float, float],
                                                            tuple[float, float], float]:
    """(lon limits, lat limits, height/width ratio in km) around the points."""
    lat0, lat1 = float(np.min(lat)), float(np.max(lat))
    lon0, lon1 = float(np.min(lon)), float(np.max(lon))
    kx = np.cos(np.radians(0.5 * (lat0 + lat1)))
    half_lat = max(0.5 * (lat1 - lat0) * (1 + 2 * PAD_FRACTION), MIN_HALF_SPAN_DEG)
    half_lon = max(0.5 * (lon1 - lon0) * (1 + 2 * PAD_FRACTION), MIN_HALF_SPAN_DEG)
    ratio = half_lat / (half_lon * kx)
    lo, hi = MAP_RATIO_RANGE
    if ratio < lo:
        half_lat, ratio = lo * half_lon * kx, lo
    elif ratio > hi:
        half_lon, ratio = half_lat / (hi * kx), hi
    clat, clon = 0.5 * (lat0 + lat1), 0.5 * (lon0 + lon1)
    return (clon - half_lon, clon + half_lon), (clat - half_lat, clat + half_lat), ratio


# --------------------------------------------------------------------------------------------
# catalog map and depth sections


def plot_catalog(
    events: Any,
    stations: Any = None,
    *,
    color_by: str = "time",
    cartopy: bool = False,
    coastlines: bool = True,
    title: str | None = None,
) -> Figure:
    """Map of the epicentres with an east-west and a north-south depth section.

    Events are coloured by origin time or by depth and sized by magnitude when the catalog
    has magnitudes (the preferred magnitude of a Catalog, or a ``magnitude`` column of the
    events DataFrame). Stations are black triangles (on the sections at their elevation).
    The map uses plain longitude/latitude axes in the proportions of a local map (km east
    : km north = 1 at the centre); with ``cartopy=True`` it is a cartopy Mercator map with
    coastlines.

    Parameters
    ----------
    events
        ObsPy Catalog, or the events DataFrame of :meth:`~seisbench_genie.GENIE.classify`
        (``time`` POSIX s, ``latitude``, ``longitude`` deg, ``depth_km``; optional
        ``magnitude``).
    stations
        ObsPy Inventory or station DataFrame (``id``, ``latitude``, ``longitude``, optional
        ``elevation`` in m); None: no stations drawn.
    color_by
        ``"time"`` (origin time, UTC) or ``"depth"`` (km).
    cartopy
        Draw the map with cartopy (an optional dependency: ``pip install cartopy``).
    coastlines
        With ``cartopy=True``: draw coastlines (Natural Earth data, which cartopy downloads
        on first use; offline, without the data in cartopy's ``data_dir``, saving the figure
        fails: use ``coastlines=False``).
    title
        Figure title; default: the number of events and their time span.

    Returns
    -------
    matplotlib.figure.Figure
        Axes: map, east-west section (longitude against depth), north-south section (depth
        against latitude), colour bar, legend.

    Raises
    ------
    ValueError
        For a bad ``color_by``, events without a required column, or stations that are not
        a station table.
    ImportError
        ``cartopy=True`` without cartopy installed.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"time": [1.7e9, 1.7e9 + 3600], "latitude": [34.0, 34.1],
    ...                    "longitude": [-117.0, -117.2], "depth_km": [5.0, 11.0],
    ...                    "magnitude": [1.2, 3.4]})
    >>> fig = plot_catalog(ev, color_by="depth")
    >>> fig.axes[0].get_ylabel()
    'latitude (°)'
    """
    if color_by not in ("time", "depth"):
        raise ValueError(f"color_by: expected 'time' or 'depth', got {color_by!r}")
    ev = _events_table(events)
    st = station_table(stations) if stations is not None else None
    lat = ev["latitude"].to_numpy(float)
    lon = ev["longitude"].to_numpy(float)
    depth = ev["depth_km"].to_numpy(float)
    all_lat = np.concatenate([lat, st["latitude"].to_numpy(float) if st is not None else []])
    all_lon = np.concatenate([lon, st["longitude"].to_numpy(float) if st is not None else []])
    if len(all_lat) == 0:
        all_lat, all_lon = np.zeros(1), np.zeros(1)
    xlim, ylim, ratio = _map_limits(all_lat, all_lon)
    map_h = MAP_WIDTH_IN * ratio
    fig = _new_figure((MAP_WIDTH_IN + SECTION_IN + 1.4, map_h + SECTION_IN + 0.9))
    grid = fig.add_gridspec(2, 3, width_ratios=[MAP_WIDTH_IN, SECTION_IN, 0.18],
                            height_ratios=[map_h, SECTION_IN])
    if cartopy:
        try:
            import cartopy.crs as ccrs
        except ImportError as err:
            raise ImportError("cartopy=True needs cartopy (pip install cartopy); "
                              "cartopy=False draws plain longitude/latitude axes") from err
        # Mercator keeps the local proportions of the plain map (km east : km north = 1).
        ax_map = fig.add_subplot(grid[0, 0],
                                 projection=ccrs.Mercator(central_longitude=float(np.mean(xlim))))
        ax_map.set_extent([*xlim, *ylim], crs=ccrs.PlateCarree())
        if coastlines:
            ax_map.coastlines(resolution="10m", linewidth=0.6)
        gl = ax_map.gridlines(draw_labels=True, linewidth=0.3)
        gl.top_labels = gl.right_labels = False
        geo = {"transform": ccrs.PlateCarree()}
        ax_ew = fig.add_subplot(grid[1, 0])
        ax_ns = fig.add_subplot(grid[0, 1])
    else:
        ax_map = fig.add_subplot(grid[0, 0])
        ax_ew = fig.add_subplot(grid[1, 0], sharex=ax_map)
        ax_ns = fig.add_subplot(grid[0, 1], sharey=ax_map)
        geo = {}
    ax_cb = fig.add_subplot(grid[0, 2])
    ax_leg = fig.add_subplot(grid[1, 1:])
    ax_leg.set_axis_off()

    mag = ev["magnitude"].to_numpy(float)
    has_mag = bool(np.isfinite(mag).any())
    m_ref = float(np.nanmin(mag)) if has_mag else 0.0
    area = _magnitude_area(mag, m_ref) if has_mag else np.full(len(ev), EVENT_AREA_PT2)
    if color_by == "time":
        cval = _dates(ev["time"].to_numpy(float)) if len(ev) else np.zeros(0)
        cmap = "viridis"
    else:
        cval, cmap = depth, "plasma_r"
    order = np.argsort(-area, kind="stable")  # large events first, small ones stay visible
    style = {"c": cval[order], "s": area[order], "cmap": cmap, "edgecolors": "k",
             "linewidths": 0.3, "alpha": 0.85, "zorder": 3}
    if len(cval):
        style.update(vmin=float(np.min(cval)), vmax=float(np.max(cval)))
        if style["vmin"] == style["vmax"]:
            style["vmin"], style["vmax"] = style["vmin"] - 1.0, style["vmax"] + 1.0
    sc = ax_map.scatter(lon[order], lat[order], **style, **geo)
    ax_ew.scatter(lon[order], depth[order], **style)
    ax_ns.scatter(depth[order], lat[order], **style)
    if st is not None:
        elev_km = -st["elevation"].to_numpy(float) / 1000.0
        tri = {"marker": "^", "color": "k", "s": 22, "zorder": 4, "linewidths": 0}
        ax_map.scatter(st["longitude"], st["latitude"], **tri, **geo)
        ax_ew.scatter(st["longitude"], elev_km, **tri)
        ax_ns.scatter(elev_km, st["latitude"], **tri)

    finite = depth[np.isfinite(depth)]
    d_lo = min(0.0, float(finite.min())) if len(finite) else 0.0
    d_hi = float(finite.max()) if len(finite) else 10.0
    if st is not None and len(st):
        d_lo = min(d_lo, float(-st["elevation"].max() / 1000.0))
    pad = max(PAD_FRACTION * (d_hi - d_lo), 0.5)
    zlim = (d_hi + pad, d_lo - pad)  # depth increases downwards
    if not cartopy:  # a cartopy map has its extent (set_extent) in its own coordinates
        ax_map.set_xlim(*xlim)
        ax_map.set_ylim(*ylim)
    ax_ew.set_xlim(*xlim)
    ax_ns.set_ylim(*ylim)
    ax_ew.set_ylim(*zlim)
    ax_ns.set_xlim(zlim[1], zlim[0])
    ax_map.set_xlabel("longitude (°)")
    ax_map.set_ylabel("latitude (°)")
    ax_ew.set_xlabel("longitude (°)")
    ax_ew.set_ylabel("depth (km)")
    ax_ns.set_xlabel("depth (km)")
    ax_ns.set_ylabel("latitude (°)")
    ax_ns.xaxis.set_label_position("top")
    ax_ns.xaxis.tick_top()
    ax_ns.yaxis.set_label_position("right")
    ax_ns.yaxis.tick_right()
    for ax in (ax_map, ax_ew, ax_ns):
        ax.grid(True, linewidth=0.3, alpha=0.5)

    cbar = fig.colorbar(sc, cax=ax_cb)
    if color_by == "time":
        _date_axis(cbar.ax.yaxis)
        cbar.set_label("origin time (UTC)")
    else:
        cbar.set_label("depth (km)")
    handles = []
    if has_mag:
        lo, hi = np.floor(np.nanmin(mag)), np.ceil(np.nanmax(mag))
        for m in np.unique(np.linspace(lo, hi, 4).round()):
            handles.append(Line2D([], [], ls="", marker="o", mfc="0.6", mec="k", mew=0.3,
                                  ms=float(np.sqrt(_magnitude_area(m, m_ref))),
                                  label=f"M {m:g}"))
    if st is not None:
        handles.append(Line2D([], [], ls="", marker="^", color="k", ms=5,
                              label=f"{len(st)} stations"))
    if handles:
        ax_leg.legend(handles=handles, loc="center", frameon=False, fontsize=8,
                      ncol=2 if len(handles) > 3 else 1)
    if title is None:
        title = f"{len(ev)} events"
        if len(ev):
            first, last = _utc([ev["time"].min(), ev["time"].max()])
            title += f", {first} to {last} UTC"
    fig.suptitle(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# record section of one event


def _moveout_backend(velocity_model: Any, max_distance_km: float, max_depth_km: float) -> Any:
    """A travel-time backend from a backend or a 1-D model (a ``layered`` table)."""
    from .traveltimes import TravelTimeBackend, get, validate_velocity_model

    if isinstance(velocity_model, TravelTimeBackend):
        return velocity_model
    return get("layered", model=validate_velocity_model(pd.DataFrame(velocity_model)),
               max_distance_km=float(np.ceil(max_distance_km + TABLE_PAD_KM)),
               max_depth_km=float(np.ceil(max_depth_km + TABLE_PAD_KM)))


def _moveout(backend: Any, lat: float, lon: float, depth_km: float,
             distances_km: np.ndarray) -> dict[str, np.ndarray]:
    """Predicted P and S times (s) at points ``distances_km`` north of the epicentre, at sea
    level."""
    from pyproj import Geod

    lon_pts, lat_pts, _ = Geod(ellps="WGS84").fwd(
        np.full(len(distances_km), lon), np.full(len(distances_km), lat),
        np.zeros(len(distances_km)), distances_km * 1000.0)
    line = pd.DataFrame({"id": [f"XX.L{i}." for i in range(len(distances_km))],
                         "latitude": lat_pts, "longitude": lon_pts,
                         "elevation": np.zeros(len(distances_km))})
    source = [lat, lon, max(depth_km, 0.0)]
    return {ph: backend.times(source, line, ph)[0] for ph in ("P", "S")}


def plot_record_section(
    events: Any,
    assignments: pd.DataFrame | None = None,
    picks: Any = None,
    stations: Any = None,
    *,
    event_idx: int | None = None,
    velocity_model: Any = None,
    residual_limit_s: float | None = None,
    max_distance_km: float | None = None,
) -> Figure:
    """Picks of one event against epicentral distance, with the predicted moveout.

    Associated picks are coloured by their residual (observed minus predicted, s; circles P,
    squares S, in the phase GENIE gave them), with a black tick at the predicted time of each.
    The P and S moveout curves at the event's depth come from ``velocity_model``. Other picks
    at the stations of the section within its time window are grey: crosses for picks in no
    event, open circles for picks of other events.

    Parameters
    ----------
    events
        ObsPy Catalog, or the events DataFrame of :meth:`~seisbench_genie.GENIE.classify`.
    assignments
        The assignments DataFrame of ``classify`` (with an events DataFrame; None with a
        Catalog, whose arrivals hold them).
    picks
        The picks given to ``classify`` (PickList or DataFrame). Required with the
        DataFrames; with a Catalog optional, to show the picks it left out.
    stations
        ObsPy Inventory or station DataFrame; required (distances).
    event_idx
        ``event_idx`` of the event in the events DataFrame (with a Catalog: its position);
        default: the event with the most associated picks.
    velocity_model
        A travel-time backend (:mod:`seisbench_genie.traveltimes`) or a 1-D model
        (DataFrame of layer tops ``depth_km``, ``vp``, ``vs``; a ``layered`` table is built
        and cached), for the moveout curves; None: no curves.
    residual_limit_s
        Half-range of the residual colour scale (s); default: the largest absolute residual.
    max_distance_km
        Farthest distance shown (km); default: 1.15 times the farthest associated station.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (distance in km against time after origin in s) and a colour bar.

    Raises
    ------
    ValueError
        Missing stations or picks, an unknown ``event_idx``, an event without associated
        picks at the given stations, or inputs of the wrong kind.

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["XX.A.", "XX.B.", "XX.C."], "latitude": [34.0, 34.3, 34.6],
    ...                    "longitude": [-117.0, -117.0, -117.0]})
    >>> picks = pd.DataFrame({"station": ["XX.A.", "XX.B.", "XX.C.", "XX.C."],
    ...                       "phase": ["P", "P", "P", "S"],
    ...                       "time": [1.7e9 + 2.0, 1.7e9 + 6.0, 1.7e9 + 11.5, 1.7e9 + 40]})
    >>> events = pd.DataFrame({"event_idx": [0], "time": [1.7e9], "latitude": [34.0],
    ...                        "longitude": [-117.0], "depth_km": [10.0]})
    >>> assignments = pd.DataFrame({"pick_idx": [0, 1, 2], "event_idx": [0, 0, 0],
    ...                             "phase": ["P", "P", "P"], "residual_s": [0.1, -0.2, 0.0]})
    >>> fig = plot_record_section(events, assignments, picks, st)
    >>> fig.axes[0].get_xlabel()
    'epicentral distance (km)'
    """
    if stations is None:
        raise ValueError("stations: needed for the distances (an Inventory or a station "
                         "DataFrame)")
    ev, asg, pk = _association_tables(events, assignments, picks, "events")
    st = station_table(stations)
    if len(ev) == 0:
        raise ValueError("events: no event to plot")
    counts = asg["event_idx"].value_counts()
    if event_idx is None:
        event_idx = int(counts.idxmax()) if len(counts) else int(ev["event_idx"].iloc[0])
    row = ev[ev["event_idx"] == event_idx]
    if row.empty:
        raise ValueError(f"event_idx: {event_idx} is not in the events "
                         f"({len(ev)} events, event_idx {ev['event_idx'].min()}.."
                         f"{ev['event_idx'].max()})")
    row = row.iloc[0]
    t0, lat, lon, depth = (float(row[c]) for c in ("time", "latitude", "longitude",
                                                   "depth_km"))

    # every pick: distance of its station, time after origin, event (-1: none)
    pos = station_positions(pk["station"], st)
    known = pos >= 0
    dist = np.full(len(pk), np.nan)
    dist[known] = epicentral_distance_km(lat, lon, st["latitude"].to_numpy(float)[pos[known]],
                                         st["longitude"].to_numpy(float)[pos[known]])
    first = asg.drop_duplicates("pick_idx").set_index("pick_idx")
    pk = pk.assign(dist=dist, rel=pk["time"].to_numpy(float) - t0,
                   event=first["event_idx"].reindex(pk["pick_idx"]).fillna(-1)
                   .astype(int).to_numpy())
    mine = asg[asg["event_idx"] == event_idx].merge(
        pk[["pick_idx", "dist", "rel", "station"]], on="pick_idx", how="inner")
    n_unplaced = int(mine["dist"].isna().sum())
    mine = mine[mine["dist"].notna()]
    if mine.empty:
        raise ValueError(f"event_idx {event_idx}: none of its associated picks is at a "
                         f"station in `stations`")
    phase = (mine["phase"] if "phase" in mine.columns else pd.Series("P", index=mine.index))
    phase = phase.astype(str).str.upper().str[0].to_numpy()
    res = (mine["residual_s"].to_numpy(float) if "residual_s" in mine.columns
           else np.full(len(mine), np.nan))

    x_max = (max_distance_km if max_distance_km is not None
             else SECTION_DISTANCE_FACTOR * float(mine["dist"].max()) + 1.0)
    span = float(mine["rel"].max() - min(mine["rel"].min(), 0.0))
    pad = max(SECTION_TIME_PAD_FRACTION * span, SECTION_MIN_PAD_S)
    t_lo, t_hi = min(float(mine["rel"].min()), 0.0) - pad, float(mine["rel"].max()) + pad

    fig = _new_figure((7.5, 5.2))
    ax = fig.add_subplot()
    near = (pk["dist"] <= x_max) & pk["rel"].between(t_lo, t_hi) & (pk["event"] != event_idx)
    others = pk[near & (pk["event"] >= 0)]
    loose = pk[near & (pk["event"] < 0)]
    ax.scatter(others["dist"], others["rel"], marker="o", facecolors="none",
               edgecolors="0.6", s=22, linewidths=0.7, zorder=2,
               label=f"picks of other events ({len(others)})")
    ax.scatter(loose["dist"], loose["rel"], marker="x", color="0.55", s=22, linewidths=0.8,
               zorder=2, label=f"unassociated picks ({len(loose)})")

    curves = None
    if velocity_model is not None:
        backend = _moveout_backend(velocity_model, x_max, depth)
        d = np.linspace(0.0, x_max, MOVEOUT_SAMPLES)
        if backend.max_distance_km is not None:
            d = d[d <= backend.max_distance_km]
        curves = _moveout(backend, lat, lon, depth, d)
        for ph, ls in (("P", "-"), ("S", "--")):
            ax.plot(d, curves[ph], color="k", ls=ls, lw=1.0, zorder=1,
                    label=f"predicted {ph} ({getattr(backend, 'name', 'backend')})")

    finite = np.isfinite(res)
    lim = residual_limit_s or max(float(np.abs(res[finite]).max()) if finite.any() else 0.0,
                                  MIN_RESIDUAL_LIMIT_S)
    norm = mcolors.Normalize(-lim, lim)
    sc = None
    for ph, marker in (("P", "o"), ("S", "s")):
        sel = phase == ph
        if not sel.any():
            continue
        sc = ax.scatter(mine["dist"].to_numpy()[sel], mine["rel"].to_numpy()[sel],
                        c=np.where(finite, res, 0.0)[sel], cmap="RdBu_r", norm=norm,
                        marker=marker, s=40, edgecolors="k", linewidths=0.5, zorder=4,
                        label=f"{ph} associated ({int(sel.sum())})")
    if finite.any():
        ax.scatter(mine["dist"].to_numpy()[finite], (mine["rel"].to_numpy() - res)[finite],
                   marker="_", color="k", s=60, linewidths=1.0, zorder=3,
                   label="predicted time of each pick")
    if sc is not None:
        cbar = fig.colorbar(sc, ax=ax, extend="both" if residual_limit_s else "neither")
        cbar.set_label("residual (s), observed − predicted")
    ax.set_xlim(0.0, x_max)
    ax.set_ylim(t_lo, t_hi)
    ax.set_xlabel("epicentral distance (km)")
    ax.set_ylabel("time after origin (s)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
    mag = row.get("magnitude", np.nan)
    mag_text = f" M {mag:.1f}," if pd.notna(mag) else ""
    n_p, n_s = int((phase == "P").sum()), int((phase == "S").sum())
    note = f"; {n_unplaced} pick(s) at stations not in `stations` not shown" if n_unplaced else ""
    ax.set_title(f"event {event_idx}: {_utc(t0)[0]} UTC,{mag_text} {lat:.3f}°, {lon:.3f}°, "
                 f"{depth:.1f} km; {n_p} P + {n_s} S picks{note}", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# association overview


def _bin_width(span_s: float, bin_s: float | None) -> float:
    if bin_s is not None:
        if not bin_s > 0:
            raise ValueError(f"bin_s: must be > 0 s, got {bin_s}")
        return float(bin_s)
    return float(next((b for b in NICE_BINS_S if span_s / b <= TARGET_BINS), NICE_BINS_S[-1]))


def plot_association_overview(
    events: Any,
    assignments: pd.DataFrame | None = None,
    picks: Any = None,
    stations: Any = None,
    *,
    bin_s: float | None = None,
    title: str | None = None,
) -> Figure:
    """Detections and picks over time: events per bin, picks per bin (associated or not), and
    every pick per station, coloured by its event (grey: in no event).

    Parameters
    ----------
    events
        ObsPy Catalog, or the events DataFrame of :meth:`~seisbench_genie.GENIE.classify`.
    assignments
        The assignments DataFrame (with an events DataFrame; None with a Catalog).
    picks
        The picks given to ``classify``; required with the DataFrames, optional with a
        Catalog (then only its associated picks are shown unless all picks are given).
    stations
        ObsPy Inventory or station DataFrame; stations are then ordered by latitude (north at
        the top). None: ordered by id.
    bin_s
        Width of the histogram bins (s); default: a round duration giving about 100 bins.
    title
        Figure title; default: events, associated picks and the time span.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes sharing the time axis (UTC): events per bin, picks per bin, picks per
        station.

    Raises
    ------
    ValueError
        For inputs of the wrong kind, missing picks with the DataFrames, or ``bin_s`` <= 0.

    Examples
    --------
    >>> import pandas as pd
    >>> picks = pd.DataFrame({"station": ["XX.A.", "XX.B.", "XX.A."], "phase": ["P", "P", "S"],
    ...                       "time": [1.7e9 + 2.0, 1.7e9 + 6.0, 1.7e9 + 500.0]})
    >>> events = pd.DataFrame({"event_idx": [0], "time": [1.7e9], "latitude": [34.0],
    ...                        "longitude": [-117.0], "depth_km": [10.0]})
    >>> assignments = pd.DataFrame({"pick_idx": [0, 1], "event_idx": [0, 0]})
    >>> fig = plot_association_overview(events, assignments, picks)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['events', 'picks', 'station']
    """
    ev, asg, pk = _association_tables(events, assignments, picks, "events")
    first = asg.drop_duplicates("pick_idx").set_index("pick_idx")["event_idx"]
    event_of = first.reindex(pk["pick_idx"]).fillna(-1).astype(int).to_numpy()
    assoc = event_of >= 0
    times = pk["time"].to_numpy(float)
    all_t = np.concatenate([times, ev["time"].to_numpy(float)])
    if len(all_t) == 0:
        raise ValueError("events, picks: nothing to plot (no picks and no events)")
    t_lo, t_hi = float(all_t.min()), float(all_t.max())
    width = _bin_width(max(t_hi - t_lo, 1.0), bin_s)
    edges = t_lo + width * np.arange(int(np.ceil((t_hi - t_lo) / width)) + 2)
    n_ev, _ = np.histogram(ev["time"].to_numpy(float), edges)
    n_in, _ = np.histogram(times[assoc], edges)
    n_out, _ = np.histogram(times[~assoc], edges)

    # station rows: by latitude (north on top) when stations are given, else by id
    ids = pd.Index(pd.unique(pk["station"]))
    if stations is not None:
        st = station_table(stations)
        pos = station_positions(pd.Series(ids), st)
        lat = np.where(pos >= 0, st["latitude"].to_numpy(float)[np.maximum(pos, 0)], np.nan)
        order = np.lexsort((ids.to_numpy(str), np.nan_to_num(lat, nan=-999.0)))
    else:
        order = np.argsort(ids.to_numpy(str))[::-1]
    ids = ids[order]
    row = pd.Index(ids).get_indexer(pk["station"])

    fig = _new_figure((9.0, 7.0))
    grid = fig.add_gridspec(3, 1, height_ratios=[1.0, 1.2, 4.0])
    ax_ev = fig.add_subplot(grid[0])
    ax_pk = fig.add_subplot(grid[1], sharex=ax_ev)
    ax_st = fig.add_subplot(grid[2], sharex=ax_ev)
    left, w_days = _dates(edges[:-1]), width / 86400.0
    ax_ev.bar(left, n_ev, width=w_days, align="edge", color="tab:red", linewidth=0)
    ax_pk.bar(left, n_in, width=w_days, align="edge", color="tab:blue", linewidth=0,
              label="associated")
    ax_pk.bar(left, n_out, width=w_days, bottom=n_in, align="edge", color=UNASSOCIATED_COLOR,
              linewidth=0, label="unassociated")
    ax_pk.legend(loc="upper right", fontsize=7, ncol=2)
    x = _dates(times)
    ax_st.scatter(x[~assoc], row[~assoc], s=3, marker="|", color=UNASSOCIATED_COLOR,
                  linewidths=0.8, rasterized=True)
    cmap = matplotlib.colormaps[EVENT_CMAP]
    ax_st.scatter(x[assoc], row[assoc], s=5, marker="|", c=event_of[assoc] % cmap.N,
                  cmap=cmap, vmin=0, vmax=cmap.N, linewidths=1.0, rasterized=True)
    step = max(1, int(np.ceil(len(ids) / MAX_STATION_LABELS)))
    ax_st.set_yticks(np.arange(0, len(ids), step))
    ax_st.set_yticklabels([s.rstrip(".") for s in ids[::step]], fontsize=6)
    ax_st.set_ylim(-0.5, len(ids) - 0.5)
    for ax in (ax_ev, ax_pk):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax_ev.set_ylabel("events")
    ax_pk.set_ylabel("picks")
    ax_st.set_ylabel("station")
    ax_st.set_xlabel("time (UTC)")
    label = f"{width / 3600:g} h" if width >= 3600 else (
        f"{width / 60:g} min" if width >= 60 else f"{width:g} s")
    ax_ev.set_title(f"per {label} bin", fontsize=8, loc="right")
    for ax in (ax_ev, ax_pk):
        ax.tick_params(labelbottom=False)
    _date_axis(ax_st.xaxis)
    ax_st.set_xlim(_dates([t_lo - 0.01 * (t_hi - t_lo + 1.0), t_hi + 0.01 * (t_hi - t_lo + 1.0)]))
    for ax in (ax_ev, ax_pk, ax_st):
        ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    if title is None:
        span = _utc([t_lo, t_hi])
        title = (f"{len(ev)} events; {int(assoc.sum())} of {len(pk)} picks associated "
                 f"({assoc.mean() if len(pk) else 0:.0%}) on {len(ids)} stations; "
                 f"{span[0]} to {span[1]} UTC")
    fig.suptitle(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# training curves


def _interp_linear(x: Any, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` inside ``xp``, continued outside it with the mean slope (an axis
    transform must stay invertible beyond the data)."""
    x = np.asarray(x, dtype=float)
    slope = (fp[-1] - fp[0]) / (xp[-1] - xp[0])
    inside = np.interp(x, xp, fp)
    return np.where(x < xp[0], fp[0] + slope * (x - xp[0]),
                    np.where(x > xp[-1], fp[-1] + slope * (x - xp[-1]), inside))


def _stage_ends(config: dict) -> list[int]:
    ends = [int(config.get("steps", 0))]
    for stage in config.get("stages") or []:
        ends.append(ends[-1] + int(stage.get("steps", 0)))
    return ends


def plot_training_curves(run_dir: str | Path, *, smooth_steps: int = SMOOTH_STEPS) -> Figure:
    """Losses of a training run against optimiser steps (and wall-clock minutes).

    Reads the run folder written by ``seisbench-genie train`` (the ``synthetic`` trainer):
    ``history.csv`` (``step``, ``elapsed_s``, ``loss`` and its parts ``node``, ``query``,
    ``association``), and when present ``config.json`` (name, version, stage boundaries) and
    the exported weights' ``<name>.json.v<version>`` (validation event F1).

    Parameters
    ----------
    run_dir
        The run's output folder (``--out`` of ``seisbench-genie train``), or its
        ``history.csv``.
    smooth_steps
        Width of the running mean drawn over the raw losses (steps).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing the step axis: the total loss (raw and smoothed) and its parts
        (smoothed), both logarithmic; wall-clock minutes on the top axis; later training
        stages marked by dotted lines.

    Raises
    ------
    ValueError
        No ``history.csv``, no rows, or no ``step``/``loss`` column; ``smooth_steps`` < 1.

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "history.csv").write_text(
    ...     "step,elapsed_s,loss,node,query,association\\n"
    ...     "1,1.0,2.0,1.0,0.7,0.3\\n2,2.0,1.5,0.8,0.5,0.2\\n3,3.0,1.2,0.6,0.4,0.2\\n")
    >>> fig = plot_training_curves(run)
    >>> fig.axes[1].get_xlabel()
    'optimiser step'
    """
    if int(smooth_steps) < 1:
        raise ValueError(f"smooth_steps: must be >= 1, got {smooth_steps}")
    path = Path(run_dir)
    folder = path.parent if path.is_file() else path
    history_file = path if path.is_file() else path / "history.csv"
    if not history_file.is_file():
        raise ValueError(f"run_dir: no history.csv in {folder} (the --out folder of "
                         f"`seisbench-genie train`)")
    hist = pd.read_csv(history_file)
    if hist.empty or not {"step", "loss"} <= set(hist.columns):
        raise ValueError(f"{history_file}: expected rows with 'step' and 'loss' columns "
                         f"(got {len(hist)} rows, columns {list(hist.columns)})")
    config = {}
    if (folder / "config.json").is_file():
        config = json.loads((folder / "config.json").read_text())
    name = config.get("name", folder.name)
    version = config.get("version")
    validation = None
    weights_meta = sorted(folder.glob(f"{name}.json.v*"))
    if weights_meta:
        meta = json.loads(weights_meta[-1].read_text())
        validation = (meta.get("validation") or {}).get("event_f1")
        version = version or meta.get("version")

    steps = hist["step"].to_numpy(float)
    k = int(min(smooth_steps, len(hist)))
    smooth = hist.rolling(k, min_periods=1).mean(numeric_only=True)
    parts = [c for c in ("node", "query", "association") if c in hist.columns]

    fig = _new_figure((8.0, 6.0))
    ax_tot = fig.add_subplot(2, 1, 1)
    ax_par = fig.add_subplot(2, 1, 2, sharex=ax_tot)
    window = hist["loss"].rolling(k, min_periods=1)
    ax_tot.fill_between(steps, window.quantile(BAND_QUANTILES[0]),
                        window.quantile(BAND_QUANTILES[1]), color="0.8", lw=0,
                        label=f"{k}-step {BAND_QUANTILES[0]:.0%}-{BAND_QUANTILES[1]:.0%} range")
    ax_tot.plot(steps, smooth["loss"], color="k", lw=1.5, label=f"{k}-step mean")
    for part, color in zip(parts, ("tab:blue", "tab:orange", "tab:green"), strict=False):
        ax_par.plot(steps, smooth[part], color=color, lw=1.2, label=part)
    for ax in (ax_tot, ax_par):
        ax.set_yscale("log")
        ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ends = _stage_ends(config) if config else []
    for i, end in enumerate(ends[:-1]):
        for ax in (ax_tot, ax_par):
            ax.axvline(end, color="0.3", ls=":", lw=1.0)
        ax_tot.annotate(f"stage {i + 2}", (end, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -10), textcoords="offset points", fontsize=7)
    ax_tot.set_ylabel("total loss")
    ax_par.set_ylabel("loss (smoothed)")
    ax_par.set_xlabel("optimiser step")
    ax_tot.legend(loc="upper right", fontsize=8)
    if parts:
        ax_par.legend(loc="upper right", fontsize=8)
    ax_tot.tick_params(labelbottom=False)
    minutes = None
    if "elapsed_s" in hist.columns and len(hist) > 1:
        minutes = np.maximum.accumulate(hist["elapsed_s"].to_numpy(float)) / 60.0
        if minutes[-1] > minutes[0]:
            top = ax_tot.secondary_xaxis(
                "top", functions=(lambda s: _interp_linear(s, steps, minutes),
                                  lambda m: _interp_linear(m, minutes, steps)))
            top.set_xlabel("wall-clock minutes")
    title = f"training {name}" + (f" v{version}" if version else "")
    title += f": {int(steps[-1])} steps"
    if minutes is not None:
        title += f" in {minutes[-1]:.0f} min"
    if validation is not None:
        title += f"; validation event F1 {validation:.3f}"
    fig.suptitle(title, fontsize=10)
    return fig
