"""Station delays: the estimator, ``station_terms="auto"`` end to end, explicit terms."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seisbench_genie import GENIE
from seisbench_genie.association.station_terms import MIN_RESIDUALS, estimate_station_terms
from seisbench_genie.metrics import evaluate
from seisbench_genie.synthetic import make_scenario

PRETRAINED = Path(__file__).parents[1] / "pretrained"
#: Injected delays (s): +0.6 P / +1.0 S at five stations, -0.4 / -0.7 at five others.
DELAYS = {"P": (0.6, -0.4), "S": (1.0, -0.7)}


def _recorded_residuals(rng, delays: dict[str, tuple[float, float]], n_events: int,
                        rms_s: float, first_event: int = 0) -> tuple:
    """P and S picks of ``n_events`` events at every station of ``delays`` (station: P, S
    delay in s): residual = delay + noise (s)."""
    rows, station = [], []
    for e in range(first_event, first_event + n_events):
        for sta, (p_delay, s_delay) in delays.items():
            rows += [(e, "P", p_delay + rng.normal(0.0, 0.05)),
                     (e, "S", s_delay + rng.normal(0.0, 0.05))]
            station += [sta, sta]
    asg = pd.DataFrame(rows, columns=["event_idx", "phase", "residual_s"])
    events = pd.DataFrame({"event_idx": range(first_event, first_event + n_events),
                           "n_picks": 2 * len(delays), "rms_s": rms_s})
    return asg, events, station


def test_estimator_recovers_delays_and_leaves_sparse_stations_at_zero():
    rng = np.random.default_rng(0)
    p_delay = pd.Series({"XX.A.": 0.5, "XX.B.": -0.3, "XX.C.": 0.1, "XX.D.": -0.1})
    delays = {sta: (d, 1.7 * d + 0.2) for sta, d in p_delay.items()}  # S: 1.7 P + 0.2 s
    asg, events, station = _recorded_residuals(rng, delays, 8, rms_s=0.3)
    # a poorly fitting event (rms 10x the others') whose residuals must not count
    bad_asg, bad_events, bad_station = _recorded_residuals(
        rng, dict.fromkeys(delays, (5.0, 5.0)), 1, rms_s=3.0, first_event=8)
    # station XX.E. has only 3 P residuals (and no S), all from well-recorded events
    sparse = pd.DataFrame({"event_idx": [0, 1, 2], "phase": "P", "residual_s": 1.0})
    asg = pd.concat([asg, bad_asg, sparse], ignore_index=True)
    asg.insert(0, "pick_idx", np.arange(len(asg)))
    pick_station = pd.Series(station + bad_station + ["XX.E."] * 3)
    events = pd.concat([events, bad_events], ignore_index=True)
    # the residuals were computed with a term of 0.2 s at XX.A.: its new term adds to it
    previous = pd.DataFrame({"id": ["XX.A."], "p_term_s": [0.2], "s_term_s": [0.0]})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        terms = estimate_station_terms(asg, events, pick_station, previous=previous,
                                       min_picks=4)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "at XX.E. (P); XX.E. (S);" in messages[0], messages[0]

    terms = terms.set_index("id")
    assert list(terms.columns) == ["p_term_s", "s_term_s", "n_p", "n_s"]
    assert terms.loc["XX.E.", ["p_term_s", "s_term_s"]].tolist() == [0.0, 0.0]
    assert terms.loc["XX.E.", ["n_p", "n_s"]].tolist() == [3, 0]
    stations = list(delays)
    assert (terms.loc[stations, ["n_p", "n_s"]] == 8).all().all()  # the bad event is left out
    # term = previous term + median residual, less one constant: the P terms' network mean
    raw_p = p_delay + pd.Series({"XX.A.": 0.2}).reindex(stations, fill_value=0.0)
    raw_s = 1.7 * p_delay + 0.2
    common = raw_p.mean()
    assert np.allclose(terms.loc[stations, "p_term_s"], raw_p - common, atol=0.05)
    assert np.allclose(terms.loc[stations, "s_term_s"], raw_s - common, atol=0.05)
    assert abs(terms.loc[stations, "p_term_s"].mean()) < 1e-9


@pytest.fixture(scope="module")
def model():
    return GENIE.load(PRETRAINED / "crustal", version_str="2")


@pytest.fixture(scope="module")
def delayed_day():
    """A synthetic crustal hour (20 events, 30 % false picks) with delays added to the picks
    of ten of the better-recorded stations; returns the day, its picks and the delays."""
    day = make_scenario("crustal", n_events=20, noise=0.3, duration_s=3600.0, seed=7)
    picks = day.picks.copy()
    counts = picks[picks["event"] >= 0].groupby("station").size().sort_values(ascending=False)
    chosen = np.random.default_rng(7).permutation(counts.index[: len(counts) // 2])[:10]
    truth = pd.DataFrame({"id": sorted(day.stations["id"]), "p_term_s": 0.0, "s_term_s": 0.0})
    truth = truth.set_index("id")
    for col, phase in (("p_term_s", "P"), ("s_term_s", "S")):
        truth.loc[chosen[:5], col] = DELAYS[phase][0]
        truth.loc[chosen[5:], col] = DELAYS[phase][1]
        rows = (picks["phase"] == phase).to_numpy()
        picks.loc[rows, "time"] += truth[col].reindex(picks.loc[rows, "station"]).to_numpy()
    return day, picks, truth.reset_index(), chosen


@pytest.fixture(scope="module")
def plain(model, delayed_day):
    day, picks, _, _ = delayed_day
    return model.classify(picks[["station", "phase", "time"]], day.stations,
                          velocity_model=day.velocity_model)


def test_auto_recovers_injected_delays_and_improves_locations(model, delayed_day, plain):
    day, picks, truth, chosen = delayed_day
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auto = model.classify(picks[["station", "phase", "time"]], day.stations,
                              velocity_model=day.velocity_model, station_terms="auto")
    notes = [w for w in caught if "station_terms='auto'" in str(w.message)]
    assert len(notes) <= 1
    assert plain.station_terms is None
    terms = auto.station_terms
    assert list(terms.columns) == ["id", "p_term_s", "s_term_s", "n_p", "n_s"]
    both = terms.merge(truth, on="id", suffixes=("", "_true")).set_index("id")
    estimated = both[(both["n_p"] >= MIN_RESIDUALS) & (both["n_s"] >= MIN_RESIDUALS)]
    assert set(chosen) <= set(estimated.index)  # the delayed stations are well recorded
    for col, count in (("p_term_s", "n_p"), ("s_term_s", "n_s")):
        # terms are defined up to a network-wide constant per phase: compare without the mean
        found = estimated[col] - estimated[col].mean()
        true = estimated[col + "_true"] - estimated[col + "_true"].mean()
        assert (found - true)[list(chosen)].abs().max() < 0.15, (found - true)[list(chosen)]
        assert (both.loc[both[count] < MIN_RESIDUALS, col] == 0.0).all()

    before = evaluate(picks, plain.assignments, day.events, plain.events)
    after = evaluate(picks, auto.assignments, day.events, auto.events)
    assert after.n_matched >= before.n_matched and after.event_f1 >= before.event_f1
    assert after.epicentral_error_km < before.epicentral_error_km
    assert after.depth_error_km < before.depth_error_km


def test_explicit_terms_are_used_and_returned(model, delayed_day, plain):
    day, picks, truth, chosen = delayed_day
    out = model.classify(picks[["station", "phase", "time"]], day.stations,
                         velocity_model=day.velocity_model, station_terms=truth)
    assert out.station_terms is truth

    def median_residual(result, phase):
        asg = result.assignments[result.assignments["phase"] == phase]
        station = picks["station"].to_numpy()[asg["pick_idx"].to_numpy()]
        return asg.groupby(station)["residual_s"].median()

    late = list(chosen[:5])
    for phase in ("P", "S"):
        # without terms the delayed stations' picks arrive late; with the true terms they fit
        assert median_residual(plain, phase)[late].mean() > 0.3
        assert median_residual(out, phase)[late].abs().max() < 0.15


@pytest.mark.parametrize("kwargs, name", [
    ({"station_terms": "median"}, "station_terms"),
    ({"station_terms": "AUTO"}, "station_terms"),
    ({"station_terms": "auto", "station_term_iterations": 0}, "station_term_iterations"),
    ({"station_terms": [0.1, 0.2]}, "station_terms"),
])
def test_bad_station_terms_name_the_argument(model, delayed_day, kwargs, name):
    day, picks, _, _ = delayed_day
    with pytest.raises(ValueError, match=name):
        model.classify(picks[["station", "phase", "time"]], day.stations,
                       velocity_model=day.velocity_model, **kwargs)
