"""Local magnitudes: synthetic waveforms of known ML through real instrument responses."""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from obspy import Stream, UTCDateTime, read_events
from obspy.core.inventory.response import Response
from seisbench.util import Pick, PickList

from seisbench_genie.benchmark.magnitude_check import (
    make_events,
    make_inventory,
    make_stations,
    synthetic_dataset,
)
from seisbench_genie.magnitude import (
    DISTANCE_CORRECTIONS,
    bakun_joyner_1984,
    hutton_boore_1987,
    local_magnitude,
    network_magnitudes,
    station_magnitudes,
)

matplotlib.use("Agg")

TRUE_ML = [0.5, 2.0, 3.5]


@pytest.fixture(scope="module")
def data():
    stations = make_stations(6, 150.0, seed=4)
    events = make_events(TRUE_ML, stations, seed=4)
    catalog, stream, truth = synthetic_dataset(events, stations, seed=4, noise=0.02)
    return stations, catalog, stream, truth


@pytest.fixture(scope="module")
def result(data):
    stations, catalog, stream, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # clean data: not a single warning
        return local_magnitude(catalog, stream, make_inventory(stations))


def _station_ml(event):
    return {sm.waveform_id.station_code: sm.mag for sm in event.station_magnitudes}


def test_recovers_known_ml_within_a_tenth(data, result):
    _, catalog, _, truth = data
    assert len(result) == len(TRUE_ML)
    for i, ml in enumerate(TRUE_ML):
        ev = result[i]
        mag = ev.preferred_magnitude()
        assert mag is not None and mag.magnitude_type == "ML"
        assert abs(mag.mag - ml) < 0.1
        assert mag.station_count >= 3 and mag.mag_errors.uncertainty < 0.1
        assert mag.origin_id == ev.preferred_origin().resource_id
        sta = _station_ml(ev)
        assert len(sta) == 6
        assert all(abs(v - ml) < 0.1 for v in sta.values()), sta
    # the input catalog is left as it was
    assert all(not ev.magnitudes and not ev.amplitudes for ev in catalog)


def test_noise_free_station_magnitudes_are_exact():
    # the Wood-Anderson response (period, damping, gain) and the distance correction must
    # match the IASPEI standard that the synthetic amplitudes are built from
    stations = make_stations(4, 200.0, seed=9)
    catalog, stream, truth = synthetic_dataset(make_events([1.5], stations, seed=9), stations,
                                               seed=9)
    out = local_magnitude(catalog, stream, make_inventory(stations))
    assert len(out[0].station_magnitudes) == 4
    assert all(abs(sm.mag - 1.5) < 0.01 for sm in out[0].station_magnitudes)


def test_amplitudes_are_wood_anderson_metres_with_window_and_pick(data, result):
    _, _, _, truth = data
    ev = result[2]
    true = truth[truth.event_idx == 2].set_index("station")["amplitude_mm"]
    picks = {str(p.resource_id): p for p in ev.picks}
    for amp in ev.amplitudes:
        sid = f"{amp.waveform_id.network_code}.{amp.waveform_id.station_code}."
        assert amp.type == "AML" and amp.unit == "m" and amp.magnitude_hint == "ML"
        assert amp.generic_amplitude == pytest.approx(true[sid] / 1000.0, rel=0.1)
        assert amp.waveform_id.channel_code in ("HHN", "HHE")
        pick = picks[str(amp.pick_id)]
        assert pick.phase_hint == "S"
        window = amp.time_window
        assert window.reference <= amp.scaling_time <= window.reference + window.end
    sm_ids = {str(sm.amplitude_id) for sm in ev.station_magnitudes}
    assert sm_ids == {str(a.resource_id) for a in ev.amplitudes}
    # valid QuakeML that reads back with the same preferred magnitude
    buf = io.BytesIO()
    result.write(buf, format="QUAKEML", validate=True)
    buf.seek(0)
    back = read_events(buf)
    assert [e.preferred_magnitude().mag for e in back] == pytest.approx(
        [e.preferred_magnitude().mag for e in result])


