"""The ``seisbench-genie relocate`` subcommand: double-difference relocation of a QuakeML file.

Examples
--------
Relocate a GENIE catalog with its stations and 1-D model (GraphDD, then the least-squares
baseline), with cross-correlation times from a HypoDD ``dt.cc`` file::

    seisbench-genie relocate catalog.xml --stations stations.csv \\
        --velocity-model velocity_model.csv --out relocated.xml
    seisbench-genie relocate catalog.xml --stations stations.xml \\
        --velocity-model velocity_model.csv --dt-cc dt.cc --method lsqr --out relocated_lsqr.xml
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from seisbench_genie.atomic import atomic_write

PROG = "seisbench-genie relocate"
#: GraphDD fields set by their own options (or not from the command line at all).
_OWN_OPTIONS = {"method", "device", "seed", "progress", "last_run"}


def _field_options() -> list[tuple[str, Any, str]]:
    """``(name, default, help)`` of every GraphDD tunable that gets a generic option."""
    from .graphdd import GraphDD, parameter_docs

    docs = parameter_docs()
    out = []
    for f in fields(GraphDD):
        if f.name in _OWN_OPTIONS or not f.init or f.default is MISSING:
            continue
        out.append((f.name, f.default, docs.get(f.name, "")))
    return out


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``relocate`` to ``parser``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["cat.xml", "--stations", "s.csv", "--velocity-model", "v.csv",
    ...                   "--out", "o.xml", "--k-neighbors", "6"])
    >>> a.method, a.k_neighbors
    ('graphdd', 6)
    """
    parser.add_argument("catalog", type=Path, metavar="CATALOG.xml",
                        help="QuakeML catalog with picks and arrivals (e.g. GENIE's output)")
    parser.add_argument("--stations", type=Path, required=True, metavar="STATIONS",
                        help="stations: CSV with id (NET.STA.LOC), latitude, longitude, "
                             "elevation (m), or a StationXML file (.xml)")
    parser.add_argument("--velocity-model", type=Path, required=True, metavar="VM.csv",
                        help="1-D model: CSV of layer tops depth_km, vp, vs (km, km/s)")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.xml",
                        help="QuakeML file to write (the relocated catalog)")
    parser.add_argument("--dt-cc", type=Path, default=None, metavar="dt.cc",
                        help="HypoDD dt.cc file of cross-correlation differential times")
    parser.add_argument("--method", choices=["graphdd", "lsqr"], default="graphdd",
                        help="graphdd: the graph network (default); lsqr: damped least "
                             "squares, the baseline")
    parser.add_argument("--device", default="cpu",
                        help="torch device: cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    tun = parser.add_argument_group("GraphDD parameters (see help(GraphDD))")
    for name, default, text in _field_options():
        kind = _bool if isinstance(default, bool) else int if default is None else type(default)
        tun.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default,
                         help=f"{text} (default {default})".replace("%", "%%"))


def graphdd_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~seisbench_genie.relocation.GraphDD` of parsed arguments.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["c.xml", "--stations", "s.csv", "--velocity-model", "v.csv",
    ...                   "--out", "o.xml", "--method", "lsqr", "--iterations", "3"])
    >>> g = graphdd_from_args(a)
    >>> g.method, g.iterations
    ('lsqr', 3)
    """
    from .graphdd import GraphDD

    values = {name: getattr(args, name) for name, _, _ in _field_options()}
    return GraphDD(method=args.method, device=args.device, seed=args.seed,
                   progress=not args.no_progress, **values)


def _read_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Catalog, stations and velocity model of the command line (ValueError naming the
    file when one is unusable)."""
    from obspy import read_events, read_inventory

    from ..benchmark.real import read_stations, read_velocity_model

    for label, path in (("catalog", args.catalog), ("stations", args.stations),
                        ("velocity model", args.velocity_model)):
        if not Path(path).is_file():
            raise ValueError(f"{label} file {path} does not exist")
    try:
        catalog = read_events(str(args.catalog))
    except Exception as exc:  # ObsPy raises many types for unreadable files
        raise ValueError(f"catalog file {args.catalog}: cannot be read as QuakeML ({exc})"
                         ) from None
    if Path(args.stations).suffix.lower() == ".xml":
        try:
            stations = read_inventory(str(args.stations))
        except Exception as exc:  # ObsPy raises many types for unreadable files
            raise ValueError(f"stations file {args.stations}: cannot be read as StationXML "
                             f"({exc})") from None
    else:
        stations = read_stations(args.stations)
    return catalog, stations, read_velocity_model(args.velocity_model)


def write_quakeml(catalog: Any, path: Path) -> None:
    """Write ``catalog`` as QuakeML to ``path`` through a temporary file in the same folder.

    Examples
    --------
    >>> from obspy.core.event import Catalog
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.xml"
    >>> write_quakeml(Catalog(), p); p.is_file()
    True
    """
    from ..catalog import NSMAP

    atomic_write(path, lambda tmp: catalog.write(str(tmp), format="QUAKEML", nsmap=NSMAP))


def run(args: argparse.Namespace) -> int:
    """Execute ``seisbench-genie relocate``.

    Returns
    -------
    int
        0 on success, 2 on bad input (nothing written; the message says what is wrong).

    Examples
    --------
    >>> from seisbench_genie.cli import main
    >>> main(["relocate", "cat.xml", "--stations", "s.csv", "--velocity-model", "v.csv",
    ...       "--out", "o.xml"])  # doctest: +SKIP
    0
    """
    import torch

    from .dtcc import read_dtcc

    if args.threads:
        torch.set_num_threads(int(args.threads))
    try:
        graphdd = graphdd_from_args(args)
        catalog, stations, model = _read_inputs(args)
        dt = read_dtcc(args.dt_cc) if args.dt_cc is not None else None
        relocated = graphdd.relocate(catalog, stations, model, differential_times=dt,
                                     inplace=True)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    write_quakeml(relocated, args.out)
    report = graphdd.last_run
    n = len(report.relocated)
    print(f"[relocate] {graphdd.method}: {int(report.relocated.sum())} of {n} event(s) "
          f"relocated ({report.n_pairs} pairs, {report.n_differential_times} catalog and "
          f"{report.n_cross_correlation} cross-correlation differential times) in "
          f"{report.seconds:.1f} s; {n - int(report.relocated.sum())} left as they were "
          f"(flagged); wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``relocate`` subcommand to a ``seisbench-genie`` subparsers object.

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
    >>> parser.parse_args(["relocate", "c.xml", "--stations", "s.csv", "--velocity-model",
    ...                    "v.csv", "--out", "o.xml"]).min_shared_stations
    4
    """
    parser = subparsers.add_parser(
        "relocate",
        help="double-difference relocation of a QuakeML catalog (GraphDD or lsqr)",
        description=(
            "Relocate the events of a QuakeML catalog by double differences: a graph of "
            "neighbouring events, the differential times of the stations they share (and "
            "of a HypoDD dt.cc file), and a graph network trained on the catalog itself "
            "(--method graphdd) or damped least squares (--method lsqr). Writes a copy of "
            "the catalog with the relocated origins as preferred origins; events left as "
            "they were carry a comment saying why. Exit status: 0 ok, 2 bad input."),
        epilog=__doc__.split("Examples\n--------\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
