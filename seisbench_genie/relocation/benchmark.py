"""Benchmark of the relocation methods on synthetic clusters.

``python -m seisbench_genie.relocation.benchmark`` builds a cluster on a fault plane inside
GaMMA's Ridgecrest network (:func:`~seisbench_genie.relocation.synthetic.make_cluster`:
picks from a 3-D eikonal grid of the Hadley & Kanamori model with +-1 % noise, catalog
hypocentres scattered by 1.5 km per coordinate plus a common shift of (1, -1, 1) km,
relocation with the model's velocities 2 % too fast), relocates it with each method and
prints the median error of inter-event vectors before and after, the shift of the cluster's
centroid, the runtime and the peak memory. Each method runs in a forked child process, so its
peak resident memory (which includes what the parent held when forking: the catalog) is its
own.

Examples
--------
::

    python -m seisbench_genie.relocation.benchmark --events 200,2000 --threads 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pandas as pd

from .synthetic import TRUTHS, make_cluster, origins_xyz, relative_errors

__all__ = ["main", "run_benchmark"]

#: Columns of the result table.
COLUMNS = ["events", "method", "relocated", "seconds", "peak_rss_mb", "interevent_before_km",
           "interevent_after_km", "reduction_pct", "horizontal_after_km", "depth_after_km",
           "shift_before_km", "shift_after_km"]


def _relocate(cluster: Any, method: str, threads: int, seed: int) -> dict[str, Any]:
    """Relocate ``cluster`` with ``method`` (in a child process) and score it."""
    import torch

    from .graphdd import GraphDD

    torch.set_num_threads(threads)
    graphdd = GraphDD(method=method, seed=seed, progress=False)
    start = time.perf_counter()
    out = graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model,
                           inplace=True)
    seconds = time.perf_counter() - start
    after = relative_errors(cluster.true_xyz_km, origins_xyz(out, cluster.projection))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return {"method": method, "relocated": int(graphdd.last_run.relocated.sum()),
            "seconds": seconds, "peak_rss_mb": peak_mb, "after": after}


def run_benchmark(events: Sequence[int], methods: Sequence[str] = ("graphdd", "lsqr"),
                  truth: str = "grid3d", threads: int = 1, seed: int = 0,
                  fork: bool = True) -> pd.DataFrame:
    """Relocate synthetic clusters of each size with each method.

    Parameters
    ----------
    events
        Cluster sizes.
    methods
        Relocation methods.
    truth
        Travel-time model of the picks (see
        :func:`~seisbench_genie.relocation.synthetic.make_cluster`).
    threads
        Torch threads of each relocation.
    seed
        Seed of the cluster and of the relocation.
    fork
        Run each relocation in a forked child process (its own peak memory); False runs
        them in this process.

    Returns
    -------
    pandas.DataFrame
        One row per size and method, columns :data:`COLUMNS`.

    Examples
    --------
    >>> t = run_benchmark([20], methods=["lsqr"], truth="homogeneous", fork=False)
    >>> bool(t["interevent_after_km"].iloc[0] < t["interevent_before_km"].iloc[0])
    True
    """
    rows = []
    for n in events:
        cluster = make_cluster(int(n), truth=truth, seed=seed)
        before = relative_errors(cluster.true_xyz_km, cluster.catalog_xyz_km)
        for method in methods:
            if fork:
                ctx = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                    res = pool.submit(_relocate, cluster, method, threads, seed).result()
            else:
                res = _relocate(cluster, method, threads, seed)
            after = res["after"]
            rows.append({
                "events": int(n), "method": method, "relocated": res["relocated"],
                "seconds": res["seconds"], "peak_rss_mb": res["peak_rss_mb"],
                "interevent_before_km": before["interevent_km"],
                "interevent_after_km": after["interevent_km"],
                "reduction_pct": 100.0 * (1.0 - after["interevent_km"]
                                          / before["interevent_km"]),
                "horizontal_after_km": after["interevent_horizontal_km"],
                "depth_after_km": after["interevent_depth_km"],
                "shift_before_km": before["shift_km"], "shift_after_km": after["shift_km"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def format_table(table: pd.DataFrame) -> str:
    """The result table as Markdown.

    Examples
    --------
    >>> row = {c: 1.0 for c in COLUMNS}
    >>> row.update(events=10, method="lsqr", relocated=10)
    >>> print(format_table(pd.DataFrame([row])).splitlines()[2][:30])
    | 10 | lsqr | 10 | 1.0 | 1 | 1
    """
    head = ("| events | method | relocated | time (s) | peak RSS (MB) | inter-event error "
            "before (km) | after (km) | drop | after: horizontal / depth (km) | "
            "centroid shift before / after (km) |")
    lines = [head, "|" + "---|" * 10]
    for r in table.itertuples():
        lines.append(
            f"| {r.events} | {r.method} | {r.relocated} | {r.seconds:.1f} | "
            f"{r.peak_rss_mb:.0f} | {r.interevent_before_km:.2f} | "
            f"{r.interevent_after_km:.3f} | {r.reduction_pct:.0f} % | "
            f"{r.horizontal_after_km:.3f} / {r.depth_after_km:.3f} | "
            f"{r.shift_before_km:.2f} / {r.shift_after_km:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line and print a Markdown table.

    Examples
    --------
    >>> main(["--events", "200,2000", "--threads", "1"])  # doctest: +SKIP
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m seisbench_genie.relocation.benchmark",
        description="GraphDD and the least-squares baseline on synthetic clusters.")
    parser.add_argument("--events", default="200",
                        type=lambda s: [int(v) for v in s.split(",")],
                        help="cluster sizes, comma-separated (default 200)")
    parser.add_argument("--methods", default="graphdd,lsqr", type=lambda s: s.split(","),
                        help="methods, comma-separated (default graphdd,lsqr)")
    parser.add_argument("--truth", choices=TRUTHS, default="grid3d",
                        help="travel-time model of the picks (default grid3d)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(None if argv is None else list(argv))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    load = os.getloadavg()
    start = time.perf_counter()
    table = run_benchmark(args.events, args.methods, args.truth, args.threads, args.seed)
    print(format_table(table))
    print(f"\n{os.cpu_count()} CPU cores; load average {load[0]:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; {time.perf_counter() - start:.0f} s in all "
          f"(cluster generation included); truth {args.truth}, seed {args.seed}")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
