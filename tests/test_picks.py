"""Tests for seisbench_genie.picks: pick normalisation and station matching."""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from obspy import UTCDateTime
from seisbench.util import Pick, PickList

from seisbench_genie.picks import (
    PICK_COLUMNS,
    match_stations,
    pick_table,
    station_positions,
    times_to_posix,
)

T0 = UTCDateTime(2020, 1, 1)


def _pick(station, offset, phase="P", prob=0.9, peak=True):
    start = T0 + offset - 0.1
    return Pick(
        station,
        start,
        start + 0.3,
        peak_time=(T0 + offset) if peak else None,
        peak_value=None if prob is None else np.float32(prob),
        phase=phase,
    )


def _stations():
    return pd.DataFrame(
        {
            "id": ["CX.PB01.", "CX.PB02.", "CX.PB03.00", "XX.A."],
            "latitude": [-21.0, -20.1, -22.0, 0.0],
            "longitude": [-69.5, -69.2, -70.0, 0.0],
            "elevation": [900.0, 1000.0, 10.0, 0.0],
        }
    )


def _assert_schema(df):
    assert list(df.columns) == PICK_COLUMNS
    reference = pick_table(pd.DataFrame({"station": ["A.B."], "phase": ["P"], "time": [0.0]}))
    assert df.dtypes.to_dict() == reference.dtypes.to_dict()
    assert df["pick_idx"].dtype == np.int64
    assert df["time"].dtype == np.float64
    assert df["probability"].dtype == np.float64
    assert isinstance(df.index, pd.RangeIndex)


# ---------------------------------------------------------------------------- pick objects
def test_picklist_input_uses_peak_time_and_value():
    picks = PickList([_pick("CX.PB02.", 5.0, "S", 0.5), _pick("CX.PB01.", 2.0, "P", 0.75)])
    df = pick_table(picks)
    _assert_schema(df)
    assert df["pick_idx"].tolist() == [1, 0]  # sorted by time, index = input position
    assert df["station"].tolist() == ["CX.PB01.", "CX.PB02."]
    assert df["phase"].tolist() == ["P", "S"]
    assert df["time"].tolist() == [T0.timestamp + 2.0, T0.timestamp + 5.0]
    assert df["probability"].tolist() == [0.75, 0.5]
    assert all(type(x) is float for x in df["probability"].tolist())


def test_pick_without_peak_time_or_value_falls_back():
    df = pick_table([_pick("CX.PB01.", 2.0, prob=None, peak=False)])
    assert df["time"].iloc[0] == pytest.approx(T0.timestamp + 1.9)
    assert df["probability"].iloc[0] == 1.0


def test_generator_and_empty_iterables():
    df = pick_table(p for p in [_pick("CX.PB01.", 1.0)])
    assert len(df) == 1
    for empty in ([], PickList(), iter(()), pd.DataFrame(), pd.DataFrame(columns=PICK_COLUMNS)):
        out = pick_table(empty)
        assert len(out) == 0
        _assert_schema(out)


def test_non_pick_elements_raise_naming_argument():
    with pytest.raises(ValueError, match=r"my_picks: element 1 is a int"):
        pick_table([_pick("CX.PB01.", 1.0), 3], argument="my_picks")


@pytest.mark.parametrize("bad", ["CX.PB01.", 3.5, None, {"station": []}])
def test_wrong_type_raises(bad):
    with pytest.raises(ValueError, match="picks: expected"):
        pick_table(bad)


# ---------------------------------------------------------------------------- DataFrames
def test_missing_columns_named():
    with pytest.raises(ValueError, match=r"arrivals: missing column\(s\) \['phase', 'time'\]"):
        pick_table(pd.DataFrame({"station": ["A.B."]}), argument="arrivals")


def test_time_formats_all_agree():
    t = T0.timestamp + 12.25
    dt = datetime(2020, 1, 1, 0, 0, 12, 250000)
    variants = {
        "utc": [UTCDateTime(t)],
        "posix": [t],
        "posix_int": [int(T0.timestamp)],
        "iso": ["2020-01-01T00:00:12.25Z"],
        "iso_naive": ["2020-01-01T00:00:12.250000"],
        "iso_offset": ["2020-01-01T01:00:12.25+01:00"],
        "numeric_string": [f"{t}"],
        "datetime_naive": [dt],
        "datetime_aware": [dt.replace(tzinfo=timezone.utc)],
        "timestamp": [pd.Timestamp(dt)],
        "timestamp_tz": [pd.Timestamp(dt, tz="UTC").tz_convert("America/Los_Angeles")],
        "datetime64": pd.Series([np.datetime64("2020-01-01T00:00:12.250")]),
        "datetime64_tz": pd.Series(pd.to_datetime(["2020-01-01T00:00:12.25Z"])),
        "datetime64_ns": pd.Series([dt]).astype("datetime64[ns]"),
    }
    for name, times in variants.items():
        df = pick_table(pd.DataFrame({"station": ["A.B."], "phase": ["P"], "time": times}))
        expected = T0.timestamp if name == "posix_int" else t
        assert df["time"].iloc[0] == pytest.approx(expected, abs=1e-6), name


