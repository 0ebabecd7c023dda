"""The ``seisbench-genie benchmark-real`` subcommand: associators on your own real picks.

Examples
--------
GENIE and PyOcto on the same picks, scored against a reference catalog, with a second catalog
for the "no inflation" check::

    seisbench-genie benchmark-real --picks picks.csv --stations stations.csv \\
        --velocity-model velocity_model.csv --reference catalog.csv \\
        --compare pal=pal_catalog.csv --associators genie,pyocto --genie-model crustal \\
        --region-depth 0,25 --threads 1 --out benchmark_results/real
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seisbench_genie.argtypes import positive_float, positive_int
from seisbench_genie.benchmark.cli import name_list, peer_override
from seisbench_genie.benchmark.real import (
    DEFAULT_REGION_DEPTH_KM,
    DEFAULT_REGION_MARGIN_KM,
    MATCH_DISTANCE_KM,
    MATCH_TIME_S,
    PYOCTO_REAL_TOLERANCE_S,
    REAL_ASSOCIATORS,
    RealInputError,
)
from seisbench_genie.benchmark.real_runner import RealBenchmarkConfig

PROG = "seisbench-genie benchmark-real"


def depth_range(text: str) -> tuple[float, float]:
    """Parse ``--region-depth MIN,MAX`` (km).

    Examples
    --------
    >>> depth_range("0,25")
    (0.0, 25.0)
    """
    parts = [t.strip() for t in str(text).replace(":", ",").split(",") if t.strip()]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX in km, got {text!r}") from None
    if not 0.0 <= lo < hi:
        raise argparse.ArgumentTypeError(f"need 0 <= MIN < MAX (km), got {text!r}")
    return lo, hi


def compare_catalog(text: str) -> tuple[str, Path]:
    """Parse ``--compare [NAME=]PATH``; the name defaults to the file's stem.

    Examples
    --------
    >>> compare_catalog("pal=data/pal_catalog.csv")
    ('pal', PosixPath('data/pal_catalog.csv'))
    >>> compare_catalog("data/pal_catalog.csv")[0]
    'pal_catalog'
    """
    name, sep, path = str(text).partition("=")
    if not sep:
        name, path = Path(text).stem, text
    name, path = name.strip(), path.strip()
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected [NAME=]PATH, got {text!r}")
    return name, Path(path)




def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``benchmark-real`` options to ``parser``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["--picks", "p.csv", "--stations", "s.csv", "--velocity-model",
    ...                   "v.csv", "--out", "o", "--region-depth", "0,25"])
    >>> a.region_depth, a.associators, a.threads
    ((0.0, 25.0), ['genie', 'pyocto'], 1)
    """
    from seisbench_genie.benchmark.peers import DEFAULT_PEER_VENV

    inp = parser.add_argument_group("inputs (CSV files)")
    inp.add_argument("--picks", type=Path, required=True, metavar="PICKS.csv",
                     help="picks: station (NET.STA.LOC), phase (P/S; Pg, Sn, ... accepted), "
                          "time (ISO 8601 UTC or POSIX seconds); other columns are kept and "
                          "copied into each associator's assignments.csv")
    inp.add_argument("--stations", type=Path, required=True, metavar="STATIONS.csv",
                     help="stations: id (NET.STA.LOC), latitude, longitude (degrees), "
                          "elevation (m above sea level; 0 if absent)")
    inp.add_argument("--velocity-model", type=Path, required=True, metavar="VM.csv",
                     help="1-D model, one row per layer top: depth_km (km below sea level), "
                          "vp, vs (km/s); used by every associator")
    inp.add_argument("--reference", type=Path, default=None, metavar="CATALOG.csv",
                     help="reference catalog: time (ISO UTC or POSIX s), latitude, longitude "
                          "(degrees), depth_km (km), optional magnitude; its recall is scored "
                          "over its own time span, events outside the picks' span are left out")
    inp.add_argument("--compare", type=compare_catalog, action="append", default=[],
                     metavar="[NAME=]CATALOG.csv",
                     help="another catalog (same columns; depth_km and magnitude optional) for "
                          "the 'no inflation' check and the recall table; repeatable; NAME "
                          "defaults to the file name")

    run = parser.add_argument_group("associators")
    run.add_argument("--associators", type=name_list(REAL_ASSOCIATORS),
                     default=["genie", "pyocto"],
                     help="comma-separated subset of genie,pyocto,gamma (default: "
                          "genie,pyocto); PyOcto and GaMMA run in the peer virtualenv")
    run.add_argument("--genie-model", default="crustal", metavar="NAME_OR_PATH",
                     help="GENIE model: pretrained name (crustal, subduction) or the BASE path "
                          "of saved weights (BASE.json/BASE.pt) (default: crustal)")
    run.add_argument("--min-picks", type=positive_int, default=10, metavar="N",
                     help="minimum picks per event, for every associator (default: 10)")
    run.add_argument("--min-p-and-s-stations", type=positive_int, default=4, metavar="N",
                     help="minimum stations with both a P and an S pick per event (GENIE "
                          "min_p_and_s_stations, PyOcto n_p_and_s_picks; GaMMA has no such "
                          "rule) (default: 4)")
    run.add_argument("--region-depth", type=depth_range, default=DEFAULT_REGION_DEPTH_KM,
                     metavar="MIN,MAX",
                     help="search depth range in km, for every associator (default: "
                          f"{DEFAULT_REGION_DEPTH_KM[0]:g},{DEFAULT_REGION_DEPTH_KM[1]:g}); "
                          "deeper than 60 km selects PyOcto's subduction settings")
    run.add_argument("--region-margin-km", type=float, default=DEFAULT_REGION_MARGIN_KM,
                     metavar="KM",
                     help="horizontal margin in km around the stations with picks, for every "
                          f"associator (default: {DEFAULT_REGION_MARGIN_KM:g}, the crustal "
                          "model's)")
    run.add_argument("--set", dest="overrides", type=peer_override, action="append",
                     default=[], metavar="ASSOC.KEY=VALUE",
                     help="override a setting: genie.KEY=VALUE passes an argument to "
                          "GENIE.classify (e.g. genie.detection_grids=2); pyocto.KEY=VALUE or "
                          "gamma.KEY=VALUE a peer setting (PyOcto on real picks: tolerance and "
                          f"pick_match_tolerance {PYOCTO_REAL_TOLERANCE_S:g} s, "
                          "association_cutoff_distance 100 km); repeatable")
    run.add_argument("--threads", type=positive_int, default=1, metavar="N",
                     help="CPU threads per associator (default: 1)")
    run.add_argument("--timeout", type=positive_float, default=3600.0, metavar="S",
                     help="time limit per associator run in seconds (default: 3600)")
    run.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV, metavar="DIR",
                     help=f"virtualenv of PyOcto/GaMMA, created on first use from PyPI "
                          f"(default: {DEFAULT_PEER_VENV})")

    score = parser.add_argument_group("scoring")
    score.add_argument("--match-time", dest="max_dt_s", type=positive_float,
                       default=MATCH_TIME_S, metavar="S",
                       help=f"two events match within this origin-time difference in s "
                            f"(default: {MATCH_TIME_S:g})")
    score.add_argument("--match-distance", dest="max_distance_km", type=positive_float,
                       default=MATCH_DISTANCE_KM, metavar="KM",
                       help=f"... and this epicentral distance in km (default: "
                            f"{MATCH_DISTANCE_KM:g})")

    score.add_argument("--stage-losses", action="store_true",
                       help="also follow each other associator's 10-15-pick events through "
                            "GENIE's stages (one more GENIE run): where GENIE loses those it "
                            "misses; OUT/stage_losses_<peer>.csv and a table in results.md")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="output directory: results.csv, results.md, recall_by_magnitude.png "
                          "(events_over_time.png without a reference), <associator>/events.csv "
                          "and <associator>/assignments.csv")
    out.add_argument("--keep-workdirs", action="store_true",
                     help="keep each associator's input/output files under DIR/work/")
    out.add_argument("--no-figures", dest="figures", action="store_false",
                     help="do not write the figure")


