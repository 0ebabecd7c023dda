"""Check :func:`seisbench_genie.magnitude.local_magnitude` on synthetic waveforms of known ML.

For each event and station, the Wood-Anderson trace is a wavelet (Ricker, 2-6 Hz) whose
peak is the Hutton & Boore (1987) amplitude of the event's ML at the station's hypocentral
distance; the ground velocity is that trace divided by the Wood-Anderson response, and the
recorded counts are the ground velocity through the station's instrument response (a
short-period or a broadband velocity sensor built from poles and zeros). The responses are
evaluated with scipy, independently of ObsPy's response removal that
:func:`~seisbench_genie.magnitude.local_magnitude` uses. The catalog is built with
:func:`seisbench_genie.catalog.build_catalog` from P and S picks at homogeneous-model times.

Run ``python -m seisbench_genie.benchmark.magnitude_check`` to print the ML error against
magnitude and distance (options: ``--events``, ``--noise``, ``--seed``).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd
import scipy.signal
from obspy import Inventory, Stream, Trace, UTCDateTime
from obspy.core.event import Catalog
from obspy.core.inventory import Channel, Network, Station
from obspy.core.inventory.response import Response

from seisbench_genie.catalog import build_catalog
from seisbench_genie.geo import epicentral_distance_km
from seisbench_genie.magnitude import hutton_boore_1987

#: Velocity sensors (poles, zeros in rad/s; sensitivity in counts per m/s at 1 Hz): a 1 Hz
#: geophone (damping 0.707) with a 24-bit digitiser, and a 120 s broadband seismometer
#: (damping 0.707, a 50 Hz anti-alias pole pair).
SENSORS: dict[str, tuple[list[complex], list[complex], float]] = {
    "short_period": ([-4.443 + 4.443j, -4.443 - 4.443j], [0j, 0j], 2.0e9),
    "broadband": ([-0.03702 + 0.03702j, -0.03702 - 0.03702j, -222.1 + 222.1j,
                   -222.1 - 222.1j], [0j, 0j], 1.5e9),
}
#: The Wood-Anderson seismograph the synthetic amplitudes refer to, written here rather than
#: imported so that the check is independent of :mod:`seisbench_genie.magnitude`: gain 2080
#: (IASPEI standard), natural period 0.8 s, damping 0.7 (Uhrhammer & Collins, 1990).
WA_GAIN, WA_PERIOD_S, WA_DAMPING = 2080.0, 0.8, 0.7
#: Homogeneous model (km/s) of the synthetic pick times.
VP_KM_S, VS_KM_S = 6.0, 3.5
#: Closest station distance (km) from the network centre in :func:`make_stations`.
MIN_DISTANCE_KM = 5.0
#: Sampling rate (Hz) of the synthetic traces.
SAMPLING_RATE_HZ = 100.0
#: Wavelet centre frequencies (Hz), drawn uniformly: the band where local-event
#: Wood-Anderson peaks sit.
WAVELET_FREQUENCY_HZ = (2.0, 6.0)
#: Ratio of the E to the N Wood-Anderson peak (the N component carries the station's
#: amplitude), and of the P to the S wavelet.
E_TO_N, P_TO_S = 0.6, 0.2
#: Seconds of trace before the origin and after the last S arrival.
LEAD_S, TAIL_S = 40.0, 60.0


def velocity_response(sensor: str) -> Response:
    """ObsPy Response (m/s -> counts) of a sensor of :data:`SENSORS`, normalised at 1 Hz.

    Examples
    --------
    >>> r = velocity_response("short_period")
    >>> round(float(r.instrument_sensitivity.value) / 1e9, 3)
    2.0
    """
    poles, zeros, gain = SENSORS[sensor]
    a0 = 1.0 / abs(scipy.signal.freqs_zpk(zeros, poles, 1.0, worN=[2 * np.pi])[1][0])
    return Response.from_paz(zeros, poles, stage_gain=gain, stage_gain_frequency=1.0,
                             input_units="M/S", output_units="COUNTS",
                             normalization_frequency=1.0, normalization_factor=a0)


def _sensor_fr(sensor: str, freq: np.ndarray) -> np.ndarray:
    poles, zeros, gain = SENSORS[sensor]
    a0 = 1.0 / abs(scipy.signal.freqs_zpk(zeros, poles, 1.0, worN=[2 * np.pi])[1][0])
    return scipy.signal.freqs_zpk(zeros, poles, a0 * gain, worN=2 * np.pi * freq)[1]


def _wood_anderson_fr(freq: np.ndarray) -> np.ndarray:
    """Wood-Anderson response to ground velocity, written out from its definition (not from
    :func:`~seisbench_genie.magnitude.wood_anderson_paz`): a damped oscillator
    (:data:`WA_PERIOD_S`, :data:`WA_DAMPING`, gain :data:`WA_GAIN` on displacement),
    ``V s / (s^2 + 2 h w0 s + w0^2)``."""
    s = 2j * np.pi * freq
    w0, h = 2 * np.pi / WA_PERIOD_S, WA_DAMPING
    return WA_GAIN * s / (s * s + 2 * h * w0 * s + w0 * w0)


def _ricker(t: np.ndarray, f0: float) -> np.ndarray:
    a = (np.pi * f0 * t) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def make_stations(n: int, max_distance_km: float, seed: int = 0,
                  center: tuple[float, float] = (35.0, -117.5)) -> pd.DataFrame:
    """``n`` stations around ``center``, log-uniform in distance from 5 to ``max_distance_km``.

    Returns a station table (``id``, ``latitude``, ``longitude``, ``elevation`` in m) with
    a ``sensor`` column alternating between the :data:`SENSORS`.

    Examples
    --------
    >>> make_stations(3, 50.0)["id"].tolist()
    ['SY.S000.', 'SY.S001.', 'SY.S002.']
    """
    rng = np.random.default_rng(seed)
    r = np.exp(rng.uniform(np.log(MIN_DISTANCE_KM), np.log(max_distance_km), n))
    az = rng.uniform(0, 2 * np.pi, n)
    lat = center[0] + r * np.cos(az) / 111.19
    lon = center[1] + r * np.sin(az) / (111.19 * np.cos(np.radians(center[0])))
    sensors = list(SENSORS)
    return pd.DataFrame({"id": [f"SY.S{i:03d}." for i in range(n)], "latitude": lat,
                         "longitude": lon, "elevation": rng.uniform(0, 1500, n),
                         "sensor": [sensors[i % len(sensors)] for i in range(n)]})


def make_inventory(stations: pd.DataFrame, without_response: tuple[str, ...] = ()) -> Inventory:
    """Inventory with HHE/HHN/HHZ channels and the responses of the stations' sensors.

    Examples
    --------
    >>> inv = make_inventory(make_stations(2, 30.0))
    >>> len(inv.get_contents()["channels"])
    6
    """
    by_net: dict[str, list[Station]] = {}
    for row in stations.itertuples():
        net, sta, loc = (row.id.split(".") + [""])[:3]
        response = Response() if row.id in without_response else velocity_response(row.sensor)
        channels = [Channel(code=f"HH{c}", location_code=loc, latitude=row.latitude,
                            longitude=row.longitude, elevation=row.elevation, depth=0.0,
                            sample_rate=SAMPLING_RATE_HZ, response=response)
                    for c in "ENZ"]
        by_net.setdefault(net, []).append(
            Station(code=sta, latitude=row.latitude, longitude=row.longitude,
                    elevation=row.elevation, channels=channels))
    return Inventory(networks=[Network(code=k, stations=v) for k, v in by_net.items()],
                     source="seisbench-genie synthetic")


def make_events(magnitudes: Any, stations: pd.DataFrame, seed: int = 0,
                spacing_s: float = 600.0) -> pd.DataFrame:
    """Events of the given ML inside the network, ``spacing_s`` apart, 2-20 km deep.

    Examples
    --------
    >>> make_events([1.0, 2.0], make_stations(3, 50.0))["ml"].tolist()
    [1.0, 2.0]
    """
    rng = np.random.default_rng(seed + 1)
    mags = np.asarray(magnitudes, dtype=float)
    n = len(mags)
    lat0, lon0 = stations["latitude"].mean(), stations["longitude"].mean()
    return pd.DataFrame({
        "event_idx": np.arange(n), "time": 1.6e9 + spacing_s * np.arange(n),
        "latitude": lat0 + rng.uniform(-0.1, 0.1, n),
        "longitude": lon0 + rng.uniform(-0.1, 0.1, n),
        "depth_km": rng.uniform(2.0, 20.0, n), "ml": mags})


def hypocentral_km(events: pd.DataFrame, stations: pd.DataFrame) -> np.ndarray:
    """(events, stations) hypocentral distances in km (depth + station elevation)."""
    epi = epicentral_distance_km(events["latitude"].to_numpy()[:, None],
                                 events["longitude"].to_numpy()[:, None],
                                 stations["latitude"].to_numpy()[None, :],
                                 stations["longitude"].to_numpy()[None, :])
    dz = events["depth_km"].to_numpy()[:, None] + stations["elevation"].to_numpy()[None] / 1e3
    return np.hypot(epi, dz)


def synthetic_dataset(events: pd.DataFrame, stations: pd.DataFrame, seed: int = 0,
                      noise: float = 0.0, clip: tuple[str, ...] = (),
                      ) -> tuple[Catalog, Stream, pd.DataFrame]:
    """Catalog (P and S picks at every station), waveforms and the true amplitudes.

    Parameters
    ----------
    events
        From :func:`make_events` (``ml`` is the true magnitude).
    stations
        From :func:`make_stations`.
    seed
        Random seed (wavelet frequencies, noise).
    noise
        Standard deviation of band-limited (1-10 Hz) noise in the Wood-Anderson domain,
        as a fraction of each station's Wood-Anderson peak.
    clip
        Station ids whose counts are clipped at half their peak (flat tops).

    Returns
    -------
    catalog, stream, truth
        ``truth`` has one row per (event, station): ``event_idx``, ``station``,
        ``distance_km``, ``amplitude_mm`` (the Wood-Anderson peak) and ``ml``.

    Examples
    --------
    >>> st = make_stations(2, 40.0)
    >>> cat, stream, truth = synthetic_dataset(make_events([2.0], st), st)
    >>> len(cat), len(stream), len(truth)
    (1, 6, 2)
    """
    rng = np.random.default_rng(seed + 2)
    r = hypocentral_km(events, stations)
    amp_mm = 10.0 ** (events["ml"].to_numpy()[:, None] - hutton_boore_1987(r))
    dt = 1.0 / SAMPLING_RATE_HZ
    sos = scipy.signal.butter(4, [1.0, 10.0], btype="band", fs=SAMPLING_RATE_HZ, output="sos")
    traces, pick_rows, truth = [], [], []
    for i, ev in enumerate(events.itertuples()):
        tp = ev.time + r[i] / VP_KM_S
        ts = ev.time + r[i] / VS_KM_S
        t0 = ev.time - LEAD_S
        n = int(np.ceil((ts.max() + TAIL_S - t0) / dt))
        nfft = int(2 ** np.ceil(np.log2(2 * n)))
        freq = np.fft.rfftfreq(nfft, dt)
        wa = _wood_anderson_fr(freq)
        wa[0] = 1.0
        t = np.arange(n) * dt
        for k, st in enumerate(stations.itertuples()):
            f0 = rng.uniform(*WAVELET_FREQUENCY_HZ)
            base = _ricker(t - (ts[k] - t0), f0) + P_TO_S * _ricker(t - (tp[k] - t0), 1.5 * f0)
            sensor = _sensor_fr(st.sensor, freq)
            net, sta, loc = (st.id.split(".") + [""])[:3]
            for comp, scale in (("N", 1.0), ("E", E_TO_N), ("Z", 0.5)):
                w = base * scale
                w = w / np.max(np.abs(base)) * amp_mm[i, k] / 1000.0  # WA displacement, m
                if noise > 0:
                    band = scipy.signal.sosfiltfilt(sos, rng.standard_normal(n))
                    w = w + noise * amp_mm[i, k] / 1000.0 * band / band.std()
                spec = np.fft.rfft(w, nfft) / wa * sensor
                spec[0] = 0.0
                counts = np.fft.irfft(spec, nfft)[:n]
                if st.id in clip:
                    rail = 0.5 * np.max(np.abs(counts))
                    counts = np.round(np.clip(counts / rail, -1, 1) * 2 ** 20)
                tr = Trace(counts.astype(np.float64))
                tr.stats.update({"network": net, "station": sta, "location": loc,
                                 "channel": f"HH{comp}", "sampling_rate": SAMPLING_RATE_HZ,
                                 "starttime": UTCDateTime(t0)})
                traces.append(tr)
            pick_rows += [(st.id, "P", tp[k], ev.event_idx), (st.id, "S", ts[k], ev.event_idx)]
            truth.append((ev.event_idx, st.id, r[i, k], amp_mm[i, k], ev.ml))
    picks = pd.DataFrame(pick_rows, columns=["station", "phase", "time", "event_idx"])
    picks.insert(0, "pick_idx", np.arange(len(picks)))
    picks["probability"] = 0.9
    assignments = picks[["pick_idx", "event_idx", "phase"]]
    catalog = build_catalog(events.drop(columns="ml"), assignments, picks, stations)
    truth = pd.DataFrame(truth, columns=["event_idx", "station", "distance_km",
                                         "amplitude_mm", "ml"])
    return catalog, Stream(traces), truth


def run_check(n_events: int = 16, n_stations: int = 12, noise: float = 0.05, seed: int = 0,
              max_distance_km: float = 300.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Network and station ML errors on a synthetic dataset.

    Returns
    -------
    events, readings : pandas.DataFrame
        Per event: ``ml`` (true), ``ml_est``, ``error``, ``n_stations``. Per station
        reading: ``ml``, ``distance_km``, ``ml_est``, ``error``.

    Examples
    --------
    >>> ev, rd = run_check(n_events=1, n_stations=2, noise=0.0)  # doctest: +SKIP
    """
    from seisbench_genie.magnitude import local_magnitude

    stations = make_stations(n_stations, max_distance_km, seed)
    mags = np.linspace(0.0, 4.5, n_events)
    events = make_events(mags, stations, seed)
    catalog, stream, truth = synthetic_dataset(events, stations, seed, noise=noise)
    out = local_magnitude(catalog, stream, make_inventory(stations))
    est = [ev.preferred_magnitude() for ev in out]
    ev_table = events[["ml"]].assign(
        ml_est=[m.mag if m else np.nan for m in est],
        n_stations=[m.station_count if m else 0 for m in est])
    ev_table["error"] = ev_table["ml_est"] - ev_table["ml"]
    rows = []
    for i, ev in enumerate(out):
        for sm in ev.station_magnitudes:
            w = sm.waveform_id
            rows.append((i, f"{w.network_code}.{w.station_code}.{w.location_code}", sm.mag))
    est_sta = pd.DataFrame(rows, columns=["event_idx", "station", "ml_est"])
    readings = truth.merge(est_sta, on=["event_idx", "station"], how="left")
    readings["error"] = readings["ml_est"] - readings["ml"]
    return ev_table, readings


