"""The ``seisbench-genie associate`` subcommand: pick files in, a catalog per day and merged.

Examples
--------
A month of picks on every core, then the same on a Dask cluster::

    seisbench-genie associate picks/2024-01-*.csv --stations stations.xml \\
        --model crustal --velocity-model vm.csv --out catalog/2024-01
    seisbench-genie associate picks/2024-01-*.csv --stations stations.xml \\
        --out catalog/2024-01 --dask-scheduler tcp://10.0.0.5:8786

Interrupted (Ctrl-C, a crash, a time limit)? Run the same command again: the finished chunks
are kept and skipped, and the final catalog is the one an uninterrupted run gives.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from seisbench_genie.argtypes import (
    count,
    fraction,
    nonnegative_float,
    positive_float,
    positive_int,
    probability,
)

PROG = "seisbench-genie associate"
#: Seconds to wait for a Dask scheduler to answer before giving up (a scheduler on the same
#: network answers in well under a second; a SLURM-started one may need a few).
DASK_CONNECT_TIMEOUT_S = 10.0
#: Runs of at least this many days write their days in ``--workers`` processes (on this
#: machine, also with a Dask cluster): a writer process takes a few seconds to start, about
#: what one busy day's QuakeML takes to write, so shorter runs gain nothing.
PARALLEL_WRITE_MIN_DAYS = 8


def _number_list(text: str, counts: tuple[int, ...], what: str) -> list[float]:
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if len(values) not in counts:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def region_arg(text: str) -> dict[str, tuple[float, float]]:
    """Parse ``--region LATMIN,LATMAX,LONMIN,LONMAX[,DEPTHMIN,DEPTHMAX]`` (degrees, km).

    Examples
    --------
    >>> region_arg("35,36.5,-118,-117,0,20")["depth_km"]
    (0.0, 20.0)
    """
    v = _number_list(text, (4, 6), "LATMIN,LATMAX,LONMIN,LONMAX[,DEPTHMIN,DEPTHMAX]")
    region = {"latitude": (v[0], v[1]), "longitude": (v[2], v[3])}
    if len(v) == 6:
        region["depth_km"] = (v[4], v[5])
    for name, (lo, hi) in region.items():
        if not hi > lo:
            raise argparse.ArgumentTypeError(f"{name} range must increase, got {text!r}")
    return region






def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``associate`` options to ``parser``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["a.csv", "b.csv", "--stations", "s.xml", "--out", "o"])
    >>> a.picks, a.model, a.chunk, a.workers
    (['a.csv', 'b.csv'], 'crustal', 21600.0, None)
    """
    from seisbench_genie.runs.engine import DEFAULT_CHUNK_S

    inp = parser.add_argument_group("inputs")
    inp.add_argument("picks", nargs="+", metavar="PICKS",
                     help="pick files: CSV (also .csv.gz) or Parquet (.parquet; needs pyarrow) "
                          "with columns station (NET.STA.LOC; or trace_id), phase (P/S; Pg, "
                          "Sn, ... accepted), time (ISO 8601 UTC or POSIX seconds; or "
                          "peak_time), optional probability (0-1; or peak_value). SeisBench "
                          "has no pick file format of its own: write a PickList with "
                          "picks.to_dataframe().to_csv('picks.csv'). pick_idx in the outputs "
                          "counts data rows over the files in the order given")
    inp.add_argument("--stations", required=True, metavar="FILE",
                     help="stations: StationXML (.xml) or CSV with id (NET.STA.LOC), "
                          "latitude, longitude (degrees), elevation (m above sea level, "
                          "optional)")
    inp.add_argument("--model", default="crustal", metavar="NAME_OR_PATH",
                     help="GENIE model: pretrained name (crustal, subduction) or the base "
                          "path of saved weights (BASE.json/BASE.pt[.vN]) (default: crustal)")
    inp.add_argument("--velocity-model", metavar="VM.csv", default=None,
                     help="1-D velocity model, one row per layer top: depth_km (km below sea "
                          "level), vp, vs (km/s) (default: the model's own, e.g. Hadley & "
                          "Kanamori 1977 for crustal)")
    inp.add_argument("--station-terms", metavar="auto|TERMS.csv", default=None,
                     help="station delays added to the predicted arrivals: a CSV with id, "
                          "p_term_s, s_term_s (s), or 'auto' to estimate them from each "
                          "chunk's picks (default: none)")

    sel = parser.add_argument_group("what to associate")
    sel.add_argument("--region", type=region_arg, default=None,
                     metavar="LATMIN,LATMAX,LONMIN,LONMAX[,DEPTHMIN,DEPTHMAX]",
                     help="search volume: latitude and longitude ranges (degrees) and "
                          "optionally a depth range (km below sea level) (default: the "
                          "stations with picks + the model's margin, 20 km for crustal; the "
                          "model's depth range)")
    sel.add_argument("--region-margin-km", type=float, default=None, metavar="KM",
                     help="without --region: search the box of the stations with picks "
                          "widened by KM on each side instead of the model's margin (20 km "
                          "for crustal), to catalog events around the network too")
    sel.add_argument("--edge-tolerance-km", type=nonnegative_float, default=None, metavar="KM",
                     help="events located more than KM outside the search volume are not "
                          "reported, and their picks stay unassociated (default: half the "
                          "model's margin, 10 km for crustal)")
    sel.add_argument("--start", default=None, metavar="TIME",
                     help="only events with origin times at or after TIME (ISO 8601 UTC, e.g. "
                          "2024-01-01T00:00:00, or POSIX seconds) (default: all)")
    sel.add_argument("--end", default=None, metavar="TIME",
                     help="only events with origin times before TIME (ISO 8601 UTC or POSIX "
                          "seconds) (default: all)")

    thr = parser.add_argument_group("thresholds")
    thr.add_argument("--detection-threshold", type=probability, default=None, metavar="P",
                     help="minimum source likelihood of a detection, 0-1 (default: the "
                          "calibrated value the model's weights carry)")
    thr.add_argument("--association-threshold", type=probability, default=0.3, metavar="P",
                     help="minimum P or S association probability of a pick, 0-1 "
                          "(default: 0.3)")
    thr.add_argument("--min-picks", type=positive_int, default=10, metavar="N",
                     help="minimum associated picks per event (default: 10)")
    thr.add_argument("--min-p-and-s-stations", type=count, default=4, metavar="N",
                     help="minimum stations with both a P and an S pick per event; 0 switches "
                          "it off (default: 4)")
    thr.add_argument("--detection-grids", type=positive_int, default=None, metavar="N",
                     help="node grids of the detection (1 or 2; default: automatic, a second "
                          "grid on crowded days)")
    thr.add_argument("--rounds", type=positive_int, default=2, metavar="N",
                     help="rounds of the association; each later one runs on the picks that "
                          "no event found so far holds and finds events that others hid "
                          "(default: 2; 1 takes up to about half the time on dense "
                          "networks)")
    thr.add_argument("--later-round-spacing", type=fraction, default=None, metavar="F",
                     help="node spacing of the rounds after the first, as a fraction (0-1] of "
                          "the model's; they look for the small events the first round left "
                          "(default: the stations' median nearest-station distance over the "
                          "model's node spacing, between 0.5 and 1; 1 is fastest)")

    run = parser.add_argument_group("how to run")
    run.add_argument("--chunk", type=positive_float, default=DEFAULT_CHUNK_S, metavar="S",
                     help="chunk length in seconds, whole seconds; chunks are cells of a fixed "
                          "grid of UTC time: 21600 (the default) gives 4 per UTC day, so one "
                          "day keeps 4 workers busy; 86400 gives UTC days. Memory "
                          "grows with the chunk, not the run")
    run.add_argument("--overlap", type=positive_float, default=None, metavar="S",
                     help="seconds of picks before and after each chunk associated with it; "
                          "at least the longest S travel time + the detection window (default: "
                          "from the model and the velocity model: 86 s for crustal, 230 s for "
                          "subduction with their own 1-D models)")
    run.add_argument("--workers", type=positive_int, default=None, metavar="N",
                     help="worker processes on this machine, one thread each (default: all "
                          "cores): they associate the chunks (unless --dask-scheduler is "
                          f"given) and, in runs of {PARALLEL_WRITE_MIN_DAYS} days or more, "
                          "write the days' catalogs side by side")
    run.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                     help="run the chunks on a Dask cluster, e.g. tcp://10.0.0.5:8786 "
                          "(pip install 'seisbench-genie[dask]'; the workers need "
                          "seisbench-genie installed)")
    run.add_argument("--dask-timeout", type=positive_float, default=DASK_CONNECT_TIMEOUT_S,
                     metavar="S",
                     help="seconds to wait for the Dask scheduler to answer (default: "
                          f"{DASK_CONNECT_TIMEOUT_S:g})")
    run.add_argument("--device", default="cpu", metavar="DEVICE",
                     help="torch device of the network in each worker: cpu (default), cuda, "
                          "cuda:N or auto (the GPU when one is present); docs/long_runs.md "
                          "says how many workers to give a GPU")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar")

    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="DIR",
                     help="output folder, new or empty, or that of an earlier run of the same "
                          "command (which it resumes): days/YYYY-MM-DD/{catalog.xml,events.csv,"
                          "assignments.csv} per UTC day, catalog.xml (QuakeML), events.csv and "
                          "assignments.csv of the whole run, summary.json, and manifest.json "
                          "with chunks/ (the finished chunks)")


