"""Pick tables: the one pick format every layer of seisbench-genie reads.

A pick table is a :class:`pandas.DataFrame` with the columns

=============== ======= ==============================================================
column          dtype   meaning
=============== ======= ==============================================================
``pick_idx``    int64   position of the pick in the caller's input (list or DataFrame)
``station``     str     station id ``"NET.STA.LOC"`` (SeisBench ``trace_id`` convention)
``phase``       str     ``"P"`` or ``"S"``
``time``        float64 pick time, POSIX seconds (UTC)
``probability`` float64 picker probability (1.0 when unknown)
=============== ======= ==============================================================

sorted by ``time``. :func:`pick_table` builds one from SeisBench picks or a DataFrame, and
:func:`match_stations` joins it to a station table (see :mod:`seisbench_genie.stations`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

PICK_COLUMNS = ["pick_idx", "station", "phase", "time", "probability"]
"""Columns of a pick table, in order."""

PHASE_ALIASES: dict[str, str] = {
    **dict.fromkeys(["P", "p", "Pg", "Pn", "Pb", "P1"], "P"),
    **dict.fromkeys(["S", "s", "Sg", "Sn", "Sb", "S1"], "S"),
}
"""Phase labels accepted on input and the GENIE phase they map to."""

_EPOCH = pd.Timestamp(0, tz="UTC")
_ONE_SECOND = pd.Timedelta(1, "s")


def _empty_pick_table() -> pd.DataFrame:
    return _assemble(
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=object),
        np.zeros(0, dtype=object),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float64),
    )


def _assemble(
    pick_idx: np.ndarray,
    station: np.ndarray,
    phase: np.ndarray,
    time: np.ndarray,
    probability: np.ndarray,
) -> pd.DataFrame:
    """Build a pick table with the canonical column order and dtypes."""
    return pd.DataFrame(
        {
            "pick_idx": pd.Series(pick_idx, dtype=np.int64),
            "station": pd.Series(station, dtype=object).astype(str),
            "phase": pd.Series(phase, dtype=object).astype(str),
            "time": pd.Series(time, dtype=np.float64),
            "probability": pd.Series(probability, dtype=np.float64),
        }
    )


def _datetime_to_posix(values: pd.Series) -> np.ndarray:
    """datetime64 (tz-naive = UTC, or tz-aware) -> POSIX seconds, NaT -> NaN."""
    if values.dt.tz is None:
        values = values.dt.tz_localize("UTC")
    else:
        values = values.dt.tz_convert("UTC")
    return ((values - _EPOCH) / _ONE_SECOND).to_numpy(dtype=np.float64, na_value=np.nan)


def times_to_posix(values: Any) -> np.ndarray:
    """Convert pick times to POSIX seconds (float64, UTC).

    Parameters
    ----------
    values
        Array-like of times: :class:`obspy.UTCDateTime`, :class:`datetime.datetime`,
        :class:`pandas.Timestamp` / ``datetime64`` (tz-naive values are taken as UTC),
        ISO 8601 strings, or POSIX seconds (numbers or numeric strings). Types may be mixed.

    Returns
    -------
    numpy.ndarray
        float64 POSIX seconds; ``NaN`` where a value is missing or cannot be parsed.

    Examples
    --------
    >>> from obspy import UTCDateTime
    >>> times_to_posix([UTCDateTime(10.5), "1970-01-01T00:00:01Z", 2.0, "garbage"]).tolist()
    [10.5, 1.0, 2.0, nan]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.reset_index(drop=True)
    if len(series) == 0:
        return np.zeros(0, dtype=np.float64)
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _datetime_to_posix(series)

    obj = series.astype(object)
    out = np.full(len(obj), np.nan)
    kinds = obj.map(type)
    types = list(pd.unique(kinds))

    def of_kind(test: Any) -> np.ndarray:
        return kinds.isin([k for k in types if test(k)]).to_numpy(bool)

    # obspy.UTCDateTime and anything else exposing a POSIX ``timestamp`` property
    utc = of_kind(lambda k: isinstance(getattr(k, "timestamp", None), property))
    if utc.any():
        out[utc] = obj[utc].map(attrgetter("timestamp")).to_numpy(dtype=np.float64)

    numbers = of_kind(
        lambda k: (
            issubclass(k, (int, float, np.integer, np.floating))
            and not issubclass(k, (bool, np.bool_))
        )
    )
    if numbers.any():
        out[numbers] = obj[numbers].to_numpy(dtype=np.float64)

    strings = of_kind(lambda k: issubclass(k, str))
    if strings.any():
        text = obj[strings].astype(str).str.strip()
        numeric = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        stamp = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        out[strings] = np.where(np.isnan(numeric), _datetime_to_posix(stamp), numeric)

    rest = ~(utc | numbers | strings) & obj.notna().to_numpy(bool)
    if rest.any():  # datetime.datetime, pandas.Timestamp, numpy.datetime64, date
        stamp = pd.to_datetime(obj[rest], utc=True, errors="coerce")
        out[rest] = _datetime_to_posix(stamp)
    return out


