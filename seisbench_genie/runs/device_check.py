"""Association on a GPU against the CPU: the same catalog, and how fast.

Runs :meth:`GENIE.classify <seisbench_genie.GENIE.classify>` on one input on ``--device`` at
each of ``--batch-sizes`` (windows per network call; ``default`` is the rule of
``AssociationParams.batch_size``), then once on the CPU, and prints one JSON row per run:
events, picks associated, wall time, picks/s, peak GPU memory and, on the benchmark day,
event F1 against the true origin times. Each device run is then compared with the CPU run:
events whose origin times agree within 0.05 s, the largest origin-time difference, and the
picks assigned differently.

The input is day 0 of the long-run benchmark (:mod:`seisbench_genie.runs.benchmark`: the
crustal 500-event / 100 % scenario, 41,004 picks, generated once into ``--cache``), or a
pick / station / velocity-model CSV triple read as ``seisbench-genie benchmark-real`` reads
it (the search region from the stations, ``--region-depth``).

Run::

    python -m seisbench_genie.runs.device_check --device cuda --batch-sizes default,64
    python -m seisbench_genie.runs.device_check --device cuda --picks picks.csv \\
        --stations stations.csv --velocity-model vm.csv --out gpu.csv

The network runs on one thread on the CPU (``--threads``), as in the long-run benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Origin times of the same event found on two devices agree within this (s): the network's
#: float32 sums differ between devices in the last bits, which moves a located origin by
#: milliseconds (measured on an NVIDIA H200 against the CPU: at most 0.0014 s on the
#: benchmark day, ``docs/benchmarks.md``, "The GPU path").
SAME_ORIGIN_S = 0.05


def time_classify(model: Any, picks: pd.DataFrame, stations: pd.DataFrame, *,
                  device: str, batch_size: int | None = None,
                  true_times_s: np.ndarray | None = None,
                  **classify_kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Run ``model.classify`` once on ``device`` and measure it.

    Parameters
    ----------
    model
        A :class:`~seisbench_genie.GENIE`; it is moved back to the CPU afterwards.
    picks, stations
        As :meth:`GENIE.classify <seisbench_genie.GENIE.classify>` takes them.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    batch_size
        Windows per network call; None: the default rule.
    true_times_s
        True origin times (POSIX s) for the ``event_f1`` column, if known.
    **classify_kwargs
        Passed to ``classify`` (``velocity_model``, ``region``, ...).

    Returns
    -------
    (dict, ClassifyOutput)
        The measured row and the output.

    Examples
    --------
    >>> row, out = time_classify(model, picks, stations, device="cuda",
    ...                          velocity_model=vm)  # doctest: +SKIP
    >>> row["picks_per_s"]  # doctest: +SKIP
    20843
    """
    import torch

    from seisbench_genie.runs.benchmark import event_f1
    from seisbench_genie.runtime import resolve_device

    dev = resolve_device(device)
    on_gpu = dev.type == "cuda"
    if on_gpu:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    try:
        out = model.classify(picks, stations, device=str(dev), batch_size=batch_size,
                             **classify_kwargs)
        if on_gpu:
            torch.cuda.synchronize(dev)
    finally:
        model.to("cpu")
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {
        "device": str(dev), "batch_size": "default" if batch_size is None else batch_size,
        "picks": len(picks), "events": len(out.events), "assigned": len(out.assignments),
        "wall_s": round(wall, 2), "picks_per_s": round(len(picks) / max(wall, 1e-9)),
        "gpu_peak_gb": (round(torch.cuda.max_memory_allocated(dev) / 2 ** 30, 2)
                        if on_gpu else float("nan")),
    }
    if true_times_s is not None:
        row["event_f1"] = round(event_f1(out.events["time"].to_numpy(float), true_times_s), 4)
    return row, out


def compare_catalogs(reference: Any, other: Any) -> dict[str, Any]:
    """How far a catalog is from a reference one: events and picks.

    Parameters
    ----------
    reference, other
        ``classify`` outputs (``events`` with ``time``; ``assignments`` with ``pick_idx``,
        ``phase``).

    Returns
    -------
    dict
        ``events_reference``, ``events_other``, ``same_origin`` (reference events with an
        origin of ``other`` within :data:`SAME_ORIGIN_S`), ``max_origin_diff_s`` (over the
        reference events, to the nearest origin of ``other``), ``picks_assigned_differently``
        (pick-phase pairs assigned in one catalog only) and ``picks_assigned_reference``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> a = NS(events=pd.DataFrame({"time": [10.0, 50.0]}),
    ...        assignments=pd.DataFrame({"pick_idx": [0, 1], "phase": ["P", "S"]}))
    >>> b = NS(events=pd.DataFrame({"time": [10.001, 80.0]}),
    ...        assignments=pd.DataFrame({"pick_idx": [0], "phase": ["P"]}))
    >>> r = compare_catalogs(a, b)
    >>> r["same_origin"], r["picks_assigned_differently"]
    (1, 1)
    """
    ta = np.sort(reference.events["time"].to_numpy(float))
    tb = np.sort(other.events["time"].to_numpy(float))
    if len(ta) and len(tb):
        j = np.searchsorted(tb, ta)
        lo, hi = np.clip(j - 1, 0, len(tb) - 1), np.clip(j, 0, len(tb) - 1)
        nearest = np.minimum(np.abs(tb[lo] - ta), np.abs(tb[hi] - ta))
    else:
        nearest = np.full(len(ta), np.inf)

    def pairs(out: Any) -> set:
        a = out.assignments
        return set(zip(a["pick_idx"].tolist(), a["phase"].tolist(), strict=True))

    pa, pb = pairs(reference), pairs(other)
    return {"events_reference": len(ta), "events_other": len(tb),
            "same_origin": int((nearest <= SAME_ORIGIN_S).sum()),
            "max_origin_diff_s": round(float(nearest.max()), 4) if len(nearest) else 0.0,
            "picks_assigned_differently": len(pa ^ pb), "picks_assigned_reference": len(pa)}