def classify_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :meth:`GENIE.classify` arguments of parsed ``associate`` options (files read).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> classify_kwargs(p.parse_args(["a.csv", "--stations", "s", "--out", "o",
    ...                               "--min-picks", "8"]))["min_picks"]
    8
    """
    from seisbench_genie.runs.files import InputFileError, read_table_file

    kwargs: dict[str, Any] = {
        "association_threshold": args.association_threshold, "min_picks": args.min_picks,
        "min_p_and_s_stations": args.min_p_and_s_stations,
        "detection_grids": args.detection_grids, "rounds": args.rounds,
        "later_round_spacing": args.later_round_spacing,
        "edge_tolerance_km": args.edge_tolerance_km}
    if args.detection_threshold is not None:
        kwargs["detection_threshold"] = args.detection_threshold
    if args.region is not None:
        kwargs["region"] = args.region
    if args.region_margin_km is not None:
        if args.region is not None:
            raise ValueError("--region-margin-km widens the stations' box; give it without "
                             "--region")
        kwargs["region"] = {"margin_km": args.region_margin_km}
    if args.device != "cpu":
        from seisbench_genie.runtime import resolve_device

        device = resolve_device(args.device, "--device")
        if device.type != "cpu":  # the CPU stays out of the run's manifest: resumable either way
            kwargs["device"] = str(device)
    if args.velocity_model is not None:
        from seisbench_genie.traveltimes import validate_velocity_model

        table = read_table_file(args.velocity_model, "velocity model", ["depth_km", "vp", "vs"])
        try:
            kwargs["velocity_model"] = validate_velocity_model(table)
        except ValueError as err:
            raise InputFileError(f"velocity model file {args.velocity_model}: {err}") from None
    if args.station_terms == "auto":
        kwargs["station_terms"] = "auto"
    elif args.station_terms is not None:
        kwargs["station_terms"] = read_table_file(args.station_terms, "station terms",
                                                  ["id", "p_term_s", "s_term_s"])
    return kwargs


def _connect(address: str, timeout_s: float) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--dask-scheduler needs dask.distributed: pip install "
                         "'seisbench-genie[dask]'") from None
    try:
        return Client(address, timeout=f"{timeout_s}s")
    except Exception as err:  # OSError, TimeoutError, ValueError for a bad address
        raise ValueError(f"--dask-scheduler: cannot reach the Dask scheduler at {address} "
                         f"within {timeout_s:g} s ({type(err).__name__}: {err})") from None


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler ending a job, a container stopping) turned into the same
    orderly stop as Ctrl-C: running chunks are abandoned, their workers ended, finished chunks
    kept."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the run lasts, SIGTERM raises :class:`Terminated` in the main thread (elsewhere,
    e.g. called from a worker thread, signals are left as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Execute ``seisbench-genie associate``.

    Returns
    -------
    int
        0 on success; 1 when a chunk failed (the finished ones are kept: rerun to resume);
        2 on bad input (nothing written; the message names the file, line or argument);
        130 when interrupted by Ctrl-C (SIGINT), 143 by SIGTERM (rerun the same command to
        resume).

    Examples
    --------
    >>> from seisbench_genie.cli import build_parser
    >>> args = build_parser().parse_args(["associate", "p.csv", "--stations", "s.xml",
    ...                                   "--out", "o"])
    >>> run(args)  # doctest: +SKIP
    0
    """
    import numpy as np

    from seisbench_genie.benchmark.genie_runner import load_model
    from seisbench_genie.runs.engine import default_workers, model_sha256, run_chunks
    from seisbench_genie.runs.files import (
        InputFileError,
        read_pick_files,
        read_station_file,
        write_outputs,
        write_summary,
    )

    t0 = time.perf_counter()
    client = None
    # SIGTERM stops the run like Ctrl-C.
    with _sigterm_as_interrupt():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                picks = read_pick_files(args.picks)
                stations = read_station_file(args.stations)
            kwargs = classify_kwargs(args)
            model = load_model(args.model)
            if args.dask_scheduler:
                client = _connect(args.dask_scheduler, args.dask_timeout)
            where = (f"the Dask cluster at {args.dask_scheduler}" if client is not None else
                     f"{args.workers or default_workers()} worker process(es)")
            print(f"[associate] {len(picks)} picks from {len(args.picks)} file(s), "
                  f"{len(stations)} stations; model {args.model}; on {where}"
                  f"{'' if 'device' not in kwargs else ', network on ' + kwargs['device']}",
                  file=sys.stderr)
            chunk_run = run_chunks(model, picks, stations, chunk_s=args.chunk,
                                   overlap_s=args.overlap, start=args.start, end=args.end,
                                   n_workers=args.workers, client=client, out=args.out,
                                   progress=args.progress, **kwargs)
            chunks = chunk_run.chunks
            # UTC days that hold picks (the chunks also reach into the day before the
            # first pick, for the arrivals of earlier origins, and past the last one).
            t = chunk_run.picks.time
            t = t[(t >= chunk_run.start) & (t < chunk_run.end)]
            days = int(np.unique(np.floor(t / 86400.0)).size)
            writers = ((args.workers or default_workers()) if days >= PARALLEL_WRITE_MIN_DAYS
                       else 1)
            # Each day's files, then the merged ones, appear whole (temporary name, renamed);
            # a stop here keeps the chunks, and the same command writes the catalog again.
            written = write_outputs(args.out, chunk_run.blocks(), chunk_run.picks, stations,
                                    model_name=model.scale.name,
                                    run_id=model_sha256(model)[:16], n_workers=writers)
        except (InputFileError, ValueError, TypeError) as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as stop:
            how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
            print(f"\n{PROG}: {how}; the finished chunks are kept in {args.out}. Continue "
                  f"with the same command:\n  {resume_command()}", file=sys.stderr)
            return 143 if isinstance(stop, Terminated) else 130
        except RuntimeError as err:
            print(f"{PROG}: error: {err}\nThe finished chunks are kept in {args.out}; fix the "
                  f"cause and run the same command again to continue.", file=sys.stderr)
            return 1
        finally:
            if client is not None:
                client.close()

    n_picks = int(chunks["n_picks"].sum())
    n_assoc = written.n_assignments
    seconds = time.perf_counter() - t0
    summary = {
        "days": days, "chunks": len(chunks), "chunks_resumed": int(chunks["resumed"].sum()),
        "events": written.n_events, "picks": n_picks, "picks_associated": n_assoc,
        "runtime_s": round(seconds, 1), "association_s": round(float(chunks["seconds"].sum()), 1)}
    write_summary(args.out, summary)
    share = 100.0 * n_assoc / max(n_picks, 1)
    print(f"[associate] {days} day(s), {len(chunks)} chunk(s) "
          f"({summary['chunks_resumed']} from an earlier run), {written.n_events} events, "
          f"{n_assoc} of {n_picks} picks associated ({share:.1f} %), {seconds:.1f} s "
          f"({n_picks / max(seconds, 1e-9):.0f} picks/s); catalog in {args.out}")
    return 0