def _from_pick_objects(picks: list[Any], argument: str) -> pd.DataFrame:
    try:
        station = [p.trace_id for p in picks]
        phase = [p.phase for p in picks]
        time = [p.peak_time if p.peak_time is not None else p.start_time for p in picks]
        probability = [p.peak_value for p in picks]
    except AttributeError as err:
        bad = next(
            i
            for i, p in enumerate(picks)
            if not all(hasattr(p, a) for a in ("trace_id", "phase", "peak_time", "start_time"))
        )
        raise ValueError(
            f"{argument}: element {bad} is a {type(picks[bad]).__name__}, not a "
            f"seisbench.util.Pick (needs trace_id, phase, peak_time/start_time, peak_value)"
        ) from err
    return pd.DataFrame(
        {
            "station": pd.Series(station, dtype=object),
            "phase": pd.Series(phase, dtype=object),
            "time": pd.Series(time, dtype=object),
            "probability": pd.Series(probability, dtype=object),
        }
    )


def _label(x: Any) -> str:
    if isinstance(x, str):
        return repr(x)
    return "<missing>" if x is None or (pd.api.types.is_scalar(x) and pd.isna(x)) else repr(x)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def pick_table(picks: Any, argument: str = "picks") -> pd.DataFrame:
    """Normalise picks to a validated, time-sorted pick table.

    Parameters
    ----------
    picks
        Either a SeisBench :class:`~seisbench.util.PickList` (or any list / iterable of
        :class:`~seisbench.util.Pick`; ``trace_id``, ``peak_time`` (``start_time`` when
        ``peak_time`` is None), ``peak_value`` and ``phase`` are used), or a
        :class:`pandas.DataFrame` with the columns ``station`` (``"NET.STA.LOC"``), ``phase``,
        ``time`` and optionally ``probability`` (e.g. ``PickList.to_dataframe()``). ``time`` may
        hold :class:`obspy.UTCDateTime` objects, ``datetime64`` / :class:`pandas.Timestamp`
        values (tz-naive = UTC), ISO 8601 strings or POSIX seconds.
    argument
        Name of the argument being checked, used in error and warning messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``pick_idx`` (int64, position in ``picks``), ``station`` (str), ``phase``
        (``"P"``/``"S"``), ``time`` (float64 POSIX seconds, UTC) and ``probability``
        (float64; 1.0 when absent or None), sorted by ``time`` with a fresh RangeIndex.
        Phase labels ``P, p, Pg, Pn, Pb, P1`` map to ``"P"`` and ``S, s, Sg, Sn, Sb, S1`` to
        ``"S"``.

    Raises
    ------
    ValueError
        When ``picks`` is neither a DataFrame nor an iterable of picks, or a required column
        is missing.

    Warns
    -----
    UserWarning
        Once per kind of dropped pick: unknown phase labels, missing station ids, missing or
        unparseable / non-finite times, exact duplicates (same station, phase and time; the
        first is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"station": ["CX.PB01.", "CX.PB02."], "phase": ["Sg", "P"],
    ...                    "time": ["2020-01-01T00:00:05Z", "2020-01-01T00:00:02Z"]})
    >>> pick_table(df)[["pick_idx", "phase", "time"]].values.tolist()
    [[1, 'P', 1577836802.0], [0, 'S', 1577836805.0]]
    """
    if isinstance(picks, pd.DataFrame):
        if len(picks) == 0 and len(picks.columns) == 0:
            return _empty_pick_table()
        missing = [c for c in ("station", "phase", "time") if c not in picks.columns]
        if missing:
            raise ValueError(
                f"{argument}: missing column(s) {missing}; a pick DataFrame needs 'station', "
                f"'phase', 'time' and optionally 'probability' (got {list(picks.columns)})"
            )
        raw = pd.DataFrame(
            {
                "station": picks["station"].to_numpy(dtype=object),
                "phase": picks["phase"].to_numpy(dtype=object),
                "time": picks["time"].reset_index(drop=True),
                "probability": (
                    picks["probability"].to_numpy(dtype=object)
                    if "probability" in picks.columns
                    else np.full(len(picks), None, dtype=object)
                ),
            }
        )
    elif isinstance(picks, (str, bytes, dict)) or not isinstance(picks, Iterable):
        raise ValueError(
            f"{argument}: expected a SeisBench PickList / list of seisbench.util.Pick or a "
            f"pandas DataFrame with columns station, phase, time[, probability]; got "
            f"{type(picks).__name__}"
        )
    else:
        raw = _from_pick_objects(list(picks), argument)

    n = len(raw)
    if n == 0:
        return _empty_pick_table()

    pick_idx = np.arange(n, dtype=np.int64)
    keep = np.ones(n, dtype=bool)

    labels = raw["phase"]
    # Labels are compared without surrounding whitespace ("p " from fixed-width files is "p").
    phase = labels.map(lambda x: PHASE_ALIASES.get(x.strip()) if isinstance(x, str) else None)
    bad_phase = phase.isna().to_numpy(bool)
    if bad_phase.any():
        names = sorted({_label(x) for x in pd.unique(labels[bad_phase].to_numpy(dtype=object))})
        _warn(
            f"{argument}: dropped {int(bad_phase.sum())} pick(s) with unsupported phase "
            f"label(s) {', '.join(names)}; accepted: {sorted(PHASE_ALIASES)}"
        )
        keep &= ~bad_phase

    station = raw["station"]
    blank = station.isna() | (station.astype(str).str.strip() == "")
    bad_station = blank.to_numpy(bool) & keep
    if bad_station.any():
        _warn(f"{argument}: dropped {int(bad_station.sum())} pick(s) without a station id")
        keep &= ~bad_station

    time = times_to_posix(raw["time"])
    bad_time = ~np.isfinite(time) & keep
    if bad_time.any():
        _warn(
            f"{argument}: dropped {int(bad_time.sum())} pick(s) with a missing, unparseable "
            f"or non-finite time"
        )
        keep &= ~bad_time

    probability = pd.to_numeric(raw["probability"], errors="coerce").to_numpy(dtype=np.float64)
    probability = np.where(np.isnan(probability), 1.0, probability)

    table = _assemble(
        pick_idx[keep],
        station.to_numpy(dtype=object)[keep],
        phase.to_numpy(dtype=object)[keep],
        time[keep],
        probability[keep],
    )
    duplicated = table.duplicated(subset=["station", "phase", "time"], keep="first")
    if duplicated.any():
        _warn(
            f"{argument}: dropped {int(duplicated.sum())} exact duplicate pick(s) "
            f"(same station, phase and time; the first was kept)"
        )
        table = table[~duplicated.to_numpy()]
    table = table.sort_values(["time", "pick_idx"], kind="stable")
    return table.reset_index(drop=True)


