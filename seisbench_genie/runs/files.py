"""Files of ``seisbench-genie associate``: pick, station, velocity-model and station-term
files in; per-day and merged QuakeML and CSV tables out.

Pick files are CSV (optionally compressed: ``.csv.gz``, ``.csv.bz2``, ...) or Parquet
(``.parquet``, ``.pq``; needs ``pyarrow``) tables with the columns

============================== ===============================================================
column                         meaning
============================== ===============================================================
``station`` (or ``trace_id``)  station id ``NET.STA.LOC`` (``NET.STA`` and
                               ``NET.STA.LOC.CHA`` are matched too)
``phase``                      P or S (Pg, Pn, Sg, Sn, p, s ... accepted)
``time`` (or ``peak_time``)    ISO 8601 (UTC unless a zone is given) or POSIX seconds
``probability`` (optional;     picker probability, 0-1
or ``peak_value``)
============================== ===============================================================

SeisBench has no pick file format of its own; its documented export,
``picklist.to_dataframe().to_csv("picks.csv")``, gives such a table (``station``, ``time``,
``probability``, ``phase`` and more columns, which are ignored).

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "p.csv").write_text("station,phase,time\\nCI.CCC.,P,2019-07-04T00:00:06Z\\n")
>>> arrays = read_pick_files([folder / "p.csv"])
>>> arrays.time.tolist(), arrays.ids.tolist()
([1562198406.0], ['CI.CCC.'])
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import re
import signal
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.runs.engine import (
    QUEUED_PER_WORKER,
    PickArrays,
    _end_with_parent,
    atomic_write,
    shut_down,
)
from seisbench_genie.runs.plan import normalise_tables
from seisbench_genie.schema import ASSIGNMENT_COLUMNS, EVENT_COLUMNS

#: Accepted names of each pick column, in order of preference.
PICK_COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "station": ("station", "trace_id", "station_id"),
    "phase": ("phase",),
    "time": ("time", "peak_time"),
    "probability": ("probability", "peak_value"),
}
#: Rows read from a CSV pick file at a time. Parsing and checking a block of 1M rows took
#: about 0.8 GB; with 250k rows, reading a 10M-pick file peaked at 1.6 GB instead of 2.1 GB
#: (measured with ``resource`` on the 10M-pick file of ``docs/reliability.md``), at the same
#: speed. Each block is compacted to ``PickArrays`` (29 bytes per pick) before the next.
READ_BLOCK_ROWS = 250_000
#: File name suffixes read as Parquet.
PARQUET_SUFFIXES = (".parquet", ".pq")
#: File name suffixes read as StationXML (anything else is tried as StationXML, then CSV).
STATIONXML_SUFFIXES = (".xml", ".stationxml", ".sxml")


class InputFileError(ValueError):
    """An input file is unusable; the message names the file (and line) and the problem.

    Examples
    --------
    >>> str(InputFileError("picks file p.csv, line 3: time 'x' is not a time"))
    "picks file p.csv, line 3: time 'x' is not a time"
    """


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _columns(path: Path, present: Sequence[str]) -> dict[str, str]:
    """``{role: column}`` of a pick file; an error naming the file when one is missing."""
    stripped = {str(c).strip(): c for c in present}
    found = {}
    for role, names in PICK_COLUMN_NAMES.items():
        name = next((n for n in names if n in stripped), None)
        if name is None and role != "probability":
            raise InputFileError(
                f"picks file {path}: no {role} column (one of {list(names)}); it has "
                f"{[str(c) for c in present][:12]}")
        if name is not None:
            found[role] = stripped[name]
    return found


def _blocks(path: Path) -> Any:
    """The file's rows in blocks (DataFrames of str, ``line`` = file line of each row)."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        try:
            table = pd.read_parquet(path)
        except ImportError:
            raise InputFileError(f"picks file {path}: reading Parquet needs pyarrow (pip install "
                                 "seisbench-genie[parquet]), or give a CSV file") from None
        except Exception as err:
            raise InputFileError(f"picks file {path}: cannot be read as Parquet "
                                 f"({type(err).__name__}: {err})") from None
        cols = _columns(path, list(table.columns))
        block = pd.DataFrame({role: table[col] for role, col in cols.items()})
        block["line"] = np.arange(1, len(table) + 1)  # Parquet: row numbers
        yield block, "row"
        return
    try:
        header = pd.read_csv(path, nrows=0)
        cols = _columns(path, list(header.columns))
        # All columns are read (not usecols): a row with more fields than the header is an
        # error naming its line, not silently cut.
        with pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False,
                         chunksize=READ_BLOCK_ROWS) as reader:
            first_line = 2
            for raw in reader:
                block = pd.DataFrame({role: raw[col].to_numpy(dtype=object)
                                      for role, col in cols.items()})
                block["line"] = np.arange(first_line, first_line + len(raw))
                first_line += len(raw)
                yield block, "line"
    except InputFileError:
        raise
    except pd.errors.EmptyDataError:
        raise InputFileError(f"picks file {path}: empty (no header line)") from None
    except UnicodeDecodeError as err:
        raise InputFileError(f"picks file {path}: not a text (CSV) file: byte {err.start} "
                             "is not UTF-8") from None
    except (pd.errors.ParserError, ValueError, OSError) as err:
        # pandas names the line ("Expected 3 fields in line 7, saw 4") or the row counted
        # from the header as row 0 ("EOF inside string starting at row 3": line 4)
        message = re.sub(r"starting at row (\d+)",
                         lambda m: f"starting at line {int(m.group(1)) + 1}", str(err).strip())
        raise InputFileError(f"picks file {path}: cannot be parsed as CSV: {message}") from None


