"""Local magnitudes (ML) for a Catalog, from waveforms or from amplitudes given with the picks.

For each event and each station with picks, :func:`local_magnitude`

1. takes the horizontal traces (channel codes ending in E, N, 1 or 2), removes the
   instrument response of the inventory (ObsPy, to ground velocity) and simulates a
   Wood-Anderson seismograph (:func:`wood_anderson_paz`: natural period 0.8 s, damping 0.7,
   static magnification 2080 after Uhrhammer & Collins, 1990, the IASPEI standard);
2. measures the largest absolute Wood-Anderson amplitude on either horizontal in a window
   from the P pick to the S pick plus ``max(5 s, S - P)`` (a missing P or S is predicted
   from the other with Vp/Vs = 1.73): an ObsPy ``Amplitude`` (type ``AML``, in m);
3. turns it into a station magnitude ``ML = log10(A / mm) + C(r)`` with ``r`` the
   hypocentral distance in km and ``C`` the distance correction, by default Hutton & Boore
   (1987), ``C(r) = 1.11 log10(r / 100) + 0.00189 (r - 100) + 3.0`` (the IASPEI standard
   form); any callable or a named preset of :data:`DISTANCE_CORRECTIONS` can replace it;
4. averages the station magnitudes robustly (mean of the middle half: a quarter trimmed at
   each end) into a network ``Magnitude`` with the station count and an uncertainty
   (1.4826 x the median absolute deviation), set as the event's preferred magnitude.

Where waveforms are not at hand, ``amplitudes=`` takes Wood-Anderson amplitudes given with
the picks (an ``amplitude`` column or a pick attribute) instead of step 1-2.

A station without a response, with clipped or missing traces, without coordinates or with an
implausible magnitude (wrong units) is skipped; one warning lists them all. An event without
a usable station gets no magnitude: never a placeholder value.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from obspy import Stream, UTCDateTime
from obspy.core.event import (
    Amplitude,
    Catalog,
    CreationInfo,
    Magnitude,
    QuantityError,
    ResourceIdentifier,
    StationMagnitude,
    StationMagnitudeContribution,
    TimeWindow,
    WaveformStreamID,
)

from .export import _check_catalog, catalog_tables
from .geo import epicentral_distance_km
from .picks import PHASE_ALIASES, _canonical_ids, station_positions, times_to_posix
from .stations import station_table

__all__ = [
    "DISTANCE_CORRECTIONS",
    "bakun_joyner_1984",
    "hutton_boore_1987",
    "local_magnitude",
    "network_magnitudes",
    "station_magnitudes",
    "wood_anderson_paz",
]

#: Static magnification of the simulated Wood-Anderson seismograph: 2080 (Uhrhammer &
#: Collins, 1990), the value of the IASPEI (2013) ML standard and of the Hutton & Boore
#: correction in its IASPEI form (the nominal 2800 overestimates the instruments' gain).
WOOD_ANDERSON_GAIN = 2080.0
#: Natural period (s) of the Wood-Anderson torsion seismometer.
WOOD_ANDERSON_PERIOD_S = 0.8
#: Fraction of critical damping of the Wood-Anderson seismometer (Uhrhammer & Collins, 1990).
WOOD_ANDERSON_DAMPING = 0.7

#: Vp/Vs used to predict a missing P (or S) pick from the other one for the amplitude
#: window: the Poisson-solid ratio of most crustal models.
VP_VS_RATIO = 1.73
#: The amplitude window ends this many seconds after the S pick at least: the S-wave train
#: of a local event (M < 4) lasts a few seconds, and the Wood-Anderson peak is in it.
WINDOW_AFTER_S_MIN_S = 5.0
#: ... or this multiple of S - P, when longer: the S-wave train lengthens with distance.
WINDOW_AFTER_S_FACTOR = 1.0
#: Data (s) needed before and after the window for the response removal: its taper and the
#: transients of the pre-filter's 0.2 Hz corner stay outside the window.
WINDOW_PAD_S = 10.0
#: Pre-filter corners (Hz) of the response removal, low side: the Wood-Anderson response to
#: displacement falls as f^2 below 1.25 Hz, so energy below 0.5 Hz adds nothing to local
#: amplitudes and would only amplify long-period noise.
PRE_FILTER_LOW_HZ = (0.2, 0.5)
#: High-side pre-filter corners as fractions of the Nyquist frequency (keeps the band the
#: Wood-Anderson response passes, which is flat above 1.25 Hz).
PRE_FILTER_HIGH_NYQUIST = (0.8, 0.95)
#: Channel-code endings taken as horizontal components.
HORIZONTAL_COMPONENTS = ("E", "N", "1", "2")

#: A raw trace counts as clipped when at least this many consecutive samples sit at its
#: largest absolute value: a digitiser's rail flattens the top of the waveform, while an
#: unclipped peak is a single sample (two at most when sampled symmetrically).
CLIP_FLAT_SAMPLES = 3
#: ... and that value is at least this many counts: flat tops below it are the quantisation
#: of a weak signal, not a rail (digitisers clip at 2^15-2^23 counts).
CLIP_MIN_COUNTS = 256

#: Fraction of station magnitudes trimmed at each end before averaging (the mean of the
#: middle half, an interquartile mean): one outlier among four stations is ignored, and for
#: many stations it is nearly as efficient as the mean.
TRIM_FRACTION = 0.25
#: Scale of the median absolute deviation to a standard deviation for normal errors.
MAD_TO_SIGMA = 1.4826

#: Station magnitudes outside this range are taken as wrong units or a broken amplitude and
#: skipped: the smallest recorded events (mines, laboratory-scale) reach about ML -4, and
#: ML saturates near 7.
PLAUSIBLE_ML = (-4.0, 8.0)
#: Default largest hypocentral distance (km): the IASPEI form of Hutton & Boore is
#: specified up to 1000 km.
MAX_DISTANCE_KM = 1000.0
#: Amplitudes given with picks are matched to the catalog's picks at the same station within
#: this time (s); the Catalog keeps the input pick times to the microsecond.
AMPLITUDE_MATCH_TOLERANCE_S = 0.005

#: Millimetres per unit of a given amplitude (``amplitude_unit``).
AMPLITUDE_UNITS_MM = {"m": 1e3, "mm": 1.0, "um": 1e-3, "nm": 1e-6}

DistanceCorrection = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------
# Distance corrections and the Wood-Anderson response
# --------------------------------------------------------------------------------------------
def hutton_boore_1987(distance_km: Any) -> np.ndarray:
    """Hutton & Boore (1987) distance correction ``-log10 A0(r)`` in the IASPEI form.

    Parameters
    ----------
    distance_km
        Hypocentral distance(s) in km (specified for 10-1000 km).

    Returns
    -------
    numpy.ndarray
        ``1.11 log10(r / 100) + 0.00189 (r - 100) + 3.0`` (magnitude units), to be added to
        ``log10`` of the Wood-Anderson amplitude in mm (gain 2080).

    Examples
    --------
    >>> hutton_boore_1987([100.0]).tolist()
    [3.0]
    """
    r = np.asarray(distance_km, dtype=float)
    return 1.11 * np.log10(r / 100.0) + 0.00189 * (r - 100.0) + 3.0


def bakun_joyner_1984(distance_km: Any) -> np.ndarray:
    """Bakun & Joyner (1984) distance correction for central California.

    Parameters
    ----------
    distance_km
        Hypocentral distance(s) in km (derived for 0-400 km).

    Returns
    -------
    numpy.ndarray
        ``log10(r) + 0.00301 r + 0.70`` (magnitude units). It was calibrated on the nominal
        Wood-Anderson gain of 2800: pass ``wood_anderson_gain=2800`` with it.

    Examples
    --------
    >>> round(float(bakun_joyner_1984([100.0])[0]), 3)
    3.001
    """
    r = np.asarray(distance_km, dtype=float)
    return np.log10(r) + 0.00301 * r + 0.70


DISTANCE_CORRECTIONS: dict[str, DistanceCorrection] = {
    "hutton_boore_1987": hutton_boore_1987,
    "bakun_joyner_1984": bakun_joyner_1984,
}
"""Named distance corrections (``distance_correction=`` of :func:`local_magnitude`)."""


def _correction(distance_correction: str | DistanceCorrection) -> tuple[DistanceCorrection, str]:
    if isinstance(distance_correction, str):
        if distance_correction not in DISTANCE_CORRECTIONS:
            raise ValueError(f"distance_correction: unknown preset {distance_correction!r}; "
                             f"choose from {sorted(DISTANCE_CORRECTIONS)} or pass a callable")
        return DISTANCE_CORRECTIONS[distance_correction], distance_correction
    if not callable(distance_correction):
        raise ValueError("distance_correction: expected a preset name or a callable "
                         f"(distance km -> correction), got {type(distance_correction).__name__}")
    return distance_correction, getattr(distance_correction, "__name__", "custom")


def wood_anderson_paz(gain: float = WOOD_ANDERSON_GAIN) -> dict[str, Any]:
    """Poles and zeros of the Wood-Anderson seismograph for ground-velocity input.

    Parameters
    ----------
    gain
        Static magnification (default :data:`WOOD_ANDERSON_GAIN`).

    Returns
    -------
    dict
        ObsPy ``paz`` dict (``poles``, ``zeros`` in rad/s, ``gain`` 1, ``sensitivity`` =
        ``gain``) for :meth:`obspy.core.trace.Trace.simulate` applied to ground velocity in
        m/s: the output is the Wood-Anderson trace displacement in m.

    Examples
    --------
    >>> paz = wood_anderson_paz()
    >>> len(paz["poles"]), paz["zeros"], paz["sensitivity"]
    (2, [0j], 2080.0)
    """
    w0 = 2.0 * np.pi / WOOD_ANDERSON_PERIOD_S
    h = WOOD_ANDERSON_DAMPING
    pole = complex(-h * w0, w0 * np.sqrt(1.0 - h * h))
    return {"poles": [pole, pole.conjugate()], "zeros": [0j], "gain": 1.0,
            "sensitivity": float(gain)}


def station_magnitudes(amplitude_mm: Any, distance_km: Any,
                       distance_correction: str | DistanceCorrection = "hutton_boore_1987"
                       ) -> np.ndarray:
    """ML of each station reading: ``log10(A / mm) + C(r)``.

    Parameters
    ----------
    amplitude_mm
        Zero-to-peak Wood-Anderson amplitude(s) in mm (gain as calibrated for ``C``).
    distance_km
        Hypocentral distance(s) in km.
    distance_correction
        Preset name (:data:`DISTANCE_CORRECTIONS`) or a callable mapping an array of
        hypocentral distances (km) to ``-log10 A0`` (magnitude units).

    Returns
    -------
    numpy.ndarray
        Station magnitudes; NaN where the amplitude is not positive or not finite.

    Examples
    --------
    >>> station_magnitudes([1.0, 0.1], [100.0, 100.0]).tolist()
    [3.0, 2.0]
    """
    correction, _ = _correction(distance_correction)
    amp = np.asarray(amplitude_mm, dtype=float)
    r = np.asarray(distance_km, dtype=float)
    c = np.asarray(correction(r), dtype=float)
    if c.shape != np.broadcast(amp, r).shape:
        raise ValueError(f"distance_correction: returned shape {c.shape} for distances of "
                         f"shape {r.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where((amp > 0) & np.isfinite(amp), np.log10(np.where(amp > 0, amp, 1.0)),
                        np.nan)
    return logs + c


def network_magnitudes(event: Any, magnitude: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """Robust network magnitude per event from station magnitudes, vectorised.

    Parameters
    ----------
    event
        Event key of each station magnitude (any hashable values).
    magnitude
        Station magnitudes (finite).

    Returns
    -------
    table : pandas.DataFrame
        Indexed by event key: ``mag`` (mean of the station magnitudes left after trimming
        :data:`TRIM_FRACTION` of them, rounded down, at each end), ``uncertainty``
        (:data:`MAD_TO_SIGMA` x median absolute deviation of all station magnitudes; NaN for
        a single station) and ``station_count`` (station magnitudes averaged).
    used : numpy.ndarray
        bool per input: whether that station magnitude was averaged (not trimmed).

    Examples
    --------
    >>> table, used = network_magnitudes([0, 0, 0, 0, 1], [2.0, 2.2, 2.1, 5.0, 1.0])
    >>> table["mag"].round(2).tolist(), table["station_count"].tolist(), used.tolist()
    ([2.15, 1.0], [2, 1], [False, True, True, False, True])
    """
    frame = pd.DataFrame({"event": np.asarray(event), "mag": np.asarray(magnitude, float)})
    frame["row"] = np.arange(len(frame))
    frame = frame.sort_values(["event", "mag"], kind="stable")
    group = frame.groupby("event", sort=True)["mag"]
    size = group.transform("size").to_numpy()
    rank = group.cumcount().to_numpy()
    cut = np.floor(TRIM_FRACTION * size).astype(int)
    keep = (rank >= cut) & (rank < size - cut)
    used = np.zeros(len(frame), dtype=bool)
    used[frame["row"].to_numpy()[keep]] = True
    kept = frame[keep].groupby("event", sort=True)["mag"]
    median = group.transform("median")
    mad = (frame["mag"] - median).abs().groupby(frame["event"], sort=True).median()
    table = pd.DataFrame({"mag": kept.mean(), "station_count": kept.size()})
    count = group.size()
    table["uncertainty"] = np.where(count.to_numpy() > 1, MAD_TO_SIGMA * mad.to_numpy(), np.nan)
    return table[["mag", "uncertainty", "station_count"]], used


# --------------------------------------------------------------------------------------------
# Readings: one row per (event, station)
# --------------------------------------------------------------------------------------------
def _readings(catalog: Catalog, stations: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event-station table: window, distance and the pick an amplitude refers to."""
    events, picks = catalog_tables(catalog)
    picks = picks.assign(
        phase=picks["phase_type"].map(lambda x: PHASE_ALIASES.get(str(x).strip())),
        station=_canonical_ids(picks["station_id"]) if len(picks) else picks["station_id"])
    picks = picks[picks["phase"].notna() & np.isfinite(picks["phase_time"])]
    first = picks.sort_values("phase_time").groupby(["event_index", "station", "phase"],
                                                    sort=False).first()
    times = first["phase_time"].unstack("phase")
    ids = first["pick_id"].unstack("phase")
    rows = pd.DataFrame(index=times.index)
    for ph in ("P", "S"):
        rows[ph] = times[ph] if ph in times else np.nan
        rows[f"{ph}_id"] = ids[ph] if ph in ids else None
    rows = rows.reset_index()
    ev = events.set_index("event_index").loc[rows["event_index"]]
    origin = ev["time"].to_numpy()
    p_time = rows["P"].to_numpy(float)
    s_time = rows["S"].to_numpy(float)
    p_time = np.where(np.isfinite(p_time), p_time, origin + (s_time - origin) / VP_VS_RATIO)
    s_time = np.where(np.isfinite(s_time), s_time, origin + (p_time - origin) * VP_VS_RATIO)
    rows["start"] = p_time
    rows["end"] = s_time + np.maximum(WINDOW_AFTER_S_MIN_S,
                                      WINDOW_AFTER_S_FACTOR * (s_time - p_time))
    rows["pick_id"] = rows["S_id"].where(rows["S_id"].notna(), rows["P_id"])
    rows["origin_depth_km"] = ev["depth_km"].to_numpy()
    pos = station_positions(rows["station"], stations)
    rows["station_row"] = pos
    st = stations.iloc[np.maximum(pos, 0)]
    epi = epicentral_distance_km(ev["latitude"].to_numpy(), ev["longitude"].to_numpy(),
                                 st["latitude"].to_numpy(), st["longitude"].to_numpy())
    vertical = ev["depth_km"].to_numpy() + st["elevation"].to_numpy() / 1000.0
    rows["distance_km"] = np.where(pos >= 0, np.hypot(epi, vertical), np.nan)
    rows["reason"] = np.where(pos < 0, "station not in the inventory", None)
    rows.loc[~np.isfinite(rows["origin_depth_km"]) & (pos >= 0), "reason"] = \
        "origin without depth"
    return events, rows