def config_from_args(args: argparse.Namespace) -> RealBenchmarkConfig:
    """Build a :class:`~seisbench_genie.benchmark.real_runner.RealBenchmarkConfig` from parsed
    arguments.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["--picks", "p.csv", "--stations", "s.csv", "--velocity-model",
    ...                   "v.csv", "--out", "o", "--set", "pyocto.tolerance=3",
    ...                   "--compare", "pal=c.csv"])
    >>> cfg = config_from_args(a)
    >>> cfg.overrides, list(cfg.compare)
    ({'pyocto': {'tolerance': 3}}, ['pal'])
    """
    overrides: dict[str, dict[str, Any]] = {}
    for assoc, key, value in args.overrides:
        overrides.setdefault(assoc, {})[key] = value
    compare: dict[str, Path] = {}
    for name, path in args.compare:
        if name in compare:
            raise RealInputError(f"--compare: the name {name!r} is given twice; use NAME=PATH")
        compare[name] = path
    return RealBenchmarkConfig(
        picks=Path(args.picks), stations=Path(args.stations),
        velocity_model=Path(args.velocity_model), out=Path(args.out),
        reference=None if args.reference is None else Path(args.reference), compare=compare,
        associators=list(args.associators), genie_model=str(args.genie_model),
        min_picks=int(args.min_picks), min_p_and_s_stations=int(args.min_p_and_s_stations),
        region_depth_km=tuple(args.region_depth), region_margin_km=float(args.region_margin_km),
        overrides=overrides, threads=int(args.threads), timeout=float(args.timeout),
        peer_venv=Path(args.peer_venv).expanduser(), keep_workdirs=bool(args.keep_workdirs),
        figures=bool(args.figures), max_dt_s=float(args.max_dt_s),
        max_distance_km=float(args.max_distance_km),
        stage_losses=bool(getattr(args, "stage_losses", False)),
    )