def read_pick_file(path: str | Path, first_pick: int = 0) -> PickArrays:
    """Read one pick file (module docstring) into :class:`PickArrays`.

    Parameters
    ----------
    path
        CSV or Parquet file.
    first_pick
        Number of the file's first data row (``pick_idx`` counts rows over all files).

    Returns
    -------
    PickArrays
        ``pick_idx`` = ``first_pick`` + data row (blank lines count as rows). Rows with an
        unknown phase label or no station are dropped with one warning each, as by
        :func:`~seisbench_genie.picks.pick_table`.

    Raises
    ------
    InputFileError
        For a missing file, a file that does not parse (naming the line), a missing column,
        or a time or probability that is not one (naming the line and the value).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = p.write_text("station,phase,time\\nCI.CCC.,P,12.5\\nCI.CCC.,P,nope\\n")
    >>> read_pick_file(p)
    Traceback (most recent call last):
    ...
    seisbench_genie.runs.files.InputFileError: picks file ...p.csv, line 3: time 'nope' is not a time (ISO 8601 or POSIX seconds)
    """
    from seisbench_genie.picks import pick_table, times_to_posix

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"picks file {path} does not exist")
    parts = []
    n_rows = 0
    for block, unit in _blocks(path):
        n_rows += len(block)
        text = {role: block[role].astype("string").str.strip().fillna("")
                for role in ("station", "phase", "time") if role in block}
        blank = (text["station"] == "") & (text["phase"] == "") & (text["time"] == "")
        time = times_to_posix(block["time"])
        bad = ~np.isfinite(time) & ~blank.to_numpy(bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                f"picks file {path}, {unit} {int(block['line'].iloc[i])}: time "
                f"{block['time'].iloc[i]!r} is not a time (ISO 8601 or POSIX seconds)"
                + (f"; {int(bad.sum())} such rows" if bad.sum() > 1 else ""))
        if "probability" in block:
            prob_text = block["probability"].astype("string").str.strip().fillna("")
            prob = pd.to_numeric(prob_text.replace("", np.nan), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
            bad = np.isnan(prob) & (prob_text != "").to_numpy(bool)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputFileError(
                    f"picks file {path}, {unit} {int(block['line'].iloc[i])}: probability "
                    f"{block['probability'].iloc[i]!r} is not a number")
        else:
            prob = np.full(len(block), np.nan)
        keep = ~blank.to_numpy(bool)
        frame = pd.DataFrame({"station": block["station"].to_numpy(dtype=object)[keep],
                              "phase": block["phase"].to_numpy(dtype=object)[keep],
                              "time": time[keep], "probability": prob[keep]})
        table = pick_table(frame, argument=f"picks file {path}")
        offset = first_pick + int(block["line"].iloc[0]) - (2 if unit == "line" else 1)
        rows = np.flatnonzero(keep)
        table["pick_idx"] = offset + rows[table["pick_idx"].to_numpy()]
        # Compact at once: a block's text columns are freed before the next block is read,
        # so reading holds about 29 bytes per pick plus one block, whatever the file's length.
        parts.append(PickArrays.from_table(table))
    if sum(len(p) for p in parts) == 0:
        raise InputFileError(f"picks file {path}: no usable pick (station, P/S phase, time) "
                             f"in {n_rows} row(s)")
    arrays = parts[0] if len(parts) == 1 else PickArrays.concat(parts)
    arrays.n_rows = n_rows  # type: ignore[attr-defined]
    return arrays


def read_pick_files(paths: Sequence[str | Path]) -> PickArrays:
    """Read pick files into one :class:`PickArrays` (``pick_idx`` counts rows over the files
    in the order given); exact duplicates across files are dropped with a warning.

    Examples
    --------
    >>> # see the module docstring
    """
    if not paths:
        raise InputFileError("picks: no pick file given")
    parts, first = [], 0
    for path in paths:
        arrays = read_pick_file(path, first_pick=first)
        first += arrays.n_rows  # type: ignore[attr-defined]
        parts.append(arrays)
    if len(parts) == 1:
        return parts[0]
    arrays = PickArrays.concat(parts)
    # Exact duplicates (same station, phase and time): the first in file order is kept.
    order = np.lexsort((arrays.pick_idx, arrays.time, arrays.phase, arrays.station))
    same = ((np.diff(arrays.station[order]) == 0) & (np.diff(arrays.phase[order]) == 0)
            & (np.diff(arrays.time[order]) == 0))
    dup = np.zeros(len(arrays), dtype=bool)
    dup[order[1:][same]] = True
    if dup.any():
        warnings.warn(f"picks: dropped {int(dup.sum())} pick(s) given in two files (same "
                      "station, phase and time; the first was kept)", UserWarning,
                      stacklevel=2)
        arrays = arrays.take(np.flatnonzero(~dup))
    return arrays


def read_station_file(path: str | Path) -> pd.DataFrame:
    """Read stations from StationXML or a CSV table (``id``, ``latitude``, ``longitude``,
    ``elevation`` in m).

    Returns
    -------
    pandas.DataFrame
        A station table (:func:`~seisbench_genie.stations.station_table`).

    Raises
    ------
    InputFileError
        Naming the file: missing, unreadable as StationXML and CSV, or invalid stations.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "st.csv"
    >>> _ = p.write_text("id,latitude,longitude,elevation\\nCI.CCC.,35.52,-117.36,670\\n")
    >>> read_station_file(p)["id"].tolist()
    ['CI.CCC.']
    """
    import obspy

    from seisbench_genie.stations import station_table

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"stations file {path} does not exist")
    source: Any = None
    xml_error = None
    if path.suffix.lower() not in (".csv", ".txt", ".gz"):
        try:
            source = obspy.read_inventory(str(path))
        except Exception as err:  # ObsPy raises many kinds for a file it cannot read
            xml_error = f"{type(err).__name__}: {err}"
            if path.suffix.lower() in STATIONXML_SUFFIXES:
                raise InputFileError(f"stations file {path}: cannot be read as StationXML "
                                     f"({xml_error})") from None
    if source is None:
        try:
            source = pd.read_csv(path, dtype={"id": str})
        except Exception as err:
            raise InputFileError(
                f"stations file {path}: neither StationXML ({xml_error}) nor a CSV table "
                f"({type(err).__name__}: {err})" if xml_error else
                f"stations file {path}: cannot be read as CSV ({err})") from None
        source.columns = [str(c).strip() for c in source.columns]
    try:
        table = station_table(source, argument=f"stations file {path}")
    except ValueError as err:
        raise InputFileError(str(err)) from None
    if len(table) == 0:
        raise InputFileError(f"stations file {path}: no stations")
    return table


