"""Run PyOcto (0.2.2) on one benchmark work directory.

Executed by the peer virtualenv's python as ``python pyocto_runner.py WORKDIR``; it does not
import seisbench_genie. Reads ``picks.csv``, ``stations.csv``, ``velocity_model.csv`` (PyOcto
nodes ``depth, vp, vs``; linear interpolation between nodes) and ``config.json`` from WORKDIR,
builds the 1-D travel-time table (not timed), times only ``OctoAssociator.associate`` and writes
``events.csv``, ``assignments.csv`` and ``timing.json``.

Config keys: ``region`` (latitude, longitude, depth_km ranges), ``threads``, ``table``
(``delta_km``, ``xdist_km``, ``zdist_km``), ``velocity_model`` (``tolerance``,
``association_cutoff_distance``, ``surface_p_velocity``, ``surface_s_velocity``) and
``associator`` (keyword arguments of ``OctoAssociator``, e.g. ``time_before``, ``n_picks``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

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


def main(argv: list[str]) -> int:
    """Run on ``argv[1]`` (the work directory); returns the exit status.

    Examples
    --------
    ``<peer-venv>/bin/python pyocto_runner.py /tmp/workdir`` (normally started by the benchmark).
    """
    if len(argv) != 2:
        print("usage: pyocto_runner.py WORKDIR", file=sys.stderr)
        return 2
    workdir = Path(argv[1])
    cfg = json.loads((workdir / "config.json").read_text())

    import pyocto

    picks = pd.read_csv(workdir / "picks.csv", dtype={"station": str, "phase": str})
    stations = pd.read_csv(workdir / "stations.csv", dtype={"id": str})
    nodes = pd.read_csv(workdir / "velocity_model.csv")

    t_setup = time.perf_counter()
    table_path = workdir / "pyocto_1d_table.bin"
    table = cfg["table"]
    pyocto.VelocityModel1D.create_model(
        nodes[["depth", "vp", "vs"]],
        float(table["delta_km"]),
        float(table["xdist_km"]),
        float(table["zdist_km"]),
        table_path,
    )
    vm_cfg = cfg["velocity_model"]
    velocity_model = pyocto.VelocityModel1D(
        str(table_path),
        tolerance=float(vm_cfg["tolerance"]),
        association_cutoff_distance=vm_cfg.get("association_cutoff_distance"),
        surface_p_velocity=vm_cfg.get("surface_p_velocity"),
        surface_s_velocity=vm_cfg.get("surface_s_velocity"),
    )
    region = cfg["region"]
    associator = pyocto.OctoAssociator.from_area(
        lat=tuple(region["latitude"]),
        lon=tuple(region["longitude"]),
        zlim=tuple(region["depth_km"]),
        velocity_model=velocity_model,
        n_threads=int(cfg["threads"]),
        **cfg["associator"],
    )
    stations = associator.transform_stations(stations)
    setup_seconds = time.perf_counter() - t_setup

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    events, assignments = associator.associate(picks, stations)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0

    if len(events):
        events = associator.transform_events(events)
        out_events = pd.DataFrame(
            {
                "event_idx": events["idx"].astype(int),
                "time": events["time"].astype(float),
                "latitude": events["latitude"],
                "longitude": events["longitude"],
                "depth_km": events["depth"],
            }
        )
        out_assign = pd.DataFrame(
            {
                "pick_idx": assignments["pick_idx"].astype(int),
                "event_idx": assignments["event_idx"].astype(int),
                "residual_s": assignments["residual"],
            }
        )
    else:
        out_events = pd.DataFrame(columns=["event_idx", "time", "latitude", "longitude", "depth_km"])
        out_assign = pd.DataFrame(columns=["pick_idx", "event_idx", "residual_s"])
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
        "versions": {p: metadata.version(p) for p in ("pyocto", "numpy", "pandas", "pyrocko")},
    }
    (workdir / "timing.json").write_text(json.dumps(timing, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
