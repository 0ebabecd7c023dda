"""Benchmark scenarios after Puente et al. (2025) and days on the user's own stations."""

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.synthetic import (
    SCENARIOS,
    crustal_stations,
    load_velocity_model,
    make_custom_scenario,
    make_scenario,
)
from seisbench_genie.synthetic.scenarios import KM_PER_DEG


def test_crustal_network_matches_the_paper_setting():
    st = crustal_stations()
    assert 50 <= len(st) <= 100
    span_y = (st.latitude.max() - st.latitude.min()) * KM_PER_DEG
    span_x = (st.longitude.max() - st.longitude.min()) * KM_PER_DEG * np.cos(np.radians(34.1))
    assert 250 <= span_x <= 320 and 250 <= span_y <= 320
    assert st["id"].str.endswith(".").all() and st["id"].is_unique


@pytest.mark.parametrize("name", ["crustal", "subduction", "crustal-ridgecrest"])
def test_scenario_rules(name):
    scn = make_scenario(name, n_events=60, noise=1.0, seed=4)
    spec = SCENARIOS[name]
    picks, events = scn.picks, scn.events
    assert len(events) == 60 and events["n_picks"].min() >= 10
    assert events["depth_km"].between(*spec.depth_km).all()
    n_true = (picks.event >= 0).sum()
    assert (picks.event == -1).sum() == round(1.0 * n_true)
    assert picks["time"].is_monotonic_increasing
    assert set(picks.phase) == {"P", "S"}
    assert set(picks.station) <= set(scn.stations.id)
    # at most one P and one S per station and event
    assert not picks[picks.event >= 0].duplicated(["event", "station", "phase"]).any()


def test_travel_time_noise_is_within_one_percent():
    from seisbench_genie.traveltimes import get

    scn = make_scenario("subduction", n_events=30, noise=0.0, seed=1)
    backend = get("layered", model=scn.velocity_model, max_distance_km=900, max_depth_km=260)
    p = scn.picks.merge(scn.events, left_on="event", right_on="event", suffixes=("", "_ev"))
    st = scn.stations.set_index("id").loc[p.station].reset_index()
    tt_obs = p["time"] - p["time_ev"]
    src = p[["latitude", "longitude", "depth_km"]].to_numpy()
    pred = np.empty(len(p))
    for ph in ("P", "S"):
        sel = (p.phase == ph).to_numpy()
        for i in np.flatnonzero(sel)[:200]:
            pred[i] = backend.times(src[i], st.iloc[[i]], ph)[0, 0]
    chk = np.flatnonzero(np.isin(np.arange(len(p)), np.r_[np.flatnonzero(p.phase == "P")[:200],
                                                          np.flatnonzero(p.phase == "S")[:200]]))
    rel = np.abs(tt_obs.to_numpy()[chk] / pred[chk] - 1)
    assert rel.max() <= 0.0101


def test_seeded_and_reproducible():
    a = make_scenario("crustal", n_events=20, noise=0.3, seed=7)
    b = make_scenario("crustal", n_events=20, noise=0.3, seed=7)
    c = make_scenario("crustal", n_events=20, noise=0.3, seed=8)
    assert a.picks.equals(b.picks)
    assert not a.picks["time"].equals(c.picks["time"])


def test_further_tests_parameters():
    base = make_scenario("subduction", n_events=40, noise=0.3, seed=2)
    oon = make_scenario("subduction", n_events=40, noise=0.3, out_of_network=15, seed=2)
    assert (~oon.events.in_network).sum() == 15
    west = oon.events[~oon.events.in_network]
    assert (west.longitude < oon.stations.longitude.min()).all()
    assert west.depth_km.between(0, 40).all()
    rm = make_scenario("subduction", n_events=40, noise=0.0, pick_removal=0.4, seed=2)
    ratio = (rm.picks.event >= 0).sum() / (base.picks.event >= 0).sum()
    assert 0.45 < ratio < 0.75
    loud = make_scenario("subduction", n_events=40, noise=0.0, tt_noise=(0.10, 0.15), seed=2)
    assert loud.name.endswith("_tt0.1-0.15")