#: Pick times (POSIX s, UTC) taken as plausible: 1900-01-01 to 2200-01-01. Digital seismic
#: recording and relative times (seconds from 0) lie well inside; milliseconds passed as
#: seconds land near year 55,000 (1.7e12 s) and microseconds further still.
PLAUSIBLE_TIME_S = (-2208988800.0, 7258118400.0)
#: A group of picks separated from every other pick by more than this (s, one day) shares no
#: event with them: the largest travel time GENIE searches (S at the subduction model's
#: ~1000 km) is a few minutes.
ISOLATION_GAP_S = 86400.0


def stray_picks(time_s: Any, min_picks: int) -> tuple[np.ndarray, np.ndarray]:
    """Picks far outside the bulk of the input, which no event can hold.

    Two rules: (1) a time outside :data:`PLAUSIBLE_TIME_S` (1900-2200 UTC; e.g. 1e12 s,
    milliseconds passed as seconds, or a corrupt timestamp); (2) among the other picks, a
    group of fewer than ``min_picks`` picks separated from every other pick by gaps longer
    than :data:`ISOLATION_GAP_S` (a day): an event needs ``min_picks`` picks within a few
    minutes, so such a group holds none, while leaving it in would stretch the window grid
    over the whole gap.

    Parameters
    ----------
    time_s
        Pick times, POSIX s (float64, finite).
    min_picks
        The association's minimum number of picks per event.

    Returns
    -------
    implausible, isolated : numpy.ndarray
        Boolean masks (one value per pick) for rules (1) and (2); disjoint.

    Examples
    --------
    >>> t = [1e9 + k for k in range(12)] + [1e9 + 5 * 86400.0, 1e12]
    >>> implausible, isolated = stray_picks(t, min_picks=10)
    >>> implausible.nonzero()[0].tolist(), isolated.nonzero()[0].tolist()
    ([13], [12])
    """
    t = np.asarray(time_s, dtype=np.float64)
    implausible = ~((t >= PLAUSIBLE_TIME_S[0]) & (t < PLAUSIBLE_TIME_S[1]))
    isolated = np.zeros(len(t), dtype=bool)
    rows = np.flatnonzero(~implausible)
    if len(rows) > 1:
        order = rows[np.argsort(t[rows], kind="stable")]
        group = np.concatenate([[0], np.cumsum(np.diff(t[order]) > ISOLATION_GAP_S)])
        size = np.bincount(group)
        if len(size) > 1:  # a single group is the bulk, whatever its size
            isolated[order] = size[group] < min_picks
    return implausible, isolated