def read_table_file(path: str | Path, what: str, required: Sequence[str]) -> pd.DataFrame:
    """Read a small CSV table (velocity model, station terms), naming ``what`` in errors.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "vm.csv"
    >>> _ = p.write_text("depth_km,vp,vs\\n0,5.5,3.2\\n")
    >>> read_table_file(p, "velocity model", ["depth_km", "vp", "vs"])["vp"].tolist()
    [5.5]
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file {path} does not exist")
    try:
        table = pd.read_csv(path)
    except Exception as err:
        raise InputFileError(f"{what} file {path}: cannot be read as CSV ({err})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputFileError(f"{what} file {path}: missing column(s) {missing}; it has "
                             f"{list(table.columns)}")
    if len(table) == 0:
        raise InputFileError(f"{what} file {path}: no rows")
    return table


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def _iso(posix_s: np.ndarray) -> np.ndarray:
    micro = np.round(np.asarray(posix_s, dtype=float) * 1e6).astype(np.int64)
    return np.asarray(pd.to_datetime(micro, unit="us", utc=True).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"), dtype=object)


def event_csv_table(events: pd.DataFrame) -> pd.DataFrame:
    """The events as written to ``events.csv``: ``time`` as ISO 8601 UTC, ``time_s`` POSIX.

    Examples
    --------
    >>> event_csv_table(pd.DataFrame({"event_idx": [0], "time": [0.5]}))["time"].tolist()
    ['1970-01-01T00:00:00.500000Z']
    """
    out = events.copy()
    out.insert(out.columns.get_loc("time") + 1, "time_s", out["time"])
    out["time"] = _iso(out["time"].to_numpy())
    return out


def assignment_csv_table(assignments: pd.DataFrame, picks: PickArrays) -> pd.DataFrame:
    """The assignments as written to ``assignments.csv``: with each pick's ``station``,
    ``time`` (ISO 8601 UTC), ``time_s`` (POSIX) and ``pick_probability``.

    Examples
    --------
    >>> # written by write_outputs
    """
    return _assignment_csv(assignments, picks.table(assignments["pick_idx"].to_numpy()))


def _assignment_csv(assignments: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """:func:`assignment_csv_table` from the picks' table (row by row with ``assignments``)."""
    return pd.DataFrame({
        "pick_idx": assignments["pick_idx"].to_numpy(),
        "event_idx": assignments["event_idx"].to_numpy(),
        "station": table["station"].to_numpy(), "phase": assignments["phase"].to_numpy(),
        "time": _iso(table["time"].to_numpy()), "time_s": table["time"].to_numpy(),
        "probability": assignments["probability"].to_numpy(),
        "residual_s": assignments["residual_s"].to_numpy(),
        "pick_probability": table["probability"].to_numpy()})