def run(args: argparse.Namespace) -> int:
    """Execute ``seisbench-genie benchmark-real``.

    Returns
    -------
    int
        0 when every associator ran, 1 when one failed (the others' results are written),
        2 on bad input (nothing written; the message names the files).

    Examples
    --------
    >>> from seisbench_genie.cli import build_parser
    >>> args = build_parser().parse_args(["benchmark-real", "--picks", "p.csv", "--stations",
    ...                                   "s.csv", "--velocity-model", "v.csv", "--out", "o"])
    >>> run(args)  # doctest: +SKIP
    0
    """
    from seisbench_genie.benchmark.real_report import format_summary
    from seisbench_genie.benchmark.real_runner import run_real_benchmark

    try:
        config = config_from_args(args)
        result = run_real_benchmark(config)
    except RealInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result.results))
    for path in result.files:
        print(f"[benchmark-real] wrote {path}")
    return 0 if result.ok else 1


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``benchmark-real`` subcommand to a ``seisbench-genie`` subparsers object.

    Parameters
    ----------
    subparsers
        Result of ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser (its ``func`` default is :func:`run`).

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="seisbench-genie")
    >>> sub = parser.add_subparsers(dest="command")
    >>> _ = register(sub)
    >>> parser.parse_args(["benchmark-real", "--picks", "p.csv", "--stations", "s.csv",
    ...                    "--velocity-model", "v.csv", "--out", "o"]).min_picks
    10
    """
    parser = subparsers.add_parser(
        "benchmark-real",
        help="run associators on your own real picks and score them against each other and "
             "a reference catalog",
        description=(
            "Run GENIE and PyOcto (optionally GaMMA) on the same real picks, stations and 1-D "
            "velocity model, with the same search volume and minimum rules, and score them: "
            "events found, share of picks associated, runtime; with --reference, its recall "
            "(overall and per magnitude bin; a reference event is found when an event lies "
            "within --match-time s and --match-distance km, one-to-one) and the median "
            "epicentral/depth offsets; the share of events confirmed by any other catalog "
            "('no inflation'); and the share of one associator's events the other also finds, "
            "by pick count. Writes DIR/results.csv, DIR/results.md, a figure and each "
            "associator's events.csv/assignments.csv. Exit status: 0 ok, 1 an associator "
            "failed, 2 bad input."
        ),
        epilog=__doc__.split("Examples\n--------\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
