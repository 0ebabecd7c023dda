"""Association of months of picks: chunks in parallel, on a Dask cluster, resumable.

:func:`associate_long` cuts the picks into time chunks (:mod:`seisbench_genie.runs.plan`),
associates each with :meth:`GENIE.classify <seisbench_genie.GENIE.classify>` -- in this
process, in worker processes (one thread each) or on the workers of a
``dask.distributed.Client`` -- and joins the chunks' events so that each event is found once.
With ``out=``, each finished chunk is written to a folder with a manifest, and a rerun skips
what is done (:class:`RunStore`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import inspect
import json
import math
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from seisbench_genie.atomic import atomic_write
from seisbench_genie.model import GENIE, AssociationOutput
from seisbench_genie.picks import PICK_COLUMNS, pick_table, station_positions
from seisbench_genie.runs.plan import (
    DETECTION_MARGIN_STEPS,
    GUARD_KERNELS,
    Chunk,
    join_blocks,
    longest_travel_s,
    normalise_tables,
    plan_chunks,
    reconcile_stream,
)
from seisbench_genie.schema import ASSIGNMENT_COLUMNS, EVENT_COLUMNS
from seisbench_genie.stations import station_table

#: Default chunk length (s): 6 hours, four chunks per UTC day (the unit of the output files),
#: so that one day of picks already keeps several worker processes busy. Measured on both
#: cores of a 2-core VM (``docs/benchmarks.md``, "Six-hour chunks by default"): against
#: one-day chunks, 1.7x faster on one crustal benchmark day and 1.5x on one day of a dense
#: 60-station network, 1.1x on 7 days of either, for the same CPU time and the same events
#: (the network's: 1 and 10 fewer of 1,499 and 9,803, at the same event F1). 3 h chunks were
#: slower than 6 h on the 7 network days (58 chunks' set-up and overlaps).
#: A worker holds one chunk: about 0.6 GB, whatever the run's length.
DEFAULT_CHUNK_S = 21600.0
#: Tasks in flight per worker process (chunks to associate, or days of the catalog to write):
#: enough to keep every worker busy while the main process handles results, few enough that
#: the picks or events handed out stay a small part of the run.
QUEUED_PER_WORKER = 2
#: Format tag of the manifest (``manifest.json``) of a resumable run.
MANIFEST_FORMAT = "seisbench-genie/associate-run/1"
#: ``read_csv`` reads back exactly the floats ``to_csv`` wrote: pandas >= 3 does by default
#: (and deprecates the argument), pandas 2 needs ``float_precision="round_trip"``.
_ROUND_TRIP = ({} if int(pd.__version__.split(".")[0]) >= 3
               else {"float_precision": "round_trip"})
#: Columns of the chunk table of a run (:attr:`LongRunOutput.chunks`).
CHUNK_COLUMNS = ["key", "start", "end", "n_picks", "n_events", "seconds", "resumed"]


# --------------------------------------------------------------------------------------------
# Picks, compactly
# --------------------------------------------------------------------------------------------


@dataclass
class PickArrays:
    """A run's picks as compact arrays sorted by time (about 29 bytes per pick).

    Attributes
    ----------
    pick_idx : numpy.ndarray
        int64, the pick's number in the caller's input (position, or row over the files).
    station : numpy.ndarray
        int32 code into ``ids``.
    ids : numpy.ndarray
        The station ids (str, object array).
    phase : numpy.ndarray
        int8, 0 = P, 1 = S.
    time : numpy.ndarray
        float64 POSIX s, ascending.
    probability : numpy.ndarray
        float64 picker probability.

    Examples
    --------
    >>> table = pick_table(pd.DataFrame({"station": ["X.B.", "X.A."], "phase": ["S", "P"],
    ...                                  "time": [2.0, 1.0]}))
    >>> arrays = PickArrays.from_table(table)
    >>> arrays.pick_idx.tolist(), arrays.ids[arrays.station].tolist()
    ([1, 0], ['X.A.', 'X.B.'])
    """

    pick_idx: np.ndarray
    station: np.ndarray
    ids: np.ndarray
    phase: np.ndarray
    time: np.ndarray
    probability: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> PickArrays:
        """From a pick table (:func:`~seisbench_genie.picks.pick_table`), time-sorted."""
        codes, ids = pd.factorize(table["station"].astype(str), sort=True)
        order = np.lexsort((table["pick_idx"].to_numpy(), table["time"].to_numpy()))
        return cls(pick_idx=table["pick_idx"].to_numpy(np.int64)[order],
                   station=codes.astype(np.int32)[order],
                   ids=np.asarray(ids, dtype=object),
                   phase=(table["phase"].to_numpy() == "S").astype(np.int8)[order],
                   time=table["time"].to_numpy(np.float64)[order],
                   probability=table["probability"].to_numpy(np.float64)[order])

    @classmethod
    def concat(cls, parts: list[PickArrays]) -> PickArrays:
        """Picks of several parts (their ``pick_idx`` must not collide), time-sorted.

        Examples
        --------
        >>> t = lambda s, x: pick_table(pd.DataFrame({"station": [s], "phase": ["P"],
        ...                                           "time": [x]}))
        >>> a, b = PickArrays.from_table(t("X.A.", 5.0)), PickArrays.from_table(t("X.B.", 1.0))
        >>> b.pick_idx += 1
        >>> PickArrays.concat([a, b]).ids[PickArrays.concat([a, b]).station].tolist()
        ['X.B.', 'X.A.']
        """
        ids = pd.Index(np.unique(np.concatenate([p.ids for p in parts]).astype(str)))
        station = np.concatenate([ids.get_indexer(p.ids.astype(str))[p.station] for p in parts])
        time_ = np.concatenate([p.time for p in parts])
        pick_idx = np.concatenate([p.pick_idx for p in parts])
        order = np.lexsort((pick_idx, time_))
        return cls(pick_idx=pick_idx[order], station=station.astype(np.int32)[order],
                   ids=np.asarray(ids, dtype=object),
                   phase=np.concatenate([p.phase for p in parts])[order], time=time_[order],
                   probability=np.concatenate([p.probability for p in parts])[order])

    def __len__(self) -> int:
        return len(self.time)

    def take(self, rows: np.ndarray) -> PickArrays:
        """The picks at ``rows`` (kept in time order when ``rows`` is)."""
        return PickArrays(self.pick_idx[rows], self.station[rows], self.ids, self.phase[rows],
                          self.time[rows], self.probability[rows])

    def span(self, t_lo: float, t_hi: float) -> tuple[int, int]:
        """Rows ``[a, b)`` of the picks with ``t_lo <= time <= t_hi``."""
        return (int(np.searchsorted(self.time, t_lo, side="left")),
                int(np.searchsorted(self.time, t_hi, side="right")))

    def frame(self, a: int, b: int) -> pd.DataFrame:
        """Rows ``[a, b)`` as the DataFrame :meth:`GENIE.classify` takes."""
        return pd.DataFrame({"station": self.ids[self.station[a:b]],
                             "phase": np.where(self.phase[a:b] == 1, "S", "P").astype(object),
                             "time": self.time[a:b], "probability": self.probability[a:b]})

    def table(self, pick_idx: np.ndarray) -> pd.DataFrame:
        """A pick table (:data:`~seisbench_genie.picks.PICK_COLUMNS`) of the given picks."""
        rows = self.rows_of(pick_idx)
        return pd.DataFrame({"pick_idx": self.pick_idx[rows],
                             "station": self.ids[self.station[rows]],
                             "phase": np.where(self.phase[rows] == 1, "S", "P").astype(object),
                             "time": self.time[rows],
                             "probability": self.probability[rows]})[PICK_COLUMNS]

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.pick_idx)

    def rows_of(self, pick_idx: np.ndarray) -> np.ndarray:
        """Rows of the picks numbered ``pick_idx`` (each must exist)."""
        rows = self._index.get_indexer(np.asarray(pick_idx, dtype=np.int64))
        if (rows < 0).any():
            raise ValueError("pick_idx: unknown pick number(s) "
                             f"{np.asarray(pick_idx)[rows < 0][:5].tolist()}")
        return rows

    def sha256(self) -> str:
        """Hash of the picks (numbers, stations, phases, times, probabilities)."""
        h = hashlib.sha256()
        for arr in (self.pick_idx, self.station, self.phase, self.time, self.probability):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update("\n".join(map(str, self.ids)).encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------
# One chunk
# --------------------------------------------------------------------------------------------


@dataclass
class ChunkContext:
    """What every chunk needs besides its picks: the model, the stations, the arguments.

    Sent once to each worker process (or scattered once to a Dask cluster).
    """

    model: GENIE
    stations: pd.DataFrame
    classify_kwargs: dict[str, Any]


def associate_chunk(context: ChunkContext, picks: pd.DataFrame) -> dict[str, Any]:
    """Associate one chunk's picks; runs in a worker.

    Parameters
    ----------
    context
        Model, stations and :meth:`GENIE.classify` arguments.
    picks
        The chunk's picks (``station``, ``phase``, ``time``, ``probability``).

    Returns
    -------
    dict
        ``events``, ``assignments`` (``pick_idx`` = row in ``picks``), ``station_terms``
        (None or a DataFrame) and ``seconds`` (wall time).

    Examples
    --------
    >>> # run by associate_long; see its Examples
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # per-chunk repeats of warnings the run gives once (unknown stations)
        warnings.filterwarnings("ignore", message="picks: dropped")
        out = context.model.classify(picks, context.stations, **context.classify_kwargs)
    return {"events": out.events, "assignments": out.assignments,
            "station_terms": out.station_terms, "seconds": time.perf_counter() - t0}


