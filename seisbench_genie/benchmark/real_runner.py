"""Running ``seisbench-genie benchmark-real``: settings, associator runs and output files.

The inputs, the matching rules and the scores are in :mod:`seisbench_genie.benchmark.real`;
the tables and the figure in :mod:`seisbench_genie.benchmark.real_report`. Every associator
gets the same picks, stations, 1-D model, search volume and minimum rules: GENIE in a
subprocess of this python (:func:`seisbench_genie.benchmark.genie_runner.run_genie`), PyOcto
and GaMMA in the peer virtualenv (:func:`seisbench_genie.benchmark.peers.run_peer`).

Examples
--------
>>> cfg = RealBenchmarkConfig(Path("picks.csv"), Path("stations.csv"), Path("vm.csv"),
...                           Path("benchmark_results/real"), reference=Path("catalog.csv"))
>>> cfg.associators
['genie', 'pyocto']
>>> res = run_real_benchmark(cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from seisbench_genie.atomic import atomic_write
from seisbench_genie.benchmark.protocol import AssociatorError, RunOutput
from seisbench_genie.benchmark.real import (
    DEFAULT_REGION_DEPTH_KM,
    DEFAULT_REGION_MARGIN_KM,
    MATCH_DISTANCE_KM,
    MATCH_TIME_S,
    PYOCTO_REAL_TOLERANCE_S,
    REAL_ASSOCIATORS,
    CatalogEntry,
    RealDataset,
    RealInputError,
    iso_utc,
    load_dataset,
    load_reference,
    read_catalog,
    score_catalogs,
)


@dataclass
class RealBenchmarkConfig:
    """Settings of one ``seisbench-genie benchmark-real`` invocation (see its ``--help``).

    Attributes
    ----------
    picks, stations, velocity_model : pathlib.Path
        Input files.
    out : pathlib.Path
        Output directory.
    reference : pathlib.Path or None
        Reference catalog.
    compare : dict
        Name -> file of other catalogs (the "no inflation" check).
    associators : list of str
        Any of :data:`REAL_ASSOCIATORS`.
    genie_model : str
        Pretrained name or saved weights of GENIE.
    min_picks, min_p_and_s_stations : int
        Minimum rules of every associator.
    region_depth_km : tuple of float
        Search depth range (km).
    region_margin_km : float
        Horizontal margin (km) around the stations with picks.
    overrides : dict
        ``{"genie": {...}, "pyocto": {...}, "gamma": {...}}`` settings.
    threads : int
        Threads per associator.
    timeout : float
        Time limit per associator run (s).
    peer_venv : pathlib.Path
        Virtualenv of PyOcto/GaMMA (created on first use).
    keep_workdirs : bool
        Keep each run's file-contract directory under ``out/work/``.
    figures : bool
        Write the figure.
    max_dt_s, max_distance_km : float
        Matching rule (s, km).
    stage_losses : bool
        Follow each other associator's 10-15-pick events through GENIE's stages
        (:func:`~seisbench_genie.benchmark.stage_losses.peer_losses`): where GENIE loses
        the small events it misses. One more GENIE run with its stages recorded.

    Examples
    --------
    >>> cfg = RealBenchmarkConfig(Path("p.csv"), Path("s.csv"), Path("vm.csv"), Path("out"))
    >>> cfg.associators, cfg.min_picks
    (['genie', 'pyocto'], 10)
    """

    picks: Path
    stations: Path
    velocity_model: Path
    out: Path
    reference: Path | None = None
    compare: dict[str, Path] = field(default_factory=dict)
    associators: list[str] = field(default_factory=lambda: ["genie", "pyocto"])
    genie_model: str = "crustal"
    min_picks: int = 10
    min_p_and_s_stations: int = 4
    region_depth_km: tuple[float, float] = DEFAULT_REGION_DEPTH_KM
    region_margin_km: float = DEFAULT_REGION_MARGIN_KM
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 1
    timeout: float = 3600.0
    peer_venv: Path = Path("~/.cache/seisbench_genie/peers-venv")
    keep_workdirs: bool = False
    figures: bool = True
    max_dt_s: float = MATCH_TIME_S
    max_distance_km: float = MATCH_DISTANCE_KM
    stage_losses: bool = False


def genie_settings(config: RealBenchmarkConfig) -> dict[str, Any]:
    """Keyword arguments of ``GENIE.classify`` for a run: the minimum rules, the thread count,
    then ``--set genie.KEY=VALUE``.

    Examples
    --------
    >>> cfg = RealBenchmarkConfig(Path("p"), Path("s"), Path("v"), Path("o"), min_picks=8)
    >>> genie_settings(cfg)
    {'min_picks': 8, 'min_p_and_s_stations': 4, 'num_threads': 1}
    """
    return {"min_picks": int(config.min_picks),
            "min_p_and_s_stations": int(config.min_p_and_s_stations),
            "num_threads": int(config.threads), **config.overrides.get("genie", {})}


def pyocto_settings(config: RealBenchmarkConfig) -> dict[str, Any]:
    """Overrides of the synthetic benchmark's PyOcto settings for real picks.

    The minimum rules (``n_picks`` = ``min_picks``, ``n_p_and_s_picks`` =
    ``min_p_and_s_stations``), both tolerances :data:`PYOCTO_REAL_TOLERANCE_S`, then
    ``--set pyocto.KEY=VALUE``. Everything else is as in
    :func:`seisbench_genie.benchmark.peers.pyocto_config` (crustal family: association cutoff
    100 km, ``time_before`` 300 s, 2 P and 2 S picks, 0.5 km table grid).

    Examples
    --------
    >>> cfg = RealBenchmarkConfig(Path("p"), Path("s"), Path("v"), Path("o"),
    ...                           overrides={"pyocto": {"tolerance": 3.0}})
    >>> pyocto_settings(cfg)
    {'n_picks': 10, 'n_p_and_s_picks': 4, 'tolerance': 3.0, 'pick_match_tolerance': 2.0}
    """
    return {"n_picks": int(config.min_picks),
            "n_p_and_s_picks": int(config.min_p_and_s_stations),
            "tolerance": PYOCTO_REAL_TOLERANCE_S,
            "pick_match_tolerance": PYOCTO_REAL_TOLERANCE_S,
            **config.overrides.get("pyocto", {})}


def gamma_settings(config: RealBenchmarkConfig) -> dict[str, Any]:
    """Overrides of the synthetic benchmark's GaMMA settings: ``min_picks_per_eq`` =
    ``min_picks`` (GaMMA has no P-and-S station rule), then ``--set gamma.KEY=VALUE``.

    Examples
    --------
    >>> gamma_settings(RealBenchmarkConfig(Path("p"), Path("s"), Path("v"), Path("o")))
    {'min_picks_per_eq': 10}
    """
    return {"min_picks_per_eq": int(config.min_picks), **config.overrides.get("gamma", {})}


RunnerFn = Callable[[RealDataset, Path, RealBenchmarkConfig], RunOutput]


def _run_genie(dataset: RealDataset, workdir: Path, config: RealBenchmarkConfig) -> RunOutput:
    from seisbench_genie.benchmark.genie_runner import run_genie

    return run_genie(dataset, workdir, model=config.genie_model, threads=config.threads,
                     timeout=config.timeout, classify_kwargs=genie_settings(config))


def _peer_runner(name: str, settings: Callable[[RealBenchmarkConfig], dict]) -> RunnerFn:
    def run(dataset: RealDataset, workdir: Path, config: RealBenchmarkConfig) -> RunOutput:
        from seisbench_genie.benchmark.peers import (
            PeerEnvironmentError,
            ensure_peer_venv,
            run_peer,
        )

        try:
            python = ensure_peer_venv(Path(config.peer_venv).expanduser())
        except (PeerEnvironmentError, OSError) as exc:
            raise AssociatorError(f"peer venv unavailable: {exc}") from None
        return run_peer(name, dataset, workdir, python=python, threads=config.threads,
                        timeout=config.timeout, overrides=settings(config))

    run.__name__ = f"run_{name}"
    return run


#: How each associator is run: ``fn(dataset, workdir, config) -> RunOutput``.
RUNNERS: dict[str, RunnerFn] = {
    "genie": _run_genie,
    "pyocto": _peer_runner("pyocto", pyocto_settings),
    "gamma": _peer_runner("gamma", gamma_settings),
}


def write_csv_atomic(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    """Write ``df`` (without index) to ``path`` through a temporary name in the same folder,
    so that a reader never sees a half-written file.

    Parameters
    ----------
    df
        The table.
    path
        Target file (its folder is created).
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> write_csv_atomic(pd.DataFrame({"a": [1]}), Path(tempfile.mkdtemp()) / "x.csv").name
    'x.csv'
    """
    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, **kwargs))


def associator_tables(dataset: RealDataset, out: RunOutput) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An associator's events and assignments in the user's terms.

    Parameters
    ----------
    dataset
        The picks given to the associator.
    out
        Its output (``pick_idx`` = row position in ``dataset.picks``).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Events: ``event_idx``, ``time`` (ISO UTC), ``time_posix_s``, ``latitude``,
        ``longitude``, ``depth_km``, ``n_picks`` (associated picks, one event per pick), then
        the associator's other columns. Assignments: ``pick_idx`` (data row in the pick file),
        ``event_idx``, the pick file's columns (``time`` as ISO UTC), then the associator's
        columns (those clashing with the pick file's prefixed ``assoc_``).

    Examples
    --------
    >>> events, assignments = associator_tables(ds, run_output)  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.runner import unique_assignments

    asg, _ = unique_assignments(out.assignments.reset_index(drop=True))
    pos = asg["pick_idx"].to_numpy(int)
    if len(pos) and (pos.min() < 0 or pos.max() >= len(dataset.picks)):
        raise AssociatorError("assignments: pick_idx outside the pick table")
    counts = pd.Series(asg["event_idx"].to_numpy(int)).value_counts()
    ev = out.events.copy()
    ev["n_picks"] = counts.reindex(ev["event_idx"].to_numpy(int)).fillna(0).astype(int).to_numpy()
    first = ["event_idx", "time", "time_posix_s", "latitude", "longitude", "depth_km", "n_picks"]
    ev["time_posix_s"] = ev["time"].astype(float)
    ev["time"] = iso_utc(ev["time_posix_s"])
    ev = ev[first + [c for c in ev.columns if c not in first]]
    picks = dataset.picks.iloc[pos].reset_index(drop=True)
    picks["time"] = iso_utc(picks["time"])
    extra = asg.drop(columns=["pick_idx", "event_idx"]).reset_index(drop=True)
    extra.columns = [f"assoc_{c}" if c in picks.columns else c for c in extra.columns]
    table = pd.concat([picks[["pick_idx"]],
                       pd.DataFrame({"event_idx": asg["event_idx"].to_numpy(int)}),
                       picks.drop(columns=["pick_idx"]), extra], axis=1)
    return ev.sort_values("time_posix_s", kind="stable").reset_index(drop=True), table


def _scoring_events(events: pd.DataFrame) -> pd.DataFrame:
    """``time`` back in POSIX seconds for scoring."""
    return events.assign(time=events["time_posix_s"].to_numpy(float))


def run_associators(
    dataset: RealDataset,
    config: RealBenchmarkConfig,
    *,
    runners: Mapping[str, RunnerFn] | None = None,
    log: TextIO | None = None,
) -> list[CatalogEntry]:
    """Run every associator of ``config`` on ``dataset``; write ``OUT/<name>/events.csv`` and
    ``assignments.csv`` for each successful run.

    A failed or timed-out run is returned with its message (its log under ``OUT/logs/``); the
    others continue.

    Returns
    -------
    list of CatalogEntry

    Examples
    --------
    >>> entries = run_associators(ds, cfg)  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.protocol import AssociatorTimeout

    log = sys.stderr if log is None else log
    functions = dict(RUNNERS)
    functions.update(runners or {})
    out_dir = Path(config.out)
    entries = []
    for name in config.associators:
        if config.keep_workdirs:
            # absolute: the associator process runs inside its work directory
            workdir = (out_dir / "work" / name).resolve()
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
        else:
            workdir = Path(tempfile.mkdtemp(prefix=f"sbg_real_{name}_"))
        entry = CatalogEntry(name, "associator", None, n_input_picks=len(dataset.picks))
        for stale in ("events.csv", "assignments.csv"):  # of an earlier run into this folder
            (out_dir / name / stale).unlink(missing_ok=True)
        print(f"[benchmark-real] running {name} on {len(dataset.picks)} picks ...", file=log,
              flush=True)
        try:
            out = functions[name](dataset, workdir, config)
            events, assignments = associator_tables(dataset, out)
            write_csv_atomic(events, out_dir / name / "events.csv", float_format="%.6f")
            write_csv_atomic(assignments, out_dir / name / "assignments.csv")
            entry.events = _scoring_events(events)
            entry.n_picks_associated = int(assignments["pick_idx"].nunique())
            entry.timing = {
                "wall_s": float(out.timing["wall_seconds"]),
                "process_s": float(out.process_seconds),
                "peak_mb": float(out.timing.get("peak_rss_mb", math.nan)),
            }
            print(f"[benchmark-real] {name}: {len(events)} events, "
                  f"{entry.n_picks_associated} picks associated, "
                  f"{entry.timing['wall_s']:.1f} s", file=log, flush=True)
        except AssociatorTimeout as exc:
            entry.status, entry.message = "timeout", str(exc)
        except AssociatorError as exc:
            entry.status, entry.message = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken run must not stop the others
            entry.status = "failed"
            entry.message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        finally:
            if entry.status != "ok":
                _save_log(out_dir, name, workdir, entry.message)
                print(f"[benchmark-real] {name}: {entry.status}: "
                      f"{entry.message.strip().splitlines()[0] if entry.message else ''}",
                      file=log, flush=True)
            if not config.keep_workdirs:
                shutil.rmtree(workdir, ignore_errors=True)
        entries.append(entry)
    return entries


