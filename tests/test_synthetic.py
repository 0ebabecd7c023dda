"""Benchmark scenarios after Puente et al. (2025)."""

import numpy as np
import pytest

from seisbench_genie.synthetic import SCENARIOS, crustal_stations, make_scenario
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