_WORKER_CONTEXT: ChunkContext | None = None


#: ``prctl`` option of Linux: the signal a process gets when the one that started it ends.
_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent_pid: int) -> None:
    """Make this worker end when the process that started it ends, however that ends
    (SIGKILL, the out-of-memory killer): otherwise it would compute its queued chunks for
    nobody. Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere the workers end when they
    find their task queue closed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):  # no libc prctl: keep the portable behaviour
        return
    if os.getppid() != parent_pid:  # the parent ended before prctl took effect
        os._exit(1)


def _init_worker(context: ChunkContext, parent_pid: int) -> None:
    """Worker process set-up: ends with the main process, Ctrl-C left to the main process,
    one thread, the context."""
    global _WORKER_CONTEXT
    import torch

    _end_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _WORKER_CONTEXT = context


def _worker_task(picks: pd.DataFrame) -> dict[str, Any]:
    assert _WORKER_CONTEXT is not None, "worker not initialised"
    return associate_chunk(_WORKER_CONTEXT, picks)


# --------------------------------------------------------------------------------------------
# Where chunks run
# --------------------------------------------------------------------------------------------


class _Done:
    """A chunk result computed at submission (hashable by identity, like a future)."""

    def __init__(self, value: dict[str, Any]):
        self.value = value


class _Serial:
    """Chunks one after the other in this process."""

    slots = 1

    def __init__(self, context: ChunkContext):
        self.context = context

    def submit(self, picks: pd.DataFrame) -> _Done:
        return _Done(associate_chunk(self.context, picks))

    def wait(self, pending: list) -> tuple[list, list]:
        return pending, []

    def result(self, handle: _Done) -> dict[str, Any]:
        return handle.value

    def close(self, cancel: bool, pending: list) -> None:
        pass


@contextlib.contextmanager
def _main_script_hidden_if_missing() -> Iterator[None]:
    """While worker processes start: hide the main script's file name when no such file
    exists (a script read from standard input, ``python -``, as in a batch job's here-
    document, is named ``<stdin>``).

    A spawned process runs the parent's main script again from its file before it takes a
    task, and dies when the file does not exist. The workers need nothing from the main
    script (their task is :func:`_worker_task` of this module), so without a file name they
    start as they do under a notebook or ``python -c``."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        yield  # no file, or run as a module (python -m): started by module name
        return
    # Relative names are resolved against the directory the program started in, as the
    # spawned process resolves them.
    start_dir = getattr(multiprocessing.process, "ORIGINAL_DIR", None) or os.getcwd()
    if os.path.isfile(os.path.join(start_dir, path)):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