def test_mixed_object_time_column():
    times = pd.Series(
        [
            UTCDateTime(T0.timestamp + 3),
            "2020-01-01T00:00:01Z",
            T0.timestamp + 2,
            datetime(2020, 1, 1, 0, 0, 4),
        ],
        dtype=object,
    )
    df = pick_table(pd.DataFrame({"station": ["A.B."] * 4, "phase": "P", "time": times}))
    assert df["pick_idx"].tolist() == [1, 2, 0, 3]
    np.testing.assert_allclose(df["time"] - T0.timestamp, [1, 2, 3, 4])


def test_times_to_posix_invalid_values():
    out = times_to_posix(["nonsense", None, float("nan"), True, "2020-13-45"])
    assert np.isnan(out).all()


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside SeisBench, pandas 3
def test_picklist_to_dataframe_round_trip():
    picks = PickList([_pick("CX.PB02.", 5.0, "S", 0.5), _pick("CX.PB01.", 2.0, "P", 0.75)])
    df = pick_table(picks.to_dataframe())
    assert df["station"].tolist() == ["CX.PB01.", "CX.PB02."]
    np.testing.assert_allclose(df["time"], [T0.timestamp + 2.0, T0.timestamp + 5.0])
    np.testing.assert_allclose(df["probability"], [0.75, 0.5])


def test_probability_none_and_nan_become_one():
    df = pick_table(
        pd.DataFrame(
            {
                "station": ["A.B.", "A.C.", "A.D."],
                "phase": ["P", "P", "S"],
                "time": [1.0, 2.0, 3.0],
                "probability": [None, np.nan, 0.3],
            }
        )
    )
    assert df["probability"].tolist() == [1.0, 1.0, 0.3]


def test_phase_mapping_and_single_warning():
    labels = [
        "P",
        "p",
        "Pg",
        "Pn",
        "Pb",
        "P1",
        "S",
        "s",
        "Sg",
        "Sn",
        "Sb",
        "S1",
        "PcP",
        "Lg",
        None,
        "Lg",
    ]
    df = pd.DataFrame(
        {
            "station": [f"A.S{i}." for i in range(len(labels))],
            "phase": labels,
            "time": np.arange(len(labels), dtype=float),
        }
    )
    with pytest.warns(UserWarning) as record:
        out = pick_table(df)
    phase_warnings = [str(w.message) for w in record if "phase" in str(w.message)]
    assert len(phase_warnings) == 1
    message = phase_warnings[0]
    assert "4 pick(s)" in message and "'PcP'" in message and "'Lg'" in message
    assert "<missing>" in message
    assert out["phase"].tolist() == ["P"] * 6 + ["S"] * 6


def test_invalid_times_dropped_with_count():
    df = pd.DataFrame(
        {
            "station": ["A.B."] * 5,
            "phase": ["P", "S", "P", "S", "P"],
            "time": [1.0, np.nan, np.inf, -np.inf, 2.0],
        }
    )
    with pytest.warns(UserWarning, match=r"dropped 3 pick\(s\) with a missing"):
        out = pick_table(df)
    assert out["pick_idx"].tolist() == [0, 4]
    with pytest.warns(UserWarning, match=r"dropped 1 pick"):
        pick_table(
            pd.DataFrame(
                {"station": ["A.B."] * 2, "phase": "P", "time": ["2020-01-01", "yesterday"]}
            )
        )


def test_missing_station_dropped():
    with pytest.warns(UserWarning, match="without a station id"):
        out = pick_table(
            pd.DataFrame({"station": ["A.B.", None, ""], "phase": "P", "time": [1.0, 2.0, 3.0]})
        )
    assert out["pick_idx"].tolist() == [0]


