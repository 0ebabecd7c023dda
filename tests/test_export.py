"""Exports to NonLinLoc, HypoDD and CSV read back with the same events and picks; pick
uncertainties from the input to the Catalog."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from obspy import UTCDateTime, read_events
from obspy.core.event import Catalog
from seisbench.util import Pick, PickList

from seisbench_genie import export
from seisbench_genie.catalog import DEFAULT_PICK_UNCERTAINTY_S, build_catalog
from seisbench_genie.export import catalog_tables, to_csv, to_hypodd, to_nonlinloc
from seisbench_genie.picks import pick_table, pick_time_uncertainties

T0 = 1.6e9
STATIONS = pd.DataFrame({
    "id": ["XX.STA1.", "XX.STA2.", "XX.STA3.00", "YY.STB4."],
    "latitude": [35.0, 35.3, 35.6, 35.2],
    "longitude": [-117.0, -117.4, -117.1, -116.7],
    "elevation": [600.0, 1200.0, 50.0, 0.0],
})
VELOCITY = pd.DataFrame({"depth_km": [-2.0, 5.0, 20.0], "vp": [5.5, 6.2, 6.8],
                         "vs": [3.2, 3.6, 3.9]})


def _catalog() -> Catalog:
    raw = pd.DataFrame({
        "station": ["XX.STA1.", "XX.STA2.", "XX.STA3.00", "XX.STA1.", "YY.STB4.",
                    "XX.STA2.", "YY.STB4.", "XX.STA3.00"],
        "phase": ["P", "P", "P", "S", "P", "P", "S", "S"],
        "time": [T0 + 3.1, T0 + 4.25, T0 + 5.0, T0 + 5.9, T0 + 63.3, T0 + 64.1, T0 + 66.0,
                 T0 + 67.2],
        "probability": [0.9, 0.8, 0.7, 0.6, 0.95, 0.85, 0.75, 0.65],
        "time_uncertainty_s": [0.04, np.nan, 0.06, 0.12, np.nan, 0.05, np.nan, 0.3],
    })
    picks = pick_table(raw).assign(time_uncertainty_s=pick_time_uncertainties(raw))
    events = pd.DataFrame({
        "event_idx": [0, 1], "time": [T0 + 0.123456, T0 + 60.5],
        "latitude": [35.21, 35.3], "longitude": [-117.15, -117.0], "depth_km": [8.5, 12.25],
        "horizontal_uncertainty_km": [0.5, 1.0], "depth_uncertainty_km": [1.0, 2.0],
        "time_uncertainty_s": [0.05, 0.1], "rms_s": [0.08, 0.1], "score": [0.9, 0.8],
    })
    assignments = pd.DataFrame({
        "pick_idx": [0, 1, 2, 3, 4, 5, 6, 7], "event_idx": [0, 0, 0, 0, 1, 1, 1, 1],
        "phase": ["P", "P", "P", "S", "P", "P", "S", "S"],
        "probability": [0.99, 0.9, 0.8, 0.7, 0.95, 0.85, 0.75, 0.65],
        "residual_s": [0.01, -0.02, 0.03, -0.04, 0.05, -0.06, 0.07, -0.08],
    })
    return build_catalog(events, assignments, picks, STATIONS, model_name="crustal")


@pytest.fixture(scope="module")
def catalog():
    return _catalog()


def _pick_set(ev) -> list[tuple]:
    return sorted((p.waveform_id.station_code, p.phase_hint, round(p.time.timestamp, 4))
                  for p in ev.picks)


# ---------------------------------------------------------------------------- uncertainties
def test_pick_uncertainties_from_column_seisbench_width_or_phase_default(catalog):
    got = {(p.waveform_id.station_code, p.phase_hint, round(p.time.timestamp - T0, 2)):
           p.time_errors.uncertainty for ev in catalog for p in ev.picks}
    assert got[("STA1", "P", 3.1)] == 0.04
    assert got[("STA2", "P", 4.25)] == DEFAULT_PICK_UNCERTAINTY_S["P"]  # NaN -> P default
    assert got[("STB4", "S", 66.0)] == DEFAULT_PICK_UNCERTAINTY_S["S"]
    assert got[("STA3", "S", 67.2)] == 0.3
    # SeisBench picks: half the start-end width; zero width -> NaN (phase default later)
    sb = PickList([
        Pick("XX.STA1.", UTCDateTime(T0), UTCDateTime(T0 + 0.4), UTCDateTime(T0 + 0.1),
             0.9, "P"),
        Pick("XX.STA2.", UTCDateTime(T0), UTCDateTime(T0), UTCDateTime(T0), 0.9, "S"),
    ])
    unc = pick_time_uncertainties(sb)
    assert unc[0] == pytest.approx(0.2) and np.isnan(unc[1])
    # PickList.to_dataframe keeps start/end times: the same widths
    df = sb.to_dataframe()
    widths = pick_time_uncertainties(df)[(df["station"] == "XX.STA1.").to_numpy()]
    assert widths.tolist() == pytest.approx([0.2])


def test_pick_uncertainties_flow_through_genie():
    import torch

    from seisbench_genie import GENIE
    from seisbench_genie.synthetic import make_scenario

    torch.set_num_threads(1)
    model = GENIE.load(Path(__file__).parents[1] / "pretrained" / "crustal", version_str="3")
    day = make_scenario("crustal", n_events=3, noise=0.0, duration_s=600.0, seed=3)
    picks = PickList([
        Pick(s, UTCDateTime(t - 0.15), UTCDateTime(t + 0.15), UTCDateTime(t), 0.9, p)
        for s, p, t in zip(day.picks["station"], day.picks["phase"], day.picks["time"],
                           strict=True)])
    cat = model.associate(iter(picks), day.stations, velocity_model=day.velocity_model)
    assert len(cat) >= 2
    errors = [p.time_errors.uncertainty for ev in cat for p in ev.picks]
    assert errors and np.allclose(errors, 0.15)


# ---------------------------------------------------------------------------- NonLinLoc
def _read_nlloc_obs(path: Path) -> tuple[str, pd.DataFrame]:
    lines = path.read_text().splitlines()
    public_id = lines[0].split(" ", 1)[1]
    rows = []
    for ln in lines[1:]:
        f = ln.split()
        t = UTCDateTime(f"{f[6]}T{f[7]}") + float(f[8])
        rows.append((f[0], f[4], round(t.timestamp, 4), float(f[10])))
    return public_id, pd.DataFrame(rows, columns=["station", "phase", "time", "error"])


def test_nonlinloc_files_give_back_events_picks_and_errors(tmp_path, catalog):
    files = to_nonlinloc(catalog, tmp_path, STATIONS, velocity_model=VELOCITY)
    assert sorted(files) == ["nlloc.in", "obs/event_000000.obs", "obs/event_000001.obs",
                             "stations.txt"]
    for i, ev in enumerate(catalog):
        public_id, obs = _read_nlloc_obs(files[f"obs/event_{i:06d}.obs"])
        assert public_id == str(ev.resource_id)
        want = sorted((p.waveform_id.station_code, p.phase_hint, round(p.time.timestamp, 4),
                       p.time_errors.uncertainty) for p in ev.picks)
        assert sorted(obs.itertuples(index=False, name=None)) == want
        assert (obs["error"] > 0).all()
    gtsrce = files["stations.txt"].read_text().splitlines()
    assert len(gtsrce) == 4 and gtsrce[0].split()[:3] == ["GTSRCE", "STA1", "LATLON"]
    assert float(gtsrce[1].split()[-1]) == pytest.approx(1.2)  # elevation in km
    control = files["nlloc.in"].read_text()
    layers = [ln.split() for ln in control.splitlines() if ln.startswith("LAYER")]
    assert [float(x[1]) for x in layers] == [-2.0, 5.0, 20.0]
    assert [float(x[2]) for x in layers] == [5.5, 6.2, 6.8]
    assert [float(x[4]) for x in layers] == [3.2, 3.6, 3.9]
    assert "INCLUDE stations.txt" in control
    loc_grid = [ln for ln in control.splitlines() if ln.startswith("LOCGRID")]
    assert len(loc_grid) == 1 and len(loc_grid[0].split()) == 12
    assert not list(tmp_path.rglob("*.tmp"))


def test_nonlinloc_without_inventory_writes_only_phases(tmp_path, catalog):
    files = to_nonlinloc(catalog, tmp_path)
    assert sorted(files) == ["obs/event_000000.obs", "obs/event_000001.obs"]
    with pytest.raises(ValueError, match="needs the inventory"):
        to_nonlinloc(catalog, tmp_path / "x", velocity_model=VELOCITY)


# ---------------------------------------------------------------------------- HypoDD
def test_hypodd_phase_file_reads_back_with_obspy(tmp_path, catalog):
    with pytest.warns(UserWarning, match="2 event\\(s\\) without a magnitude"):
        files = to_hypodd(catalog, STATIONS, tmp_path, velocity_model=VELOCITY)
    assert sorted(files) == ["hypoDD.inp", "ph2dt.inp", "phase.dat", "station.dat"]
    back = read_events(str(files["phase.dat"]), format="HYPODDPHA")
    assert len(back) == len(catalog)
    for ev, ev2 in zip(catalog, back, strict=True):
        o, o2 = ev.preferred_origin(), ev2.preferred_origin()
        assert abs(o2.time - o.time) < 1e-5
        assert (o2.latitude, o2.longitude) == pytest.approx((o.latitude, o.longitude))
        assert o2.depth == pytest.approx(o.depth)
        assert _pick_set(ev2) == _pick_set(ev)
        weights = sorted(a.time_weight for a in o2.arrivals)
        assert weights == pytest.approx(sorted(a.time_weight for a in o.arrivals))
    assert [e.resource_id.id.split("/")[-1] for e in back] == ["1", "2"]
    stations = pd.read_csv(files["station.dat"], sep=r"\s+", header=None,
                           names=["code", "lat", "lon", "elev"])
    assert stations["code"].tolist() == ["STA1", "STA2", "STA3", "STB4"]
    assert stations["elev"].tolist() == [600.0, 1200.0, 50.0, 0.0]
    inp = files["hypoDD.inp"].read_text().splitlines()
    top = inp[inp.index("* TOP") + 1].split()
    vel = inp[inp.index("* VEL") + 1].split()
    assert [float(x) for x in top] == [-2.0, 5.0, 20.0]
    assert [float(x) for x in vel] == [5.5, 6.2, 6.8]
    assert "phase.dat" in files["ph2dt.inp"].read_text()


# ---------------------------------------------------------------------------- CSV
def test_csv_reads_back_the_same_events_and_picks(tmp_path, catalog):
    files = to_csv(catalog, tmp_path)
    events = pd.read_csv(files["events.csv"])
    picks = pd.read_csv(files["picks.csv"], keep_default_na=True)
    ref_events, ref_picks = catalog_tables(catalog)
    assert len(events) == 2 and len(picks) == 8
    t = pd.to_datetime(events["time"], utc=True)
    assert np.allclose((t - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), ref_events["time"],
                       atol=1e-6)
    for col in ("latitude", "longitude", "depth_km", "horizontal_uncertainty_km"):
        assert np.allclose(events[col], ref_events[col])
    pt = pd.to_datetime(picks["phase_time"], utc=True)
    assert np.allclose((pt - pd.Timestamp(0, tz="UTC")).dt.total_seconds(),
                       ref_picks["phase_time"], atol=1e-6)
    assert picks["station_id"].tolist() == ref_picks["station_id"].tolist()
    assert picks["phase_type"].tolist() == ref_picks["phase_type"].tolist()
    assert picks["event_index"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert np.allclose(picks["residual_s"], ref_picks["residual_s"])
    assert np.allclose(picks["association_probability"], ref_picks["association_probability"])
    assert np.allclose(picks["phase_score"], [0.9, 0.8, 0.7, 0.6, 0.95, 0.85, 0.75, 0.65])
    assert (picks["time_uncertainty_s"] > 0).all()


# ---------------------------------------------------------------------------- bad input
def test_bad_input_writes_nothing(tmp_path, catalog):
    empty = catalog.copy()
    for ev in empty:
        ev.picks = []
    for call in (lambda d: to_nonlinloc(empty, d), lambda d: to_hypodd(empty, STATIONS, d),
                 lambda d: to_csv(empty, d)):
        with pytest.raises(ValueError, match="no event has picks"):
            call(tmp_path / "a")
    with pytest.raises(ValueError, match=r"picked station\(s\) missing: \['YY.STB4.'\]"):
        to_hypodd(catalog, STATIONS.iloc[:3], tmp_path / "a")
    with pytest.raises(ValueError, match="inventory: needed"):
        to_hypodd(catalog, None, tmp_path / "a")
    clash = STATIONS.assign(id=["XX.STA1.", "XX.STA2.", "XX.STA3.00", "YY.STA1."])
    renamed = catalog.copy()
    for ev in renamed:
        for p in ev.picks:
            if p.waveform_id.station_code == "STB4":
                p.waveform_id.station_code = "STA1"
    with pytest.raises(ValueError, match="station code\\(s\\) at more than one place"):
        to_nonlinloc(renamed, tmp_path / "a", clash)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match="expected an ObsPy Catalog"):
        to_csv([1, 2], tmp_path / "a")


def test_failure_while_writing_leaves_no_file(tmp_path, catalog, monkeypatch):
    calls = []
    real = export.tempfile.mkstemp

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(export.tempfile, "mkstemp", failing)
    with pytest.raises(OSError, match="disk full"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_hypodd(catalog, STATIONS, tmp_path)
    assert os.listdir(tmp_path) == []


def test_catalog_tables_fields(catalog):
    events, picks = catalog_tables(catalog)
    assert events["n_picks"].tolist() == [4, 4] and events["n_stations"].tolist() == [3, 3]
    assert events["magnitude"].isna().all() and (events["magnitude_type"] == "").all()
    assert re.fullmatch(r"smi:seisbench_genie/.+/event/0", events["event_id"][0])
    assert set(picks["pick_id"]) == {str(p.resource_id) for ev in catalog for p in ev.picks}