def _save_log(out: Path, name: str, workdir: Path, message: str) -> None:
    parts = [message]
    for fname in ("stderr.log", "stdout.log"):
        p = workdir / fname
        if p.is_file():
            parts.append(f"----- {fname} (last 20000 chars) -----\n"
                         f"{p.read_text(errors='replace')[-20000:]}")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "logs" / f"{name}.log").write_text("\n".join(parts))


@dataclass
class RealBenchmarkResult:
    """What :func:`run_real_benchmark` produced.

    Attributes
    ----------
    results : pandas.DataFrame
        The long results table (:data:`RESULT_COLUMNS`).
    entries : list of CatalogEntry
        Associator outputs and ``--compare`` catalogs.
    reference : pandas.DataFrame or None
        Reference events inside the picks' time span.
    dataset : RealDataset
    files : list of pathlib.Path
        Files written (results, report, figure, per-associator tables).
    stage_losses : dict
        Peer name -> :func:`~seisbench_genie.benchmark.stage_losses.peer_losses` table
        (with ``config.stage_losses``).
    """

    results: pd.DataFrame
    entries: list[CatalogEntry]
    reference: pd.DataFrame | None
    dataset: RealDataset
    files: list[Path] = field(default_factory=list)
    stage_losses: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every associator ran."""
        return all(e.ok for e in self.entries if e.kind == "associator")


def run_real_benchmark(
    config: RealBenchmarkConfig,
    *,
    runners: Mapping[str, RunnerFn] | None = None,
    log: TextIO | None = None,
) -> RealBenchmarkResult:
    """Run and score the associators on real picks; write the results to ``config.out``.

    Every input is read and checked before anything runs or is written.

    Parameters
    ----------
    config
        Inputs and settings.
    runners
        Replaces entries of :data:`RUNNERS` (tests).
    log
        Stream for progress messages (default ``sys.stderr``).

    Returns
    -------
    RealBenchmarkResult

    Raises
    ------
    RealInputError
        Unusable inputs (nothing is written then).

    Examples
    --------
    >>> cfg = RealBenchmarkConfig(Path("picks.csv"), Path("stations.csv"), Path("vm.csv"),
    ...                           Path("benchmark_results/real"),
    ...                           reference=Path("catalog.csv"))  # doctest: +SKIP
    >>> res = run_real_benchmark(cfg)  # doctest: +SKIP
    >>> res.results.query("metric == 'reference_recall' and bin == 'all'")  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.real_report import write_real_outputs

    unknown = [a for a in config.associators if a not in {**RUNNERS, **(runners or {})}]
    if unknown:
        raise RealInputError(f"unknown associator(s) {unknown}; choose from {REAL_ASSOCIATORS}")
    if config.stage_losses and ("genie" not in config.associators
                                or len(set(config.associators)) < 2):
        raise RealInputError(f"--stage-losses follows another associator's events through "
                             f"GENIE's stages: --associators needs genie and at least one "
                             f"other (got {','.join(config.associators)})")
    dataset = load_dataset(config.picks, config.stations, config.velocity_model,
                           region_depth_km=config.region_depth_km,
                           region_margin_km=config.region_margin_km)
    reference = None
    if config.reference is not None:
        reference, notes = load_reference(config.reference, dataset)
        dataset.notes += notes
    compare = []
    reserved = {*config.associators, "reference"}
    for name, path in config.compare.items():
        if name in reserved:
            raise RealInputError(f"--compare name {name!r} for {path} clashes with an "
                                 f"associator or the reference; use NAME=PATH")
        events, notes = read_catalog(path, f"compare catalog {name!r}")
        dataset.notes += notes
        compare.append(CatalogEntry(name, "compare", events, source=str(path)))
    Path(config.out).mkdir(parents=True, exist_ok=True)

    entries = run_associators(dataset, config, runners=runners, log=log)
    entries += compare
    results = score_catalogs(entries, reference, max_dt_s=config.max_dt_s,
                             max_distance_km=config.max_distance_km,
                             stations=dataset.stations, region=dataset.region)
    result = RealBenchmarkResult(results, entries, reference, dataset)
    if config.stage_losses:
        result.stage_losses = follow_peer_events(dataset, entries, config, log=log)
    result.files = write_real_outputs(result, config)
    result.files += [Path(config.out) / f"stage_losses_{name}.csv"
                     for name in result.stage_losses]
    return result