def _time_text(t: float) -> str:
    """``"2024-01-01T00:00:00.000000Z"`` for a plausible time, ``"1000000000000 s"`` otherwise."""
    if PLAUSIBLE_TIME_S[0] <= t < PLAUSIBLE_TIME_S[1]:
        return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{t:.15g} s"


def set_aside_stray_picks(picks: pd.DataFrame, min_picks: int,
                          argument: str = "picks") -> pd.DataFrame:
    """Drop the picks of :func:`stray_picks` from a pick table, with one warning naming how
    many there are and their times; raise when no pick time is plausible.

    Parameters
    ----------
    picks
        Pick table (``time`` in POSIX s), as from :func:`pick_table`.
    min_picks
        The association's minimum number of picks per event.
    argument
        Name of the argument, used in the messages.

    Returns
    -------
    pandas.DataFrame
        ``picks`` without the stray picks (same columns, a fresh RangeIndex).

    Raises
    ------
    ValueError
        When every pick time is outside :data:`PLAUSIBLE_TIME_S` (times in milliseconds or
        microseconds?).

    Warns
    -----
    UserWarning
        Once, with the number of stray picks, up to 5 of their times and their ``pick_idx``.

    Examples
    --------
    >>> import warnings
    >>> picks = pd.DataFrame({"pick_idx": range(4), "time": [1e9, 1e9 + 1, 1e9 + 2, 1e12]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kept = set_aside_stray_picks(picks, min_picks=3)
    >>> len(kept), str(caught[0].message)[:59]
    (3, 'picks: 1 pick(s) set aside, not associated: 1000000000000 s')
    """
    t = picks["time"].to_numpy(dtype=np.float64)
    implausible, isolated = stray_picks(t, min_picks)
    if len(t) and implausible.all():
        raise ValueError(
            f"{argument}: every pick time is outside 1900-2200 UTC (from "
            f"{_time_text(t.min())} to {_time_text(t.max())}); times must be POSIX seconds: "
            f"were milliseconds or microseconds given?"
        )
    stray = implausible | isolated
    if not stray.any():
        return picks
    order = np.argsort(t[stray], kind="stable")
    times = t[stray][order]
    idx = picks["pick_idx"].to_numpy()[stray][order]
    shown = ", ".join(f"{_time_text(x)} (pick_idx {i})" for x, i in zip(times[:5], idx[:5], strict=True))
    more = f" and {len(times) - 5} more" if len(times) > 5 else ""
    _warn(
        f"{argument}: {int(stray.sum())} pick(s) set aside, not associated: {shown}{more}; "
        f"{int(implausible.sum())} at times outside 1900-2200 UTC (milliseconds given as "
        f"seconds, or a corrupt time?), {int(isolated.sum())} in groups of fewer than "
        f"min_picks={min_picks} picks more than {ISOLATION_GAP_S / 3600:g} h from any "
        f"other pick"
    )
    return picks[~stray].reset_index(drop=True)


