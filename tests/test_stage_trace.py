"""The association's stages on record, and where the small events of a synthetic day are lost
(``benchmark.stage_losses``)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.association.trace import LINK_STAGES, record, recording
from seisbench_genie.synthetic import make_scenario

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def model():
    # the latest shipped weights, as `--model pretrained/crustal` on the command line resolves
    from seisbench_genie.benchmark.genie_runner import load_model

    return load_model(str(ROOT / "pretrained" / "crustal"))


def _pairs(links: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(links["source"].tolist(), links["pick"].tolist(), strict=True))


def test_recording_follows_the_stages_to_the_catalog_and_changes_nothing(model):
    """Inside a recording block every stage leaves its links; the fit check's links are the
    catalog's picks; each pick is assigned once; the output is the one of a run that records
    nothing; outside the block nothing is kept."""
    day = make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11)
    picks = day.picks[["station", "phase", "time"]]
    plain = model.classify(picks, day.stations, velocity_model=day.velocity_model)
    with recording() as trace:
        out = model.classify(picks, day.stations, velocity_model=day.velocity_model)
    pd.testing.assert_frame_equal(out.assignments, plain.assignments)
    assert set(trace.links) == set(LINK_STAGES)
    assert len(trace.candidates) >= 1 and len(trace.candidates[0].xyz) >= len(out.events)
    position = trace.picks.pick_idx  # input position of each pick the links index
    final = trace.links["fit_check"]
    assert sorted(position[final["pick"].to_numpy()]) == sorted(out.assignments["pick_idx"])
    assigned = trace.links["assignment"]
    assert not assigned["pick"].duplicated().any()
    assert _pairs(assigned) <= _pairs(trace.links["second_pass"])
    assert len(trace.links["first_pass"]) >= len(assigned)
    record(first_pass=pd.DataFrame())  # no block is active: ignored
    assert len(trace.links["first_pass"]) > 0
    with pytest.raises(ValueError, match="unknown stage 'third_pass'"):
        with recording():
            record(third_pass=pd.DataFrame())


def test_stage_losses_follow_each_small_event_to_where_it_is_lost(model, tmp_path):
    """On a dense synthetic day, each small in-network event the final catalog does not hold
    is lost at the first stage where no source holds half of its picks (the held ones are
    kept, found late when a first-round stage was short), the network sees the kept ones better than those lost
    at detection, a peer holding every true event finds them all, an empty one none; the
    command line writes the table and names a misspelt argument."""
    from seisbench_genie.benchmark.realistic_days import (
        SMALL_EVENT_PICKS,
        main,
        write_days,
    )
    from seisbench_genie.benchmark.stage_losses import (
        DETECTION_CAUSES,
        LOSS_STAGES,
        day_losses,
        loss_summary,
    )

    dense = {"false_pick_rate_per_station_hour": (0, 20), "bursts": (0, 0),
             "regional_arrivals_per_hour": (0, 2), "aperture_km": (30, 80)}
    (day,) = write_days(ROOT / "pretrained" / "crustal.yaml", tmp_path / "days", [42003],
                        dense)
    truth = pd.read_csv(day / "truth_picks.csv")
    oracle = tmp_path / "oracle"
    oracle.mkdir()
    on = truth["event"].to_numpy() >= 0
    pd.DataFrame({"pick_idx": np.flatnonzero(on), "event_idx": truth["event"][on]}).to_csv(
        oracle / "assignments.csv", index=False)
    table = day_losses(day, model, peer_run=oracle)
    lo, hi = SMALL_EVENT_PICKS
    assert len(table) >= 5 and table["n_picks"].between(lo, hi).all()
    assert table["peer_found"].all()
    held = table[[f"held_{s}" for s in (*LINK_STAGES, "final")]].to_numpy()
    enough = held >= 0.5 * table["n_picks"].to_numpy()[:, None]
    for row, ok in zip(table.itertuples(), enough, strict=True):
        if ok[-1]:  # held in the end: kept, found late when short at a first-round stage
            assert row.lost_at == "kept" and row.found_late == (not ok.all())
            continue
        stage = LOSS_STAGES.index(row.lost_at)
        assert ok[:stage].all() and not ok[stage] and not row.found_late
    assert set(table["lost_at"]) > {"kept"}  # some are lost, some kept
    assert table["field_at_hypocentre"].between(0, 1).all()
    assert table["field_at_nodes"].between(0, 1).all()
    missed = table["lost_at"] == "detection"
    assert set(table.loc[missed, "detection_cause"]) <= set(DETECTION_CAUSES)
    assert (table.loc[~missed, "detection_cause"] == "").all()
    weak = table["detection_cause"].isin(["crowded", "network"])
    threshold = model.default_args["detection_threshold"]
    assert (table.loc[weak, "field_at_hypocentre"] < threshold).all()
    assert (table.loc[missed & ~weak, "field_at_hypocentre"] >= threshold).all()
    assert table.loc[missed, "field_alone"].between(0, 1).all()
    crowded = table["detection_cause"] == "crowded"
    assert (table.loc[crowded, "field_alone"] >= threshold).all()
    assert table.loc[~missed, "field_alone"].isna().all()
    kept = table["lost_at"] == "kept"
    assert table.loc[kept, "field_at_hypocentre"].median() > table.loc[
        table["lost_at"] == "detection", "field_at_hypocentre"].median()

    runs = tmp_path / "runs" / day.name
    (runs / "empty").mkdir(parents=True)
    pd.DataFrame({"pick_idx": [], "event_idx": []}).to_csv(runs / "empty" / "assignments.csv",
                                                           index=False)
    none = day_losses(day, model, peer_run=runs / "empty")
    assert not none["peer_found"].any()
    pd.testing.assert_series_equal(none["lost_at"], table["lost_at"])
    summary = loss_summary(table)
    assert list(summary.index) == list(LOSS_STAGES)
    assert summary["events"].sum() == len(table)
    assert summary.loc["kept", "events"] == int(kept.sum())
    assert summary.loc["detection", [f"detection: {c}" for c in DETECTION_CAUSES]].sum() == \
        int(missed.sum())
    assert main(["losses", str(tmp_path / "days"), "--runs", str(tmp_path / "runs"),
                 "--peer", "empty", "--model", str(ROOT / "pretrained" / "crustal"),
                 "--out", str(tmp_path / "losses.csv")]) == 0
    written = pd.read_csv(tmp_path / "losses.csv")
    assert written["lost_at"].tolist() == table["lost_at"].tolist()
    with pytest.raises(SystemExit) as stop:  # a misspelt classify argument: a usage error
        main(["losses", str(tmp_path / "days"), "--model", str(ROOT / "pretrained" / "crustal"),
              "--set", "detection_treshold=0.2"])
    assert stop.value.code == 2
