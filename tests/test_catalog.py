"""Tests for seisbench_genie.catalog: ObsPy Catalog construction and QuakeML round trip."""

from __future__ import annotations

import copy
import time

import numpy as np
import obspy
import pandas as pd
import pytest
from obspy.core.event import Catalog
from obspy.geodetics import gps2dist_azimuth, locations2degrees

import seisbench_genie
from seisbench_genie import catalog as catalog_module
from seisbench_genie.catalog import (
    GENIE_NAMESPACE,
    KM_PER_DEG,
    NSMAP,
    azimuthal_gaps,
    build_catalog,
    distance_azimuth,
)
from seisbench_genie.picks import pick_table

T0 = 1.6e9


def _stations():
    return pd.DataFrame(
        {
            "id": ["CX.PB01.", "CX.PB02.", "CX.PB03.00", "CX.PB04."],
            "latitude": [-21.0, -20.0, -20.5, -21.5],
            "longitude": [-69.5, -69.0, -70.5, -68.5],
            "elevation": [900.0, 1000.0, 10.0, 50.0],
        }
    )


def _tables():
    """Two events; event 11 has four picks at three stations, event 12 has one pick."""
    raw = pd.DataFrame(
        {
            "station": [
                "CX.PB01.",
                "CX.PB02.",
                "CX.PB03.00",
                "CX.PB03.00",
                "CX.PB01.",
                "CX.PB04.",
                "CX.PB02",
            ],
            "phase": ["P", "P", "P", "S", "S", "P", "P"],
            "time": [T0 + 5.0, T0 + 6.0, T0 + 7.0, T0 + 12.0, T0 + 9.0, T0 + 100.0, T0 + 200.0],
            "probability": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
        }
    )
    picks = pick_table(raw)
    events = pd.DataFrame(
        {
            "event_idx": [11, 12],
            "time": [T0, T0 + 95.0],
            "latitude": [-20.6, -21.4],
            "longitude": [-69.6, -68.6],
            "depth_km": [25.0, 10.0],
            "horizontal_uncertainty_km": [2.0, np.nan],
            "depth_uncertainty_km": [3.0, 4.0],
            "time_uncertainty_s": [0.2, 0.5],
            "n_picks": [4, 1],
            "n_stations": [3, 1],
            "score": [0.95, 0.6],
            "rms_s": [0.12, 0.0],
        }
    )
    assignments = pd.DataFrame(
        {
            "pick_idx": [3, 0, 1, 2, 5],
            "event_idx": [11, 11, 11, 11, 12],
            "phase": ["S", "P", "P", "P", "P"],
            "probability": [0.97, 0.99, 0.98, 0.91, 0.55],
            "residual_s": [-0.3, 0.1, 0.05, -0.15, 0.0],
        }
    )
    return events, assignments, picks, _stations()


@pytest.fixture
def built():
    events, assignments, picks, stations = _tables()
    cat = build_catalog(events, assignments, picks, stations, model_name="crustal")
    return cat, (events, assignments, picks, stations)


def test_structure_and_units(built):
    cat, (events, assignments, picks, stations) = built
    assert isinstance(cat, Catalog) and len(cat) == 2
    assert cat.creation_info.version == seisbench_genie.__version__
    assert "seisbench-genie" in cat.creation_info.author

    ev = cat[0]
    assert ev.resource_id.id.endswith("/event/11")
    assert ev.event_type == "earthquake" and ev.event_type_certainty == "suspected"
    assert ev.creation_info.version == seisbench_genie.__version__
    assert float(ev.extra["detection_score"]["value"]) == 0.95
    assert ev.extra["detection_score"]["namespace"] == GENIE_NAMESPACE

    origin = ev.preferred_origin()
    assert origin is ev.origins[0]
    assert origin.time == obspy.UTCDateTime(T0)
    assert (origin.latitude, origin.longitude, origin.depth) == (-20.6, -69.6, 25000.0)
    assert origin.depth_errors.uncertainty == 3000.0
    assert origin.time_errors.uncertainty == 0.2
    assert origin.latitude_errors.uncertainty == pytest.approx(2.0 / 111.19, rel=1e-3)
    assert origin.longitude_errors.uncertainty == pytest.approx(
        2.0 / (KM_PER_DEG * np.cos(np.radians(-20.6)))
    )
    assert origin.origin_uncertainty.horizontal_uncertainty == 2000.0
    assert origin.method_id.id == "smi:seisbench_genie/method/GENIE"
    assert origin.evaluation_mode == "automatic"
    assert origin.creation_info.version == seisbench_genie.__version__
    assert origin.extra["model_name"]["value"] == "crustal"

    q = origin.quality
    assert (q.used_phase_count, q.associated_phase_count) == (4, 4)
    assert (q.used_station_count, q.associated_station_count) == (3, 3)
    assert q.standard_error == 0.12

    # second event: missing horizontal uncertainty -> unset, a single station -> gap 360
    origin2 = cat[1].preferred_origin()
    assert origin2.latitude_errors.uncertainty is None
    assert origin2.origin_uncertainty is None
    assert origin2.quality.azimuthal_gap == 360.0
    assert origin2.quality.standard_error == 0.0