def follow_peer_events(dataset: RealDataset, entries: list[CatalogEntry],
                       config: RealBenchmarkConfig, *, log: TextIO | None = None
                       ) -> dict[str, pd.DataFrame]:
    """Where GENIE loses each other associator's small events: one GENIE run with its
    stages recorded and the same arguments as the benchmark's GENIE run
    (:func:`~seisbench_genie.benchmark.stage_losses.peer_losses`); the tables are written
    to ``OUT/stage_losses_<peer>.csv``.

    Returns an empty dict when GENIE or every peer failed.

    Examples
    --------
    >>> tables = follow_peer_events(dataset, entries, config)  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.genie_runner import load_model
    from seisbench_genie.benchmark.stage_losses import peer_losses

    ok = {e.name for e in entries if e.kind == "associator" and e.ok}
    peers = [name for name in config.associators if name != "genie" and name in ok]
    if "genie" not in ok or not peers:
        return {}
    model = load_model(config.genie_model)
    kwargs = {**genie_settings(config), "region": dataset.region}
    tables = {}
    for name in peers:
        print(f"[benchmark-real] following {name}'s small events through GENIE's stages",
              file=log or sys.stderr, flush=True)
        folder = Path(config.out) / name
        table = peer_losses(dataset, pd.read_csv(folder / "events.csv"),
                            pd.read_csv(folder / "assignments.csv"), model, kwargs, label=name)
        write_csv_atomic(table, Path(config.out) / f"stage_losses_{name}.csv")
        tables[name] = table
    return tables
