"""Hand a Catalog to the relocation programs: NonLinLoc, HypoDD, and plain CSV tables.

GENIE's locations are preliminary; the usual next step is an absolute relocation with
NonLinLoc or a relative one with HypoDD. Each writer here takes an ObsPy
:class:`~obspy.core.event.Catalog` (from :meth:`seisbench_genie.GENIE.associate` or read from
QuakeML) and writes the input files those programs read:

* :func:`to_nonlinloc`: one NLLOC_OBS phase file per event (ObsPy's writer, with the picks'
  time uncertainties as Gaussian errors), a station file of ``GTSRCE`` lines and, with a
  velocity model, a control-file starter with its ``LAYER`` lines;
* :func:`to_hypodd`: ``phase.dat`` (ObsPy's HYPODDPHA writer), ``station.dat`` and
  ``ph2dt.inp`` / ``hypoDD.inp`` starters with the layered model;
* :func:`to_csv`: ``events.csv`` and ``picks.csv`` (one row per associated pick), the tables
  QuakeFlow and PyOcto users work with; :func:`catalog_tables` gives the same tables as
  DataFrames.

Every file is first written under a temporary name in the target folder and renamed once all
of them are complete: a failure leaves no half-written file behind. The control-file
starters are starting points to edit (grid sizes follow the stations and events, search and
error settings are common defaults), not tuned configurations.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from obspy.core.event import Catalog

from .geo import epicentral_distance_km
from .picks import station_positions
from .stations import station_table
from .traveltimes.velocity_model import validate_velocity_model

__all__ = ["catalog_tables", "to_csv", "to_hypodd", "to_nonlinloc"]

#: Density (g/cm^3) written on NonLinLoc ``LAYER`` lines: travel times do not use it; the
#: value is a typical crustal density so that the line is complete.
NLL_LAYER_DENSITY = 2.7

#: Spacing (km) of the NonLinLoc travel-time and search grids of the control-file starter:
#: fine enough for local networks (locations within a few hundred metres), coarse enough that
#: a 2-D time grid over a few hundred km stays small.
NLL_GRID_SPACING_KM = 0.5

#: Most nodes along each horizontal axis of the NonLinLoc search grid (``LOCGRID``): its
#: spacing grows past :data:`NLL_GRID_SPACING_KM` for wide networks so that the saved
#: probability grid stays below about 10^7 nodes.
NLL_SEARCH_NODES = 201

#: Margin (km) added around the stations and events on every side of the NonLinLoc grids and
#: below the deepest event, so that the search can move events beyond GENIE's locations.
NLL_GRID_MARGIN_KM = 20.0

#: Vp/Vs written to ``hypoDD.inp`` when the velocity model has no ``vs`` column; 1.73 is the
#: Poisson-solid ratio used by most crustal 1-D models.
DEFAULT_VP_VS = 1.73

EVENT_CSV_COLUMNS = [
    "event_index", "event_id", "time", "latitude", "longitude", "depth_km",
    "horizontal_uncertainty_km", "depth_uncertainty_km", "time_uncertainty_s", "n_picks",
    "n_stations", "rms_s", "azimuthal_gap_deg", "magnitude", "magnitude_type",
    "magnitude_uncertainty", "magnitude_station_count",
]
"""Columns of ``events.csv`` / the events table of :func:`catalog_tables`."""

PICK_CSV_COLUMNS = [
    "event_index", "event_id", "pick_id", "station_id", "channel", "phase_type", "phase_time",
    "time_uncertainty_s", "phase_score", "association_probability", "residual_s",
]
"""Columns of ``picks.csv`` / the picks table of :func:`catalog_tables`."""


# --------------------------------------------------------------------------------------------
# Checks and tables
# --------------------------------------------------------------------------------------------
def _check_catalog(catalog: Any, need_picks: bool = True) -> Catalog:
    if not isinstance(catalog, Catalog):
        raise ValueError(f"catalog: expected an ObsPy Catalog, got {type(catalog).__name__}")
    no_origin = [str(ev.resource_id) for ev in catalog if not ev.origins]
    if no_origin:
        raise ValueError(f"catalog: {len(no_origin)} event(s) without an origin, e.g. "
                         f"{no_origin[:3]}")
    if need_picks and len(catalog) and not any(ev.picks for ev in catalog):
        raise ValueError("catalog: no event has picks; associate picks first (e.g. "
                         "GENIE.associate) or read a catalog that includes them")
    return catalog


def _float(value: Any) -> float:
    return float(value) if value is not None else np.nan


def _extra_float(obj: Any, key: str) -> float:
    extra = getattr(obj, "extra", None) or {}
    try:
        return float(extra[key]["value"])
    except (KeyError, TypeError, ValueError):
        return np.nan


def _seed(wid: Any) -> tuple[str, str]:
    """(NET.STA.LOC, channel) of a WaveformStreamID."""
    if wid is None:
        return "..", ""
    return (f"{wid.network_code or ''}.{wid.station_code or ''}.{wid.location_code or ''}",
            wid.channel_code or "")


def catalog_tables(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events and their associated picks of a Catalog as two DataFrames.

    Parameters
    ----------
    catalog
        ObsPy Catalog; each event needs an origin (the preferred one, else the first).

    Returns
    -------
    events : pandas.DataFrame
        :data:`EVENT_CSV_COLUMNS`: ``event_index`` (position in the catalog), ``event_id``
        (resource id), ``time`` (POSIX s, UTC), ``latitude``, ``longitude`` (deg),
        ``depth_km``, one-sigma ``horizontal_uncertainty_km`` / ``depth_uncertainty_km`` (km)
        and ``time_uncertainty_s`` (s), ``n_picks``, ``n_stations``, ``rms_s`` (s),
        ``azimuthal_gap_deg``, and the preferred magnitude (``magnitude``,
        ``magnitude_type``, ``magnitude_uncertainty``, ``magnitude_station_count``; NaN /
        empty without one).
    picks : pandas.DataFrame
        :data:`PICK_CSV_COLUMNS`, one row per pick of each event: ``station_id``
        (``NET.STA.LOC``), ``channel``, ``phase_type`` (the arrival's phase, else the pick's
        phase hint), ``phase_time`` (POSIX s), ``time_uncertainty_s`` (s), ``phase_score``
        (picker probability), ``association_probability`` (the arrival's time weight) and
        ``residual_s`` (s, observed minus predicted).

    Examples
    --------
    >>> events, picks = catalog_tables(Catalog())
    >>> len(events), list(picks.columns)[:3]
    (0, ['event_index', 'event_id', 'pick_id'])
    """
    _check_catalog(catalog, need_picks=False)
    ev_rows: list[dict[str, Any]] = []
    pk_rows: list[tuple] = []
    for i, ev in enumerate(catalog):
        origin = ev.preferred_origin() or ev.origins[0]
        mag = ev.preferred_magnitude() or (ev.magnitudes[0] if ev.magnitudes else None)
        quality = origin.quality
        unc = origin.origin_uncertainty
        h = unc.horizontal_uncertainty if unc is not None else None
        arrivals = {str(a.pick_id): a for a in origin.arrivals}
        stations = set()
        for p in ev.picks:
            station, channel = _seed(p.waveform_id)
            stations.add(station)
            a = arrivals.get(str(p.resource_id))
            phase = (a.phase if a is not None and a.phase else p.phase_hint) or ""
            # picker probability: on the Arrival by default, on the Pick with
            # build_catalog(pick_probability_extra=True)
            score = _extra_float(a, "pick_probability")
            score = _extra_float(p, "pick_probability") if np.isnan(score) else score
            pk_rows.append((
                i, str(ev.resource_id), str(p.resource_id), station, channel, phase,
                p.time.timestamp if p.time is not None else np.nan,
                _float(p.time_errors.uncertainty if p.time_errors else None),
                score,
                _float(a.time_weight) if a is not None else np.nan,
                _float(a.time_residual) if a is not None else np.nan,
            ))
        ev_rows.append({
            "event_index": i, "event_id": str(ev.resource_id),
            "time": origin.time.timestamp if origin.time is not None else np.nan,
            "latitude": _float(origin.latitude), "longitude": _float(origin.longitude),
            "depth_km": _float(origin.depth) / 1000.0,
            "horizontal_uncertainty_km": _float(h) / 1000.0,
            "depth_uncertainty_km": _float(origin.depth_errors.uncertainty) / 1000.0,
            "time_uncertainty_s": _float(origin.time_errors.uncertainty),
            "n_picks": len(ev.picks), "n_stations": len(stations),
            "rms_s": _float(quality.standard_error) if quality else np.nan,
            "azimuthal_gap_deg": _float(quality.azimuthal_gap) if quality else np.nan,
            "magnitude": _float(mag.mag) if mag else np.nan,
            "magnitude_type": (mag.magnitude_type or "") if mag else "",
            "magnitude_uncertainty": _float(mag.mag_errors.uncertainty) if mag else np.nan,
            "magnitude_station_count": _float(mag.station_count) if mag else np.nan,
        })
    events = pd.DataFrame(ev_rows, columns=EVENT_CSV_COLUMNS)
    picks = pd.DataFrame(pk_rows, columns=PICK_CSV_COLUMNS)
    return events, picks


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def _write_files(folder: Any, files: Mapping[str, str]) -> dict[str, Path]:
    """Write text files into ``folder``: all to temporary names first, then rename each.

    Nothing is renamed unless every file was written; the temporary files are removed on
    any failure.
    """
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ValueError(f"folder: {str(root)!r} exists and is not a folder")
    targets = {name: root / name for name in files}
    for path in targets.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            handle, tmp = tempfile.mkstemp(prefix=f".{targets[name].name}.",
                                           suffix=".tmp", dir=targets[name].parent)
            temporary.append((tmp, targets[name]))
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        for tmp, path in temporary:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temporary:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    return targets