class _Processes:
    """Chunks in worker processes (spawned: no state inherited, one thread each)."""

    def __init__(self, context: ChunkContext, n_workers: int):
        self.slots = n_workers
        self.pool = cf.ProcessPoolExecutor(
            max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(context, os.getpid()))

    def submit(self, picks: pd.DataFrame) -> cf.Future:
        # The pool starts its processes as tasks arrive, so within submit.
        with _main_script_hidden_if_missing():
            return self.pool.submit(_worker_task, picks)

    def wait(self, pending: list) -> tuple[list, list]:
        done, rest = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        return list(done), list(rest)

    def result(self, handle: cf.Future) -> dict[str, Any]:
        return handle.result()

    def close(self, cancel: bool, pending: list) -> None:
        shut_down(self.pool, cancel)


def shut_down(pool: cf.ProcessPoolExecutor, cancel: bool) -> None:
    """Shut a process pool down; with ``cancel``, its running tasks are abandoned and the
    processes it started are ended at once.

    Examples
    --------
    >>> pool = cf.ProcessPoolExecutor(max_workers=1)
    >>> shut_down(pool, cancel=True)
    """
    if cancel:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=cancel)


class _Dask:
    """Chunks on the workers of a ``dask.distributed.Client``."""

    def __init__(self, context: ChunkContext, client: Any):
        import distributed

        self.distributed = distributed
        self.client = client
        self.slots = max(1, sum(client.nthreads().values()))
        [self.context] = client.scatter([context], broadcast=True)

    def submit(self, picks: pd.DataFrame) -> Any:
        return self.client.submit(associate_chunk, self.context, picks, pure=False)

    def wait(self, pending: list) -> tuple[list, list]:
        done, rest = self.distributed.wait(pending, return_when="FIRST_COMPLETED")
        return list(done), list(rest)

    def result(self, handle: Any) -> dict[str, Any]:
        return handle.result()

    def close(self, cancel: bool, pending: list) -> None:
        self.client.cancel(pending + [self.context])