def test_picklist_conversion():
    scn = make_scenario("subduction", n_events=10, noise=0.3, seed=0)
    pl = scn.to_picklist()
    assert len(pl) == len(scn.picks)
    assert pl[0].trace_id == scn.picks.station[0]
    assert abs(pl[0].peak_time.timestamp - scn.picks.time[0]) < 1e-3


@pytest.mark.parametrize("kwargs, message", [
    ({"scenario": "mars"}, "scenario"), ({"noise": -1}, "noise"),
    ({"tt_noise": (0.2, 0.1)}, "tt_noise"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scenario(**{"n_events": 5, **kwargs})


# --- days on the user's own stations -------------------------------------------------------

def _grid_network(n_side: int = 4, spacing_deg: float = 0.18) -> pd.DataFrame:
    lat, lon = np.meshgrid(38.0 + np.arange(n_side) * spacing_deg,
                           22.0 + np.arange(n_side) * spacing_deg * 1.25)
    return pd.DataFrame({"id": [f"XX.S{i:02d}." for i in range(n_side * n_side)],
                         "latitude": lat.ravel(), "longitude": lon.ravel(), "elevation": 250.0})


TWO_LAYERS = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 6.8], "vs": [3.5, 3.9]})


def test_custom_scenario_of_the_crustal_setting_is_the_crustal_scenario():
    # the built-in days must not change: the same stations, model and geometry give the same
    # day, draw for draw
    spec = SCENARIOS["crustal"]
    kwargs = {"n_events": 25, "noise": 0.5, "duration_s": 7200.0, "seed": 3}
    builtin = make_scenario("crustal", **kwargs)
    custom = make_custom_scenario(crustal_stations(), load_velocity_model(spec.velocity_model),
                                  depth_km=spec.depth_km, cutoff_km=spec.cutoff_km,
                                  margin_deg=spec.margin_deg, name="crustal", **kwargs)
    for part in ("picks", "events", "stations", "velocity_model"):
        pd.testing.assert_frame_equal(getattr(custom, part), getattr(builtin, part))
    assert custom.region == builtin.region and custom.params == builtin.params
    assert custom.name == builtin.name == "crustal_25_0.5"


def test_custom_scenario_follows_the_rules_on_any_network():
    stations = _grid_network()
    scn = make_custom_scenario(stations, TWO_LAYERS.to_dict("list"), depth_km=(2.0, 18.0),
                               cutoff_km=(40.0, 80.0), margin_deg=0.1, name="greece",
                               n_events=30, noise=1.0, duration_s=3600.0, seed=2)
    assert scn.name == "greece_30_1.0" and scn.params["scenario"] == "greece"
    assert len(scn.events) == 30 and scn.events["n_picks"].min() >= 10
    assert scn.events["depth_km"].between(2.0, 18.0).all()
    assert scn.events["latitude"].between(*scn.region["latitude"]).all()
    assert scn.region["latitude"] == pytest.approx((37.9, 38.0 + 3 * 0.18 + 0.1))
    assert set(scn.picks["station"]) <= set(stations["id"])
    n_true = (scn.picks["event"] >= 0).sum()
    assert (scn.picks["event"] == -1).sum() == n_true
    assert scn.velocity_model.columns.tolist() == ["depth_km", "vp", "vs"]
    again = make_custom_scenario(stations, TWO_LAYERS, depth_km=(2.0, 18.0),
                                 cutoff_km=(40.0, 80.0), margin_deg=0.1, name="greece",
                                 n_events=30, noise=1.0, duration_s=3600.0, seed=2)
    pd.testing.assert_frame_equal(scn.picks, again.picks)