def resume_command() -> str:
    """The command line of this process (the command that resumes an interrupted run).

    Examples
    --------
    >>> isinstance(resume_command(), str)
    True
    """
    return shlex.join(["seisbench-genie", *sys.argv[1:]])


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``associate`` subcommand to a ``seisbench-genie`` subparsers object.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser (its ``func`` default is :func:`run`).

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="seisbench-genie")
    >>> sub = parser.add_subparsers(dest="command")
    >>> _ = register(sub)
    >>> parser.parse_args(["associate", "p.csv", "--stations", "s.csv", "--out", "o"]).chunk
    21600.0
    """
    parser = subparsers.add_parser(
        "associate",
        help="associate pick files of any length (all cores, a Dask cluster, resumable)",
        description=(
            "Associate and locate picks with a GENIE model, in time chunks (6 hours by "
            "default) with overlap: an event near a chunk boundary or midnight is found once. "
            "Chunks run in parallel worker processes (all cores by default) or on a Dask "
            "cluster. Writes a QuakeML catalog and CSV tables per UTC day and for the whole "
            "run; each finished chunk is recorded in DIR/manifest.json, so the same command "
            "after a crash or Ctrl-C resumes and gives the same catalog. Exit status: 0 ok, "
            "1 a chunk failed, 2 bad input (nothing written), 130 interrupted (Ctrl-C), "
            "143 terminated (SIGTERM)."),
        epilog=__doc__.split("Examples\n--------\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