# --------------------------------------------------------------------------------------------
# A resumable run's folder
# --------------------------------------------------------------------------------------------


class RunStore:
    """The folder of a resumable run: ``manifest.json`` and ``chunks/<key>.{events,assignments}.csv``.

    The manifest holds the run's settings, a hash of its inputs and one entry per finished
    chunk; it is rewritten (atomically) after each chunk's files are in place. Opening a
    folder made with other inputs or settings raises a ``ValueError`` naming them.

    Parameters
    ----------
    folder
        The run's folder (created on the first write).
    settings
        JSON-able description of everything that changes the result.

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(Path(tempfile.mkdtemp()) / "run", {"chunk_s": 3600})
    >>> store.finished
    {}
    """

    def __init__(self, folder: str | Path, settings: dict[str, Any]):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings, sort_keys=True))
        self.chunks: dict[str, dict[str, Any]] = {}
        manifest = self.folder / "manifest.json"
        if manifest.is_file():
            try:
                old = json.loads(manifest.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"out: {manifest} is not a run manifest ({err})") from None
            if old.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"out: {manifest} is not a manifest of "
                                 f"'seisbench-genie associate' ({old.get('format')!r})")
            differ = sorted(k for k in set(old.get("settings", {})) | set(self.settings)
                            if old.get("settings", {}).get(k) != self.settings.get(k))
            if differ:
                raise ValueError(
                    f"out: {self.folder} holds a run with other inputs or settings (they "
                    f"differ in {', '.join(differ)}); give another folder, or remove it to "
                    "start again")
            self.chunks = dict(old.get("chunks", {}))
            # temporary files of a run killed while writing (never renamed: never used)
            for tmp in [*self.folder.glob(".*.tmp"), *self.folder.glob("chunks/.*.tmp")]:
                tmp.unlink(missing_ok=True)
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise ValueError(f"out: {self.folder} is not empty and holds no run manifest; "
                             "give a new or empty folder")

    @property
    def finished(self) -> dict[str, dict[str, Any]]:
        """``{chunk key: entry}`` of the chunks done (entries: n_picks, n_events, seconds)."""
        return {k: v for k, v in self.chunks.items()
                if self._path(k, "events").is_file() and self._path(k, "assignments").is_file()}

    def _path(self, key: str, table: str) -> Path:
        return self.folder / "chunks" / f"{key}.{table}.csv"

    def save(self, chunk: Chunk, events: pd.DataFrame, assignments: pd.DataFrame,
             entry: dict[str, Any]) -> None:
        """Write a finished chunk's tables, then record it in the manifest."""
        for name, table in (("events", events), ("assignments", assignments)):
            atomic_write(self._path(chunk.key, name),
                         lambda tmp, table=table: table.to_csv(tmp, index=False))
        self.chunks[chunk.key] = entry
        self.write_manifest()

    def load(self, chunk: Chunk) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A finished chunk's events and assignments, exactly as they were saved."""
        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(self._path(chunk.key, name), dtype={"phase": str},
                               keep_default_na=False, na_values=[""], **_ROUND_TRIP)
        return normalise_tables(read("events"), read("assignments"))

    def write_manifest(self, **extra: Any) -> None:
        """Rewrite ``manifest.json`` (format, settings, chunks and ``extra`` fields)."""
        body = {"format": MANIFEST_FORMAT, "settings": self.settings,
                "chunks": dict(sorted(self.chunks.items())), **extra}
        atomic_write(self.folder / "manifest.json",
                     lambda tmp: tmp.write_text(json.dumps(body, indent=1) + "\n"))


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class LongRunOutput(AssociationOutput):
    """Output of :func:`associate_long`: the :class:`~seisbench_genie.model.AssociationOutput`
    tables and Catalog of the whole run, and ``chunks``, one row per chunk (``key``, core
    ``start``/``end`` in POSIX s, ``n_picks`` in the core, ``n_events`` kept, ``seconds`` of
    association, ``resumed``: read from an earlier run's folder).

    Examples
    --------
    >>> out = LongRunOutput("GENIE", events=pd.DataFrame(), assignments=pd.DataFrame(),
    ...                     chunks=pd.DataFrame(columns=CHUNK_COLUMNS))
    >>> len(out.catalog), list(out.chunks.columns)[:3]
    (0, ['key', 'start', 'end'])
    """