#: The files of each day, in the order written.
DAY_FILES = ("catalog.xml", "events.csv", "assignments.csv")


def write_day(folder: Path, events: pd.DataFrame, assignments: pd.DataFrame,
              table: pd.DataFrame, stations: pd.DataFrame, model_name: str,
              id_prefix: str) -> list[Path]:
    """Write one day's :data:`DAY_FILES` into ``folder`` (each atomically); ``table`` holds
    the picks of ``assignments``, row by row.

    Examples
    --------
    >>> # called by write_outputs, in this process or in writer processes
    """
    from seisbench_genie.catalog import NSMAP, build_catalog

    catalog = build_catalog(events, assignments, table, stations, model_name=model_name,
                            id_prefix=id_prefix)
    return [atomic_write(folder / "catalog.xml", lambda tmp: catalog.write(
                str(tmp), format="QUAKEML", nsmap=NSMAP)),
            atomic_write(folder / "events.csv", lambda tmp: event_csv_table(events).to_csv(
                tmp, index=False)),
            atomic_write(folder / "assignments.csv", lambda tmp: _assignment_csv(
                assignments, table).to_csv(tmp, index=False))]


def _init_writer(parent_pid: int) -> None:
    """Writer process set-up: ends with the main process; Ctrl-C is left to the main one."""
    _end_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _DayWriter:
    """Writes days in this process (``n_workers`` 1) or in ``n_workers`` spawned processes,
    at most :data:`~seisbench_genie.runs.engine.QUEUED_PER_WORKER` days each ahead (so the
    main process holds a few days of catalog); :meth:`files` in day order."""

    def __init__(self, n_workers: int):
        self.pool = None if n_workers <= 1 else cf.ProcessPoolExecutor(
            max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_writer, initargs=(os.getpid(),))
        self.limit = QUEUED_PER_WORKER * max(n_workers, 1)
        self.days: list[Any] = []  # paths, or futures of them

    def submit(self, *args: Any) -> None:
        if self.pool is None:
            self.days.append(write_day(*args))
            return
        self.days.append(self.pool.submit(write_day, *args))
        running = [d for d in self.days if isinstance(d, cf.Future) and not d.done()]
        if len(running) >= self.limit:
            cf.wait(running, return_when=cf.FIRST_COMPLETED)

    def files(self) -> list[list[Path]]:
        return [d.result() if isinstance(d, cf.Future) else d for d in self.days]

    def close(self, failed: bool) -> None:
        if self.pool is not None:
            shut_down(self.pool, failed)