def test_custom_scenario_from_an_inventory_has_one_station_per_location():
    from obspy.core.inventory import Channel, Inventory, Network, Station

    table = _grid_network(3, 0.15)
    stations = []
    for i, row in table.iterrows():
        loc = "00" if i % 2 else ""
        chan = Channel("HHZ", loc, row.latitude, row.longitude, 250.0, 0.0)
        stations.append(Station(f"S{i:02d}", row.latitude, row.longitude, 250.0,
                                channels=[chan]))
    inventory = Inventory(networks=[Network("XX", stations=stations)], source="test")
    scn = make_custom_scenario(inventory, TWO_LAYERS, cutoff_km=(40.0, 80.0), n_events=5,
                               noise=0.0, duration_s=600.0, min_picks=6, seed=0)
    ids = scn.stations["id"]
    assert len(ids) == 9 and ids.is_unique
    located = set(ids[ids.str.endswith(".00")].str[:-3])
    assert located and located.isdisjoint(ids[ids.str.endswith(".")].str[:-1])


@pytest.mark.parametrize("stations, model, kwargs, message", [
    (_grid_network().iloc[:0], TWO_LAYERS, {}, "stations: no stations"),
    (_grid_network().iloc[:3], TWO_LAYERS, {}, "stations: 3 station"),
    (_grid_network().drop(columns="latitude"), TWO_LAYERS, {}, "stations: missing column"),
    ("XX.S01", TWO_LAYERS, {}, "stations: expected"),
    (_grid_network(), TWO_LAYERS.drop(columns="vs"), {}, "velocity_model: missing column 'vs'"),
    (_grid_network(), TWO_LAYERS.assign(vp=[6.0, -1.0]), {}, "velocity_model"),
    (_grid_network(), TWO_LAYERS, {"depth_km": (20.0, 5.0)}, "depth_km"),
    (_grid_network(), TWO_LAYERS, {"depth_km": (-1.0, 5.0)}, "depth_km"),
    (_grid_network(), TWO_LAYERS, {"cutoff_km": (0.0, 50.0)}, "cutoff_km"),
    (_grid_network(), TWO_LAYERS, {"cutoff_km": 50.0}, "cutoff_km"),
    (_grid_network(), TWO_LAYERS, {"margin_deg": -0.1}, "margin_deg"),
    (_grid_network(), TWO_LAYERS, {"noise": -1.0}, "noise"),
])
def test_custom_scenario_bad_input_names_the_argument(stations, model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_custom_scenario(stations, model, **{"n_events": 5, **kwargs})


def test_custom_scenario_with_a_cutoff_below_the_station_spacing_is_an_error():
    from seisbench_genie.traveltimes import get

    far_apart = _grid_network(4, 0.5)  # stations about 50 km apart
    with pytest.raises(ValueError, match="cutoff_km: only 0 of"):
        make_custom_scenario(far_apart, TWO_LAYERS, cutoff_km=(5.0, 10.0), n_events=50,
                             backend=get("homogeneous"))


def test_genie_associates_a_custom_day(tmp_path, monkeypatch):
    # the shipped crustal model on a network and 1-D model it never saw (about 1 s)
    import seisbench

    from seisbench_genie import GENIE
    from seisbench_genie.metrics import evaluate

    monkeypatch.setattr(seisbench, "cache_model_root", tmp_path / "models")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", "http://127.0.0.1:9/unreachable")
    model_1d = pd.DataFrame({"depth_km": [0.0, 4.0, 25.0], "vp": [5.2, 6.1, 7.9],
                             "vs": [3.0, 3.5, 4.5]})
    scn = make_custom_scenario(_grid_network(5, 0.2), model_1d, depth_km=(0.0, 20.0),
                               cutoff_km=(50.0, 100.0), margin_deg=0.1, n_events=15, noise=0.3,
                               duration_s=3600.0, seed=5)
    out = GENIE.from_pretrained("crustal").classify(
        scn.picks, scn.stations, velocity_model=scn.velocity_model, region=scn.region)
    scores = evaluate(scn.picks, out.assignments, scn.events, out.events)
    assert scores.event_f1 >= 0.85 and scores.epicentral_error_km < 3.0, scores