def _canonical_ids(ids: pd.Series) -> pd.Series:
    """``"NET.STA"`` -> ``"NET.STA."``; ``"NET.STA.LOC.CHA"`` -> ``"NET.STA.LOC"``."""
    ids = ids.astype(str)
    dots = ids.str.count(r"\.")
    ids = ids.where(dots != 1, ids + ".")
    long = dots >= 3
    if long.any():
        ids = ids.where(~long, ids.str.split(".", n=3).str[:3].str.join("."))
    return ids


def station_positions(ids: Any, stations: pd.DataFrame) -> np.ndarray:
    """Row position of each station id in a station table, -1 where unknown.

    Matching rules: exact ``"NET.STA.LOC"``; ``"NET.STA"`` (no trailing dot) matches
    ``"NET.STA."``; ``"NET.STA.LOC.CHA"`` is shortened to ``"NET.STA.LOC"``; and when
    ``"NET.STA.LOC"`` is not in the table but ``"NET.STA."`` is, the latter matches.

    Parameters
    ----------
    ids
        Array-like of station ids.
    stations
        Station table with an ``id`` column (see :func:`seisbench_genie.stations.station_table`).

    Returns
    -------
    numpy.ndarray
        int64 row positions (0-based, not index labels) into ``stations``; -1 for unknown ids.

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["CX.PB01.", "CX.PB02.00"]})
    >>> station_positions(["CX.PB01", "CX.PB01.10", "CX.PB02.00", "XX.NOPE."], st).tolist()
    [0, 0, 1, -1]
    """
    ids = pd.Series(ids, dtype=object) if not isinstance(ids, pd.Series) else ids
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(stations) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    codes, uniques = pd.factorize(ids.astype(str), use_na_sentinel=False)
    table_ids = pd.Index(stations["id"].astype(str))
    first = ~table_ids.duplicated(keep="first")
    lookup = pd.Index(table_ids[first])
    rows = np.flatnonzero(first)

    keys = _canonical_ids(pd.Series(uniques, dtype=object))
    found = lookup.get_indexer(keys)
    fallback = (found < 0) & (keys.str.count(r"\.") == 2).to_numpy(bool)
    if fallback.any():
        base = keys[fallback].str.rsplit(".", n=1).str[0] + "."
        found[fallback] = lookup.get_indexer(base)
    positions = np.where(found >= 0, rows[np.maximum(found, 0)], -1).astype(np.int64)
    return positions[codes]


