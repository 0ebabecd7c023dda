"""The ``seisbench-genie`` command line (subcommands ``train``, ``benchmark``,
``benchmark-real``, ``associate`` and ``relocate``).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (called with the parsed arguments, returning an exit status). To add a
subcommand, append its module to :data:`SUBCOMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

#: Modules providing ``register(subparsers)``, one per subcommand.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "seisbench_genie.training.cli",
    "seisbench_genie.benchmark.cli",
    "seisbench_genie.benchmark.real_cli",
    "seisbench_genie.runs.cli",
    "seisbench_genie.relocation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``seisbench-genie`` argument parser with all registered subcommands.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["benchmark", "--events", "100,500"])
    >>> args.command, args.events
    ('benchmark', [100, 500])
    >>> args = build_parser().parse_args(["train", "pretrained/crustal.yaml", "--out", "runs/c",
    ...                                   "--resume"])
    >>> args.command, args.out, args.resume
    ('train', 'runs/c', True)
    """
    from seisbench_genie import __version__

    parser = argparse.ArgumentParser(
        prog="seisbench-genie",
        description="GENIE graph-neural-network phase association for SeisBench/ObsPy.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``seisbench-genie`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status of the subcommand; 2 when no subcommand is given.

    Examples
    --------
    >>> main(["train", "--help"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