def _has_response(inventory: Any) -> dict[str, bool]:
    """``NET.STA.LOC.CHA`` -> whether the channel carries a usable response."""
    out: dict[str, bool] = {}
    for net in inventory:
        for sta in net:
            for cha in sta:
                resp = cha.response
                ok = resp is not None and bool(resp.response_stages) and \
                    resp.instrument_sensitivity is not None
                key = f"{net.code}.{sta.code}.{cha.location_code}.{cha.code}"
                out[key] = out.get(key, False) or ok
    return out


def _clipped(data: np.ndarray) -> bool:
    peak = np.max(np.abs(data)) if len(data) else 0.0
    if peak < CLIP_MIN_COUNTS:
        return False
    at_peak = (np.abs(data) == peak).astype(int)
    if at_peak.sum() < CLIP_FLAT_SAMPLES:
        return False
    run = np.convolve(at_peak, np.ones(CLIP_FLAT_SAMPLES, dtype=int), mode="valid")
    return bool(run.max() >= CLIP_FLAT_SAMPLES)


def _horizontals(stream: Stream, station: str) -> Stream:
    net, sta, loc = (station.split(".") + ["", "", ""])[:3]
    chosen = stream.select(network=net, station=sta, location=loc)
    if not len(chosen):
        chosen = stream.select(network=net, station=sta)
    return Stream([tr for tr in chosen if tr.stats.channel[-1:] in HORIZONTAL_COMPONENTS])