def default_workers() -> int:
    """The cores this process may use (``os.sched_getaffinity`` where it exists).

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _posix(value: Any, name: str) -> float:
    from seisbench_genie.picks import times_to_posix

    if value is None:
        return -math.inf if name == "start" else math.inf
    t = float(times_to_posix([value])[0])
    if not math.isfinite(t):
        raise ValueError(f"{name}: not a time (UTCDateTime, ISO 8601 string or POSIX s): "
                         f"{value!r}")
    return t


def _jsonable(value: Any) -> Any:
    from seisbench_genie.traveltimes import TravelTimeBackend

    if isinstance(value, pd.DataFrame):
        return {str(c): _jsonable(value[c].tolist()) for c in value.columns}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, TravelTimeBackend):
        return repr(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def model_sha256(model: GENIE) -> str:
    """Hash of a model's weights, scale and default arguments (identifies it in a manifest).

    Examples
    --------
    >>> model_sha256(GENIE.from_pretrained("crustal"))[:8]  # doctest: +SKIP
    '3f1c0a9e'
    """
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps(_jsonable({"scale": model.scale.to_dict(),
                                   "default_args": model.default_args}),
                        sort_keys=True).encode())
    return h.hexdigest()


def _check_kwargs(model: GENIE, kwargs: dict[str, Any]) -> None:
    from seisbench_genie.association import AssociationParams

    allowed = {n for n, p in inspect.signature(GENIE.classify).parameters.items()
               if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"associate_long: unknown argument(s) {unknown}; it takes those of "
                        "GENIE.classify and chunk_s, overlap_s, start, end, n_workers, "
                        "client, out, progress")
    if "progress" in kwargs:
        raise TypeError("associate_long: progress is its own argument (one bar over the "
                        "chunks); classify's per-window bar is off in chunks")
    fields = set(AssociationParams.__dataclass_fields__)
    AssociationParams(**{k: v for k, v in kwargs.items() if k in fields})  # validates


def _match(arrays: PickArrays, stations: pd.DataFrame) -> PickArrays:
    """The picks at known stations; an error naming ids from both sides when none is."""
    known = station_positions(pd.Series(arrays.ids, dtype=object), stations) >= 0
    if not known.any():
        raise ValueError(
            f"stations: none of the {len(arrays.ids)} station id(s) of the picks is in the "
            f"station table ({len(stations)} stations); picks have e.g. "
            f"{[str(i) for i in arrays.ids[:5]]}, the stations e.g. "
            f"{stations['id'].head(5).tolist()}")
    if known.all():
        return arrays
    rows = np.flatnonzero(known[arrays.station])
    missing = arrays.ids[~known]
    warnings.warn(f"picks: dropped {len(arrays) - len(rows)} pick(s) at {len(missing)} "
                  f"station(s) missing from the station table, e.g. "
                  f"{[str(i) for i in missing[:5]]}", UserWarning, stacklevel=3)
    return arrays.take(rows)


def run_chunks(
    model: GENIE,
    picks: Any,
    stations: Any,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    overlap_s: float | None = None,
    start: Any = None,
    end: Any = None,
    n_workers: int | None = None,
    client: Any = None,
    out: str | Path | None = None,
    progress: bool = True,
    **classify_kwargs: Any,
) -> ChunkRun:
    """The chunk phase of :func:`associate_long`: every chunk associated (or read back from
    an earlier run's folder), not yet joined.

    Its :meth:`ChunkRun.blocks` gives the joined catalog a block at a time, so a run of any
    length is written in bounded memory (``seisbench-genie associate`` does so); the
    parameters are those of :func:`associate_long`.

    Returns
    -------
    ChunkRun
        The plan, the chunks' results (held in memory, or read from ``out`` when asked
        for), the per-chunk statistics and the station terms.

    Raises
    ------
    ValueError
        Naming the argument: bad chunking, no station of the picks in ``stations``, a run
        folder made with other settings.
    RuntimeError
        When a chunk fails (naming it); the finished chunks stay in ``out``.

    Examples
    --------
    >>> from seisbench_genie.synthetic import make_scenario
    >>> day = make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11)
    >>> model = GENIE.from_pretrained("crustal")  # doctest: +SKIP
    >>> run = run_chunks(model, day.picks, day.stations, chunk_s=900, n_workers=1,
    ...                  velocity_model=day.velocity_model)  # doctest: +SKIP
    >>> sum(len(events) for events, _ in run.blocks())  # doctest: +SKIP
    12
    """
    from seisbench_genie.association.params import _number, _whole
    from seisbench_genie.frame import search_frame

    t_begin = time.perf_counter()
    chunk_s = float(_whole(chunk_s, "chunk_s", minimum=1))
    if n_workers is not None:
        n_workers = _whole(n_workers, "n_workers", minimum=1)
    if client is not None and not hasattr(client, "submit"):
        raise ValueError(f"client: expected a dask.distributed.Client, got "
                         f"{type(client).__name__}")
    _check_kwargs(model, classify_kwargs)
    t0, t1 = _posix(start, "start"), _posix(end, "end")
    if not t1 > t0:
        raise ValueError(f"end: must be after start, got {start!r} .. {end!r}")

    stations = station_table(stations, "stations")
    arrays = picks if isinstance(picks, PickArrays) else PickArrays.from_table(
        pick_table(picks))
    if len(arrays) == 0:
        raise ValueError("picks: no usable pick (station, P/S phase, time)")
    arrays = _match(arrays, stations)

    velocity_model = classify_kwargs.get("velocity_model",
                                         model.default_args.get("velocity_model"))
    region = classify_kwargs.get("region")
    scale = model.scale
    positions = station_positions(pd.Series(arrays.ids[np.unique(arrays.station)],
                                            dtype=object), stations)
    used = stations.iloc[np.unique(positions[positions >= 0])].reset_index(drop=True)
    # Checks the velocity model and region once, before anything runs or is written.
    search_frame(used, velocity_model, region, scale)
    guard_s = GUARD_KERNELS * scale.kernel_s
    if overlap_s is None:
        depth = max(scale.depth_km[1], *(region or {}).get("depth_km", (0.0, 0.0)))
        overlap_s = math.ceil(longest_travel_s(scale.max_distance_km, depth, velocity_model)
                              + DETECTION_MARGIN_STEPS * scale.window_step_s + guard_s)
    overlap_s = _number(overlap_s, "overlap_s")
    if not overlap_s > guard_s:
        raise ValueError(f"overlap_s: must exceed the guard of {guard_s:g} s (4 kernel "
                         f"widths), got {overlap_s:g}")

    plan = plan_chunks(arrays.time, chunk_s, overlap_s, t0, t1)
    store = None
    if out is not None:
        store = RunStore(out, {
            "chunk_s": chunk_s, "overlap_s": overlap_s, "start": _jsonable(t0),
            "end": _jsonable(t1), "model": model_sha256(model),
            "classify": _jsonable(classify_kwargs), "picks": arrays.sha256(),
            "stations": hashlib.sha256(stations.to_csv(index=False).encode()).hexdigest()})
    done = store.finished if store is not None else {}

    spans = [arrays.span(c.start - overlap_s, c.end + overlap_s) for c in plan]
    core_picks = [int(np.subtract(*arrays.span(c.start, c.end)[::-1])) for c in plan]
    todo = [c for c in plan if c.key not in done]
    results: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    info: dict[int, dict[str, Any]] = {}
    terms: dict[int, pd.DataFrame] = {}
    for c in plan:
        if c.key in done:
            info[c.index] = {**done[c.key], "resumed": True}

    context = ChunkContext(model, stations, dict(classify_kwargs))
    workers = n_workers if n_workers is not None else default_workers()
    if client is not None:
        runner: Any = _Dask(context, client)
    elif workers > 1 and len(todo) > 1:
        runner = _Processes(context, min(workers, len(todo)))
    else:
        runner = _Serial(context)

    def finish(chunk: Chunk, res: dict[str, Any]) -> None:
        a, _ = spans[chunk.index]
        ev, asg = normalise_tables(res["events"], res["assignments"])
        asg["pick_idx"] = arrays.pick_idx[a + asg["pick_idx"].to_numpy()]
        t = ev["time"].to_numpy()
        keep = (t >= chunk.start - guard_s) & (t < chunk.end + guard_s)
        ev = ev[keep].reset_index(drop=True)
        asg = asg[asg["event_idx"].isin(ev["event_idx"])].reset_index(drop=True)
        entry = {"start": chunk.start, "end": chunk.end, "n_picks": core_picks[chunk.index],
                 "seconds": round(float(res["seconds"]), 3)}
        if store is not None:
            store.save(chunk, ev, asg, entry)
        else:
            results[chunk.index] = (ev, asg)
        info[chunk.index] = {**entry, "resumed": False}
        bar.update(core_picks[chunk.index])
        if isinstance(res.get("station_terms"), pd.DataFrame) and \
                classify_kwargs.get("station_terms") == "auto":
            terms[chunk.index] = res["station_terms"].assign(chunk=chunk.key)

    bar = tqdm(total=sum(core_picks), initial=sum(core_picks[c.index] for c in plan
                                                  if c.key in done),
               unit="pick", unit_scale=True, desc="GENIE chunks", disable=not progress,
               smoothing=0.1)
    pending: dict[Any, Chunk] = {}  # handle (hashable) -> chunk
    queue: Iterator[Chunk] = iter(todo)
    cancel = True
    try:
        for chunk in queue:
            a, b = spans[chunk.index]
            pending[runner.submit(arrays.frame(a, b))] = chunk
            while pending and (len(pending) >= QUEUED_PER_WORKER * runner.slots
                               or isinstance(runner, _Serial)):
                finished, _ = runner.wait(list(pending))
                for handle in finished:
                    _collect(runner, handle, pending.pop(handle), finish)
        while pending:
            finished, _ = runner.wait(list(pending))
            for handle in finished:
                _collect(runner, handle, pending.pop(handle), finish)
        cancel = False
    finally:
        bar.close()
        runner.close(cancel, list(pending))

    if store is not None:
        store.write_manifest(complete=True, seconds=round(time.perf_counter() - t_begin, 3))
    given = classify_kwargs.get("station_terms")
    station_terms = (pd.concat(terms.values(), ignore_index=True) if terms
                     else given if isinstance(given, pd.DataFrame) else None)
    chunks = pd.DataFrame([{"key": c.key, "start": c.start, "end": c.end,
                            "n_picks": core_picks[c.index], "n_events": 0,
                            "seconds": float(info[c.index]["seconds"]),
                            "resumed": bool(info[c.index]["resumed"])} for c in plan],
                          columns=CHUNK_COLUMNS)
    return ChunkRun(plan=plan, results=results if store is None else _StoredResults(store, plan),
                    picks=arrays, stations=stations,
                    model_name=scale.name, guard_s=guard_s, start=t0, end=t1, chunks=chunks,
                    station_terms=station_terms)


@dataclass
class ChunkRun:
    """The associated chunks of a long run (:func:`run_chunks`), before they are joined.

    Attributes
    ----------
    plan : list of Chunk
        The chunks, in time order.
    results : Mapping
        ``{chunk index: (events, assignments)}`` of each chunk (read from the run's folder
        one chunk at a time when the run has one).
    picks : PickArrays
        The run's picks (``pick_idx`` of the assignments are theirs).
    stations : pandas.DataFrame
        The station table.
    model_name : str
        Scale name of the model (recorded in QuakeML origins).
    guard_s, start, end : float
        Guard width (s) and the run's range (POSIX s).
    chunks : pandas.DataFrame
        :data:`CHUNK_COLUMNS` per chunk; ``n_events`` is 0 here (:meth:`chunk_table` counts
        them in the joined catalog).
    station_terms : pandas.DataFrame or None
        As :attr:`LongRunOutput.station_terms`.

    Examples
    --------
    >>> # see run_chunks
    """

    plan: list[Chunk]
    results: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]]
    picks: PickArrays
    stations: pd.DataFrame
    model_name: str
    guard_s: float
    start: float
    end: float
    chunks: pd.DataFrame
    station_terms: pd.DataFrame | None

    def blocks(self) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        """The joined catalog (each event once), block by block in origin-time order
        (:func:`~seisbench_genie.runs.plan.reconcile_stream`; ``pick_idx`` as in
        :attr:`picks`)."""
        arrays = self.picks
        return reconcile_stream(self.plan, self.results, self.guard_s,
                                station_of=lambda p: arrays.station[arrays.rows_of(p)],
                                start=self.start, end=self.end)

    def chunk_table(self, events: pd.DataFrame) -> pd.DataFrame:
        """:attr:`chunks` with ``n_events``: the events (of the joined catalog) whose origin
        time is in each chunk's core."""
        counts = pd.Series(_chunk_keys(self.plan, events), dtype=object).value_counts()
        return self.chunks.assign(n_events=[int(counts.get(k, 0))
                                            for k in self.chunks["key"]])


