"""The ``seisbench-genie benchmark`` subcommand.

Examples
--------
Main peer grid (both scenarios, 3 event counts x 3 noise levels)::

    seisbench-genie benchmark --associators pyocto,gamma --out benchmark_results

One cell of the further tests (travel-time noise 5-10 %)::

    seisbench-genie benchmark --scenario subduction --events 500 --noise 1.0 \\
        --tt-noise 0.05-0.10 --associators genie,pyocto --genie-model subduction
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from seisbench_genie.benchmark.runner import ASSOCIATORS, BenchmarkConfig
from seisbench_genie.synthetic.scenarios import SCENARIOS

_FLOAT = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_RANGE = re.compile(rf"^\s*({_FLOAT})\s*[-:]\s*({_FLOAT})\s*$")


def _split(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def int_list(text: str) -> list[int]:
    """Parse ``"100,500,2000"``.

    Examples
    --------
    >>> int_list("100, 500")
    [100, 500]
    """
    try:
        return [int(t) for t in _split(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def float_list(text: str) -> list[float]:
    """Parse ``"0.3,1.0,3.0"``; a trailing ``%`` divides by 100.

    Examples
    --------
    >>> float_list("0.3,100%")
    [0.3, 1.0]
    """
    out = []
    for t in _split(text):
        try:
            out.append(float(t[:-1]) / 100.0 if t.endswith("%") else float(t))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {text!r}"
            ) from None
    return out


def range_list(text: str) -> list[tuple[float, float]]:
    """Parse travel-time noise ranges ``"0-0.01,0.01-0.05"`` (``lo:hi`` also accepted).

    Examples
    --------
    >>> range_list("0-0.01,0.05:0.1")
    [(0.0, 0.01), (0.05, 0.1)]
    """
    out = []
    for t in _split(text):
        m = _RANGE.match(t)
        if not m:
            raise argparse.ArgumentTypeError(f"expected LO-HI ranges like 0.01-0.05, got {t!r}")
        lo, hi = float(m.group(1)), float(m.group(2))
        if not 0 <= lo <= hi:
            raise argparse.ArgumentTypeError(f"need 0 <= lo <= hi, got {t!r}")
        out.append((lo, hi))
    return out


def name_list(choices: tuple[str, ...]):
    """Argument type for a comma-separated subset of ``choices``.

    Examples
    --------
    >>> name_list(("a", "b"))("b,a")
    ['b', 'a']
    """

    def parse(text: str) -> list[str]:
        names = [t.lower() for t in _split(text)]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)} (comma-separated); got {text!r}"
            )
        return list(dict.fromkeys(names))

    return parse


def model_map(text: str) -> dict[str, str]:
    """Parse ``--genie-model``: ``NAME_OR_PATH`` or ``crustal=PATH,subduction=PATH``.

    Examples
    --------
    >>> model_map("subduction=models/sub.pt,crustal=crustal_v1")
    {'subduction': 'models/sub.pt', 'crustal': 'crustal_v1'}
    >>> model_map("my_model")
    {'*': 'my_model'}
    """
    items = _split(text)
    if len(items) == 1 and "=" not in items[0]:
        return {"*": items[0]}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(
                f"expected NAME_OR_PATH or SCENARIO=NAME_OR_PATH,...; got {text!r}"
            )
        out[key.strip()] = value.strip()
    return out


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def peer_override(text: str) -> tuple[str, str, Any]:
    """Parse ``--set ASSOCIATOR.KEY=VALUE`` (e.g. ``pyocto.pick_match_tolerance=3``, or
    ``genie.detection_grids=2`` for an argument of :meth:`seisbench_genie.GENIE.classify`).

    Examples
    --------
    >>> peer_override("gamma.max_sigma11=3.0")
    ('gamma', 'max_sigma11', 3.0)
    >>> peer_override("genie.detection_grids=2")
    ('genie', 'detection_grids', 2)
    """
    m = re.match(r"^\s*(pyocto|gamma|genie)\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"expected pyocto.KEY=VALUE, gamma.KEY=VALUE or genie.KEY=VALUE, got {text!r}"
        )
    return m.group(1), m.group(2), _value(m.group(3))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark options to ``parser``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> p.parse_args(["--events", "100"]).events
    [100]
    """
    from seisbench_genie.benchmark.peers import DEFAULT_PEER_VENV

    grid = parser.add_argument_group("scenario grid (full product of all lists)")
    grid.add_argument("--scenario", dest="scenarios", type=name_list(tuple(SCENARIOS)),
                      default=["crustal", "subduction"],
                      help="scenarios, comma-separated (default: crustal,subduction)")
    grid.add_argument("--events", type=int_list, default=[100, 500, 2000],
                      help="in-network events per day (default: 100,500,2000)")
    grid.add_argument("--noise", type=float_list, default=[0.3, 1.0, 3.0],
                      help="false picks as a fraction of true picks (default: 0.3,1.0,3.0)")
    grid.add_argument("--tt-noise", type=range_list, default=[(0.0, 0.01)],
                      help="relative travel-time noise ranges LO-HI (default: 0-0.01; "
                           "further tests: 0.01-0.05,0.05-0.10,0.10-0.15)")
    grid.add_argument("--out-of-network", type=int_list, default=[0],
                      help="extra out-of-network events (default: 0; further tests: "
                           "150,300,450)")
    grid.add_argument("--pick-removal", type=float_list, default=[0.0],
                      help="fraction of each event's picks removed (default: 0; further tests: "
                           "0.2,0.4,0.6)")
    grid.add_argument("--seed", type=int, default=0, help="scenario/associator seed (default 0)")

    run = parser.add_argument_group("associators")
    run.add_argument("--associators", type=name_list(ASSOCIATORS), default=list(ASSOCIATORS),
                     help="comma-separated subset of genie,pyocto,gamma (default: all)")
    run.add_argument("--genie-model", type=model_map, default={},
                     metavar="NAME_OR_PATH",
                     help="GENIE model: pretrained name or path of saved weights (BASE of "
                          "BASE.json/BASE.pt), or one per scenario as crustal=...,subduction=... "
                          "(default: the pretrained model named after each scenario)")
    run.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV,
                     help=f"virtualenv of PyOcto/GaMMA, created on first use "
                          f"(default: {DEFAULT_PEER_VENV})")
    run.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                     help=f"threads per associator (default: all cores = {os.cpu_count()})")
    run.add_argument("--timeout", type=float, default=1800.0,
                     help="per-run time limit in seconds (default 1800); exceeding runs are "
                          "recorded as timed out")
    run.add_argument("--set", dest="overrides", type=peer_override, action="append", default=[],
                     metavar="PEER.KEY=VALUE",
                     help="override a peer parameter, e.g. pyocto.pick_match_tolerance=3 or "
                          "gamma.max_sigma11=3, or pass an argument to GENIE.classify, e.g. "
                          "genie.detection_grids=2 (repeatable)")

    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("benchmark_results"),
                     help="output directory (default: benchmark_results/)")
    out.add_argument("--resume", action="store_true",
                     help="skip runs already recorded with status ok in OUT/results.csv")
    out.add_argument("--keep-workdirs", action="store_true",
                     help="keep each run's input/output files under OUT/work/")
    out.add_argument("--no-figures", dest="figures", action="store_false",
                     help="do not write figures")
    out.add_argument("--report-only", action="store_true",
                     help="only rewrite results.md and figures from OUT/results.csv")


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """Build a :class:`BenchmarkConfig` from parsed arguments.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> config_from_args(p.parse_args(["--set", "pyocto.n_picks=8"])).peer_overrides
    {'pyocto': {'n_picks': 8}}
    """
    overrides: dict[str, dict[str, Any]] = {}
    for peer, key, value in args.overrides:
        overrides.setdefault(peer, {})[key] = value
    if args.threads < 1:
        raise ValueError("--threads must be >= 1")
    return BenchmarkConfig(
        scenarios=list(args.scenarios),
        events=list(args.events),
        noise=list(args.noise),
        tt_noise=list(args.tt_noise),
        out_of_network=list(args.out_of_network),
        pick_removal=list(args.pick_removal),
        associators=list(args.associators),
        genie_model=dict(args.genie_model),
        seed=int(args.seed),
        out=Path(args.out),
        peer_venv=Path(args.peer_venv).expanduser(),
        threads=int(args.threads),
        timeout=float(args.timeout),
        keep_workdirs=bool(args.keep_workdirs),
        resume=bool(args.resume),
        figures=bool(args.figures),
        peer_overrides=overrides,
    )