@dataclass
class WrittenCatalog:
    """What :func:`write_outputs` wrote.

    Attributes
    ----------
    files : list of pathlib.Path
        The files written.
    n_events, n_assignments : int
        Events and associated picks of the whole run.
    """

    files: list[Path]
    n_events: int
    n_assignments: int


def write_outputs(out: str | Path, blocks: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
                  picks: PickArrays, stations: pd.DataFrame, model_name: str, run_id: str,
                  n_workers: int = 1) -> WrittenCatalog:
    """Write a run's catalog: per UTC day and merged, QuakeML and CSV tables, in bounded memory.

    ``days/YYYY-MM-DD/{catalog.xml,events.csv,assignments.csv}`` for each day with events,
    and ``catalog.xml``, ``events.csv``, ``assignments.csv`` of the whole run. The catalog
    comes in time-ordered blocks (:meth:`ChunkRun.blocks
    <seisbench_genie.runs.engine.ChunkRun.blocks>`); each day is written as soon as a later
    block begins after it, and the merged files are stitched from the days' files, so memory
    stays that of a day or two whatever the run's length. Every file is written to a temporary
    name, then renamed.

    Parameters
    ----------
    out
        Output folder.
    blocks
        ``(events, assignments)`` blocks of the run's catalog, in origin-time order
        (``event_idx`` counting on across blocks).
    picks
        The run's picks.
    stations
        Station table.
    model_name
        Name of the model (recorded in the QuakeML origins).
    run_id
        Part of every QuakeML resource id (``smi:seisbench_genie/<run_id>/...``).
    n_workers
        Processes that write days side by side (each day's QuakeML takes a few seconds for
        a few hundred events); 1 writes them in this process. The files are the same.

    Returns
    -------
    WrittenCatalog

    Examples
    --------
    >>> # see seisbench_genie.runs.cli
    """
    out = Path(out)
    prefix = f"smi:seisbench_genie/{run_id}"
    held_ev: list[pd.DataFrame] = []
    held_asg: list[pd.DataFrame] = []
    n_events = n_assignments = 0
    writer = _DayWriter(n_workers)

    def write_days(before_day: float) -> None:
        """Write the held events of days before ``before_day`` (days since 1970-01-01)."""
        ev = pd.concat(held_ev, ignore_index=True)
        asg = pd.concat(held_asg, ignore_index=True)
        day = np.floor(ev["time"].to_numpy() / 86400.0)
        asg_day = pd.Series(day, index=ev["event_idx"].to_numpy()).reindex(
            asg["event_idx"].to_numpy()).to_numpy()
        for d in np.unique(day[day < before_day]).tolist():
            name = pd.Timestamp(int(d) * 86400, unit="s", tz="UTC").strftime("%Y-%m-%d")
            asg_d = asg[asg_day == d]
            writer.submit(out / "days" / name, ev[day == d], asg_d,
                          picks.table(asg_d["pick_idx"].to_numpy()), stations, model_name,
                          f"{prefix}/{name}")
        later = day >= before_day
        held_ev[:] = [ev[later]]
        held_asg[:] = [asg[asg_day >= before_day]]

    failed = True
    try:
        for block in blocks:
            ev, asg = normalise_tables(*block)
            n_events += len(ev)
            n_assignments += len(asg)
            if len(ev) == 0:
                continue
            held_ev.append(ev)
            held_asg.append(asg)
            # Blocks come in time order: the days before this block's last event are done.
            write_days(math.floor(float(ev["time"].max()) / 86400.0))
        if held_ev:
            write_days(math.inf)
        days = writer.files()
        failed = False
    finally:
        writer.close(failed)
    written = [f for files in days for f in files]
    parts = {name: [files[k] for files in days] for k, name in enumerate(DAY_FILES)}
    empty_events, empty_assignments = normalise_tables(
        pd.DataFrame(columns=EVENT_COLUMNS), pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    headers = {"events.csv": event_csv_table(empty_events).to_csv(index=False),
               "assignments.csv": assignment_csv_table(empty_assignments, picks).to_csv(
                   index=False)}
    for file, header in headers.items():
        written.append(atomic_write(out / file, lambda tmp, file=file, header=header:
                                    _stitch_csv(tmp, parts[file], header)))
    written.append(atomic_write(out / "catalog.xml", lambda tmp: _stitch_quakeml(
        tmp, parts["catalog.xml"], f"{prefix}/all", model_name)))
    return WrittenCatalog(written, n_events, n_assignments)


def _stitch_csv(target: Path, parts: Sequence[Path], header: str) -> None:
    """One CSV file: ``header`` (a header line), then the rows of each of ``parts`` (CSV files
    with that header), streamed one file at a time."""
    with open(target, "w", encoding="utf-8", newline="") as f:
        f.write(header)
        for part in parts:
            with open(part, encoding="utf-8", newline="") as rows:
                if rows.readline() != header:
                    raise ValueError(f"{part}: its columns differ from those of the run's "
                                     "other tables")
                for block in iter(lambda rows=rows: rows.read(1 << 20), ""):
                    f.write(block)


def _stitch_quakeml(target: Path, parts: Sequence[Path], prefix: str, model_name: str) -> None:
    """One QuakeML file holding the ``<event>`` elements of ``parts`` (each an ObsPy-written
    QuakeML file), streamed one file at a time."""
    import io

    from seisbench_genie.catalog import NSMAP, build_catalog

    empty = build_catalog(pd.DataFrame(columns=["event_idx", "time", "latitude", "longitude",
                                                "depth_km"]),
                          pd.DataFrame(columns=["pick_idx", "event_idx"]),
                          pd.DataFrame(columns=["pick_idx", "station", "phase", "time"]),
                          pd.DataFrame(columns=["id", "latitude", "longitude"]),
                          model_name=model_name, id_prefix=prefix)
    buf = io.BytesIO()
    empty.write(buf, format="QUAKEML", nsmap=NSMAP)
    head, close, tail = buf.getvalue().decode("utf-8").rpartition("</eventParameters>")
    with open(target, "w", encoding="utf-8") as f:
        f.write(head.rstrip() + "\n")
        for part in parts:
            text = part.read_text(encoding="utf-8")
            a, b = text.find("<event "), text.rfind("</eventParameters>")
            if a >= 0:
                f.write("    " + text[a:b].rstrip() + "\n")
        f.write("  " + close + tail)


def write_summary(out: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``summary.json`` (the numbers printed at the end of a run).

    Examples
    --------
    >>> import tempfile
    >>> write_summary(Path(tempfile.mkdtemp()), {"events": 3}).name
    'summary.json'
    """
    return atomic_write(Path(out) / "summary.json",
                        lambda tmp: tmp.write_text(json.dumps(summary, indent=1) + "\n"))