def test_picks_and_arrivals(built):
    cat, (events, assignments, picks, stations) = built
    ev = cat[0]
    origin = ev.preferred_origin()
    # sorted by pick time; pick ids end with the caller's pick_idx
    assert [p.resource_id.id.rsplit("/", 1)[1] for p in ev.picks] == ["0", "1", "2", "3"]
    assert [p.phase_hint for p in ev.picks] == ["P", "P", "P", "S"]
    assert all(p.evaluation_mode == "automatic" for p in ev.picks)
    assert all(not p.get("extra") for p in ev.picks)
    assert ev.picks[2].waveform_id.get_seed_string() == "CX.PB03.00."
    assert ev.picks[0].waveform_id.network_code == "CX"
    assert ev.picks[0].waveform_id.location_code == ""
    assert ev.picks[3].time == obspy.UTCDateTime(T0 + 12.0)

    for pick, arrival in zip(ev.picks, origin.arrivals, strict=True):
        assert arrival.pick_id == pick.resource_id
        assert arrival.pick_id.get_referred_object() is pick
    arr = {a.pick_id.id.rsplit("/", 1)[1]: a for a in origin.arrivals}
    a3 = arr["3"]
    assert a3.phase == "S" and a3.time_residual == -0.3 and a3.time_weight == 0.97
    assert float(a3.extra["association_probability"]["value"]) == 0.97
    assert float(a3.extra["pick_probability"]["value"]) == 0.6
    assert a3.extra["pick_probability"]["namespace"] == GENIE_NAMESPACE

    sta = stations.set_index("id")
    for key, sid in [("0", "CX.PB01."), ("1", "CX.PB02."), ("2", "CX.PB03.00")]:
        lat, lon = sta.loc[sid, ["latitude", "longitude"]]
        assert arr[key].distance == pytest.approx(
            locations2degrees(origin.latitude, origin.longitude, lat, lon), abs=1e-6
        )
        _, az, _ = gps2dist_azimuth(origin.latitude, origin.longitude, lat, lon)
        assert arr[key].azimuth == pytest.approx(az, abs=0.3)  # sphere vs. WGS84

    q = origin.quality
    dists = [a.distance for a in origin.arrivals]
    assert q.minimum_distance == pytest.approx(min(dists))
    assert q.maximum_distance == pytest.approx(max(dists))
    az = np.sort([arr[k].azimuth for k in ("0", "1", "2")])
    expected_gap = max(np.max(np.diff(az)), az[0] + 360 - az[-1])
    assert q.azimuthal_gap == pytest.approx(expected_gap)


def test_pick_probability_extra_option():
    events, assignments, picks, stations = _tables()
    cat = build_catalog(events, assignments, picks, stations, pick_probability_extra=True)
    ev = cat[0]
    assert float(ev.picks[0].extra["pick_probability"]["value"]) == 0.9
    assert all("pick_probability" not in a.extra for a in ev.preferred_origin().arrivals)
    assert all("association_probability" in a.extra for a in ev.preferred_origin().arrivals)