def run(args: argparse.Namespace) -> int:
    """Execute ``seisbench-genie benchmark``.

    Examples
    --------
    >>> from seisbench_genie.cli import build_parser
    >>> args = build_parser().parse_args(["benchmark", "--scenario", "subduction",
    ...                                   "--events", "500", "--noise", "1.0",
    ...                                   "--associators", "pyocto,gamma"])
    >>> run(args)  # doctest: +SKIP
    0

    Returns
    -------
    int
        0 when at least one run succeeded (failed runs are results, listed in the report),
        1 when every run failed, 2 on a usage error.
    """
    import pandas as pd

    from seisbench_genie.benchmark.report import order_results, write_results

    if args.report_only:
        path = Path(args.out) / "results.csv"
        if not path.is_file():
            print(f"seisbench-genie benchmark: no {path}")
            return 2
        df = order_results(pd.read_csv(path))
        df["message"] = df["message"].fillna("") if "message" in df else ""
        write_results(df, args.out)
        from seisbench_genie.benchmark.plots import write_figures

        for p in write_figures(df, args.out, timeout=args.timeout):
            print(f"[benchmark] figure: {p}")
        return 0
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"seisbench-genie benchmark: {exc}")
        return 2
    from seisbench_genie.benchmark.runner import run_benchmark

    results = run_benchmark(config)
    print(f"[benchmark] results: {config.out / 'results.csv'}, {config.out / 'results.md'}")
    if not len(results):
        return 0
    return 0 if (results["status"] == "ok").any() else 1


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``benchmark`` subcommand to a ``seisbench-genie`` subparsers object.

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
    >>> parser.parse_args(["benchmark", "--associators", "pyocto"]).associators
    ['pyocto']
    """
    parser = subparsers.add_parser(
        "benchmark",
        help="run associators on a grid of synthetic scenarios (Puente et al. 2025)",
        description=(
            "Run GENIE and the peer associators (PyOcto, GaMMA) on a grid of synthetic "
            "scenarios after Puente et al. (2025), score them with the same rules, and write "
            "OUT/results.csv, OUT/results.md and figures."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