def main(argv: list[str] | None = None) -> None:
    """Print the ML error against magnitude and distance.

    Examples
    --------
    >>> main(["--events", "2", "--stations", "3"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=16)
    parser.add_argument("--stations", type=int, default=12)
    parser.add_argument("--noise", type=float, default=0.05,
                        help="noise std as a fraction of each Wood-Anderson peak")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-distance-km", type=float, default=300.0)
    args = parser.parse_args(argv)
    events, readings = run_check(args.events, args.stations, args.noise, args.seed,
                                 args.max_distance_km)
    print(f"Wood-Anderson gain {WA_GAIN:g}, Hutton & Boore (1987); "
          f"{args.events} events, {args.stations} stations, noise {args.noise:g}")
    mag_bins = pd.cut(readings["ml"], [-0.01, 1.0, 2.0, 3.0, 4.6])
    dist_bins = pd.cut(readings["distance_km"], [0, 20, 50, 100, 200, 1000])

    def stats(g: pd.DataFrame) -> pd.Series:
        e = g["error"]
        return pd.Series({"readings": int(e.notna().sum()), "mean": e.mean(),
                          "max_abs": e.abs().max()})

    print("\nStation ML error by true ML:")
    print(readings.groupby(mag_bins, observed=True)[["error"]].apply(stats).round(3))
    print("\nStation ML error by hypocentral distance (km):")
    print(readings.groupby(dist_bins, observed=True)[["error"]].apply(stats).round(3))
    print("\nNetwork ML error: mean {:.3f}, max |error| {:.3f} over {} events".format(
        events["error"].mean(), events["error"].abs().max(), int(events["error"].notna().sum())))


if __name__ == "__main__":
    main()
