"""Association benchmark after Puente et al. (2025): GENIE against PyOcto and GaMMA.

Run it with ``seisbench-genie benchmark`` (see :mod:`seisbench_genie.benchmark.cli`) or from
Python::

    from seisbench_genie.benchmark import BenchmarkConfig, run_benchmark
    results = run_benchmark(BenchmarkConfig(scenarios=["subduction"], events=[500],
                                            noise=[1.0], associators=["pyocto", "gamma"]))

Submodules: :mod:`.runner` (grid, scoring), :mod:`.protocol` (subprocess file contract),
:mod:`.peers` (peer venv, PyOcto/GaMMA settings), :mod:`.genie_runner` (GENIE subprocess),
:mod:`.report` (CSV/Markdown), :mod:`.plots` (figures), :mod:`.cli` (``benchmark`` subcommand);
on real picks: :mod:`.real` (inputs, matching, scores), :mod:`.real_runner`, :mod:`.real_report`,
:mod:`.real_cli` (``benchmark-real`` subcommand).
Attributes are imported lazily so that the subprocess entry points stay light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BenchmarkConfig": "runner",
    "Cell": "runner",
    "expand_grid": "runner",
    "run_benchmark": "runner",
    "run_one": "runner",
    "write_results": "report",
    "write_figures": "plots",
    "ensure_peer_venv": "peers",
    "PEER_REQUIREMENTS": "peers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"seisbench_genie.benchmark.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