def _benchmark_day(cache: str) -> tuple[pd.DataFrame, pd.DataFrame, dict, np.ndarray, str]:
    from seisbench_genie.runs.benchmark import _day_file, make_days
    from seisbench_genie.synthetic.scenarios import crustal_stations, load_velocity_model

    make_days(cache, 1)
    with np.load(_day_file(Path(cache), 0)) as f:
        picks = pd.DataFrame({"station": f["station"].astype(object),
                              "phase": f["phase"].astype(object), "time": f["time"]})
        truth = np.sort(f["event_time"])
    kwargs = {"velocity_model": load_velocity_model("hadley_kanamori")}
    return picks, crustal_stations(), kwargs, truth, "crustal_500_1.0 day 0"


def _files(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, dict, None, str]:
    from seisbench_genie.benchmark.real import load_dataset

    ds = load_dataset(args.picks, args.stations, args.velocity_model,
                      region_depth_km=tuple(args.region_depth))
    kwargs = {"velocity_model": ds.velocity_model, "region": ds.region}
    return ds.picks[["station", "phase", "time"]], ds.stations, kwargs, None, str(args.picks)


def main(argv: list[str] | None = None) -> int:
    """Command line (module docstring). Exit status 2 on bad arguments or input.

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """
    import torch

    from seisbench_genie.benchmark.genie_runner import load_model
    from seisbench_genie.benchmark.real import RealInputError
    from seisbench_genie.runtime import resolve_device

    p = argparse.ArgumentParser(prog="python -m seisbench_genie.runs.device_check",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="device to check against the CPU")
    p.add_argument("--batch-sizes", default="default",
                   help="comma-separated windows per network call on the device; "
                        "'default' is the built-in rule")
    p.add_argument("--model", default="crustal",
                   help="pretrained name or folder of weights (as --genie-model)")
    p.add_argument("--picks", help="pick CSV (with --stations and --velocity-model); "
                                   "default: the long-run benchmark's day 0")
    p.add_argument("--stations", help="station CSV (id, latitude, longitude[, elevation])")
    p.add_argument("--velocity-model", help="1-D model CSV (depth_km, vp, vs)")
    p.add_argument("--region-depth", nargs=2, type=float, default=(0.0, 25.0),
                   metavar=("MIN_KM", "MAX_KM"), help="search depth range (km) with --picks")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "seisbench_genie" /
                                          "long_run_days"),
                   help="folder of the long-run benchmark's generated days")
    p.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    p.add_argument("--out", help="CSV file of the rows (overwritten)")
    args = p.parse_args(argv)
    try:
        device = str(resolve_device(args.device))
        sizes = [None if s.strip() == "default" else int(s) for s in
                 args.batch_sizes.split(",")]
        if any(s is not None and s < 1 for s in sizes):
            raise ValueError(f"--batch-sizes: need 'default' or integers >= 1, got "
                             f"{args.batch_sizes!r}")
        given = [args.picks, args.stations, args.velocity_model]
        if any(given) and not all(given):
            raise ValueError("--picks, --stations and --velocity-model go together")
        picks, stations, kwargs, truth, name = (_files(args) if args.picks
                                                else _benchmark_day(args.cache))
    except (ValueError, RealInputError) as exc:
        print(f"device_check: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append({"input": name, **row})
        print(json.dumps(rows[-1]), flush=True)

    # One small call first, so that start-up (CUDA context, kernels) is not in the timings.
    time_classify(model, picks.iloc[: min(len(picks), 2000)], stations, device=device,
                  **kwargs)
    outputs = []
    for size in sizes:
        row, out = time_classify(model, picks, stations, device=device, batch_size=size,
                                 true_times_s=truth, **kwargs)
        emit(row)
        outputs.append((size, out))
    row, cpu = time_classify(model, picks, stations, device="cpu", true_times_s=truth,
                             **kwargs)
    emit(row)
    for size, out in outputs:
        emit({"compare": f"cpu vs {device} batch {size or 'default'}",
              **compare_catalogs(cpu, out)})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(args.out) + ".part")
        pd.DataFrame(rows).to_csv(tmp, index=False)
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