def _event_station_codes(catalog: Catalog) -> pd.DataFrame:
    """Unique picked stations: ``id`` (NET.STA.LOC) and ``code`` (station code)."""
    ids = pd.unique(pd.Series([_seed(p.waveform_id)[0] for ev in catalog for p in ev.picks],
                              dtype=object))
    codes = [s.split(".")[1] for s in ids]
    return pd.DataFrame({"id": ids, "code": codes})


def _station_coordinates(catalog: Catalog, inventory: Any) -> pd.DataFrame:
    """Coordinates of every picked station, one row per station code.

    Raises when a picked station is not in ``inventory`` or one station code stands for two
    places (NonLinLoc and HypoDD name stations by code only).
    """
    table = station_table(inventory, "inventory")
    picked = _event_station_codes(catalog)
    pos = station_positions(picked["id"], table)
    missing = picked.loc[pos < 0, "id"].tolist()
    if missing:
        raise ValueError(f"inventory: {len(missing)} picked station(s) missing: {missing[:5]}")
    rows = table.iloc[pos].reset_index(drop=True)
    out = pd.DataFrame({"code": picked["code"], "latitude": rows["latitude"],
                        "longitude": rows["longitude"], "elevation": rows["elevation"]})
    out = out.drop_duplicates()
    clash = out["code"].duplicated(keep=False)
    if clash.any():
        raise ValueError(
            "inventory: station code(s) at more than one place (NonLinLoc and HypoDD name "
            f"stations by code only): {sorted(set(out.loc[clash, 'code']))[:5]}")
    empty = (out["code"] == "").any()
    if empty:
        raise ValueError("catalog: pick(s) without a station code")
    return out.sort_values("code").reset_index(drop=True)


