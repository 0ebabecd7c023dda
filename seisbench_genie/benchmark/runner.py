"""The benchmark grid: scenarios x associators, scored with the project's metrics.

Each (scenario cell, associator) pair is one *run*: the scenario is generated with
:func:`seisbench_genie.synthetic.make_scenario`, the associator runs in a subprocess (GENIE in
this python, PyOcto/GaMMA in the peer venv), and its assignments are scored with
:func:`seisbench_genie.metrics.evaluate` against the same picks and rules for every associator.
A failed or timed-out run is recorded with its message and the grid continues.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from seisbench_genie.benchmark.protocol import AssociatorError, AssociatorTimeout, RunOutput

ASSOCIATORS = ("genie", "pyocto", "gamma")
PEERS = ("pyocto", "gamma")
#: Associators whose largest cells are deferred to the end of the grid (they can take hours).
SLOW_ASSOCIATORS = ("gamma",)
DEFAULT_TT_NOISE = (0.0, 0.01)

#: Columns identifying a run (one results row).
KEY_COLUMNS = [
    "associator",
    "scenario",
    "n_events",
    "noise",
    "tt_noise_lo",
    "tt_noise_hi",
    "out_of_network",
    "pick_removal",
    "seed",
]


@dataclass(frozen=True)
class Cell:
    """One scenario of the grid.

    Attributes
    ----------
    scenario : str
        ``"crustal"`` or ``"subduction"``.
    n_events : int
        In-network events in the day.
    noise : float
        False picks as a fraction of the true picks.
    tt_noise : tuple of float
        Relative travel-time noise range.
    out_of_network : int
        Extra out-of-network events.
    pick_removal : float
        Fraction of each event's picks removed.
    seed : int
        Scenario seed.

    Examples
    --------
    >>> Cell("subduction", 500, 1.0).label
    'subduction_500_1.0'
    """

    scenario: str
    n_events: int
    noise: float
    tt_noise: tuple[float, float] = DEFAULT_TT_NOISE
    out_of_network: int = 0
    pick_removal: float = 0.0
    seed: int = 0

    @property
    def label(self) -> str:
        """Short name, e.g. ``subduction_500_1.0`` (suffixes for the further tests).

        Examples
        --------
        >>> Cell("crustal", 100, 0.3, pick_removal=0.2).label
        'crustal_100_0.3_rm0.2'
        """
        name = f"{self.scenario}_{self.n_events}_{self.noise:.1f}"
        if tuple(self.tt_noise) != DEFAULT_TT_NOISE:
            name += f"_tt{self.tt_noise[0]:g}-{self.tt_noise[1]:g}"
        if self.out_of_network:
            name += f"_oon{self.out_of_network}"
        if self.pick_removal:
            name += f"_rm{self.pick_removal:g}"
        return name

    @property
    def cost(self) -> float:
        """Rough relative size (picks ~ events x (1 + noise)); used to order the grid.

        Examples
        --------
        >>> Cell("crustal", 100, 1.0).cost
        200.0
        """
        n = self.n_events + self.out_of_network
        return float(n * (1.0 + self.noise) * (1.0 - self.pick_removal))

    def scenario_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`seisbench_genie.synthetic.make_scenario`.

        Examples
        --------
        >>> Cell("subduction", 500, 1.0).scenario_kwargs()["tt_noise"]
        (0.0, 0.01)
        """
        return {
            "scenario": self.scenario,
            "n_events": int(self.n_events),
            "noise": float(self.noise),
            "tt_noise": tuple(float(x) for x in self.tt_noise),
            "out_of_network": int(self.out_of_network),
            "pick_removal": float(self.pick_removal),
            "seed": int(self.seed),
        }

    def key(self, associator: str) -> tuple:
        """The results-row key of this cell for ``associator`` (see :data:`KEY_COLUMNS`).

        Examples
        --------
        >>> Cell("crustal", 100, 0.3).key("pyocto")[:3]
        ('pyocto', 'crustal', 100)
        """
        return (
            associator,
            self.scenario,
            int(self.n_events),
            round(float(self.noise), 6),
            round(float(self.tt_noise[0]), 6),
            round(float(self.tt_noise[1]), 6),
            int(self.out_of_network),
            round(float(self.pick_removal), 6),
            int(self.seed),
        )


