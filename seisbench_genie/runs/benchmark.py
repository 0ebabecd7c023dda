"""Speed and memory of long runs: 1, 7, 30 ... days of the crustal 500-event / 100 % scenario,
serial, on all local cores, and on a 2-worker Dask ``LocalCluster``.

Each (days, mode) cell runs in a fresh process (so peak memory is its own) and leaves its
events in ``<cache>/events_<days>d_<mode>_<chunk>s[_<device>].csv``; day *k* is
``make_scenario("crustal", n_events=500, noise=1.0, seed=k)`` moved *k* days later, so events
near midnight have picks on the next day. The days are generated once into a cache folder.

``--workload network60`` runs days of a dense 60-station network instead
(:func:`make_network_days`): the training generator's magnitude law (most events seen by the
nearest few stations), aftershock clusters, station delays and picker artefacts, one fixed
layout about 60 km wide, about 130k picks a day of which about 60 % belong to events: the
size of a day of deep-learning picks on a regional or aftershock network, the kind of
network the speed goal of a year in minutes is about. Its event F1 counts the events inside
the stations' box with at least 10 picks as true; events GENIE finds outside it count as
false, so it is a check that the run works, not an accuracy score.

Run::

    python -m seisbench_genie.runs.benchmark --days 1,7 --modes serial,cores,dask \\
        --out benchmark_results/long_runs.csv

``--device cuda`` runs the network of each worker on the GPU, ``--workers N`` sets the
number of worker processes of the ``cores`` and ``dask`` modes.

Columns: ``picks``, ``events`` (found), ``event_f1`` (origin times within 3 s of the true ones,
one-to-one), ``wall_s``, ``picks_per_s`` (picks / wall time of :func:`associate_long`, worker
start-up included, cluster start-up not), ``cpu_s`` (all processes), ``peak_total_gb`` (the
largest sum of the resident memory of the run's processes, sampled every 0.2 s),
``peak_process_gb`` (the largest single process), ``load_before`` / ``load_after`` (1-minute
load average of the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.argtypes import fraction
from seisbench_genie.runs.engine import DEFAULT_CHUNK_S

#: Origin times of a found and a true event within this (s) make a match (the synthetic
#: benchmark's matching window, ``seisbench_genie.metrics``).
MATCH_S = 3.0
#: Memory sampling interval (s): short against a chunk (tens of seconds), cheap (one
#: ``psutil`` walk of a few processes).
SAMPLE_S = 0.2
MODES = ("serial", "cores", "dask")
WORKLOADS = ("crustal", "network60")
#: The ``network60`` days: the training generator of the crustal model with one fixed layout
#: of 60 stations over 60 km (station spacing about 8 km, as a dense aftershock deployment),
#: every event detected by the magnitude law with the middle of the training ranges (P
#: detection radius 10 km at M 1, growing x5 per magnitude unit), 1,500 events an hour of all
#: magnitudes and 30 false picks per station-hour with no bursts. Chosen so that a day holds
#: what a day of deep-learning picks on such a network holds: about 130k picks, about 60 % of
#: them from events, about 1,500 events with 10 or more picks, 940 of them inside the
#: stations' box (the first 7 days: 123-138k picks, 819-1,049 such events a day).
NETWORK60_GENERATOR = {
    "n_stations": (60, 60), "aperture_km": (60.0, 60.0),
    "magnitude_detection_fraction": 1.0, "magnitude_event_rate_per_hour": (1500.0, 1500.0),
    "radius_at_m1_km": (10.0, 10.0), "radius_slope": (0.7, 0.7),
    "false_pick_rate_per_station_hour": (30.0, 30.0), "bursts": (0, 0),
}
#: Seeds of the ``network60`` layout and of day *k* (``NETWORK60_DAY_SEED + k``).
NETWORK60_LAYOUT_SEED = 60
NETWORK60_DAY_SEED = 6000


def _day_file(cache: Path, k: int, workload: str = "crustal") -> Path:
    name = "crustal_500_1.0" if workload == "crustal" else workload
    return cache / f"{name}_day{k:03d}.npz"


def _save_day(path: Path, station: Any, phase: Any, time_s: Any, event_time: Any) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, station=np.asarray(station, dtype=str), phase=np.asarray(phase, dtype=str),
             time=np.asarray(time_s, dtype=float), event_time=np.asarray(event_time, float))
    os.replace(tmp, path)


def make_network_days(cache: str | Path, n_days: int,
                      config_path: str | Path | None = None) -> None:
    """Generate (once) ``n_days`` days of the ``network60`` workload into ``cache``, with its
    stations (``network60_stations.csv``) and 1-D model (``network60_velocity_model.csv``).

    Day *k* starts *k* days after the first; its events have origin times in that day and
    their picks may reach into the next. ``event_time`` holds the events inside the stations'
    box with at least 10 picks.

    Parameters
    ----------
    cache
        Folder of the days.
    n_days
        Number of days.
    config_path
        Training config (YAML) whose generator makes the days (:data:`NETWORK60_GENERATOR`
        replaces its ranges); default: the shipped ``crustal.yaml``.

    Examples
    --------
    >>> make_network_days("/tmp/long_run_days", 1)  # doctest: +SKIP
    """
    import dataclasses

    import yaml

    from seisbench_genie.synthetic.training import TRAINING_PROJECTION, TrainingGenerator
    from seisbench_genie.training.config import TrainingConfig
    from seisbench_genie.training.validation import config_backend

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    todo = [k for k in range(n_days) if not _day_file(cache, k, "network60").is_file()]
    stations_csv = cache / "network60_stations.csv"
    if not todo and stations_csv.is_file():
        return
    if config_path is None:
        from seisbench_genie.pretrained import SHIPPED_DIR

        config_path = (SHIPPED_DIR or Path("pretrained")) / "crustal.yaml"
    config_path = Path(config_path)
    if not config_path.is_file():
        raise FileNotFoundError(f"--config: no training config at {config_path} (the "
                                "network60 days are made by its generator)")
    config = TrainingConfig.from_dict(yaml.safe_load(config_path.read_text()))
    generator = dataclasses.replace(config.generator, **NETWORK60_GENERATOR)
    model = config.base_velocity_model()
    backend = config_backend(config, model)
    lead_s = config.scale.max_distance_km / 2.5  # the validation days' lead (s)
    layout = TrainingGenerator(config.scale, generator, [backend],
                               seed=NETWORK60_LAYOUT_SEED).layout()
    for k in todo:
        gen = TrainingGenerator(config.scale, generator, [backend], seed=NETWORK60_DAY_SEED + k)
        bound = gen.bind(layout, backend)
        day = gen.picks(layout, bound, 86400.0, lead_s)
        ids = bound.stations["id"].to_numpy()
        r = day.region
        n_picks = np.bincount(day.pick_event[day.pick_event >= 0],
                              minlength=len(day.event_time))
        inside = ((day.event_xyz[:, 0] >= r["x_km"][0]) & (day.event_xyz[:, 0] <= r["x_km"][1])
                  & (day.event_xyz[:, 1] >= r["y_km"][0])
                  & (day.event_xyz[:, 1] <= r["y_km"][1]))
        in_day = (day.event_time >= 0.0) & (day.event_time < 86400.0)
        t0 = 86400.0 * k
        # Events before the day's start are the day before's: their picks and the picks
        # before midnight are left out, so the days join without an event twice.
        own = day.pick_event >= 0
        keep = day.pick_time >= 0.0
        keep[own] = day.event_time[day.pick_event[own]] >= 0.0
        _save_day(_day_file(cache, k, "network60"), ids[day.pick_station[keep]],
                  np.where(day.pick_phase[keep] == 1, "S", "P"), t0 + day.pick_time[keep],
                  t0 + day.event_time[inside & in_day & (n_picks >= 10)])
    bound = TrainingGenerator(config.scale, generator, [backend]).bind(layout, backend)
    lat, lon = TRAINING_PROJECTION.to_geographic(layout[:, 0], layout[:, 1])
    stations = bound.stations.assign(latitude=lat, longitude=lon)
    stations[["id", "latitude", "longitude", "elevation"]].to_csv(stations_csv, index=False)
    model.to_csv(cache / "network60_velocity_model.csv", index=False)


def make_days(cache: str | Path, n_days: int) -> None:
    """Generate (once) the benchmark days 0 .. ``n_days`` - 1 into ``cache``.

    Examples
    --------
    >>> make_days("/tmp/long_run_days", 1)  # doctest: +SKIP
    """
    from seisbench_genie.synthetic import make_scenario

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    for k in range(n_days):
        path = _day_file(cache, k)
        if path.is_file():
            continue
        day = make_scenario("crustal", n_events=500, noise=1.0, seed=k)
        shift = 86400.0 * k
        _save_day(path, day.picks["station"].to_numpy(str), day.picks["phase"].to_numpy(str),
                  day.picks["time"].to_numpy() + shift, day.events["time"].to_numpy() + shift)


def load_days(cache: str | Path, n_days: int, workload: str = "crustal"
              ) -> tuple[Any, np.ndarray]:
    """The first ``n_days`` days of a workload as :class:`~seisbench_genie.runs.PickArrays`
    (``pick_idx`` counting over the days) and the true origin times.

    Examples
    --------
    >>> picks, truth = load_days("/tmp/long_run_days", 1)  # doctest: +SKIP
    """
    from seisbench_genie.picks import pick_table
    from seisbench_genie.runs import PickArrays

    parts, truth, offset = [], [], 0
    for k in range(n_days):
        with np.load(_day_file(Path(cache), k, workload)) as f:
            table = pick_table(pd.DataFrame({"station": f["station"].astype(object),
                                             "phase": f["phase"].astype(object),
                                             "time": f["time"]}))
            truth.append(f["event_time"])
        arrays = PickArrays.from_table(table)
        arrays.pick_idx = arrays.pick_idx + offset
        offset += len(table)
        parts.append(arrays)
    return PickArrays.concat(parts), np.sort(np.concatenate(truth))


def event_f1(found_s: np.ndarray, true_s: np.ndarray, max_dt_s: float = MATCH_S) -> float:
    """F1 of found against true origin times, one-to-one within ``max_dt_s`` (greedy in time).

    Examples
    --------
    >>> event_f1(np.array([1.0, 50.0]), np.array([0.0, 100.0]))
    0.5
    """
    found_s, true_s = np.sort(found_s), np.sort(true_s)
    if len(found_s) == 0 or len(true_s) == 0:
        return 0.0
    j = np.clip(np.searchsorted(true_s, found_s), 1, len(true_s) - 1)
    nearest = np.where(np.abs(true_s[j - 1] - found_s) <= np.abs(true_s[j] - found_s), j - 1,
                       j)
    ok = np.abs(true_s[nearest] - found_s) <= max_dt_s
    tp = len(np.unique(nearest[ok]))
    return float(2 * tp / (len(found_s) + len(true_s)))


class _Sampler(threading.Thread):
    """Peak resident memory of this process and its descendants."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.peak_total = self.peak_process = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            rss = []
            for p in [self.me, *self.me.children(recursive=True)]:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            self.peak_total = max(self.peak_total, sum(rss))
            self.peak_process = max(self.peak_process, max(rss))
            self.stop.wait(SAMPLE_S)

    def cpu_s(self) -> float:
        import resource

        import psutil

        total = sum(self.me.cpu_times()[:2])
        for p in self.me.children(recursive=True):
            try:
                total += sum(p.cpu_times()[:2])
            except psutil.Error:
                pass
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return total + c.ru_utime + c.ru_stime