def _roundtrip(cat, tmp_path, **kwargs):
    path = tmp_path / "cat.xml"
    cat.write(str(path), format="QUAKEML", nsmap=NSMAP, validate=True, **kwargs)
    text = path.read_text()
    return obspy.read_events(str(path), format="QUAKEML"), text


@pytest.mark.parametrize("on_pick", [False, True])
def test_quakeml_round_trip(tmp_path, on_pick):
    events, assignments, picks, stations = _tables()
    cat = build_catalog(
        events, assignments, picks, stations, model_name="crustal", pick_probability_extra=on_pick
    )
    back, text = _roundtrip(cat, tmp_path)
    assert 'xmlns:genie="https://github.com/seisbench-genie/seisbench-genie"' in text
    assert "<genie:association_probability>" in text
    assert len(back) == len(cat)
    for e1, e2 in zip(cat, back, strict=True):
        assert e1.resource_id == e2.resource_id
        assert e2.preferred_origin_id == e1.preferred_origin_id
        assert e1.event_type == e2.event_type
        assert e1.event_type_certainty == e2.event_type_certainty
        assert float(e2.extra["detection_score"]["value"]) == e1.extra["detection_score"]["value"]
        o1, o2 = e1.preferred_origin(), e2.preferred_origin()
        assert o2 is not None
        for attr in (
            "time",
            "latitude",
            "longitude",
            "depth",
            "method_id",
            "evaluation_mode",
            "evaluation_status",
            "origin_type",
        ):
            assert getattr(o1, attr) == getattr(o2, attr), attr
        if o1.origin_uncertainty is not None:  # the reader adds an empty ConfidenceEllipsoid
            for attr in ("horizontal_uncertainty", "preferred_description"):
                assert o1.origin_uncertainty[attr] == o2.origin_uncertainty[attr]
        for attr in ("latitude_errors", "longitude_errors", "depth_errors", "time_errors"):
            assert getattr(o1, attr) == getattr(o2, attr), attr
        assert o1.quality == o2.quality
        assert o1.creation_info == o2.creation_info
        assert o2.extra["model_name"]["value"] == "crustal"
        assert len(e1.picks) == len(e2.picks)
        for p1, p2 in zip(e1.picks, e2.picks, strict=True):
            assert p1.resource_id == p2.resource_id
            assert p1.time == p2.time
            assert p1.waveform_id == p2.waveform_id
            assert p1.phase_hint == p2.phase_hint
            assert p1.evaluation_mode == p2.evaluation_mode
            if on_pick:
                assert float(p2.extra["pick_probability"]["value"]) == pytest.approx(
                    p1.extra["pick_probability"]["value"]
                )
            else:
                assert not p2.get("extra")
        assert len(o1.arrivals) == len(o2.arrivals)
        for a1, a2 in zip(o1.arrivals, o2.arrivals, strict=True):
            for attr in (
                "resource_id",
                "pick_id",
                "phase",
                "time_residual",
                "distance",
                "azimuth",
                "time_weight",
            ):
                assert getattr(a1, attr) == getattr(a2, attr), attr
            assert a2.pick_id.get_referred_object() is not None
            assert a2.pick_id.get_referred_object().resource_id == a1.pick_id
            assert set(a1.extra) == set(a2.extra)
            for key in a1.extra:
                assert float(a2.extra[key]["value"]) == a1.extra[key]["value"]
                assert a2.extra[key]["namespace"] == GENIE_NAMESPACE


def test_default_catalog_writes_nordic_and_hypodd(tmp_path):
    cat = build_catalog(*_tables())
    with pytest.warns(UserWarning):
        cat.write(str(tmp_path / "x.pha"), format="HYPODDPHA")
    cat.write(str(tmp_path / "x.nordic"), format="NORDIC")
    assert (tmp_path / "x.nordic").stat().st_size > 0