@dataclass
class BenchmarkConfig:
    """Settings of one benchmark invocation (see ``seisbench-genie benchmark --help``).

    Attributes
    ----------
    scenarios, events, noise, tt_noise, out_of_network, pick_removal : list
        Grid axes; the grid is their full product.
    associators : list of str
        Any of :data:`ASSOCIATORS`.
    genie_model : dict
        Scenario name -> GENIE model name or path; key ``"*"`` applies to all scenarios;
        default: the pretrained model named after the scenario.
    seed : int
        Scenario and associator seed.
    out : pathlib.Path
        Output directory.
    peer_venv : pathlib.Path
        Virtualenv of the peers (created on first use).
    threads : int
        Threads given to every associator.
    timeout : float
        Per-run time limit (s).
    keep_workdirs : bool
        Keep each run's file-contract directory under ``out/work``.
    resume : bool
        Skip runs whose row in an existing ``results.csv`` has status ``ok``.
    figures : bool
        Write the figures at the end.
    peer_overrides : dict
        ``{"pyocto": {...}, "gamma": {...}, "genie": {...}}`` parameter overrides (GENIE's
        are arguments of :meth:`seisbench_genie.GENIE.classify`).

    Examples
    --------
    >>> cfg = BenchmarkConfig(scenarios=["subduction"], events=[500], noise=[1.0],
    ...                       associators=["pyocto", "gamma"])
    >>> len(expand_grid(cfg)), cfg.timeout
    (1, 1800.0)
    """

    scenarios: list[str] = field(default_factory=lambda: ["crustal", "subduction"])
    events: list[int] = field(default_factory=lambda: [100, 500, 2000])
    noise: list[float] = field(default_factory=lambda: [0.3, 1.0, 3.0])
    tt_noise: list[tuple[float, float]] = field(default_factory=lambda: [DEFAULT_TT_NOISE])
    out_of_network: list[int] = field(default_factory=lambda: [0])
    pick_removal: list[float] = field(default_factory=lambda: [0.0])
    associators: list[str] = field(default_factory=lambda: list(ASSOCIATORS))
    genie_model: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    out: Path = Path("benchmark_results")
    peer_venv: Path = Path("~/.cache/seisbench_genie/peers-venv")
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float = 1800.0
    keep_workdirs: bool = False
    resume: bool = False
    figures: bool = True
    peer_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def expand_grid(config: BenchmarkConfig) -> list[Cell]:
    """All scenario cells of ``config``, smallest first.

    Examples
    --------
    >>> cells = expand_grid(BenchmarkConfig(scenarios=["crustal"], events=[500, 100],
    ...                                     noise=[1.0, 0.3]))
    >>> [c.label for c in cells]
    ['crustal_100_0.3', 'crustal_100_1.0', 'crustal_500_0.3', 'crustal_500_1.0']
    """
    cells = [
        Cell(s, int(n), float(z), tuple(tt), int(o), float(r), int(config.seed))
        for s, n, z, tt, o, r in itertools.product(
            config.scenarios,
            config.events,
            config.noise,
            config.tt_noise,
            config.out_of_network,
            config.pick_removal,
        )
    ]
    order = {c: i for i, c in enumerate(cells)}
    return sorted(dict.fromkeys(cells), key=lambda c: (c.cost, order[c]))


def plan_runs(
    cells: Sequence[Cell], associators: Sequence[str], slow_threshold: float = 4000.0
) -> list[tuple[Cell, str]]:
    """Order (cell, associator) runs: by cell size, with slow associators' big cells last.

    Parameters
    ----------
    cells
        Cells, e.g. from :func:`expand_grid`.
    associators
        Associator names in the user's order.
    slow_threshold
        Cells with :attr:`Cell.cost` at least this are deferred for :data:`SLOW_ASSOCIATORS`.

    Returns
    -------
    list of (Cell, str)

    Examples
    --------
    >>> cells = [Cell("crustal", 100, 0.3), Cell("crustal", 2000, 3.0)]
    >>> [(c.n_events, a) for c, a in plan_runs(cells, ["gamma", "pyocto"])]
    [(100, 'gamma'), (100, 'pyocto'), (2000, 'pyocto'), (2000, 'gamma')]
    """
    runs = [(c, a) for c in cells for a in associators]
    order = {r: i for i, r in enumerate(runs)}

    def deferred(run: tuple[Cell, str]) -> bool:
        return run[1] in SLOW_ASSOCIATORS and run[0].cost >= slow_threshold

    return sorted(runs, key=lambda r: (deferred(r), r[0].cost if deferred(r) else 0, order[r]))


