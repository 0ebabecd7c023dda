"""Scoring after Puente et al. (2025) section 3.3."""

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.metrics import evaluate


def _picks(events):
    return pd.DataFrame({"event": events})


def test_perfect_association():
    picks = _picks([0] * 10 + [1] * 10 + [-1] * 5)
    asg = pd.DataFrame({"pick_idx": np.arange(20), "event_idx": [5] * 10 + [9] * 10})
    s = evaluate(picks, asg)
    assert (s.event_precision, s.event_recall, s.event_f1) == (1.0, 1.0, 1.0)
    assert s.pick_f1 == 1.0 and s.false_picks_per_event == 0


def test_half_of_the_picks_is_enough_and_merged_events_count_once():
    picks = _picks([0] * 10 + [1] * 10)
    # one prediction holding all picks of both events: retrieves one event only
    merged = evaluate(picks, pd.DataFrame({"pick_idx": np.arange(20), "event_idx": 0}))
    assert merged.n_matched == 1 and merged.event_recall == 0.5
    assert merged.wrong_picks_per_event == 10
    # 5 of 10 picks (50 %) retrieves the event; 4 of 10 does not
    half = evaluate(picks, pd.DataFrame({"pick_idx": np.arange(5), "event_idx": 0}))
    assert half.n_matched == 1 and half.missed_picks_per_event == 5
    less = evaluate(picks, pd.DataFrame({"pick_idx": np.arange(4), "event_idx": 0}))
    assert less.n_matched == 0 and less.event_precision == 0.0


def test_false_events_lower_precision_and_noise_picks_are_false_picks():
    picks = _picks([0] * 10 + [-1] * 12)
    asg = pd.DataFrame({"pick_idx": np.arange(22), "event_idx": [0] * 12 + [1] * 10})
    s = evaluate(picks, asg)
    assert s.n_pred_events == 2 and s.event_precision == 0.5 and s.event_recall == 1.0
    assert s.false_picks_per_event == 2


def test_location_errors_and_out_of_network_events():
    picks = _picks([0] * 10 + [1] * 10)
    asg = pd.DataFrame({"pick_idx": np.arange(20), "event_idx": [0] * 10 + [1] * 10})
    true = pd.DataFrame({"event": [0, 1], "time": [100.0, 200.0], "latitude": [0.0, 1.0],
                         "longitude": [0.0, 1.0], "depth_km": [10.0, 10.0],
                         "in_network": [True, False]})
    pred = pd.DataFrame({"event_idx": [0, 1], "time": [101.0, 200.0],
                         "latitude": [0.0, 1.0], "longitude": [0.09, 1.0],
                         "depth_km": [13.0, 10.0]})
    s = evaluate(picks, asg, true, pred)
    assert s.n_true_events == 1 and s.n_pred_events == 1 and s.event_f1 == 1.0
    assert s.epicentral_error_km == pytest.approx(10.0, rel=0.01)
    assert s.depth_error_km == pytest.approx(3.0) and s.origin_time_error_s == pytest.approx(1.0)


def test_missed_events_and_empty_prediction():
    picks = _picks([0] * 10 + [1] * 10)
    s = evaluate(picks, pd.DataFrame({"pick_idx": [], "event_idx": []}))
    assert s.event_recall == 0 and s.event_f1 == 0 and s.n_true_events == 2


def test_a_pick_in_two_events_counts_for_both():
    picks = _picks([0] * 10)
    asg = pd.DataFrame({"pick_idx": list(range(10)) + [0], "event_idx": [1] * 10 + [2]})
    s = evaluate(picks, asg)
    assert s.n_pred_events == 2 and s.n_matched == 1 and s.event_precision == 0.5


def test_pick_index_outside_the_table_is_an_error():
    with pytest.raises(ValueError, match="pick_idx"):
        evaluate(_picks([0] * 3), pd.DataFrame({"pick_idx": [5], "event_idx": [1]}))