def _measure(traces: Stream, start: float, end: float, inventory: Any, paz: dict,
             responses: dict[str, bool]) -> tuple[float, str, float] | str:
    """Largest Wood-Anderson amplitude (m), its channel and time; or why there is none."""
    t0, t1 = UTCDateTime(start - WINDOW_PAD_S), UTCDateTime(end + WINDOW_PAD_S)
    best: tuple[float, str, float] | None = None
    reasons = []
    for seed in sorted({tr.id for tr in traces}):
        pieces = traces.select(id=seed).slice(t0, t1)
        if len(pieces) != 1 or pieces[0].stats.starttime > t0 + pieces[0].stats.delta \
                or pieces[0].stats.endtime < t1 - pieces[0].stats.delta:
            reasons.append("trace missing, gapped or too short")
            continue
        if not responses.get(seed, False):
            reasons.append("no instrument response")
            continue
        tr = pieces[0].copy()
        raw = tr.slice(UTCDateTime(start), UTCDateTime(end)).data
        if _clipped(np.asarray(raw, dtype=float)):
            reasons.append("clipped")
            continue
        nyquist = 0.5 * tr.stats.sampling_rate
        pre_filt = (*PRE_FILTER_LOW_HZ, *(f * nyquist for f in PRE_FILTER_HIGH_NYQUIST))
        try:
            tr.data = tr.data.astype(np.float64)
            tr.detrend("demean")
            tr.remove_response(inventory=inventory, output="VEL", pre_filt=pre_filt)
            tr.simulate(paz_remove=None, paz_simulate=paz)
        except Exception:  # ObsPy raises many kinds for a missing or broken response
            reasons.append("no instrument response")
            continue
        seg = tr.slice(UTCDateTime(start), UTCDateTime(end))
        if not len(seg.data):
            reasons.append("trace missing, gapped or too short")
            continue
        k = int(np.argmax(np.abs(seg.data)))
        amp = float(abs(seg.data[k]))
        if best is None or amp > best[0]:
            best = (amp, seed, float((seg.stats.starttime + k * seg.stats.delta).timestamp))
    if best is None:
        return reasons[0] if reasons else "no horizontal trace in the stream"
    return best