def _velocity_layers(velocity_model: Any) -> pd.DataFrame:
    if not isinstance(velocity_model, pd.DataFrame):
        raise ValueError("velocity_model: expected a DataFrame of layer tops (depth_km, vp, vs "
                         f"in km and km/s), got {type(velocity_model).__name__}")
    return validate_velocity_model(velocity_model)


def _write_obs(catalog: Catalog, fmt: str, **kwargs: Any) -> str:
    buffer = io.BytesIO() if fmt == "NLLOC_OBS" else io.StringIO()
    catalog.write(buffer, format=fmt, **kwargs)
    value = buffer.getvalue()
    return value.decode() if isinstance(value, bytes) else value


def _grid_extent(catalog: Catalog, stations: pd.DataFrame) -> tuple[float, float, float]:
    """Centre latitude/longitude of stations and events and the largest distance (km)."""
    events, _ = catalog_tables(catalog)
    lat = np.r_[stations["latitude"].to_numpy(), events["latitude"].to_numpy()]
    lon = np.r_[stations["longitude"].to_numpy(), events["longitude"].to_numpy()]
    lat0, lon0 = float(np.mean(lat)), float(np.mean(lon))
    radius = float(np.max(epicentral_distance_km(lat0, lon0, lat, lon))) if len(lat) else 0.0
    return lat0, lon0, radius