@dataclass
class RunContext:
    """Per-invocation state handed to associator functions.

    Attributes
    ----------
    config : BenchmarkConfig
    peer_python : pathlib.Path or None
        Resolved lazily by :meth:`get_peer_python`.
    peer_error : str or None
        Set when the peer venv could not be created (all peer runs then fail with it).
    log : TextIO
        Stream for progress messages.

    Examples
    --------
    >>> ctx = RunContext(config=BenchmarkConfig())
    >>> ctx.get_peer_python()  # creates the peer venv on first use  # doctest: +SKIP
    """

    config: BenchmarkConfig
    peer_python: Path | None = None
    peer_error: str | None = None
    log: TextIO = field(default_factory=lambda: sys.stderr)

    def get_peer_python(self) -> Path:
        """The peer venv's python, creating the venv on first use.

        Raises
        ------
        protocol.AssociatorError
            When the venv cannot be created (remembered for later calls).
        """
        from seisbench_genie.benchmark.peers import PeerEnvironmentError, ensure_peer_venv

        if self.peer_error is not None:
            raise AssociatorError(self.peer_error)
        if self.peer_python is None:
            try:
                self.peer_python = ensure_peer_venv(self.config.peer_venv, log=self.log)
            except (PeerEnvironmentError, OSError) as exc:
                self.peer_error = f"peer venv unavailable: {exc}"
                raise AssociatorError(self.peer_error) from None
        return self.peer_python


AssociatorFn = Callable[[Any, Cell, RunContext, Path], RunOutput]


def _genie_model_for(models: Mapping[str, str], cell: Cell) -> str:
    """``--genie-model`` entry for the cell's scenario; default: the pretrained model named
    after the scenario (``"crustal"`` / ``"subduction"``)."""
    return models.get(cell.scenario) or models.get("*") or cell.scenario


def _run_genie(scenario: Any, cell: Cell, ctx: RunContext, workdir: Path) -> RunOutput:
    from seisbench_genie.benchmark.genie_runner import run_genie

    return run_genie(
        scenario,
        workdir,
        model=_genie_model_for(ctx.config.genie_model, cell),
        threads=ctx.config.threads,
        seed=cell.seed,
        timeout=ctx.config.timeout,
        classify_kwargs=ctx.config.peer_overrides.get("genie"),
    )


def _peer_fn(name: str) -> AssociatorFn:
    def run(scenario: Any, cell: Cell, ctx: RunContext, workdir: Path) -> RunOutput:
        from seisbench_genie.benchmark.peers import run_peer

        return run_peer(
            name,
            scenario,
            workdir,
            python=ctx.get_peer_python(),
            threads=ctx.config.threads,
            seed=cell.seed,
            timeout=ctx.config.timeout,
            overrides=ctx.config.peer_overrides.get(name),
        )

    run.__name__ = f"run_{name}"
    return run


#: The associators the benchmark knows; functions take (scenario, cell, context, workdir).
ASSOCIATOR_FUNCTIONS: dict[str, AssociatorFn] = {
    "genie": _run_genie,
    "pyocto": _peer_fn("pyocto"),
    "gamma": _peer_fn("gamma"),
}


def _nan_scores() -> dict[str, float]:
    from seisbench_genie.metrics import AssociationScores

    return {f.name: math.nan for f in dataclasses.fields(AssociationScores)}