def run_cell(cache: str | Path, n_days: int, mode: str,
             chunk_s: float = DEFAULT_CHUNK_S, device: str = "cpu",
             workers: int | None = None, workload: str = "crustal",
             rounds: int | None = None,
             later_round_spacing: float | None = None) -> dict[str, Any]:
    """Run one (days, mode) cell in this process and measure it (``rounds`` and
    ``later_round_spacing``: the association's, default those of
    :meth:`~seisbench_genie.GENIE.classify`).

    Examples
    --------
    >>> run_cell("/tmp/long_run_days", 1, "serial")["days"]  # doctest: +SKIP
    1
    """
    import torch

    from seisbench_genie import GENIE
    from seisbench_genie.runs import associate_long
    from seisbench_genie.runs.engine import default_workers
    from seisbench_genie.synthetic.scenarios import crustal_stations, load_velocity_model

    torch.set_num_threads(1)
    model = GENIE.from_pretrained("crustal")
    if workload == "crustal":
        stations = crustal_stations()
        velocity_model = load_velocity_model("hadley_kanamori")
    else:
        stations = pd.read_csv(Path(cache) / f"{workload}_stations.csv")
        velocity_model = pd.read_csv(Path(cache) / f"{workload}_velocity_model.csv")
    picks, truth = load_days(cache, n_days, workload)
    sampler = _Sampler()
    sampler.start()
    load_before = os.getloadavg()[0]
    cluster = client = None
    cluster_s = 0.0
    kwargs: dict[str, Any] = {} if device == "cpu" else {"device": device}
    if rounds is not None:
        kwargs["rounds"] = rounds
    if later_round_spacing is not None:
        kwargs["later_round_spacing"] = later_round_spacing
    if mode == "cores":
        workers = workers or default_workers()
        kwargs["n_workers"] = workers
    elif mode == "serial":
        workers = kwargs["n_workers"] = 1
    elif mode == "dask":
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        workers = workers or 2
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        cluster_s = time.perf_counter() - t0
        kwargs["client"] = client
    else:
        raise ValueError(f"mode: one of {MODES}, got {mode!r}")
    cpu0 = sampler.cpu_s()
    t0 = time.perf_counter()
    out = associate_long(model, picks, stations, progress=False, chunk_s=chunk_s,
                         velocity_model=velocity_model, **kwargs)
    wall = time.perf_counter() - t0
    cpu = sampler.cpu_s() - cpu0
    suffix = "" if device == "cpu" else "_" + device.replace(":", "")
    prefix = "" if workload == "crustal" else f"{workload}_"
    out.events.to_csv(
        Path(cache) / f"{prefix}events_{n_days}d_{mode}_{chunk_s:g}s{suffix}.csv", index=False)
    if client is not None:
        client.close()
        cluster.close()
    sampler.stop.set()
    sampler.join()
    gb = 1024.0 ** 3
    return {"workload": workload, "days": n_days, "mode": mode, "workers": workers,
            "device": device, "rounds": kwargs.get("rounds", "default"),
            "later_round_spacing": kwargs.get("later_round_spacing", "default"),
            "chunk_s": chunk_s,
            "chunks": len(out.chunks), "picks": len(picks),
            "events": len(out.events), "true_events": len(truth),
            "event_f1": round(event_f1(out.events["time"].to_numpy(), truth), 4),
            "wall_s": round(wall, 1), "picks_per_s": round(len(picks) / wall),
            "cpu_s": round(cpu, 1), "peak_total_gb": round(sampler.peak_total / gb, 3),
            "peak_process_gb": round(sampler.peak_process / gb, 3),
            "cluster_start_s": round(cluster_s, 1), "load_before": round(load_before, 1),
            "load_after": round(os.getloadavg()[0], 1)}


