"""Bad input to GENIE.classify / GENIE.load: each gives a clear error naming the problem or the
right result with a warning (the list, with what happens, is docs/reliability.md)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from obspy import UTCDateTime

from seisbench_genie import GENIE
from seisbench_genie.nn.features import PickIndex
from seisbench_genie.picks import ISOLATION_GAP_S, stray_picks
from seisbench_genie.synthetic import make_scenario
from seisbench_genie.synthetic.scenarios import load_velocity_model
from seisbench_genie.traveltimes import get

PRETRAINED = Path(__file__).parents[1] / "pretrained"
COLUMNS = ["station", "phase", "time"]


@pytest.fixture(scope="module")
def model():
    return GENIE.load(PRETRAINED / "crustal", version_str="3")


@pytest.fixture(scope="module")
def day():
    # ten minutes of the crustal scenario: 5 events, 30 % false picks (about 250 picks)
    return make_scenario("crustal", n_events=5, noise=0.3, duration_s=600.0, seed=3)


def _classify(model, day, picks, stations=None, **kwargs):
    """classify with every warning recorded: (output, warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.classify(picks, day.stations if stations is None else stations,
                             velocity_model=day.velocity_model, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@pytest.fixture(scope="module")
def clean(model, day):
    out, notes = _classify(model, day, day.picks[COLUMNS])
    assert notes == [] and len(out.events) >= 4
    return out


def _same_events(a, b):
    assert len(a.events) == len(b.events)
    assert np.allclose(a.events["time"], b.events["time"], atol=1e-6)
    assert np.allclose(a.events[["latitude", "longitude"]], b.events[["latitude", "longitude"]],
                       atol=1e-6)


# ------------------------------------------------------------------ stray picks, pick index
@pytest.mark.parametrize("times, shown", [
    ([1e12, 1e12 + 5.0, 2e12], "1000000000000 s"),  # milliseconds as seconds / corrupt
    ([1.95e9, 1.95e9 + 1.0, 7e8], "2031-10-17T10:40:00"),  # corrupt, but a plausible year
])
def test_stray_picks_are_set_aside_with_a_warning_and_the_rest_associated(
        model, day, clean, times, shown):
    stations = day.picks["station"].iloc[:3].to_numpy()
    stray = pd.DataFrame({"station": stations, "phase": "P", "time": times})
    picks = pd.concat([day.picks[COLUMNS], stray], ignore_index=True)
    out, notes = _classify(model, day, picks)  # took over 10 minutes before the rule
    _same_events(out, clean)
    assert len(notes) == 1 and "3 pick(s) set aside, not associated" in notes[0], notes
    assert shown in notes[0]
    for i in range(len(day.picks), len(picks)):  # each named by its position in the input
        assert f"pick_idx {i}" in notes[0]
    assert not out.assignments["pick_idx"].isin(range(len(day.picks), len(picks))).any()


def test_all_times_in_milliseconds_is_an_error(model, day):
    picks = day.picks[COLUMNS].assign(time=day.picks["time"] * 1000.0)
    with pytest.raises(ValueError, match="every pick time is outside 1900-2200 UTC.*milli"):
        model.classify(picks, day.stations, velocity_model=day.velocity_model)


def test_stray_rule_keeps_groups_that_can_hold_an_event():
    rng = np.random.default_rng(0)
    bulk = 1.7e9 + rng.uniform(0, 3600.0, 50)
    later = 1.7e9 + 3 * ISOLATION_GAP_S + rng.uniform(0, 60.0, 10)  # 10 = min_picks
    lone = [1.7e9 + 9 * ISOLATION_GAP_S]
    implausible, isolated = stray_picks(np.concatenate([bulk, later, lone]), min_picks=10)
    assert not implausible.any()
    assert isolated.nonzero()[0].tolist() == [60]
    # one small group alone is the bulk, however small; gaps under a day split nothing
    assert not stray_picks(bulk[:3], min_picks=10)[1].any()
    assert not stray_picks(bulk[:5].tolist() + [bulk[0] + 0.9 * ISOLATION_GAP_S], 10)[1].any()


@pytest.mark.parametrize("span_s", [1e3, 1e8, 1e12])
def test_pick_index_has_no_collisions_at_any_time_span(span_s):
    """Nearest picks per station equal a brute-force search, also for spans where the old
    packed key (station * 1e7 + time) mixed stations up."""
    rng = np.random.default_rng(1)
    n, n_sta = 400, 7
    station = rng.integers(0, n_sta, n)
    station[station == 3] = 2  # station 3 has no pick
    time = rng.uniform(0.0, span_s, n)
    phase = rng.integers(0, 2, n)
    index = PickIndex(torch.tensor(station), torch.tensor(time), torch.tensor(phase))
    q_sta = rng.integers(0, n_sta, 300)
    q_time = rng.uniform(-0.1 * span_s, 1.1 * span_s, 300)
    lo, hi = 0.2 * span_s, 0.6 * span_s
    sub = index.within(lo, hi)
    for which, keep in (("any", np.ones(n, bool)), ("P", phase == 0), ("S", phase == 1)):
        got = index.nearest_offset(which, torch.tensor(q_sta), torch.tensor(q_time)).numpy()
        got_sub = sub.nearest_offset(which, torch.tensor(q_sta), torch.tensor(q_time)).numpy()
        for s, t, g, g_sub in zip(q_sta, q_time, got, got_sub, strict=True):
            mine = time[keep & (station == s)]
            inside = mine[(mine >= lo) & (mine <= hi)]
            for picks, value in ((mine, g), (inside, g_sub)):
                if len(picks) == 0:
                    assert value == np.inf
                else:
                    best = picks[np.argmin(np.abs(picks - t))] - t
                    assert abs(value - best) <= 1e-9 * max(span_s, 1.0), (s, t, value, best)


# ------------------------------------------------------------------ picks
def test_unknown_stations(model, day, clean):
    extra = day.picks[COLUMNS].iloc[:5].assign(station="ZZ.NOPE.")
    out, notes = _classify(model, day, pd.concat([day.picks[COLUMNS], extra]))
    _same_events(out, clean)
    assert len(notes) == 1 and "dropped 5 pick(s)" in notes[0] and "ZZ.NOPE." in notes[0]
    with pytest.raises(ValueError, match=r"none of the 1 station id\(s\).*ZZ\.NOPE\..*CI\."):
        model.classify(day.picks[COLUMNS].assign(station="ZZ.NOPE."), day.stations)
    with pytest.raises(ValueError, match="is in the inventory.*no stations"):
        model.classify(day.picks[COLUMNS], day.stations.iloc[:0])


def test_nan_inf_and_duplicate_times(model, day, clean):
    bad = day.picks[COLUMNS].copy()
    bad.loc[bad.index[:3], "time"] = [np.nan, np.inf, -np.inf]
    out, notes = _classify(model, day, pd.concat([day.picks[COLUMNS], bad.iloc[:3]]))
    _same_events(out, clean)
    assert len(notes) == 1 and "dropped 3 pick(s) with a missing, unparseable" in notes[0]
    out, notes = _classify(model, day, pd.concat([day.picks[COLUMNS], day.picks[COLUMNS][:7]]))
    _same_events(out, clean)
    assert len(notes) == 1 and "dropped 7 exact duplicate pick(s)" in notes[0]
    out, notes = _classify(model, day, day.picks[COLUMNS].assign(time=np.nan))
    assert len(out.events) == 0 and "non-finite time" in notes[0]


def test_unknown_phase_labels(model, day, clean):
    extra = day.picks[COLUMNS].iloc[:4].assign(phase="Lg")
    out, notes = _classify(model, day, pd.concat([day.picks[COLUMNS], extra]))
    _same_events(out, clean)
    assert len(notes) == 1 and "dropped 4 pick(s) with unsupported phase label(s) 'Lg'" in notes[0]
    out, notes = _classify(model, day, day.picks[COLUMNS].assign(phase="X"))
    assert len(out.events) == 0 and len(out.assignments) == 0 and "'X'" in notes[0]


@pytest.mark.parametrize("picks", [[], pd.DataFrame(), pd.DataFrame(columns=COLUMNS)],
                         ids=["list", "no-columns", "no-rows"])
def test_empty_input_gives_empty_tables(model, day, clean, picks):
    out, notes = _classify(model, day, picks)
    assert notes == [] and len(out.catalog) == 0
    assert list(out.events.columns) == list(clean.events.columns) and len(out.events) == 0
    assert list(out.assignments.columns) == list(clean.assignments.columns)


def test_not_picks_is_an_error(model, day):
    with pytest.raises(ValueError, match="picks: expected a SeisBench PickList"):
        model.classify(None, day.stations)


def test_one_station_gives_no_event(model, day):
    station = day.picks["station"].value_counts().index[0]
    out, notes = _classify(model, day, day.picks.loc[day.picks["station"] == station, COLUMNS])
    assert len(out.events) == 0 and notes == []


def test_unsorted_input_gives_the_same_events(model, day, clean):
    order = np.random.default_rng(2).permutation(len(day.picks))
    out, _ = _classify(model, day, day.picks[COLUMNS].iloc[order])
    _same_events(out, clean)
    # the assignments point to the rows of the caller's (shuffled) input
    assert sorted(order[out.assignments["pick_idx"]]) == sorted(clean.assignments["pick_idx"])


def test_naive_utc_aware_and_mixed_time_types_agree(model, day, clean):
    naive = pd.to_datetime(day.picks["time"], unit="s")
    for times in (naive, naive.dt.tz_localize("UTC"),
                  naive.dt.tz_localize("UTC").dt.tz_convert("America/Los_Angeles")):
        out, notes = _classify(model, day, day.picks[COLUMNS].assign(time=times))
        _same_events(out, clean)
        assert notes == []
    t = day.picks["time"].to_numpy()
    kinds = [UTCDateTime, lambda x: pd.Timestamp(x, unit="s").isoformat(), float,
             lambda x: pd.Timestamp(x, unit="s", tz="UTC")]
    mixed = pd.Series([kinds[i % 4](x) for i, x in enumerate(t)], dtype=object,
                      index=day.picks.index)
    out, notes = _classify(model, day, day.picks[COLUMNS].assign(time=mixed))
    _same_events(out, clean)
    assert notes == []


# ------------------------------------------------------------------ inventory, region
def test_inventory_with_duplicate_ids_or_missing_coordinates(model, day, clean):
    st = day.stations
    out, _ = _classify(model, day, day.picks[COLUMNS], stations=pd.concat([st, st.iloc[:3]]))
    _same_events(out, clean)  # the same station twice with the same coordinates is one
    moved = pd.concat([st, st.iloc[:2].assign(latitude=0.0)])
    with pytest.raises(ValueError, match="inventory: station id.* with different coordinates"):
        model.classify(day.picks[COLUMNS], moved)
    holes = st.copy()
    holes.loc[holes.index[:2], "longitude"] = np.nan
    with pytest.raises(ValueError, match=r"inventory: 2 station\(s\) without coordinates"):
        model.classify(day.picks[COLUMNS], holes)
    with pytest.raises(ValueError, match=r"inventory: missing column\(s\) \['latitude'\]"):
        model.classify(day.picks[COLUMNS], st.drop(columns="latitude"))


def test_region_deeper_than_the_travel_time_table_is_refused_by_name(model, day):
    table = get("layered", model=load_velocity_model("hadley_kanamori"), max_distance_km=200.0,
                max_depth_km=30.0)
    with pytest.raises(ValueError, match="region: depth_km reaches 60.0 km but the travel-time "
                                         "table .* stops at 30.0 km"):
        model.classify(day.picks[COLUMNS], day.stations, velocity_model=table,
                       region={"depth_km": (0.0, 60.0)})
    with pytest.raises(ValueError, match="region: depth_km must be >= 0"):
        model.classify(day.picks[COLUMNS], day.stations, region={"depth_km": (-5.0, 10.0)})


# ------------------------------------------------------------------ weights
def test_truncated_or_changed_weights_are_refused_by_name(model, tmp_path):
    model.save(tmp_path / "mine", version_str="1")
    pt = tmp_path / "mine.pt.v1"
    good = pt.read_bytes()
    assert GENIE.load(tmp_path / "mine", version_str="1").scale == model.scale
    for data in (good[: len(good) // 2], b"", good[:100] + bytes([good[100] ^ 0xFF]) + good[101:]):
        pt.write_bytes(data)
        with pytest.raises(ValueError, match=f"{pt}: cannot be read as PyTorch weights"):
            GENIE.load(tmp_path / "mine", version_str="1")
    middle = len(good) // 2  # inside a tensor: still loads, but the hash differs
    pt.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1:])
    with pytest.raises(ValueError, match=f"{pt}: sha256 [0-9a-f]{{64}} differs from"):
        GENIE.load(tmp_path / "mine", version_str="1")
    assert not list(tmp_path.glob("*.tmp"))  # the metadata was written whole, then renamed


# ------------------------------------------------------------------ station terms
def test_auto_station_terms_on_too_few_events_stay_zero_and_say_so(model):
    few = make_scenario("crustal", n_events=2, noise=0.0, duration_s=300.0, seed=4)
    out, notes = _classify(model, few, few.picks[COLUMNS], station_terms="auto")
    assert 1 <= len(out.events) <= 2
    terms = out.station_terms
    assert (terms[["p_term_s", "s_term_s"]] == 0.0).all().all()
    assert (terms[["n_p", "n_s"]] < 5).all().all()
    said = [n for n in notes if "station_terms='auto': too few well-constrained picks" in n]
    assert len(said) == 1 and "left at 0" in said[0]
    assert all(i in said[0] for i in terms["id"].head(3))