def test_fast_construction_equals_obspy_constructors(monkeypatch):
    tables = _tables()
    fast = build_catalog(*tables, model_name="m", id_prefix="smi:test/run")
    monkeypatch.setattr(catalog_module._Factory, "_self_check", lambda self: False)
    slow = build_catalog(*tables, model_name="m", id_prefix="smi:test/run")
    assert not catalog_module._Factory(obspy.core.event.Pick).fast
    for cat in (fast, slow):  # creation times differ by construction time only
        for ev in cat:
            ev.creation_info.creation_time = None
            ev.origins[0].creation_info.creation_time = None
    assert fast.events == slow.events


def test_resource_ids_resolve_after_copy(built):
    cat, _ = built
    dup = copy.deepcopy(cat)
    for ev in dup:
        assert ev.preferred_origin() is ev.origins[0]
        for arrival in ev.origins[0].arrivals:
            assert any(arrival.pick_id.get_referred_object() is p for p in ev.picks)


def test_unknown_station_and_station_index_column_ignored():
    events, assignments, picks, stations = _tables()
    few = stations[stations["id"] != "CX.PB03.00"]
    cat = build_catalog(events, assignments, picks, few)
    arrivals = cat[0].preferred_origin().arrivals
    assert sum(a.distance is None for a in arrivals) == 2  # P and S at CX.PB03.00
    assert cat[0].preferred_origin().quality.used_station_count == 3

    # a station_index column (possibly into another table) is ignored: ids are re-matched
    shuffled = picks.assign(station_index=np.arange(len(picks))[::-1] + 100)
    cat = build_catalog(events, assignments, shuffled, stations)
    reference = build_catalog(events, assignments, picks, stations)
    assert [a.distance for a in cat[0].preferred_origin().arrivals] == [
        a.distance for a in reference[0].preferred_origin().arrivals
    ]
    assert all(a.distance is not None for a in cat[0].preferred_origin().arrivals)


def test_station_spellings_count_once():
    events, assignments, picks, stations = _tables()
    extra = pd.DataFrame(
        {
            "pick_idx": [6],
            "event_idx": [11],
            "phase": ["P"],
            "probability": [0.5],
            "residual_s": [0.0],
        }
    )  # "CX.PB02" again
    cat = build_catalog(events, pd.concat([assignments, extra]), picks, stations)
    quality = cat[0].preferred_origin().quality
    assert (quality.used_phase_count, quality.used_station_count) == (5, 3)
    empty = build_catalog(events, assignments, picks, stations.iloc[:0])
    assert empty[0].preferred_origin().quality.azimuthal_gap is None


def test_optional_columns_and_fallbacks():
    events, assignments, picks, stations = _tables()
    events = events[["event_idx", "time", "latitude", "longitude", "depth_km"]]
    assignments = assignments[["pick_idx", "event_idx"]]
    cat = build_catalog(events, assignments, picks, stations, method="GENIE v2!")
    origin = cat[0].preferred_origin()
    assert origin.quality.associated_phase_count == 4  # counted from the assignments
    assert origin.quality.standard_error is None
    assert origin.method_id.id == "smi:seisbench_genie/method/GENIE_v2_"
    assert [a.phase for a in origin.arrivals] == [p.phase_hint for p in cat[0].picks]
    assert all(
        a.time_weight is None and "association_probability" not in a.get("extra", {})
        for a in origin.arrivals
    )
    assert not cat[0].get("extra")


def test_pick_in_two_events_gets_unique_ids(tmp_path):
    events, assignments, picks, stations = _tables()
    assignments = pd.concat(
        [
            assignments,
            pd.DataFrame(
                {
                    "pick_idx": [0],
                    "event_idx": [12],
                    "phase": ["P"],
                    "probability": [0.2],
                    "residual_s": [1.0],
                }
            ),
        ]
    )
    cat = build_catalog(events, assignments, picks, stations)
    ids = [p.resource_id.id for ev in cat for p in ev.picks]
    assert len(ids) == len(set(ids)) == 6
    back, _ = _roundtrip(cat, tmp_path)
    assert len(back[1].picks) == 2


def test_empty_events_give_empty_catalog():
    events, assignments, picks, stations = _tables()
    cat = build_catalog(events.iloc[:0], assignments.iloc[:0], picks, stations)
    assert isinstance(cat, Catalog) and len(cat) == 0
    cat = build_catalog(events.iloc[:1], assignments.iloc[:0], picks, stations)
    assert len(cat) == 1 and cat[0].picks == []
    assert cat[0].preferred_origin().quality.azimuthal_gap is None