def main(argv: list[str] | None = None) -> int:
    """Command line of the benchmark (module docstring).

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """
    p = argparse.ArgumentParser(prog="python -m seisbench_genie.runs.benchmark",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--days", default="1,7", help="comma-separated run lengths in days")
    p.add_argument("--modes", default="serial,cores,dask",
                   help="comma-separated subset of serial,cores,dask")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "seisbench_genie" /
                                          "long_run_days"),
                   help="folder of the generated days")
    p.add_argument("--chunk", type=float, default=DEFAULT_CHUNK_S,
                   help=f"chunk length (s; default {DEFAULT_CHUNK_S:g}, as associate_long)")
    p.add_argument("--device", default="cpu",
                   help="torch device of the network in each worker (cpu, cuda, auto)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the cores and dask modes (default: all cores "
                        "for cores, 2 for dask)")
    p.add_argument("--workload", default="crustal", choices=WORKLOADS,
                   help="crustal: the crustal 500-event / 100 %% benchmark days; network60: "
                        "days of a dense 60-station network (module docstring)")
    p.add_argument("--config", default=None,
                   help="training config whose generator makes the network60 days "
                        "(default: the shipped crustal.yaml)")
    p.add_argument("--rounds", type=int, default=None,
                   help="rounds of the association (default: classify's, 2)")
    p.add_argument("--later-round-spacing", type=fraction, default=None,
                   help="node spacing of the later rounds as a fraction of the model's "
                        "(default: classify's, from the stations)")
    p.add_argument("--out", default=None, help="CSV file of the results (appended to)")
    p.add_argument("--cell", nargs=2, metavar=("DAYS", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cell:
        print(json.dumps(run_cell(args.cache, int(args.cell[0]), args.cell[1], args.chunk,
                                  args.device, args.workers, args.workload, args.rounds,
                                  args.later_round_spacing)),
              flush=True)
        return 0
    days = [int(d) for d in args.days.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    if args.workload == "crustal":
        make_days(args.cache, max(days))
    else:
        try:
            make_network_days(args.cache, max(days), args.config)
        except FileNotFoundError as err:
            p.error(str(err))
    rows = []
    for n in days:
        for mode in modes:
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            res = subprocess.run([sys.executable, "-m", "seisbench_genie.runs.benchmark",
                                  "--cache", args.cache, "--chunk", str(args.chunk),
                                  "--device", args.device, "--workload", args.workload,
                                  "--cell", str(n), mode,
                                  *([] if args.workers is None else
                                    ["--workers", str(args.workers)]),
                                  *([] if args.rounds is None else
                                    ["--rounds", str(args.rounds)]),
                                  *([] if args.later_round_spacing is None else
                                    ["--later-round-spacing",
                                     str(args.later_round_spacing)])],
                                 capture_output=True, text=True, env=env)
            if res.returncode != 0:
                print(res.stderr[-3000:], file=sys.stderr)
                return 1
            row = json.loads(res.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.out:
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame([row]).to_csv(out, mode="a", index=False,
                                           header=not out.is_file())
    print(pd.DataFrame(rows).to_markdown(index=False) if _has_tabulate()
          else pd.DataFrame(rows).to_string(index=False))
    return 0


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