def test_exact_duplicates_keep_first():
    df = pd.DataFrame(
        {
            "station": ["A.B.", "A.B.", "A.B.", "A.B.", "A.C."],
            "phase": ["P", "P", "Pg", "S", "P"],
            "time": [5.0, 5.0, 5.0, 5.0, 5.0],
            "probability": [0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )
    with pytest.warns(UserWarning, match=r"dropped 2 exact duplicate"):
        out = pick_table(df)
    assert sorted(out["pick_idx"].tolist()) == [0, 3, 4]
    assert out.loc[out["pick_idx"] == 0, "probability"].item() == 0.1


def test_clean_input_emits_no_warning():
    df = pd.DataFrame({"station": ["A.B.", "A.C."], "phase": ["P", "S"], "time": [2.0, 1.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pick_table(df)
    assert out["pick_idx"].tolist() == [1, 0]


def test_dataframe_with_custom_index_uses_positions():
    df = pd.DataFrame(
        {"station": ["A.B.", "A.C."], "phase": ["P", "S"], "time": [2.0, 1.0]}, index=[10, 20]
    )
    assert pick_table(df)["pick_idx"].tolist() == [1, 0]


def test_large_input_is_fast():
    n = 200_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "station": np.array([f"XX.S{i:03d}." for i in range(300)])[rng.integers(0, 300, n)],
            "phase": np.where(rng.random(n) < 0.5, "P", "Sg"),
            "time": rng.uniform(0, 86400, n) + 1.6e9,
            "probability": rng.random(n),
        }
    )
    start = time.process_time()
    out = pick_table(df)
    matched = match_stations(
        out,
        pd.DataFrame(
            {
                "id": [f"XX.S{i:03d}." for i in range(300)],
                "latitude": 0.0,
                "longitude": 0.0,
                "elevation": 0.0,
            }
        ),
    )
    assert time.process_time() - start < 5.0
    assert len(matched) == n
    assert np.all(np.diff(out["time"].to_numpy()) >= 0)


# ---------------------------------------------------------------------------- stations
def test_match_stations_rules():
    picks = pick_table(
        pd.DataFrame(
            {
                "station": [
                    "CX.PB01",
                    "CX.PB02.10",
                    "CX.PB03.00",
                    "CX.PB03.01",
                    "CX.PB01..HHZ",
                    "XX.A.",
                    "CX.PB02.",
                ],
                "phase": "P",
                "time": np.arange(7.0),
            }
        )
    )
    with pytest.warns(UserWarning) as record:
        out = match_stations(picks, _stations())
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert "dropped 1 pick(s)" in messages[0] and "CX.PB03.01" in messages[0]
    assert out["station"].tolist() == [
        "CX.PB01",
        "CX.PB02.10",
        "CX.PB03.00",
        "CX.PB01..HHZ",
        "XX.A.",
        "CX.PB02.",
    ]
    assert out["station_index"].tolist() == [0, 1, 2, 0, 3, 1]
    assert out["station_index"].dtype == np.int64
    assert isinstance(out.index, pd.RangeIndex)


def test_match_stations_warning_lists_at_most_five_ids():
    ids = [f"ZZ.N{i}." for i in range(8)]
    picks = pick_table(
        pd.DataFrame({"station": ids * 2, "phase": ["P"] * 8 + ["S"] * 8, "time": np.arange(16.0)})
    )
    with pytest.warns(UserWarning, match=r"dropped 16 pick\(s\) at 8 station") as record:
        out = match_stations(picks, _stations())
    assert len(out) == 0
    assert sum(f"ZZ.N{i}." in str(record[0].message) for i in range(8)) == 5
    assert list(out.columns) == PICK_COLUMNS + ["station_index"]


def test_match_stations_does_not_mutate_and_validates():
    picks = pick_table(pd.DataFrame({"station": ["CX.PB01."], "phase": "P", "time": [1.0]}))
    before = picks.copy()
    match_stations(picks, _stations())
    pd.testing.assert_frame_equal(picks, before)
    with pytest.raises(ValueError, match="stations"):
        match_stations(picks, pd.DataFrame({"name": ["x"]}))
    with pytest.raises(ValueError, match="picks"):
        match_stations(pd.DataFrame({"x": [1]}), _stations())


def test_station_positions_with_duplicate_ids_and_custom_index():
    st = pd.DataFrame({"id": ["A.B.", "A.C.", "A.B."]}, index=[7, 8, 9])
    assert station_positions(["A.B", "A.C.", "A.D."], st).tolist() == [0, 1, -1]
    assert station_positions([], st).tolist() == []
    assert station_positions(["A.B."], st.iloc[:0]).tolist() == [-1]


def test_phase_labels_with_surrounding_whitespace_are_kept():
    """Labels read from fixed-width files ("p ", " S") are the same phases, not unknown ones."""
    df = pd.DataFrame({"station": ["XX.A.", "XX.A.", "XX.B."], "phase": ["p ", " S", "Pg\t"],
                       "time": [1.0, 2.0, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unsupported phase" warning
        table = pick_table(df)
    assert table["phase"].tolist() == ["P", "S", "P"]
