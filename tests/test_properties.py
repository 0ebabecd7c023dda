"""Properties of GENIE.classify on generated inputs (hypothesis; derandomized, so every run
draws the same few examples): no pick in two events; identical output for identical input;
the input's order does not change the catalog; false picks far in time from every event
remove no event."""

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from seisbench_genie import GENIE
from seisbench_genie.synthetic import make_scenario

PRETRAINED = Path(__file__).parents[1] / "pretrained"
COLUMNS = ["station", "phase", "time"]
#: Few examples, each a ~10-minute synthetic day (about 1 s per association on one core).
SETTINGS = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],  # no shrinking: slow here
                    suppress_health_check=[HealthCheck.too_slow])
#: Generated days: scenario seed, events (1-4) and false picks as a fraction of the true.
DAYS = st.tuples(st.integers(0, 40), st.integers(1, 4), st.sampled_from([0.0, 0.3, 1.0]))


@lru_cache(maxsize=1)
def _model() -> GENIE:
    return GENIE.load(PRETRAINED / "crustal", version_str="3")


@lru_cache(maxsize=16)
def _day(seed: int, n_events: int, noise: float):
    return make_scenario("crustal", n_events=n_events, noise=noise, duration_s=600.0,
                         seed=seed)


def _classify(day, picks: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _model().classify(picks, day.stations, velocity_model=day.velocity_model)


@lru_cache(maxsize=16)
def _result(seed: int, n_events: int, noise: float):
    day = _day(seed, n_events, noise)
    return _classify(day, day.picks[COLUMNS])


@SETTINGS
@given(DAYS)
def test_no_pick_in_two_events_and_identical_output_for_identical_input(spec):
    day = _day(*spec)
    first = _result(*spec)
    assert first.assignments["pick_idx"].is_unique
    assert set(first.assignments["event_idx"]) == set(first.events["event_idx"])
    again = _classify(day, day.picks[COLUMNS].copy())
    pd.testing.assert_frame_equal(first.events, again.events)
    pd.testing.assert_frame_equal(first.assignments, again.assignments)


@SETTINGS
@given(DAYS, st.integers(0, 2**32 - 1))
def test_input_order_does_not_change_the_catalog(spec, order_seed):
    day = _day(*spec)
    first = _result(*spec)
    order = np.random.default_rng(order_seed).permutation(len(day.picks))
    shuffled = _classify(day, day.picks[COLUMNS].iloc[order])
    pd.testing.assert_frame_equal(first.events, shuffled.events)
    # the same picks, named by their position in each input
    back = shuffled.assignments.assign(pick_idx=order[shuffled.assignments["pick_idx"]])
    pd.testing.assert_frame_equal(
        first.assignments.sort_values("pick_idx").reset_index(drop=True),
        back.sort_values("pick_idx").reset_index(drop=True))


@SETTINGS
@given(DAYS, st.integers(1, 200), st.floats(600.0, 3 * 86400.0), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_false_picks_far_from_every_event_remove_no_event(spec, n_false, gap_s, before, seed):
    day = _day(*spec)
    first = _result(*spec)
    rng = np.random.default_rng(seed)
    t = day.picks["time"]
    # false picks spread over 10 minutes, ``gap_s`` before the first or after the last pick
    start = t.min() - gap_s - 600.0 if before else t.max() + gap_s
    false = pd.DataFrame({"station": rng.choice(day.stations["id"], n_false),
                          "phase": rng.choice(["P", "S"], n_false),
                          "time": start + rng.uniform(0.0, 600.0, n_false)})
    more = _classify(day, pd.concat([day.picks[COLUMNS], false], ignore_index=True))
    found = more.events["time"].to_numpy()
    for origin in first.events["time"]:
        assert np.abs(found - origin).min() < 1.0, (origin, found)
    # and each keeps its picks: no original event loses an associated pick
    kept = set(more.assignments["pick_idx"])
    assert set(first.assignments["pick_idx"]) <= kept