def unique_assignments(assignments: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one event per pick: the assignment with the smallest ``|residual_s|``.

    Some associators may give a pick to two events (PyOcto allows ``max_pick_overlap`` shared
    picks across time-slice boundaries); the scoring expects one event per pick, so every
    associator's output passes through the same rule: keep the assignment with the smallest
    absolute residual (``residual_s``), or the first one listed when there is no residual.

    Returns
    -------
    (pandas.DataFrame, int)
        The de-duplicated assignments and the number of assignments dropped.

    Examples
    --------
    >>> asg = pd.DataFrame({"pick_idx": [0, 1, 1], "event_idx": [5, 5, 6],
    ...                     "residual_s": [0.1, 0.9, -0.2]})
    >>> kept, dropped = unique_assignments(asg)
    >>> kept["event_idx"].tolist(), dropped
    ([5, 6], 1)
    """
    if not len(assignments) or not assignments["pick_idx"].duplicated().any():
        return assignments, 0
    order = assignments
    if "residual_s" in assignments:
        key = assignments["residual_s"].abs().fillna(float("inf"))
        order = assignments.assign(_key=key).sort_values("_key", kind="stable")
    kept = order.drop_duplicates("pick_idx", keep="first").drop(columns="_key", errors="ignore")
    kept = kept.sort_index()
    return kept, len(assignments) - len(kept)


def _base_row(name: str, cell: Cell, picks: pd.DataFrame | None) -> dict[str, Any]:
    """A results row with the cell's key, pick counts and empty (NaN) measurements."""
    row: dict[str, Any] = dict(zip(KEY_COLUMNS, cell.key(name), strict=True))
    row.update(
        cell=cell.label,
        n_picks=len(picks) if picks is not None else math.nan,
        n_true_picks=int((picks["event"] >= 0).sum()) if picks is not None else math.nan,
        n_false_picks=int((picks["event"] < 0).sum()) if picks is not None else math.nan,
        status="ok",
        wall_s=math.nan,
        peak_mb=math.nan,
        peak_children_mb=math.nan,
        cpu_s=math.nan,
        load_1min=math.nan,
        process_s=math.nan,
        setup_s=math.nan,
        catalog_s=math.nan,
        n_duplicate_assignments=math.nan,
    )
    row.update(_nan_scores())
    row["message"] = ""
    return row


def run_one(
    name: str,
    scenario: Any,
    cell: Cell,
    ctx: RunContext,
    *,
    fn: AssociatorFn | None = None,
    evaluate: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run associator ``name`` on one scenario and return its results row.

    Parameters
    ----------
    name
        Associator name (a key of :data:`ASSOCIATOR_FUNCTIONS` unless ``fn`` is given).
    scenario
        The generated :class:`~seisbench_genie.synthetic.Scenario` of ``cell``.
    cell
        The grid cell.
    ctx
        Run context (config, peer venv).
    fn
        Associator function overriding the registry (used by tests).
    evaluate
        Scoring function (default :func:`seisbench_genie.metrics.evaluate`).

    Returns
    -------
    dict
        One row: :data:`KEY_COLUMNS`, ``cell``, pick counts, ``status`` ("ok", "failed",
        "timeout"), ``wall_s`` (association call), ``peak_mb`` (peak RSS of the associator
        process), ``cpu_s`` (CPU time of the call, workers included), ``load_1min`` (system
        load average after the run, to spot contention), all scores and ``message``.

    Examples
    --------
    >>> row = run_one("pyocto", scn, cell, ctx)  # doctest: +SKIP
    >>> row["event_f1"], row["wall_s"]  # doctest: +SKIP
    (0.99, 1.2)
    """
    if evaluate is None:
        from seisbench_genie.metrics import evaluate
    fn = fn or ASSOCIATOR_FUNCTIONS[name]
    picks = scenario.picks
    row = _base_row(name, cell, picks)
    cfg = ctx.config
    if cfg.keep_workdirs:
        workdir = Path(cfg.out) / "work" / name / cell.label
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        cleanup = False
    else:
        workdir = Path(tempfile.mkdtemp(prefix=f"sbg_{name}_"))
        cleanup = True
    try:
        out = fn(scenario, cell, ctx, workdir)
        assignments, n_dropped = unique_assignments(out.assignments)
        row["n_duplicate_assignments"] = n_dropped
        scores = evaluate(
            picks, assignments, true_events=scenario.events, pred_events=out.events
        )
        row.update(scores.as_dict())
        row.update(
            wall_s=float(out.timing["wall_seconds"]),
            peak_mb=float(out.timing["peak_rss_mb"]),
            peak_children_mb=float(out.timing.get("peak_rss_children_mb", math.nan)),
            cpu_s=float(out.timing.get("cpu_seconds", math.nan)),
            process_s=float(out.process_seconds),
            setup_s=float(out.timing.get("setup_seconds", math.nan)),
            catalog_s=float(out.timing.get("catalog_seconds", math.nan)),
        )
    except AssociatorTimeout as exc:
        row.update(status="timeout", message=str(exc))
    except AssociatorError as exc:
        row.update(status="failed", message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken run must not stop the grid
        row.update(
            status="failed",
            message=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
        )
    finally:
        if hasattr(os, "getloadavg"):
            row["load_1min"] = round(os.getloadavg()[0], 2)
        if row["status"] != "ok":
            _save_log(Path(cfg.out), name, cell, workdir, row["message"])
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)
    return row


def _save_log(out: Path, name: str, cell: Cell, workdir: Path, message: str) -> None:
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    parts = [message]
    for fname in ("stderr.log", "stdout.log"):
        p = workdir / fname
        if p.is_file():
            text = p.read_text(errors="replace")
            parts.append(f"----- {fname} (last 20000 chars) -----\n{text[-20000:]}")
    (logs / f"{name}__{cell.label}.log").write_text("\n".join(parts))


def _load_existing(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except (OSError, ValueError):
        return None
    if not set(KEY_COLUMNS) <= set(df.columns):
        return None
    df["message"] = df["message"].fillna("").astype(str) if "message" in df else ""
    return df


def _row_key(row: Mapping[str, Any]) -> tuple:
    return Cell(
        row["scenario"],
        int(row["n_events"]),
        float(row["noise"]),
        (float(row["tt_noise_lo"]), float(row["tt_noise_hi"])),
        int(row["out_of_network"]),
        float(row["pick_removal"]),
        int(row["seed"]),
    ).key(str(row["associator"]))


def run_benchmark(
    config: BenchmarkConfig,
    *,
    stream: TextIO | None = None,
    scenario_factory: Callable[..., Any] | None = None,
    associator_functions: Mapping[str, AssociatorFn] | None = None,
    evaluate: Callable[..., Any] | None = None,
) -> pd.DataFrame:
    """Run the benchmark grid, writing results, Markdown and figures to ``config.out``.

    Results are rewritten after every run (``results.csv`` / ``results.md``), so a long grid
    can be inspected while it runs; rows of other cells already in ``results.csv`` are kept.

    Parameters
    ----------
    config
        The grid and settings.
    stream
        Where the compact progress table is printed (default ``sys.stdout``).
    scenario_factory
        Replaces :func:`seisbench_genie.synthetic.make_scenario` (tests).
    associator_functions
        Replaces entries of :data:`ASSOCIATOR_FUNCTIONS` (tests).
    evaluate
        Replaces :func:`seisbench_genie.metrics.evaluate` (tests).

    Returns
    -------
    pandas.DataFrame
        All result rows (including kept rows of earlier invocations).

    Examples
    --------
    >>> cfg = BenchmarkConfig(scenarios=["subduction"], events=[500], noise=[1.0],
    ...                       associators=["pyocto", "gamma"])
    >>> df = run_benchmark(cfg)  # doctest: +SKIP
    >>> df[["associator", "event_f1", "wall_s"]]  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.report import (
        ProgressPrinter,
        order_results,
        write_results,
    )

    stream = sys.stdout if stream is None else stream
    if scenario_factory is None:
        from seisbench_genie.synthetic import make_scenario as scenario_factory
    functions = dict(ASSOCIATOR_FUNCTIONS)
    functions.update(associator_functions or {})
    unknown = [a for a in config.associators if a not in functions]
    if unknown:
        raise ValueError(f"unknown associators {unknown}; choose from {sorted(functions)}")

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(config=config)
    existing = _load_existing(out / "results.csv")
    rows: dict[tuple, dict[str, Any]] = {}
    if existing is not None:
        for rec in existing.to_dict("records"):
            rows[_row_key(rec)] = rec

    cells = expand_grid(config)
    runs = plan_runs(cells, config.associators)
    if config.resume:
        runs = [(c, a) for c, a in runs if rows.get(c.key(a), {}).get("status") != "ok"]

    printer = ProgressPrinter(stream)
    printer.header(len(runs), config)
    current: tuple[Cell | None, Any] = (None, None)
    for cell, name in runs:
        if current[0] != cell:
            current = (None, None)  # free the previous scenario first
            try:
                current = (cell, scenario_factory(**cell.scenario_kwargs()))
            except Exception as exc:  # noqa: BLE001 - recorded, the grid continues
                current = (cell, f"scenario generation failed: {type(exc).__name__}: {exc}")
        if isinstance(current[1], str):
            row = _base_row(name, cell, None)
            row.update(status="failed", message=current[1])
        else:
            row = run_one(name, current[1], cell, ctx, fn=functions[name], evaluate=evaluate)
        rows[cell.key(name)] = row
        printer.row(row)
        write_results(order_results(pd.DataFrame(list(rows.values()))), out)
    printer.footer()

    results = order_results(pd.DataFrame(list(rows.values())))
    write_results(results, out)
    if config.figures and len(results):
        from seisbench_genie.benchmark.plots import write_figures

        for path in write_figures(results, out, timeout=config.timeout):
            print(f"[benchmark] figure: {path}", file=ctx.log, flush=True)
    return results