def _nll_control(catalog: Catalog, stations: pd.DataFrame, layers: pd.DataFrame) -> str:
    lat0, lon0, radius = _grid_extent(catalog, stations)
    events, _ = catalog_tables(catalog)
    dx = NLL_GRID_SPACING_KM
    half = radius + NLL_GRID_MARGIN_KM
    top = -np.ceil(max(0.0, float(stations["elevation"].max()) / 1000.0))
    bottom = max(float(np.nanmax(events["depth_km"])), float(layers["depth_km"].max())) \
        + NLL_GRID_MARGIN_KM
    n_x2d = int(np.ceil(2 * half / dx)) + 1  # 2-D time grid: distances up to the diameter
    n_z = int(np.ceil((bottom - top) / dx)) + 1
    dxy = max(dx, 2 * half / (NLL_SEARCH_NODES - 1))
    n_xy = int(np.ceil(2 * half / dxy)) + 1
    dz_loc = max(dx, (bottom - top) / (NLL_SEARCH_NODES - 1))
    n_z_loc = int(np.ceil((bottom - top) / dz_loc)) + 1
    vs = layers["vs"].to_numpy() if "vs" in layers else layers["vp"].to_numpy() / DEFAULT_VP_VS
    layer_lines = "\n".join(
        f"LAYER {z:9.3f} {vp:6.3f} 0.00 {v_s:6.3f} 0.00 {NLL_LAYER_DENSITY:4.2f} 0.00"
        for z, vp, v_s in zip(layers["depth_km"], layers["vp"], vs, strict=True))
    return f"""\
# NonLinLoc control-file starter written by seisbench-genie: edit before use.
# Layout: obs/*.obs (NLLOC_OBS phases), stations.txt (GTSRCE lines, included below).
# Run: Vel2Grid, Grid2Time (once per phase: edit GTFILES to S and VGTYPE), NLLoc.
CONTROL 1 54321
TRANS SIMPLE {lat0:.5f} {lon0:.5f} 0.0

# --- Vel2Grid: 2-D (distance, depth) velocity grid of the 1-D model
VGOUT ./model/layer
VGTYPE P
VGGRID 2 {n_x2d} {n_z} 0.0 0.0 {top:.3f} {dx} {dx} {dx} SLOW_LEN
# LAYER depth_km VpTop VpGrad VsTop VsGrad rhoTop rhoGrad
{layer_lines}

# --- Grid2Time
GTFILES ./model/layer ./time/layer P
GTMODE GRID2D ANGLES_NO
INCLUDE stations.txt
GT_PLFD 1.0e-3 0

# --- NLLoc
LOCSIG seisbench-genie starter
LOCFILES ./obs/*.obs NLLOC_OBS ./time/layer ./loc/genie
LOCHYPOUT SAVE_NLLOC_ALL
LOCSEARCH OCT 10 10 4 0.01 20000 5000 0 1
LOCGRID {n_xy} {n_xy} {n_z_loc} {-half:.3f} {-half:.3f} {top:.3f} {dxy:.3f} {dxy:.3f} \
{dz_loc:.3f} PROB_DENSITY SAVE
# LOCMETH: Vp/Vs -1 = S times from S grids (run Grid2Time for S as well)
LOCMETH EDT_OT_WT 9999.0 4 -1 -1 -1 6 -1.0 1
LOCGAU 0.2 0.0
LOCGAU2 0.02 0.05 2.0
LOCPHASEID P P p Pg Pn
LOCPHASEID S S s Sg Sn
LOCQUAL2ERR 0.1 0.5 1.0 2.0 99999.9
LOCANGLES ANGLES_NO 5
"""