def test_obspy_plot_and_cnv_work_once_magnitudes_exist(data, result):
    _, catalog, _, _ = data
    pytest.importorskip("cartopy")
    with pytest.warns(UserWarning, match="does not have a magnitude"), pytest.raises(IndexError):
        catalog.plot(show=False)  # ObsPy's failure without magnitudes
    fig = result.plot(show=False)
    assert fig is not None
    matplotlib.pyplot.close(fig)
    buf = io.BytesIO()
    result.write(buf, format="CNV")
    header = [ln for ln in buf.getvalue().decode().splitlines() if ln[:2] == "20"]
    assert len(header) == 3
    assert [float(ln.split()[-2]) for ln in header] == pytest.approx(
        [ev.preferred_magnitude().mag for ev in result], abs=0.006)


def test_amplitudes_given_with_picks(data, result):
    stations, catalog, _, truth = data
    inv = stations[["id", "latitude", "longitude", "elevation"]]
    rows = [(i, f"{p.waveform_id.network_code}.{p.waveform_id.station_code}.", p.time.timestamp)
            for i, ev in enumerate(catalog) for p in ev.picks if p.phase_hint == "S"]
    s_picks = pd.DataFrame(rows, columns=["event_idx", "station", "time"]).merge(
        truth, on=["event_idx", "station"]).rename(columns={"amplitude_mm": "amplitude"})
    out = local_magnitude(catalog, inventory=inv, amplitudes=s_picks)
    assert [ev.preferred_magnitude().mag for ev in out] == pytest.approx(TRUE_ML, abs=0.01)
    assert out[0].amplitudes[0].method_id.id.endswith("/given")
    # the same as SeisBench picks with an amplitude attribute, in metres
    picks = []
    for row in s_picks.itertuples():
        p = Pick(trace_id=row.station, start_time=UTCDateTime(row.time),
                 peak_time=UTCDateTime(row.time), phase="S")
        p.amplitude = row.amplitude / 1000.0
        picks.append(p)
    out_m = local_magnitude(catalog, inventory=inv, amplitudes=PickList(picks),
                            amplitude_unit="m")
    assert [ev.preferred_magnitude().mag for ev in out_m] == pytest.approx(TRUE_ML, abs=0.01)
    # wrong unit: nanometres declared as metres give ML + 9 -> skipped, no fake value
    with pytest.warns(UserWarning, match="implausible ML"):
        wrong = local_magnitude(catalog, inventory=inv,
                                amplitudes=s_picks.assign(amplitude=s_picks.amplitude * 1e6),
                                amplitude_unit="m")
    assert all(ev.preferred_magnitude() is None and not ev.magnitudes for ev in wrong)