def test_input_errors_name_the_argument():
    events, assignments, picks, stations = _tables()
    with pytest.raises(ValueError, match=r"events: missing column\(s\) \['depth_km'\]"):
        build_catalog(events.drop(columns="depth_km"), assignments, picks, stations)
    with pytest.raises(ValueError, match=r"assignments: missing column"):
        build_catalog(events, assignments.drop(columns="pick_idx"), picks, stations)
    with pytest.raises(ValueError, match=r"picks: missing column"):
        build_catalog(events, assignments, picks.drop(columns="station"), stations)
    with pytest.raises(ValueError, match=r"stations: expected a pandas DataFrame"):
        build_catalog(events, assignments, picks, None)
    with pytest.raises(ValueError, match=r"assignments: pick_idx not in picks: \[99\]"):
        build_catalog(events, assignments.assign(pick_idx=99), picks, stations)
    with pytest.raises(ValueError, match=r"assignments: event_idx not in events"):
        build_catalog(events, assignments.assign(event_idx=5), picks, stations)
    with pytest.raises(ValueError, match=r"events: 'event_idx' must be unique"):
        build_catalog(events.assign(event_idx=1), assignments, picks, stations)
    with pytest.raises(ValueError, match=r"events: 1 row\(s\) with a missing/non-finite 'time'"):
        build_catalog(events.assign(time=[np.nan, 1.0]), assignments, picks, stations)


def test_geometry_helpers():
    d, az = distance_azimuth(
        np.array([0.0, 0.0, 10.0]),
        np.array([0.0, 0.0, 20.0]),
        np.array([1.0, 0.0, 10.0]),
        np.array([0.0, -2.0, 20.0]),
    )
    np.testing.assert_allclose(d, [1.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(az[:2], [0.0, 270.0], atol=1e-9)
    gaps = azimuthal_gaps(np.array([2, 0, 2, 2, 0]), np.array([350.0, 90.0, 10.0, 180.0, 80.0]), 4)
    np.testing.assert_allclose(gaps[[0, 2]], [350.0, 170.0])
    assert np.isnan(gaps[1]) and np.isnan(gaps[3])


def test_large_catalog_is_fast():
    rng = np.random.default_rng(1)
    n_st, n_ev, k = 60, 1000, 30
    stations = pd.DataFrame(
        {
            "id": [f"XX.S{i:02d}." for i in range(n_st)],
            "latitude": rng.uniform(30, 35, n_st),
            "longitude": rng.uniform(-120, -115, n_st),
            "elevation": 0.0,
        }
    )
    events = pd.DataFrame(
        {
            "event_idx": np.arange(n_ev),
            "time": T0 + 60.0 * np.arange(n_ev),
            "latitude": rng.uniform(30, 35, n_ev),
            "longitude": rng.uniform(-120, -115, n_ev),
            "depth_km": 8.0,
            "horizontal_uncertainty_km": 1.0,
            "depth_uncertainty_km": 2.0,
            "time_uncertainty_s": 0.1,
            "n_picks": k,
            "n_stations": k,
            "score": 0.9,
            "rms_s": 0.2,
        }
    )
    n = n_ev * k
    picks = pd.DataFrame(
        {
            "pick_idx": np.arange(n),
            "station": np.array(stations["id"])[rng.integers(0, n_st, n)],
            "phase": "P",
            "time": np.repeat(events["time"].to_numpy(), k) + 5,
            "probability": 0.9,
        }
    )
    assignments = pd.DataFrame(
        {
            "pick_idx": np.arange(n),
            "event_idx": np.repeat(np.arange(n_ev), k),
            "probability": 0.8,
            "residual_s": 0.0,
        }
    )
    start = time.process_time()
    cat = build_catalog(events, assignments, picks, stations)
    elapsed = time.process_time() - start
    assert len(cat) == n_ev and sum(len(e.picks) for e in cat) == n
    assert elapsed < 6.0  # ~1 s here; 5000 x 30 takes ~4-5 s of CPU
