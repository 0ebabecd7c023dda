"""File contract between the benchmark and an associator running in a subprocess.

Every associator (GENIE and the peers) runs in its own process, started as
``<python> <script-or--m-module> <workdir>``, so that its peak memory is measured the same way
for all of them. The benchmark writes the inputs into ``workdir``, the subprocess writes its
outputs next to them:

Inputs (written by :func:`write_inputs`)
    ``picks.csv``
        ``station``, ``phase`` ("P"/"S"), ``time`` (POSIX s). The row position is the pick index;
        no ground truth is passed.
    ``stations.csv``
        ``id``, ``latitude``, ``longitude``, ``elevation`` (m).
    ``velocity_model.csv``
        The velocity model, in whatever form the associator needs (layer tops for GENIE,
        interpolation nodes ``depth, vp, vs`` for the peers).
    ``config.json``
        Associator settings; always holds ``region``, ``threads`` and ``seed``.

Outputs (read by :func:`read_outputs`)
    ``events.csv``
        ``event_idx``, ``time`` (POSIX s), ``latitude``, ``longitude``, ``depth_km``.
    ``assignments.csv``
        ``pick_idx`` (row position in ``picks.csv``), ``event_idx``; extra columns are kept.
    ``timing.json``
        ``wall_seconds`` (the association call only) and ``peak_rss_mb``
        (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` / 1024); optionally
        ``peak_rss_children_mb``, ``setup_seconds``, ``catalog_seconds`` (GENIE: building
        the ObsPy Catalog from its tables, after the timed call) and ``versions``.

The subprocess's stdout and stderr go to ``stdout.log`` and ``stderr.log`` in ``workdir``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seisbench_genie.schema import ASSIGNMENT_REQUIRED_COLUMNS, EVENT_REQUIRED_COLUMNS

PICKS_FILE = "picks.csv"
STATIONS_FILE = "stations.csv"
VELOCITY_FILE = "velocity_model.csv"
CONFIG_FILE = "config.json"
EVENTS_FILE = "events.csv"
ASSIGNMENTS_FILE = "assignments.csv"
TIMING_FILE = "timing.json"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"

#: Columns every associator's files must hold (the peers' runners write them by name).
EVENT_COLUMNS = EVENT_REQUIRED_COLUMNS
ASSIGNMENT_COLUMNS = ASSIGNMENT_REQUIRED_COLUMNS
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


#: Started as ``python -I -S -c _LAUNCHER cmd...``: forks once and execs ``cmd`` in the child.
#: Linux carries a process's RSS high-water mark across ``execve`` (``ru_maxrss`` of the new
#: program starts at the size of the process that exec'd it), so an associator exec'd straight
#: from the (large) benchmark process would report the benchmark's RSS as its own peak. A fresh
#: ``fork`` of this tiny launcher resets the mark to the launcher's few MB.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    try:\n"
    "        os.execvp(sys.argv[1], sys.argv[1:])\n"
    "    finally:\n"
    "        os._exit(127)\n"
    "code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


class AssociatorError(RuntimeError):
    """An associator subprocess failed (non-zero exit or missing/invalid outputs)."""


class AssociatorTimeout(AssociatorError):
    """An associator subprocess exceeded its time limit and was killed."""


@dataclass
class RunOutput:
    """What an associator subprocess produced.

    Attributes
    ----------
    events : pandas.DataFrame
        ``event_idx``, ``time``, ``latitude``, ``longitude``, ``depth_km``.
    assignments : pandas.DataFrame
        ``pick_idx``, ``event_idx`` (plus optional extra columns).
    timing : dict
        The parsed ``timing.json``.
    process_seconds : float
        Wall time of the whole subprocess (imports, table building and I/O included).

    Examples
    --------
    >>> out = RunOutput(pd.DataFrame(columns=EVENT_COLUMNS),
    ...                 pd.DataFrame(columns=ASSIGNMENT_COLUMNS),
    ...                 {"wall_seconds": 1.0, "peak_rss_mb": 80.0})
    >>> out.timing["wall_seconds"]
    1.0
    """

    events: pd.DataFrame
    assignments: pd.DataFrame
    timing: dict[str, Any]
    process_seconds: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def write_inputs(
    workdir: str | Path,
    picks: pd.DataFrame,
    stations: pd.DataFrame,
    velocity_model: pd.DataFrame,
    config: Mapping[str, Any],
) -> Path:
    """Write an associator's inputs into ``workdir``.

    Parameters
    ----------
    workdir
        Directory (created if missing).
    picks
        Needs ``station``, ``phase``, ``time``; only these columns are written, in row order.
    stations
        Needs ``id``, ``latitude``, ``longitude``, ``elevation`` (m).
    velocity_model
        Written as is (without index).
    config
        JSON-serialisable settings.

    Returns
    -------
    pathlib.Path
        ``workdir``.

    Examples
    --------
    >>> import tempfile
    >>> picks = pd.DataFrame({"station": ["A.B."], "phase": ["P"], "time": [1.5], "event": [0]})
    >>> st = pd.DataFrame({"id": ["A.B."], "latitude": [0.0], "longitude": [0.0],
    ...                    "elevation": [0.0]})
    >>> vm = pd.DataFrame({"depth": [0.0], "vp": [6.0], "vs": [3.5]})
    >>> d = write_inputs(tempfile.mkdtemp(), picks, st, vm, {"threads": 1})
    >>> sorted(p.name for p in d.iterdir())
    ['config.json', 'picks.csv', 'stations.csv', 'velocity_model.csv']
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    missing = {"station", "phase", "time"} - set(picks.columns)
    if missing:
        raise ValueError(f"picks: missing columns {sorted(missing)}")
    missing = {"id", "latitude", "longitude", "elevation"} - set(stations.columns)
    if missing:
        raise ValueError(f"stations: missing columns {sorted(missing)}")
    # Ground truth (``event``) is never handed to an associator.
    out = picks[["station", "phase", "time"]].reset_index(drop=True)
    out.to_csv(workdir / PICKS_FILE, index=False, float_format="%.6f")
    stations[["id", "latitude", "longitude", "elevation"]].to_csv(
        workdir / STATIONS_FILE, index=False
    )
    velocity_model.to_csv(workdir / VELOCITY_FILE, index=False)
    (workdir / CONFIG_FILE).write_text(json.dumps(dict(config), indent=2, default=_json_default))
    return workdir


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def tail(text: str, n_lines: int = 25, max_chars: int = 4000) -> str:
    """The last ``n_lines`` lines of ``text``, at most ``max_chars`` characters.

    Examples
    --------
    >>> tail("a\\nb\\nc", n_lines=2)
    'b\\nc'
    """
    lines = text.rstrip().splitlines()[-n_lines:]
    out = "\n".join(lines)
    return out[-max_chars:]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def read_outputs(workdir: str | Path) -> RunOutput:
    """Read and validate the outputs an associator wrote into ``workdir``.

    Parameters
    ----------
    workdir
        The directory passed to the subprocess.

    Returns
    -------
    RunOutput

    Raises
    ------
    AssociatorError
        When a file is missing or lacks required columns/keys.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "events.csv").write_text("event_idx,time,latitude,longitude,depth_km\\n")
    >>> _ = (d / "assignments.csv").write_text("pick_idx,event_idx\\n")
    >>> _ = (d / "timing.json").write_text('{"wall_seconds": 0.1, "peak_rss_mb": 50.0}')
    >>> read_outputs(d).timing["wall_seconds"]
    0.1
    """
    workdir = Path(workdir)
    for name in (EVENTS_FILE, ASSIGNMENTS_FILE, TIMING_FILE):
        if not (workdir / name).is_file():
            raise AssociatorError(f"associator wrote no {name} in {workdir}")
    events = pd.read_csv(workdir / EVENTS_FILE)
    assignments = pd.read_csv(workdir / ASSIGNMENTS_FILE)
    missing = set(EVENT_COLUMNS) - set(events.columns)
    if missing:
        raise AssociatorError(f"{EVENTS_FILE}: missing columns {sorted(missing)}")
    missing = set(ASSIGNMENT_COLUMNS) - set(assignments.columns)
    if missing:
        raise AssociatorError(f"{ASSIGNMENTS_FILE}: missing columns {sorted(missing)}")
    assignments["pick_idx"] = assignments["pick_idx"].astype(int)
    assignments["event_idx"] = assignments["event_idx"].astype(int)
    events["event_idx"] = events["event_idx"].astype(int)
    timing = json.loads((workdir / TIMING_FILE).read_text())
    for key in ("wall_seconds", "peak_rss_mb"):
        if key not in timing:
            raise AssociatorError(f"{TIMING_FILE}: missing key {key!r}")
    return RunOutput(events=events, assignments=assignments, timing=timing)