def test_unusable_stations_are_skipped_with_one_warning(data):
    stations, catalog, stream, truth = data
    ids = stations["id"].tolist()
    no_resp, clipped, missing = ids[0], ids[1], ids[2]
    clip_catalog, clip_stream, _ = synthetic_dataset(
        make_events(TRUE_ML, stations, seed=4), stations, seed=4, noise=0.02, clip=(clipped,))
    clip_stream = Stream([tr for tr in clip_stream if tr.stats.station != missing.split(".")[1]])
    inv = make_inventory(stations, without_response=(no_resp,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = local_magnitude(clip_catalog, clip_stream, inv)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1, messages
    msg = messages[0]
    assert "no instrument response: 3" in msg and "clipped: 3" in msg
    assert "no horizontal trace in the stream: 3" in msg and "0 of 3 event(s)" in msg
    for ev, ml in zip(out, TRUE_ML, strict=True):
        assert abs(ev.preferred_magnitude().mag - ml) < 0.1
        assert ev.preferred_magnitude().station_count <= 3
        assert {sm.waveform_id.station_code for sm in ev.station_magnitudes} == \
            {s.split(".")[1] for s in ids[3:]}


def test_event_without_usable_station_gets_no_magnitude(data):
    stations, catalog, stream, _ = data
    # keep only the data around the first event
    t_end = catalog[0].preferred_origin().time + 200
    short = stream.slice(endtime=t_end)
    with pytest.warns(UserWarning, match="2 of 3 event"):
        out = local_magnitude(catalog, short, make_inventory(stations))
    assert out[0].preferred_magnitude() is not None
    for ev in out[1:]:
        assert ev.preferred_magnitude() is None
        assert not ev.magnitudes and not ev.station_magnitudes and not ev.amplitudes


def test_bad_input_names_what_is_missing(data):
    stations, catalog, stream, _ = data
    inv = make_inventory(stations)
    other = stream.copy()
    for tr in other:
        tr.stats.network = "ZZ"
    with pytest.raises(ValueError, match="stream: holds none of the 6 picked station"):
        local_magnitude(catalog, other, inv)
    bare = make_inventory(stations, without_response=tuple(stations["id"]))
    with pytest.raises(ValueError, match="inventory: no instrument response"):
        local_magnitude(catalog, stream, bare)
    no_picks = catalog.copy()
    for ev in no_picks:
        ev.picks = []
    with pytest.raises(ValueError, match="no event has picks"):
        local_magnitude(no_picks, stream, inv)
    with pytest.raises(ValueError, match="either stream"):
        local_magnitude(catalog, inventory=inv)
    with pytest.raises(ValueError, match="inventory: needed"):
        local_magnitude(catalog, stream)
    with pytest.raises(ValueError, match="unknown preset"):
        local_magnitude(catalog, stream, inv, distance_correction="richter")
    with pytest.raises(ValueError, match="amplitudes: missing column"):
        local_magnitude(catalog, inventory=inv, amplitudes=pd.DataFrame({"station": ["x"]}))
    with pytest.raises(ValueError, match="amplitude_unit"):
        local_magnitude(catalog, inventory=inv, amplitudes=pd.DataFrame(
            {"station": ["x"], "time": [0.0], "amplitude": [1.0]}), amplitude_unit="inch")
    with pytest.raises(ValueError, match="matches"):
        local_magnitude(catalog, inventory=inv, amplitudes=pd.DataFrame(
            {"station": ["SY.S000."], "time": [0.0], "amplitude": [1.0]}))


def test_distance_correction_is_pluggable(data, result):
    stations, catalog, stream, _ = data
    inv = make_inventory(stations)

    def shifted(r):
        return hutton_boore_1987(r) + 0.5

    out = local_magnitude(catalog, stream, inv, distance_correction=shifted)
    for a, b in zip(out, result, strict=True):
        assert a.preferred_magnitude().mag == pytest.approx(b.preferred_magnitude().mag + 0.5,
                                                            abs=1e-6)
        assert a.preferred_magnitude().method_id.id.endswith("/shifted")
    bj = local_magnitude(catalog, stream, inv, distance_correction="bakun_joyner_1984")
    assert bj[0].preferred_magnitude().method_id.id.endswith("/bakun_joyner_1984")
    assert set(DISTANCE_CORRECTIONS) == {"hutton_boore_1987", "bakun_joyner_1984"}


def test_formulas_and_robust_mean():
    # Hutton & Boore: 1 mm at 100 km is ML 3; Bakun & Joyner agree there to 0.01
    assert station_magnitudes([1.0], [100.0]).tolist() == [3.0]
    assert float(bakun_joyner_1984(100.0)) == pytest.approx(3.0, abs=0.01)
    # the IASPEI (2013) standard: ML = log10(A / nm) + 1.11 log10 R + 0.00189 R - 2.09 with A
    # the amplitude of a Wood-Anderson of unit magnification (ours: gain 2080, in mm)
    r = np.array([10.0, 50.0, 300.0, 900.0])
    a_mm = np.array([3.0, 0.2, 0.01, 0.001])
    iaspei = np.log10(a_mm / 2080.0 * 1e6) + 1.11 * np.log10(r) + 0.00189 * r - 2.09
    assert station_magnitudes(a_mm, r) == pytest.approx(iaspei, abs=0.005)
    assert np.isnan(station_magnitudes([0.0, -1.0, np.nan], [10.0] * 3)).all()
    table, used = network_magnitudes(["a"] * 5 + ["b"], [2.0, 2.1, 2.2, 2.3, 9.0, 1.0])
    assert table.loc["a", "mag"] == pytest.approx(2.2)  # the 9.0 outlier is trimmed
    assert table.loc["a", "station_count"] == 3 and not used[4]
    assert np.isnan(table.loc["b", "uncertainty"]) and table.loc["b", "mag"] == 1.0


def test_response_from_poles_and_zeros_is_what_obspy_removes():
    from seisbench_genie.benchmark.magnitude_check import velocity_response

    resp = velocity_response("broadband")
    assert isinstance(resp, Response)
    f = np.array([0.1, 1.0, 10.0])
    h = np.abs(resp.get_evalresp_response_for_frequencies(f, output="VEL"))
    assert h[1] == pytest.approx(1.5e9, rel=1e-3)  # sensitivity at the 1 Hz normalisation
