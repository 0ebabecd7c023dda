"""Run GaMMA (``gmma`` 1.2.17, BGMM) on one benchmark work directory.

Executed by the peer virtualenv's python as ``python gamma_runner.py WORKDIR``; it does not
import seisbench_genie. Reads ``picks.csv``, ``stations.csv``, ``velocity_model.csv`` (nodes
``depth, vp, vs``, interpolated linearly by GaMMA's eikonal option) and ``config.json``.

Stations are projected with a transverse Mercator centred on the region (km); ``z(km)`` is
``-elevation/1000`` (GaMMA's convention, z down). The eikonal travel-time table is built before
the timer starts and handed to ``gamma.utils.association`` (which otherwise rebuilds it inside
the call), so only the association itself is timed. numpy and random are seeded.

Config keys: ``region``, ``threads``, ``seed``, ``method`` ("BGMM"), ``eikonal_h_km`` and
``gamma`` (GaMMA config entries such as ``oversample_factor``, ``dbscan_eps``, ``vel``).
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _vm_hwm_mb() -> float:
    """Peak RSS of the current program image (``VmHWM``; Linux only, else NaN)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _projection(region: dict):
    from pyproj import Proj

    lat0 = 0.5 * (region["latitude"][0] + region["latitude"][1])
    lon0 = 0.5 * (region["longitude"][0] + region["longitude"][1])
    return Proj(f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +ellps=WGS84 +units=km +no_defs")


def _box_km(proj, region: dict) -> tuple[list[float], list[float]]:
    """x/y limits (km) enclosing the projected lat/lon box (its edges are curved)."""
    lat = np.linspace(region["latitude"][0], region["latitude"][1], 51)
    lon = np.linspace(region["longitude"][0], region["longitude"][1], 51)
    la, lo = np.meshgrid(lat, lon)
    edge = (la == lat[0]) | (la == lat[-1]) | (lo == lon[0]) | (lo == lon[-1])
    x, y = proj(lo[edge], la[edge])
    return [float(np.min(x)), float(np.max(x))], [float(np.min(y)), float(np.max(y))]


def main(argv: list[str]) -> int:
    """Run on ``argv[1]`` (the work directory); returns the exit status.

    Examples
    --------
    ``<peer-venv>/bin/python gamma_runner.py /tmp/workdir`` (normally started by the benchmark).
    """
    if len(argv) != 2:
        print("usage: gamma_runner.py WORKDIR", file=sys.stderr)
        return 2
    workdir = Path(argv[1])
    cfg = json.loads((workdir / "config.json").read_text())

    import gamma.utils as gamma_utils
    from gamma.seismic_ops import initialize_eikonal

    picks = pd.read_csv(workdir / "picks.csv", dtype={"station": str, "phase": str})
    stations = pd.read_csv(workdir / "stations.csv", dtype={"id": str})
    nodes = pd.read_csv(workdir / "velocity_model.csv")
    region = cfg["region"]

    t_setup = time.perf_counter()
    proj = _projection(region)
    xlim, ylim = _box_km(proj, region)
    zlim = [float(region["depth_km"][0]), float(region["depth_km"][1])]
    sx, sy = proj(stations["longitude"].to_numpy(), stations["latitude"].to_numpy())
    g_stations = pd.DataFrame(
        {
            "id": stations["id"],
            "x(km)": sx,
            "y(km)": sy,
            "z(km)": -stations["elevation"].to_numpy(dtype=float) / 1000.0,
        }
    )
    # The table is indexed by depth below the station: cover event depth + station elevation.
    max_elev_km = max(0.0, float(stations["elevation"].max()) / 1000.0)
    eikonal = {
        "vel": {
            "z": nodes["depth"].astype(float).tolist(),
            "p": nodes["vp"].astype(float).tolist(),
            "s": nodes["vs"].astype(float).tolist(),
        },
        "h": float(cfg["eikonal_h_km"]),
        "xlim": xlim,
        "ylim": ylim,
        "zlim": [0.0, float(np.ceil(zlim[1] + max_elev_km + 2.0))],
    }
    config = dict(cfg["gamma"])
    config.update(
        {
            "dims": ["x(km)", "y(km)", "z(km)"],
            "x(km)": xlim,
            "y(km)": ylim,
            "z(km)": zlim,
            "bfgs_bounds": (
                (xlim[0] - 1, xlim[1] + 1),
                (ylim[0] - 1, ylim[1] + 1),
                (0, zlim[1] + 1),
                (None, None),
            ),
            "ncpu": int(cfg["threads"]),
            "eikonal": eikonal,
        }
    )
    table = initialize_eikonal(eikonal)
    # association() calls initialize_eikonal(config["eikonal"]) itself; hand it the table built
    # above so that building it stays outside the timed call.
    gamma_utils.initialize_eikonal = lambda _config: table
    g_picks = pd.DataFrame(
        {
            "id": picks["station"],
            "timestamp": pd.to_datetime(picks["time"].to_numpy(dtype=float), unit="s"),
            "type": picks["phase"].str.lower(),
            "prob": 1.0,
            "amp": 0.0,
        }
    ).reset_index(drop=True)
    seed = int(cfg.get("seed", 0))
    np.random.seed(seed)
    random.seed(seed)
    setup_seconds = time.perf_counter() - t_setup

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    events, assignments = gamma_utils.association(
        g_picks, g_stations, config, method=cfg.get("method", "BGMM")
    )
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0

    ev = pd.DataFrame(events)
    if len(ev):
        times = pd.to_datetime(ev["time"])
        if times.dt.tz is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        lon, lat = proj(ev["x(km)"].to_numpy(), ev["y(km)"].to_numpy(), inverse=True)
        out_events = pd.DataFrame(
            {
                "event_idx": ev["event_index"].astype(int),
                "time": (times - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1),
                "latitude": lat,
                "longitude": lon,
                "depth_km": ev["z(km)"].astype(float),
                "num_picks": ev["num_picks"].astype(int),
            }
        )
    else:
        out_events = pd.DataFrame(columns=["event_idx", "time", "latitude", "longitude", "depth_km"])
    out_assign = pd.DataFrame(
        [(int(a[0]), int(a[1])) for a in assignments], columns=["pick_idx", "event_idx"]
    )
    out_events.to_csv(workdir / "events.csv", index=False, float_format="%.6f")
    out_assign.to_csv(workdir / "assignments.csv", index=False)
    timing = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "vm_hwm_mb": _vm_hwm_mb(),
        "setup_seconds": setup_seconds,
        "peak_rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "peak_rss_children_mb": _peak_mb(resource.RUSAGE_CHILDREN),
        "n_events": len(out_events),
        "n_assigned": len(out_assign),
        "versions": {
            p: metadata.version(p) for p in ("gmma", "numpy", "pandas", "scikit-learn", "numba")
        },
    }
    (workdir / "timing.json").write_text(json.dumps(timing, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
