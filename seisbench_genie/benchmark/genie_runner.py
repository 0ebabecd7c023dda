"""Run GENIE on one benchmark work directory, in a subprocess of the project's own python.

``python -m seisbench_genie.benchmark.genie_runner WORKDIR`` reads the file contract of
:mod:`seisbench_genie.benchmark.protocol` (``velocity_model.csv`` holds the scenario's layer
tops ``depth_km, vp, vs``), loads the model and builds the ``layered`` travel-time backend
(preprocessing, not timed), times only ``GENIE.classify`` and writes the outputs.

Config keys: ``model`` (pretrained name or path of a saved model), ``region``, ``threads``,
``seed``, ``max_distance_km``, ``max_depth_km`` and optional ``classify_kwargs``.

The main-process side is :func:`run_genie`.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.benchmark.protocol import (
    CONFIG_FILE,
    PICKS_FILE,
    STATIONS_FILE,
    TIMING_FILE,
    VELOCITY_FILE,
    RunOutput,
    run_associator_process,
    thread_environment,
    write_inputs,
)

EXIT_UNAVAILABLE = 3


def travel_time_limits(region: Mapping[str, Any]) -> tuple[float, float]:
    """Distance and depth extent (km) of the travel-time table for a scenario region.

    Same extent rule as the scenario generator: box diagonal + 250 km, and the deepest event
    (at least 40 km) + 10 km.

    Examples
    --------
    >>> travel_time_limits({"latitude": (0, 1), "longitude": (0, 0), "depth_km": (0, 30)})
    (362.0, 50.0)
    """
    km_per_deg = 111.195
    span = km_per_deg * np.hypot(
        region["latitude"][1] - region["latitude"][0],
        region["longitude"][1] - region["longitude"][0],
    )
    return float(np.ceil(span + 250.0)), float(max(float(region["depth_km"][1]), 40.0) + 10.0)


def run_genie(
    scenario: Any,
    workdir: str | Path,
    *,
    model: str | None,
    threads: int,
    seed: int = 0,
    timeout: float | None = None,
    classify_kwargs: Mapping[str, Any] | None = None,
) -> RunOutput:
    """Run GENIE on a scenario in a subprocess of this python (``sys.executable``).

    Parameters
    ----------
    scenario
        A :class:`seisbench_genie.synthetic.Scenario`.
    workdir
        Empty directory for the file contract.
    model
        Pretrained model name (``GENIE.from_pretrained``) or saved weights (``GENIE.load``;
        see :func:`resolve_model`).
    threads
        torch / BLAS threads of the subprocess.
    seed
        Seeds torch and numpy in the subprocess.
    timeout
        Seconds before the subprocess is killed.
    classify_kwargs
        Extra keyword arguments of ``GENIE.classify``.

    Returns
    -------
    RunOutput

    Raises
    ------
    protocol.AssociatorError
        When no model is given, GENIE is not available, or the run fails.

    Examples
    --------
    >>> out = run_genie(scn, "/tmp/w", model="subduction", threads=2)  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.protocol import AssociatorError

    if not model:
        raise AssociatorError(
            "no GENIE model given: pass --genie-model NAME_OR_PATH "
            "(or SCENARIO=NAME_OR_PATH,... for one model per scenario)"
        )
    max_distance_km, max_depth_km = travel_time_limits(scenario.region)
    kind, target, version = resolve_model(str(model))
    if kind == "path":  # the subprocess runs in workdir: pass an absolute path
        target = str(Path(target).expanduser().resolve())
    config = {
        "associator_name": "genie",
        "model": str(model),
        "model_source": {"kind": kind, "target": target, "version": version},
        "region": {
            k: list(map(float, scenario.region[k])) for k in ("latitude", "longitude", "depth_km")
        },
        "threads": int(threads),
        "seed": int(seed),
        "max_distance_km": max_distance_km,
        "max_depth_km": max_depth_km,
        "classify_kwargs": dict(classify_kwargs or {}),
    }
    write_inputs(workdir, scenario.picks, scenario.stations, scenario.velocity_model, config)
    return run_associator_process(
        [sys.executable, "-m", "seisbench_genie.benchmark.genie_runner"],
        workdir,
        timeout=timeout,
        env=thread_environment(threads),
    )


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