def thread_environment(threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess limited to ``threads`` BLAS/OpenMP/numba threads.

    Examples
    --------
    >>> thread_environment(2, base={})["OMP_NUM_THREADS"]
    '2'
    """
    env = dict(os.environ if base is None else base)
    for name in _THREAD_VARIABLES:
        env[name] = str(int(threads))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_associator_process(
    command: Sequence[str],
    workdir: str | Path,
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    fresh_rusage: bool = True,
) -> RunOutput:
    """Run ``command + [workdir]`` with ``cwd=workdir`` and read back its outputs.

    The subprocess runs in its own session; on timeout the whole process group is killed (so
    worker processes of e.g. GaMMA's multiprocessing pool do not survive).

    Parameters
    ----------
    command
        E.g. ``["/path/to/venv/bin/python", "/path/to/pyocto_runner.py"]``.
    workdir
        Directory holding the inputs (see :func:`write_inputs`).
    timeout
        Seconds before the process group is killed; ``None`` waits forever.
    env
        Environment of the subprocess (default: inherit).
    fresh_rusage
        Start ``command`` through a tiny forking launcher so that its
        ``getrusage(RUSAGE_SELF).ru_maxrss`` measures its own peak memory, not the benchmark
        process's (Linux keeps the RSS high-water mark across ``execve``).

    Returns
    -------
    RunOutput

    Raises
    ------
    AssociatorTimeout
        The time limit was exceeded.
    AssociatorError
        Non-zero exit status or invalid outputs; the message ends with the stderr tail.

    Examples
    --------
    >>> import sys, tempfile
    >>> run_associator_process([sys.executable, "-c", "import sys; sys.exit(3)"],
    ...                        tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seisbench_genie.benchmark.protocol.AssociatorError: associator exited with status 3...
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    full = [str(c) for c in command] + [str(workdir)]
    if fresh_rusage and os.name == "posix":
        full = [sys.executable, "-I", "-S", "-c", _LAUNCHER, *full]
    t0 = time.perf_counter()
    with open(workdir / STDOUT_FILE, "wb") as out, open(workdir / STDERR_FILE, "wb") as err:
        proc = subprocess.Popen(
            full,
            cwd=workdir,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise AssociatorTimeout(
                f"timed out after {timeout:.0f} s; stderr tail:\n"
                + tail(_read_text(workdir / STDERR_FILE))
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            # Worker processes (e.g. a multiprocessing pool) left behind by a finished run.
            _kill_group(proc, only_children=True)
    elapsed = time.perf_counter() - t0
    if returncode != 0:
        raise AssociatorError(
            f"associator exited with status {returncode}; stderr tail:\n"
            + tail(_read_text(workdir / STDERR_FILE))
        )
    try:
        result = read_outputs(workdir)
    except AssociatorError as exc:
        raise AssociatorError(
            f"{exc}; stderr tail:\n" + tail(_read_text(workdir / STDERR_FILE))
        ) from None
    result.process_seconds = elapsed
    return result


def _kill_group(proc: subprocess.Popen, only_children: bool = False) -> None:
    """Kill the process group led by ``proc`` (started with its own session).

    ``start_new_session=True`` makes the child a group leader, so its group id is its pid.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not only_children:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