def match_stations(picks: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    """Attach each pick to a row of the station table; drop picks at unknown stations.

    Parameters
    ----------
    picks
        Pick table from :func:`pick_table` (only the ``station`` column is needed).
    stations
        Station table (``id``, ``latitude``, ``longitude``, ``elevation``; see
        :func:`seisbench_genie.stations.station_table`).

    Returns
    -------
    pandas.DataFrame
        A copy of ``picks`` with the extra int64 column ``station_index`` (row position in
        ``stations``), without the picks at unknown stations, with a fresh RangeIndex. The
        ``station`` column keeps the caller's ids. See :func:`station_positions` for the
        matching rules (``"NET.STA"`` -> ``"NET.STA."``, unknown location code ->
        ``"NET.STA."``).

    Raises
    ------
    ValueError
        When ``picks`` has no ``station`` column or ``stations`` no ``id`` column.

    Warns
    -----
    UserWarning
        Once, with the number of dropped picks and up to 5 unknown station ids.

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["CX.PB01.", "CX.PB02."], "latitude": [-21.0, -20.1],
    ...                    "longitude": [-69.5, -69.2], "elevation": [900.0, 1015.0]})
    >>> picks = pick_table(pd.DataFrame({"station": ["CX.PB02"], "phase": ["P"],
    ...                                  "time": [0.0]}))
    >>> match_stations(picks, st)["station_index"].tolist()
    [1]
    """
    if not isinstance(picks, pd.DataFrame) or "station" not in picks.columns:
        raise ValueError("picks: expected a pick table (DataFrame) with a 'station' column")
    if not isinstance(stations, pd.DataFrame) or "id" not in stations.columns:
        raise ValueError("stations: expected a station table (DataFrame) with an 'id' column")
    positions = station_positions(picks["station"], stations)
    out = picks.copy()
    out["station_index"] = positions
    unknown = positions < 0
    if unknown.any():
        ids = pd.unique(picks["station"].to_numpy(dtype=object)[unknown])
        _warn(
            f"picks: dropped {int(unknown.sum())} pick(s) at {len(ids)} station(s) missing "
            f"from the station table, e.g. {[str(i) for i in ids[:5]]}"
        )
        out = out[~unknown]
    return out.reset_index(drop=True)


def pick_time_uncertainties(picks: Any) -> np.ndarray:
    """One-sigma time uncertainty of each input pick (s), NaN where the input gives none.

    Parameters
    ----------
    picks
        The same input as :func:`pick_table`. A DataFrame's ``time_uncertainty_s`` column
        (s) is used where finite and >= 0; elsewhere, and for SeisBench
        :class:`~seisbench.util.Pick` objects (a ``time_uncertainty_s`` attribute wins when
        set), half the width between ``start_time`` and ``end_time``: the span in which the
        picker's probability stays above its detection threshold, so half of it is a
        picker-given +- bound around the peak. A missing, zero or negative width gives NaN
        (the Catalog then uses a per-phase default, see
        :data:`seisbench_genie.catalog.DEFAULT_PICK_UNCERTAINTY_S`).

    Returns
    -------
    numpy.ndarray
        float64 seconds, one value per input pick, indexed like ``pick_idx`` of
        :func:`pick_table`; empty for inputs that :func:`pick_table` rejects. An iterator
        is consumed: pass a list to call both functions.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"station": ["A.B.", "A.B."], "phase": ["P", "S"],
    ...                    "time": [10.0, 12.0], "start_time": [9.9, 11.6],
    ...                    "end_time": [10.1, 12.4]})
    >>> pick_time_uncertainties(df).round(3).tolist()
    [0.1, 0.4]
    """
    if isinstance(picks, pd.DataFrame):
        n = len(picks)

        def column(name: str) -> Any:
            return picks[name].reset_index(drop=True) if name in picks.columns else None

        given, start, end = (column(c) for c in ("time_uncertainty_s", "start_time", "end_time"))
    elif isinstance(picks, (str, bytes, dict)) or not isinstance(picks, Iterable):
        return np.zeros(0, dtype=np.float64)
    else:
        items = list(picks)
        n = len(items)
        given = pd.Series([getattr(p, "time_uncertainty_s", None) for p in items], dtype=object)
        start = pd.Series([getattr(p, "start_time", None) for p in items], dtype=object)
        end = pd.Series([getattr(p, "end_time", None) for p in items], dtype=object)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    if start is not None and end is not None:
        half = 0.5 * (times_to_posix(end) - times_to_posix(start))
        out = np.where(np.isfinite(half) & (half > 0), half, np.nan)
    if given is not None:
        value = pd.to_numeric(given, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        out = np.where(np.isfinite(value) & (value >= 0), value, out)
    return out