def resolve_model(spec: str) -> tuple[str, str, str | None]:
    """How to load ``--genie-model``: from saved weight files or as a pretrained name.

    ``spec`` may be the base path given to ``GENIE.save`` (files ``BASE.json[.vN]`` and
    ``BASE.pt[.vN]``), one of those files, or a pretrained model name.

    Returns
    -------
    (kind, target, version)
        ``("path", base, version or None)`` or ``("pretrained", name, None)``.

    Examples
    --------
    >>> resolve_model("subduction")
    ('pretrained', 'subduction', None)
    """
    path = Path(spec).expanduser()
    m = re.match(r"^(.*)\.(?:json|pt)(?:\.v(.+))?$", path.name)
    if m and path.is_file():
        return "path", str(path.with_name(m.group(1))), m.group(2)
    if path.with_name(path.name + ".json").is_file():
        return "path", str(path), None
    versions = sorted(
        (p.name.rsplit(".v", 1)[1] for p in path.parent.glob(path.name + ".json.v*")),
        key=lambda v: (len(v), v),
    )
    if versions and path.name:
        return "path", str(path), versions[-1]
    return "pretrained", spec, None


def load_model(spec: str) -> Any:
    """The GENIE model a ``--model`` / ``--genie-model`` argument names (see
    :func:`resolve_model`).

    Examples
    --------
    >>> load_model("crustal").name  # doctest: +SKIP
    'crustal'
    """
    from seisbench_genie import GENIE

    kind, target, version = resolve_model(spec)
    if kind == "path":
        return GENIE.load(target, version_str=version)
    return GENIE.from_pretrained(target)


def _cpu_seconds() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _fail(message: str) -> int:
    print(f"genie: {message}", file=sys.stderr)
    return EXIT_UNAVAILABLE


def main(argv: list[str] | None = None) -> int:
    """Entry point of the subprocess: ``python -m seisbench_genie.benchmark.genie_runner DIR``.

    Returns
    -------
    int
        0 on success, 2 on bad usage, 3 when GENIE or the model is unavailable.

    Examples
    --------
    >>> main([])
    2
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m seisbench_genie.benchmark.genie_runner WORKDIR", file=sys.stderr)
        return 2
    workdir = Path(argv[0])
    cfg = json.loads((workdir / CONFIG_FILE).read_text())
    try:
        from seisbench_genie import GENIE
    except ImportError as exc:
        return _fail(
            "GENIE is not available in this installation "
            f"(`from seisbench_genie import GENIE` failed: {exc}); cannot run the genie associator"
        )
    try:
        from seisbench_genie import traveltimes
    except ImportError as exc:
        return _fail(f"the travel-time backends are not available ({exc})")

    import torch

    threads = int(cfg["threads"])
    torch.set_num_threads(threads)
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed)

    picks = pd.read_csv(workdir / PICKS_FILE, dtype={"station": str, "phase": str})
    stations = pd.read_csv(workdir / STATIONS_FILE, dtype={"id": str})
    velocity_model = pd.read_csv(workdir / VELOCITY_FILE)
    region = {k: tuple(v) for k, v in cfg["region"].items()}

    t_setup = time.perf_counter()
    name = str(cfg["model"])
    source = cfg.get("model_source") or dict(zip(("kind", "target", "version"),
                                                  resolve_model(name), strict=True))
    kind, target, version = source["kind"], source["target"], source["version"]
    try:
        if kind == "path":
            model = GENIE.load(target, version_str=version)
        else:
            model = GENIE.from_pretrained(target)
    except Exception as exc:  # noqa: BLE001 - reported to the benchmark as a failed cell
        return _fail(f"could not load GENIE model {name!r}: {type(exc).__name__}: {exc}")
    backend = traveltimes.get(
        "layered",
        model=velocity_model,
        max_distance_km=float(cfg["max_distance_km"]),
        max_depth_km=float(cfg["max_depth_km"]),
    )
    setup_seconds = time.perf_counter() - t_setup

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    out = model.classify(
        picks, stations, velocity_model=backend, region=region, **cfg.get("classify_kwargs", {})
    )
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    # The ObsPy Catalog is built on first access; its cost is reported on its own (the
    # peers' timed calls return tables too).
    t_catalog = time.perf_counter()
    n_catalog_events = len(out.catalog)
    catalog_seconds = time.perf_counter() - t_catalog

    events = out.events.copy()
    assignments = out.assignments.copy()
    keep_ev = [c for c in ("event_idx", "time", "latitude", "longitude", "depth_km")]
    extra_ev = [c for c in events.columns if c not in keep_ev]
    events[keep_ev + extra_ev].to_csv(workdir / "events.csv", index=False, float_format="%.6f")
    keep_as = ["pick_idx", "event_idx"] + [
        c for c in ("phase", "probability", "residual_s") if c in assignments.columns
    ]
    assignments[keep_as].to_csv(workdir / "assignments.csv", index=False)
    timing = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "vm_hwm_mb": _vm_hwm_mb(),
        "setup_seconds": setup_seconds,
        "catalog_seconds": catalog_seconds,
        "n_catalog_events": n_catalog_events,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        "n_events": len(events),
        "n_assigned": len(assignments),
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
    }
    (workdir / TIMING_FILE).write_text(json.dumps(timing, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