def to_nonlinloc(catalog: Catalog, folder: str | os.PathLike, inventory: Any = None,
                 velocity_model: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write NonLinLoc inputs: phase files, a station file and a control-file starter.

    Parameters
    ----------
    catalog
        Catalog with picks (events without picks are left out, with one warning). Each
        pick's ``time_errors.uncertainty`` (s) becomes its Gaussian error; picks without one
        make ObsPy write an error of 0.
    folder
        Output folder (created when missing). Files: ``obs/event_NNNNNN.obs`` (one NLLOC_OBS
        file per event, numbered by catalog position; its ``PUBLIC_ID`` line holds the
        event's resource id), ``stations.txt`` when ``inventory`` is given, ``nlloc.in``
        when ``velocity_model`` is given as well.
    inventory
        ObsPy Inventory or station DataFrame (``id``, ``latitude``, ``longitude``,
        ``elevation`` in m) holding every picked station. Written as
        ``GTSRCE <code> LATLON <lat> <lon> 0.0 <elevation km>``.
    velocity_model
        1-D model, layer tops ``depth_km`` (km below sea level), ``vp``, ``vs`` (km/s);
        written as ``LAYER`` lines of the control-file starter (constant velocity per layer,
        density :data:`NLL_LAYER_DENSITY`). Needs ``inventory`` (the grids cover the
        stations).

    Returns
    -------
    dict
        File name (relative to ``folder``) -> path of every file written.

    Raises
    ------
    ValueError
        When ``catalog`` is not a Catalog, has no picks or an event without origin, a picked
        station is missing from ``inventory``, one station code stands for two places, or
        ``velocity_model`` is given without ``inventory``. Nothing is written then.

    Examples
    --------
    >>> files = to_nonlinloc(catalog, "nll", inventory, velocity_model=vm)  # doctest: +SKIP
    >>> sorted(files)[-2:]  # doctest: +SKIP
    ['nlloc.in', 'stations.txt']
    """
    _check_catalog(catalog)
    if velocity_model is not None and inventory is None:
        raise ValueError("velocity_model: the control-file starter needs the inventory too "
                         "(its grids cover the stations)")
    layers = _velocity_layers(velocity_model) if velocity_model is not None else None
    stations = _station_coordinates(catalog, inventory) if inventory is not None else None
    files: dict[str, str] = {}
    skipped = [str(ev.resource_id) for ev in catalog if not ev.picks]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ObsPy: picks without uncertainty
        for i, ev in enumerate(catalog):
            if ev.picks:
                files[f"obs/event_{i:06d}.obs"] = _write_obs(Catalog([ev]), "NLLOC_OBS")
    no_error = sum(p.time_errors.uncertainty is None for ev in catalog for p in ev.picks)
    if stations is not None:
        files["stations.txt"] = "".join(
            f"GTSRCE {r.code} LATLON {r.latitude:.6f} {r.longitude:.6f} 0.0 "
            f"{r.elevation / 1000.0:.4f}\n" for r in stations.itertuples())
    if layers is not None:
        files["nlloc.in"] = _nll_control(catalog, stations, layers)
    written = _write_files(folder, files)
    if skipped or no_error:
        warnings.warn(
            f"to_nonlinloc: {len(skipped)} event(s) without picks left out "
            f"(e.g. {skipped[:3]}); {no_error} pick(s) without a time uncertainty written with "
            "error 0", UserWarning, stacklevel=2)
    return written


def _hypodd_inputs(layers: pd.DataFrame | None) -> tuple[str, str]:
    ph2dt = """\
* ph2dt.inp: starter written by seisbench-genie (edit before use)
* station file:
station.dat
* phase file:
phase.dat
*MINWGHT MAXDIST MAXSEP MAXNGH MINLNK MINOBS MAXOBS
   0      200     10     10     8      8     50
"""
    if layers is None:
        model = "* (no velocity model given: add NLAY RATIO / TOP / VEL here)\n"
    else:
        vs = layers["vs"].to_numpy() if "vs" in layers else None
        ratio = float(np.median(layers["vp"].to_numpy() / vs)) if vs is not None \
            else DEFAULT_VP_VS
        tops = " ".join(f"{z:.3f}" for z in layers["depth_km"])
        vel = " ".join(f"{v:.3f}" for v in layers["vp"])
        model = f"* NLAY RATIO\n {len(layers)} {ratio:.3f}\n* TOP\n{tops}\n* VEL\n{vel}\n"
    hypodd = f"""\
* hypoDD.inp: starter written by seisbench-genie in the layout of hypoDD 1.x (1-D model as
* NLAY/RATIO/TOP/VEL, P velocities, one Vp/Vs); edit before use.
*--- input files: cross-correlation times, catalog times, events, stations
dt.cc
dt.ct
event.dat
station.dat
*--- output files: locations, relocations, stations, residuals, sources
hypoDD.loc
hypoDD.reloc
hypoDD.sta
hypoDD.res
hypoDD.src
*--- IDAT IPHA DIST  (2: catalog data; 3: P and S; max station distance km)
    2     3    200
*--- OBSCC OBSCT
    0     8
*--- ISTART ISOLV NSET
    2      2     2
*--- NITER WTCCP WTCCS WRCC WDCC WTCTP WTCTS WRCT WDCT DAMP
    4     -9    -9    -9   -9   1.0   0.5   -9   -9   70
    4     -9    -9    -9   -9   1.0   0.5    6   -9   70
*--- 1D model
{model}*--- CID
    0
*--- ID
"""
    return ph2dt, hypodd


def to_hypodd(catalog: Catalog, inventory: Any, folder: str | os.PathLike,
              velocity_model: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write HypoDD inputs: ``phase.dat``, ``station.dat`` and ``ph2dt.inp`` / ``hypoDD.inp``.

    Parameters
    ----------
    catalog
        Catalog with picks (events without picks are left out, with one warning).
        ``phase.dat`` is written with ObsPy's HYPODDPHA writer: the events numbered 1..n in
        catalog order (HypoDD wants integer ids), travel times relative to the origin, and
        each pick's weight = its arrival's ``time_weight`` (GENIE: the association
        probability), 1 without one. Events without a magnitude get 0.0 (the format needs a
        number; one warning).
    inventory
        ObsPy Inventory or station DataFrame (``id``, ``latitude``, ``longitude``,
        ``elevation`` in m) with every picked station; ``station.dat`` lines are
        ``<code> <lat> <lon> <elevation m>``.
    folder
        Output folder (created when missing).
    velocity_model
        1-D model (layer tops ``depth_km``, ``vp``, ``vs`` in km and km/s) written into the
        1-D model block of ``hypoDD.inp`` (P velocities and the median Vp/Vs); without it the
        block is left for the user to fill.

    Returns
    -------
    dict
        File name -> path of ``phase.dat``, ``station.dat``, ``ph2dt.inp``, ``hypoDD.inp``.

    Raises
    ------
    ValueError
        When ``catalog`` has no picks or an event without origin, a picked station is missing
        from ``inventory`` or a station code stands for two places. Nothing is written then.

    Examples
    --------
    >>> files = to_hypodd(catalog, inventory, "hypodd", velocity_model=vm)  # doctest: +SKIP
    >>> sorted(files)  # doctest: +SKIP
    ['hypoDD.inp', 'ph2dt.inp', 'phase.dat', 'station.dat']
    """
    _check_catalog(catalog)
    if inventory is None:
        raise ValueError("inventory: needed for station.dat (station coordinates)")
    layers = _velocity_layers(velocity_model) if velocity_model is not None else None
    stations = _station_coordinates(catalog, inventory)
    blocks = []
    no_mag = 0
    skipped = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ObsPy: magnitude set to 0.0
        for i, ev in enumerate(catalog):
            if not ev.picks:
                skipped += 1
                continue
            no_mag += not ev.magnitudes
            key = str(ev.resource_id).split("/")[-1]
            blocks.append(_write_obs(Catalog([ev]), "HYPODDPHA", eventid_map={key: str(i + 1)}))
    station_lines = "".join(f"{r.code} {r.latitude:.6f} {r.longitude:.6f} {r.elevation:.1f}\n"
                            for r in stations.itertuples())
    ph2dt, hypodd = _hypodd_inputs(layers)
    written = _write_files(folder, {"phase.dat": "".join(blocks), "station.dat": station_lines,
                                    "ph2dt.inp": ph2dt, "hypoDD.inp": hypodd})
    if no_mag or skipped:
        warnings.warn(f"to_hypodd: {skipped} event(s) without picks left out; {no_mag} "
                      "event(s) without a magnitude written with magnitude 0.0",
                      UserWarning, stacklevel=2)
    return written


def _iso(posix: pd.Series) -> pd.Series:
    """POSIX seconds -> ISO 8601 UTC strings, rounded to the microsecond ("" for NaN)."""
    micro = np.round(posix.to_numpy(dtype=float) * 1e6)
    ok = np.isfinite(micro)
    stamp = pd.to_datetime(np.where(ok, micro, 0).astype(np.int64), unit="us", utc=True)
    text = pd.Series(stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), index=posix.index)
    return text.where(ok, "")


def to_csv(catalog: Catalog, folder: str | os.PathLike) -> dict[str, Path]:
    """Write ``events.csv`` and ``picks.csv`` (one row per associated pick).

    Parameters
    ----------
    catalog
        Catalog with picks.
    folder
        Output folder (created when missing).

    Returns
    -------
    dict
        ``{"events.csv": path, "picks.csv": path}``. The columns are those of
        :func:`catalog_tables` (:data:`EVENT_CSV_COLUMNS`, :data:`PICK_CSV_COLUMNS`), with
        ``time`` and ``phase_time`` as ISO 8601 UTC strings (microseconds); ``event_index``
        links a pick to its event. Read back with ``pandas.read_csv``.

    Raises
    ------
    ValueError
        When ``catalog`` is not a Catalog, has no picks or an event without origin; nothing
        is written then.

    Examples
    --------
    >>> files = to_csv(catalog, "out")  # doctest: +SKIP
    >>> pd.read_csv(files["picks.csv"]).columns[:4].tolist()  # doctest: +SKIP
    ['event_index', 'event_id', 'pick_id', 'station_id']
    """
    _check_catalog(catalog)
    events, picks = catalog_tables(catalog)
    events = events.assign(time=_iso(events["time"]))
    picks = picks.assign(phase_time=_iso(picks["phase_time"]))
    return _write_files(folder, {
        "events.csv": events.to_csv(index=False, float_format="%.10g"),
        "picks.csv": picks.to_csv(index=False, float_format="%.10g"),
    })