class _StoredResults(Mapping):
    """The finished chunks of a run folder as a read-only mapping, each read when asked for."""

    def __init__(self, store: RunStore, plan: list[Chunk]):
        self._store, self._plan = store, plan
        done = store.finished
        self._done = [c.index for c in plan if c.key in done]

    def __getitem__(self, index: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        if index not in self._done:
            raise KeyError(index)
        return self._store.load(self._plan[index])

    def __iter__(self) -> Iterator[int]:
        return iter(self._done)

    def __len__(self) -> int:
        return len(self._done)


def associate_long(
    model: GENIE,
    picks: Any,
    stations: Any,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    overlap_s: float | None = None,
    start: Any = None,
    end: Any = None,
    n_workers: int | None = None,
    client: Any = None,
    out: str | Path | None = None,
    progress: bool = True,
    **classify_kwargs: Any,
) -> LongRunOutput:
    """Associate picks of any duration: time chunks, all cores or a Dask cluster, resumable.

    The whole catalog is returned in memory: the tables and the associated picks' table for
    the Catalog take about 0.2 GB per million associated picks (1.0 GB for a 10M-pick run with
    5.1M associated). :func:`run_chunks` gives the catalog a block at a time instead.

    Parameters
    ----------
    model
        A :class:`~seisbench_genie.GENIE` model.
    picks
        What :meth:`GENIE.classify <seisbench_genie.GENIE.classify>` takes (a SeisBench
        ``PickList`` or a DataFrame ``station``, ``phase``, ``time``, ``probability``), or
        :class:`PickArrays`.
    stations
        ObsPy Inventory or station DataFrame (``id``, ``latitude``, ``longitude``,
        ``elevation`` in m).
    chunk_s
        Chunk length (s, whole seconds); chunks are cells of a fixed grid of POSIX time, so
        the default (21600) gives four chunks per UTC day and 86400 gives UTC days. Must
        exceed twice ``overlap_s``.
    overlap_s
        Picks this many seconds before and after each chunk's core are associated with it
        (s). Default: the longest S travel time the model can search (its largest distance
        and depth, + 10 km each, over the slowest S velocity of the 1-D model) + 4 window
        steps + the guard (4 kernel widths): 86 s for the crustal model, 230 s for the
        subduction model. Required with a travel-time backend as ``velocity_model``.
    start, end
        Only events with origin times in ``[start, end)`` (UTCDateTime, ISO 8601 or POSIX s);
        default: all.
    n_workers
        Worker processes, each single-threaded; default all cores of this machine; 1 runs
        the chunks in this process. Ignored with ``client``.
    client
        A ``dask.distributed.Client``: chunks run on its workers (``pip install
        seisbench-genie[dask]``); each worker should have one thread per process.
    out
        Folder of a resumable run: each finished chunk is written there (temporary name,
        then renamed) and recorded in ``manifest.json``; the same call again skips the
        finished chunks and gives the same result. Default: nothing is written.
    progress
        One progress bar over the picks (with an ETA).
    **classify_kwargs
        Keyword arguments of :meth:`GENIE.classify` (``velocity_model``, ``region``,
        ``station_terms``, thresholds ...), the same for every chunk. With
        ``station_terms="auto"`` the terms are estimated per chunk.

    Returns
    -------
    LongRunOutput
        ``events``, ``assignments`` (``pick_idx`` = position in ``picks``), ``catalog`` (on
        first access), ``chunks`` and ``station_terms`` (None, the given table, or with
        ``"auto"`` each chunk's estimate with a ``chunk`` column).

    Raises
    ------
    ValueError
        Naming the argument: bad chunking, no station of the picks in ``stations``, a run
        folder made with other settings.
    RuntimeError
        When a chunk fails (naming it); the finished chunks stay in ``out``.

    Examples
    --------
    >>> from seisbench_genie.synthetic import make_scenario
    >>> day = make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11)
    >>> model = GENIE.from_pretrained("crustal")  # doctest: +SKIP
    >>> out = associate_long(model, day.picks, day.stations, chunk_s=900, n_workers=2,
    ...                      velocity_model=day.velocity_model)  # doctest: +SKIP
    >>> len(out.events), len(out.chunks)  # doctest: +SKIP
    (12, 5)
    """
    run = run_chunks(model, picks, stations, chunk_s=chunk_s, overlap_s=overlap_s,
                     start=start, end=end, n_workers=n_workers, client=client, out=out,
                     progress=progress, **classify_kwargs)
    events, assignments = join_blocks(run.blocks())
    used_picks = run.picks.table(assignments["pick_idx"].to_numpy())
    return LongRunOutput(model.name, events=events, assignments=assignments,
                         chunks=run.chunk_table(events), station_terms=run.station_terms,
                         catalog_inputs=(used_picks, run.stations, run.model_name))


def _collect(runner: Any, handle: Any, chunk: Chunk, finish: Callable) -> None:
    try:
        res = runner.result(handle)
    except Exception as err:
        raise RuntimeError(f"chunk {chunk.key} ({_iso(chunk.start)} .. {_iso(chunk.end)}) "
                           f"failed: {type(err).__name__}: {err}") from err
    finish(chunk, res)


def _chunk_keys(plan: list[Chunk], events: pd.DataFrame) -> list[str]:
    """The key of the chunk whose core holds each event's origin time."""
    starts = np.array([c.start for c in plan])
    pos = np.clip(np.searchsorted(starts, events["time"].to_numpy(), side="right") - 1, 0,
                  max(len(plan) - 1, 0))
    return [plan[i].key for i in pos.tolist()] if plan else []


def _iso(t: float) -> str:
    return pd.Timestamp(round(t * 1e6), unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["associate_long", "run_chunks", "ChunkRun", "LongRunOutput", "PickArrays", "RunStore", "ChunkContext",
           "associate_chunk", "atomic_write", "default_workers", "model_sha256",
           "EVENT_COLUMNS", "ASSIGNMENT_COLUMNS"]