def _given_amplitudes(amplitudes: Any, unit: str) -> pd.DataFrame:
    """Amplitudes given with picks -> station, time (POSIX s), amplitude_mm."""
    if unit not in AMPLITUDE_UNITS_MM:
        raise ValueError(f"amplitude_unit: {unit!r} is not one of {sorted(AMPLITUDE_UNITS_MM)}")
    if isinstance(amplitudes, pd.DataFrame):
        missing = [c for c in ("station", "time", "amplitude") if c not in amplitudes.columns]
        if missing:
            raise ValueError(f"amplitudes: missing column(s) {missing}; needs station, time "
                             f"and amplitude (Wood-Anderson, {unit}); got "
                             f"{list(amplitudes.columns)}")
        station, time, amp = (amplitudes[c].reset_index(drop=True)
                              for c in ("station", "time", "amplitude"))
    elif isinstance(amplitudes, Iterable) and not isinstance(amplitudes, (str, bytes, dict)):
        items = list(amplitudes)
        station = pd.Series([getattr(p, "trace_id", None) for p in items], dtype=object)
        time = pd.Series([p.peak_time if getattr(p, "peak_time", None) is not None
                          else getattr(p, "start_time", None) for p in items], dtype=object)
        amp = pd.Series([getattr(p, "amplitude", None) for p in items], dtype=object)
    else:
        raise ValueError("amplitudes: expected a DataFrame (station, time, amplitude) or "
                         f"picks with an 'amplitude' attribute, got {type(amplitudes).__name__}")
    value = pd.to_numeric(amp, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    table = pd.DataFrame({
        "station": _canonical_ids(station.astype(str)) if len(station) else station,
        "time": times_to_posix(time) if len(time) else np.zeros(0),
        "amplitude_mm": value * AMPLITUDE_UNITS_MM[unit],
    })
    table = table[np.isfinite(table["time"]) & station.notna().to_numpy()]
    if not np.isfinite(table["amplitude_mm"]).any():
        raise ValueError("amplitudes: no finite amplitude given (an 'amplitude' column or "
                         "pick attribute, Wood-Anderson zero-to-peak)")
    return table.sort_values("time").reset_index(drop=True)


def _match_amplitudes(catalog: Catalog, rows: pd.DataFrame, given: pd.DataFrame) -> pd.Series:
    """Largest given amplitude (mm) among each reading's picks; NaN where none matched."""
    _, picks = catalog_tables(catalog)
    picks = picks.assign(station=_canonical_ids(picks["station_id"]) if len(picks)
                         else picks["station_id"], time=picks["phase_time"])
    picks = picks[np.isfinite(picks["time"])].sort_values("time")
    matched = pd.merge_asof(picks[["event_index", "station", "time"]], given, on="time",
                            by="station", tolerance=AMPLITUDE_MATCH_TOLERANCE_S,
                            direction="nearest")
    best = matched.groupby(["event_index", "station"])["amplitude_mm"].max()
    key = pd.MultiIndex.from_frame(rows[["event_index", "station"]])
    return pd.Series(best.reindex(key).to_numpy(), index=rows.index)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def local_magnitude(
    catalog: Catalog,
    stream: Stream | None = None,
    inventory: Any = None,
    *,
    amplitudes: Any = None,
    amplitude_unit: str = "mm",
    distance_correction: str | DistanceCorrection = "hutton_boore_1987",
    wood_anderson_gain: float = WOOD_ANDERSON_GAIN,
    max_distance_km: float = MAX_DISTANCE_KM,
    inplace: bool = False,
) -> Catalog:
    """Local magnitudes (ML) of every event of a Catalog, set as its preferred magnitude.

    Parameters
    ----------
    catalog
        ObsPy Catalog with picks (e.g. from :meth:`seisbench_genie.GENIE.associate`). P and
        S picks (phase of the arrival, else the pick's hint) set each station's window.
    stream
        Waveforms (counts) covering every window plus :data:`WINDOW_PAD_S` on each side;
        the horizontal channels (ending in E, N, 1, 2) are used. Give ``stream`` or
        ``amplitudes``, not both.
    inventory
        With ``stream``: an ObsPy Inventory with the channels' responses (read with
        ``level="response"``) and coordinates. With ``amplitudes``: an Inventory or a
        station DataFrame (``id``, ``latitude``, ``longitude``, ``elevation`` in m).
    amplitudes
        Amplitudes given with the picks, instead of waveforms: a DataFrame with ``station``
        (``NET.STA.LOC``), ``time`` (the pick time) and ``amplitude``, or SeisBench picks
        with an ``amplitude`` attribute. Each is the zero-to-peak Wood-Anderson amplitude
        (gain ``wood_anderson_gain``) in ``amplitude_unit``; it is matched to the catalog's
        pick at the same station within :data:`AMPLITUDE_MATCH_TOLERANCE_S`, and a station
        takes the largest of its picks' amplitudes.
    amplitude_unit
        Unit of ``amplitudes``: ``"mm"`` (default), ``"m"``, ``"um"`` or ``"nm"``.
    distance_correction
        ``-log10 A0`` as a function of hypocentral distance (km): a preset name of
        :data:`DISTANCE_CORRECTIONS` (default ``"hutton_boore_1987"``) or a callable taking
        and returning numpy arrays.
    wood_anderson_gain
        Static magnification of the simulated Wood-Anderson (2080; 2800 for corrections
        calibrated on the nominal gain).
    max_distance_km
        Readings farther (hypocentral, km) are skipped.
    inplace
        Add the magnitudes to ``catalog`` itself instead of a copy.

    Returns
    -------
    obspy.core.event.Catalog
        The catalog (a copy unless ``inplace``) where every event with at least one usable
        station has, added: one ``Amplitude`` per station (``generic_amplitude`` = the
        Wood-Anderson amplitude in m, type ``AML``, ``unit="m"``, the window as
        ``time_window``, the time of the peak as ``scaling_time``, the S pick, else the P
        pick, as ``pick_id``), one ``StationMagnitude`` per station (``ML``) and a network
        ``Magnitude`` (``ML``, :func:`network_magnitudes`: ``mag``, ``mag_errors``,
        ``station_count``, contributions with weight 1 for averaged and 0 for trimmed
        stations) that becomes ``preferred_magnitude_id``. Events without a usable station
        are unchanged.

    Raises
    ------
    ValueError
        When ``catalog`` is not a Catalog, has an event without origin or no picks at all,
        neither or both of ``stream`` and ``amplitudes`` are given, ``inventory`` is
        missing, ``stream`` holds none of the picked stations, the inventory has no response
        for any picked station's channel, no given amplitude matches a catalog pick, or
        ``distance_correction`` is unknown.

    Warns
    -----
    UserWarning
        Once, listing the readings skipped (by reason, with a few station ids: no
        response, clipped, missing or short traces, not in the inventory, beyond
        ``max_distance_km``, implausible magnitude) and the events left without magnitude.

    Examples
    --------
    >>> from seisbench_genie.magnitude import local_magnitude
    >>> cat = local_magnitude(catalog, stream, inventory)  # doctest: +SKIP
    >>> cat[0].preferred_magnitude().mag  # doctest: +SKIP
    2.31
    >>> cat = local_magnitude(catalog, inventory=inventory, amplitudes=picks_df,
    ...                       amplitude_unit="mm")  # doctest: +SKIP
    """
    _check_catalog(catalog)
    correction, correction_name = _correction(distance_correction)
    if (stream is None) == (amplitudes is None):
        raise ValueError("local_magnitude: give either stream (waveforms) or amplitudes "
                         "(with the picks), not both or neither")
    if inventory is None:
        raise ValueError("inventory: needed for station coordinates"
                         + (" and responses" if stream is not None else ""))
    if stream is not None and not isinstance(stream, Stream):
        raise ValueError(f"stream: expected an ObsPy Stream, got {type(stream).__name__}")
    if stream is not None and not hasattr(inventory, "networks"):
        raise ValueError("inventory: the waveform path needs an ObsPy Inventory with "
                         "responses (read_inventory(..., level='response'))")
    out = catalog if inplace else catalog.copy()
    if len(out) == 0:
        return out
    stations = station_table(inventory, "inventory")
    _, rows = _readings(out, stations)
    reasons = rows["reason"].to_numpy(dtype=object, copy=True)
    amp_mm = np.full(len(rows), np.nan)
    channel = np.full(len(rows), None, dtype=object)
    peak_time = np.full(len(rows), np.nan)

    if stream is not None:
        stream_ids = {f"{tr.stats.network}.{tr.stats.station}." for tr in stream}
        picked = set(rows["station"])
        picked_keys = {".".join(s.split(".")[:2]) for s in picked}
        if not {".".join(s.split(".")[:2]) for s in stream_ids} & picked_keys:
            raise ValueError(f"stream: holds none of the {len(picked)} picked station(s), e.g. "
                             f"{sorted(picked)[:5]} (stream has {sorted(stream_ids)[:5]})")
        responses = _has_response(inventory)
        if not any(ok for key, ok in responses.items()
                   if ".".join(key.split(".")[:2]) in picked_keys):
            raise ValueError("inventory: no instrument response for any channel of the picked "
                             "stations; read it with read_inventory(..., level='response')")
        paz = wood_anderson_paz(wood_anderson_gain)
        todo = np.flatnonzero(pd.isna(reasons))
        for i in todo:
            traces = _horizontals(stream, rows.at[i, "station"])
            if not len(traces):
                reasons[i] = "no horizontal trace in the stream"
                continue
            result = _measure(traces, rows.at[i, "start"], rows.at[i, "end"], inventory, paz,
                              responses)
            if isinstance(result, str):
                reasons[i] = result
            else:
                amp_mm[i] = result[0] * 1000.0
                channel[i], peak_time[i] = result[1], result[2]
    else:
        given = _given_amplitudes(amplitudes, amplitude_unit)
        amp_mm = _match_amplitudes(out, rows, given).to_numpy(dtype=float)
        if not np.isfinite(amp_mm).any():
            raise ValueError(f"amplitudes: none of the {len(given)} given amplitude(s) matches "
                             "a pick of the catalog (same station, same time within "
                             f"{AMPLITUDE_MATCH_TOLERANCE_S} s)")
        reasons = np.where(pd.isna(reasons) & ~np.isfinite(amp_mm),
                           "no amplitude given", reasons)

    distance = rows["distance_km"].to_numpy(dtype=float)
    ml = station_magnitudes(amp_mm, distance, correction)
    open_ = pd.isna(reasons)
    reasons = np.where(open_ & ~(amp_mm > 0), "amplitude not positive", reasons)
    open_ = pd.isna(reasons)
    reasons = np.where(open_ & (distance > max_distance_km),
                       f"beyond {max_distance_km:g} km", reasons)
    open_ = pd.isna(reasons)
    bad_ml = ~((ml >= PLAUSIBLE_ML[0]) & (ml <= PLAUSIBLE_ML[1]))
    reasons = np.where(open_ & bad_ml, "implausible ML (wrong amplitude unit?)", reasons)
    good = pd.isna(reasons)

    n_events = len(out)
    magnitudes = pd.DataFrame()
    used = np.zeros(0, dtype=bool)
    if good.any():
        magnitudes, used = network_magnitudes(rows["event_index"].to_numpy()[good], ml[good])
    _attach(out, rows[good].reset_index(drop=True), ml[good], amp_mm[good], channel[good],
            peak_time[good], used, magnitudes, correction_name, stream is not None)
    with_mag = set(magnitudes.index.tolist()) if len(magnitudes) else set()
    no_mag = n_events - len(with_mag)
    skipped = ~good
    if skipped.any() or no_mag:
        summary = pd.DataFrame({"reason": reasons[skipped], "station": rows["station"][skipped]})
        parts = [f"{reason}: {len(g)} ({', '.join(sorted(set(g['station']))[:3])})"
                 for reason, g in summary.groupby("reason")]
        warnings.warn(f"local_magnitude: skipped {int(skipped.sum())} station reading(s) "
                      f"[{'; '.join(parts)}]; {no_mag} of {n_events} event(s) got no "
                      "magnitude", UserWarning, stacklevel=2)
    return out


def _attach(catalog: Catalog, rows: pd.DataFrame, ml: np.ndarray, amp_mm: np.ndarray,
            channel: np.ndarray, peak_time: np.ndarray, used: np.ndarray,
            magnitudes: pd.DataFrame, correction_name: str, waveforms: bool) -> None:
    """Add Amplitude, StationMagnitude and Magnitude objects to the events."""
    if not len(rows):
        return
    from . import __version__

    info = CreationInfo(author=f"seisbench-genie {__version__}", version=__version__,
                        creation_time=UTCDateTime())
    prefix = f"smi:seisbench_genie/{uuid.uuid4().hex}"
    method = ResourceIdentifier(f"smi:seisbench_genie/method/ML/{correction_name}")
    amp_method = ResourceIdentifier("smi:seisbench_genie/amplitude/"
                                    + ("wood_anderson_peak" if waveforms else "given"))
    contributions: dict[int, list] = {}
    for j, row in enumerate(rows.itertuples(index=False)):
        ev = catalog[int(row.event_index)]
        origin = ev.preferred_origin() or ev.origins[0]
        seed = channel[j] if channel[j] is not None else f"{row.station}."
        net, sta, loc, cha = (str(seed).split(".") + ["", "", "", ""])[:4]
        wid = WaveformStreamID(network_code=net, station_code=sta, location_code=loc,
                               channel_code=cha or None)
        amp = Amplitude(
            resource_id=ResourceIdentifier(f"{prefix}/amplitude/{j}"),
            generic_amplitude=float(amp_mm[j]) / 1000.0, type="AML", unit="m",
            category="point", magnitude_hint="ML", method_id=amp_method,
            pick_id=ResourceIdentifier(row.pick_id) if isinstance(row.pick_id, str) else None,
            waveform_id=wid, evaluation_mode="automatic", creation_info=info.copy(),
            scaling_time=UTCDateTime(peak_time[j]) if np.isfinite(peak_time[j]) else None,
            time_window=TimeWindow(begin=0.0, end=float(row.end - row.start),
                                   reference=UTCDateTime(row.start)) if waveforms else None,
        )
        sm = StationMagnitude(
            resource_id=ResourceIdentifier(f"{prefix}/station_magnitude/{j}"),
            origin_id=ResourceIdentifier(origin.resource_id.id), mag=float(ml[j]),
            station_magnitude_type="ML", amplitude_id=ResourceIdentifier(amp.resource_id.id),
            method_id=method, waveform_id=wid.copy(), creation_info=info.copy())
        ev.amplitudes.append(amp)
        ev.station_magnitudes.append(sm)
        contributions.setdefault(int(row.event_index), []).append(
            StationMagnitudeContribution(station_magnitude_id=ResourceIdentifier(
                sm.resource_id.id), weight=1.0 if used[j] else 0.0))
    for event_index, m in magnitudes.iterrows():
        ev = catalog[int(event_index)]
        origin = ev.preferred_origin() or ev.origins[0]
        unc = float(m["uncertainty"])
        mag = Magnitude(
            resource_id=ResourceIdentifier(f"{prefix}/magnitude/{int(event_index)}"),
            mag=float(m["mag"]), mag_errors=QuantityError(
                uncertainty=unc if np.isfinite(unc) else None),
            magnitude_type="ML", origin_id=ResourceIdentifier(origin.resource_id.id),
            method_id=method, station_count=int(m["station_count"]),
            evaluation_mode="automatic", creation_info=info.copy(),
            station_magnitude_contributions=contributions[int(event_index)])
        ev.magnitudes.append(mag)
        ev.preferred_magnitude_id = ResourceIdentifier(mag.resource_id.id)
