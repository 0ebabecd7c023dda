"""Tests of ``seisbench-genie benchmark-real``: matching rules, scores, outputs and bad input.

Offline and seeded. One test runs GENIE (shipped crustal weights, copied into a temporary
SeisBench cache) on a synthetic "real" day written to CSV; PyOcto runs only where its peer
virtualenv already exists.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.benchmark.peers import DEFAULT_PEER_VENV, peer_venv_ready
from seisbench_genie.benchmark.protocol import AssociatorError, RunOutput
from seisbench_genie.benchmark.real import (
    KM_PER_DEGREE,
    CatalogEntry,
    RealInputError,
    candidate_pairs,
    has_neighbour,
    iso_utc,
    magnitude_bins,
    match_catalogs,
    pick_count_bins,
    region_from_stations,
    score_catalogs,
    score_reference,
)
from seisbench_genie.benchmark.real_runner import RealBenchmarkConfig, run_real_benchmark
from seisbench_genie.cli import build_parser, main

T0 = 1_562_198_400.0  # 2019-07-04T00:00:00Z
LAT, LON = 35.7, -117.5
MAGNITUDES = np.array([0.5, 1.5, 2.5, 3.5])  # one per magnitude bin, cycled over the events


def _north(km: float) -> float:
    """Latitude ``km`` north of LAT."""
    return LAT + km / KM_PER_DEGREE


def _cat(times, north_km=0.0, **cols) -> pd.DataFrame:
    """Events at ``T0 + times`` (s), ``north_km`` north of (LAT, LON), 5 km deep."""
    t = np.asarray(times, dtype=float)
    north = np.broadcast_to(np.asarray(north_km, dtype=float), t.shape)
    return pd.DataFrame({"time": T0 + t, "latitude": _north(north), "longitude": LON,
                         "depth_km": 5.0, **cols})


def _value(results: pd.DataFrame, catalog: str, metric: str, bin: str = "") -> float:
    sel = results[(results["catalog"] == catalog) & (results["metric"] == metric)
                  & (results["bin"].fillna("") == bin)]
    assert len(sel) == 1, (catalog, metric, bin, sel)
    return float(sel["value"].iloc[0])


# ------------------------------------------------------------------------------------------
# Matching on hand-made catalogs
# ------------------------------------------------------------------------------------------


def test_time_and_distance_rules():
    ref = _cat([0.0, 100.0, 200.0, 300.0])
    events = _cat([2.9, 103.1, 200.0, 300.0], north_km=[0.0, 0.0, 14.9, 15.1])
    pairs = match_catalogs(ref, events)
    # 2.9 s in, 3.1 s out; 14.9 km in, 15.1 km out
    assert pairs[["reference", "event"]].values.tolist() == [[0, 0], [2, 2]]
    assert pairs["distance_km"].iloc[1] == pytest.approx(14.9, abs=1e-6)
    assert pairs["dt_s"].iloc[0] == pytest.approx(2.9)
    # time-only rule: the 15.1 km event matches too
    assert len(match_catalogs(ref, events, max_distance_km=None)) == 3


def test_matching_is_one_to_one_and_maximal():
    # Greedy nearest-first would pair A with X (1 s) and leave B unmatched; the matching
    # takes A-Y and B-X: two reference events found, each event used once.
    ref = _cat([0.0, 2.0])                       # A, B
    events = _cat([1.0, -1.5])                   # X (near both), Y (near A only)
    pairs = match_catalogs(ref, events)
    assert pairs[["reference", "event"]].values.tolist() == [[0, 1], [1, 0]]
    # two events near one reference event: it is found once, by the closer one
    one = match_catalogs(_cat([0.0]), _cat([0.5, 0.2], north_km=[0.0, 5.0]))
    assert one[["reference", "event"]].values.tolist() == [[0, 0]]
    # the depth offset is event minus reference
    deep = _cat([0.0]).assign(depth_km=9.0)
    assert match_catalogs(_cat([0.0]), deep)["depth_offset_km"].tolist() == [4.0]


def test_matching_without_candidates_and_neighbours():
    assert match_catalogs(_cat([0.0]), _cat([50.0])).empty
    assert candidate_pairs(_cat([0.0]), _cat([]).astype(float)).empty
    # not one-to-one: both events have a neighbour in a single-event catalog
    assert has_neighbour(_cat([0.0, 1.0, 9.0]), _cat([0.5])).tolist() == [True, True, False]


def test_bins():
    assert magnitude_bins([-0.3, 0.99, 1.0, 2.0, 2.99, 3.0, 6.4, np.nan]).tolist() == [
        "M<1", "M<1", "1<=M<2", "2<=M<3", "2<=M<3", "M>=3", "M>=3", "no magnitude"]
    assert pick_count_bins([10, 12, 13, 15, 16, 20, 21, 30, 31, 99]).tolist() == [
        "10-12", "10-12", "13-15", "13-15", "16-20", "16-20", "21-30", "21-30", ">30", ">30"]


def test_reference_scores_by_magnitude_and_span():
    ref = _cat([100.0, 200.0, 300.0, 400.0], magnitude=MAGNITUDES)
    # found: the M0.5 and M3.5 events; one event before the reference span is not scored
    events = _cat([-1000.0, 100.5, 401.0], north_km=[0.0, 2.0, 0.0])
    rows = pd.DataFrame(score_reference(CatalogEntry("x", "associator", events), ref))
    rec = rows[rows["metric"] == "reference_recall"].set_index("bin")["value"]
    assert rec.to_dict() == {"all": 0.5, "M<1": 1.0, "1<=M<2": 0.0, "2<=M<3": 0.0, "M>=3": 1.0}
    share = rows[rows["metric"] == "matched_to_reference_share"].iloc[0]
    assert (share["value"], share["count"], share["total"]) == (1.0, 2, 2)
    epi = rows[rows["metric"] == "median_epicentral_offset_km"]["value"].iloc[0]
    assert epi == pytest.approx(1.0, abs=1e-6)  # median of 2 km and 0 km


def test_cross_finding_and_confirmation():
    a = _cat([0.0, 100.0, 200.0, 300.0]).assign(n_picks=[10, 14, 40, 11])
    b = _cat([1.0, 202.0, 500.0], north_km=[0.0, 50.0, 0.0]).assign(n_picks=[12, 12, 12])
    pal = _cat([300.5])
    entries = [CatalogEntry("genie", "associator", a, n_input_picks=100, n_picks_associated=75),
               CatalogEntry("pyocto", "associator", b, n_input_picks=100, n_picks_associated=36),
               CatalogEntry("pal", "compare", pal)]
    res = score_catalogs(entries)
    # time-only: b's event 50 km away at 202 s still counts as "also found"
    assert _value(res, "genie", "also_found_by_pyocto", "all") == 0.5
    assert _value(res, "genie", "also_found_by_pyocto", "10-12") == 0.5
    assert _value(res, "genie", "also_found_by_pyocto", ">30") == 1.0
    assert _value(res, "pyocto", "also_found_by_genie", "10-12") == pytest.approx(2 / 3)
    # confirmation needs 15 km: genie 0 s (pyocto) and 300 s (pal)
    assert _value(res, "genie", "confirmed_share", "any") == 0.5
    assert _value(res, "genie", "confirmed_share", "pal") == 0.25
    assert _value(res, "pyocto", "confirmed_share", "any") == pytest.approx(1 / 3)
    assert _value(res, "genie", "picks_associated", "all") == 0.75
    assert not (res["metric"].str.startswith("also_found") & (res["catalog"] == "pal")).any()


def test_where_the_events_another_associator_misses_lie():
    from seisbench_genie.benchmark.real_report import missed_places_markdown

    # stations on a 20 km square around (LAT, LON); the search box 20 km wider on each side
    stations = pd.DataFrame({"latitude": [_north(-10.0), _north(-10.0), _north(10.0),
                                          _north(10.0)],
                             "longitude": [LON - 0.11, LON + 0.11, LON - 0.11, LON + 0.11]})
    region = region_from_stations(stations, 20.0, (0.0, 30.0))
    # genie: three events inside the network, one 28 km north (outside the stations, 2 km
    # from the box edge) and one 4 s after the first; pyocto finds only the first and third
    a = _cat([0.0, 4.0, 100.0, 200.0], north_km=[0.0, 1.0, -2.0, 28.0]).assign(
        n_picks=[30, 12, 40, 11])
    b = _cat([0.5, 100.0]).assign(n_picks=[30, 40])
    res = score_catalogs([CatalogEntry("genie", "associator", a),
                          CatalogEntry("pyocto", "associator", b)],
                         stations=stations, region=region)
    missed = "missed_by_pyocto_place"
    assert _value(res, "genie", missed, "outside_stations") == 0.5  # of the 2 missed
    assert _value(res, "genie", missed, "box_edge") == 0.5
    assert _value(res, "genie", missed, "close_in_time") == 0.5
    assert _value(res, "genie", missed, "small") == 1.0
    assert _value(res, "genie", "found_by_pyocto_place", "outside_stations") == 0.0
    assert _value(res, "genie", "found_by_pyocto_place", "close_in_time") == 0.5
    assert np.isnan(_value(res, "pyocto", "missed_by_genie_place", "small"))  # none missed
    text = missed_places_markdown(res)
    assert "| genie events pyocto misses | 2 | 0.50 | 0.50 | 0.50 | 1.00 |" in text
    assert "| pyocto events genie misses | 0 | – | – | – | – |" in text
    # without stations and region the table is left out
    assert not score_catalogs([CatalogEntry("genie", "associator", a),
                               CatalogEntry("pyocto", "associator", b)])[
        "metric"].str.endswith("_place").any()


def test_reference_recall_inside_the_search_volume():
    """A reference that reaches beyond the search volume: the edge-placing associator's lead
    comes from the outside events only, and the in-volume recall shows it."""
    region = {"latitude": (_north(-20.0), _north(20.0)), "longitude": (LON - 0.3, LON + 0.3),
              "depth_km": (0.0, 25.0)}
    # four events inside, one 10 km north of the box, one inside but 40 km deep
    ref = _cat([0.0, 100.0, 200.0, 300.0, 400.0, 500.0],
               north_km=[0.0, 5.0, -5.0, 10.0, 30.0, 0.0],
               magnitude=[0.5, 1.5, 2.5, 3.5, 0.5, 3.5]).assign(
        depth_km=[5.0, 5.0, 5.0, 5.0, 5.0, 40.0])
    keeps_out = _cat([0.2, 100.2, 200.2], n_picks=20)  # misses the 300 s event and both outside ones
    edge = _cat([0.2, 100.2, 400.2], north_km=[0.0, 5.0, 20.0], n_picks=20)  # 30 km event put on the edge
    res = score_catalogs([CatalogEntry("genie", "associator", keeps_out),
                          CatalogEntry("pyocto", "associator", edge)], reference=ref,
                         region=region)
    assert _value(res, "genie", "reference_recall", "all") == 0.5
    assert _value(res, "pyocto", "reference_recall", "all") == 0.5
    assert _value(res, "genie", "reference_recall_in_region", "all") == 0.75
    assert _value(res, "pyocto", "reference_recall_in_region", "all") == 0.5
    row = res[(res["catalog"] == "genie") & (res["metric"] == "reference_recall_in_region")
              & (res["bin"] == "all")].iloc[0]
    assert (row["count"], row["total"]) == (3, 4)
    assert _value(res, "genie", "reference_recall_in_region", "M>=3") == 0.0  # 1 of 2 inside
    # without a region, no in-volume rows
    assert not score_catalogs([CatalogEntry("genie", "associator", keeps_out)],
                              reference=ref)["metric"].eq("reference_recall_in_region").any()


# ------------------------------------------------------------------------------------------
# A synthetic "real" day on disk
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_day(tmp_path_factory):
    """A 3-hour day of 30 events on 12 stations, written as the user would give it."""
    from seisbench_genie.synthetic import make_custom_scenario

    d = tmp_path_factory.mktemp("real_day")
    lat, lon = np.meshgrid(35.5 + np.arange(4) * 0.18, -117.9 + np.arange(3) * 0.22)
    stations = pd.DataFrame({"id": [f"XX.S{i:02d}." for i in range(12)],
                             "latitude": lat.ravel(), "longitude": lon.ravel(),
                             "elevation": 500.0})
    model = pd.DataFrame({"depth_km": [0.0, 6.5, 17.0], "vp": [5.5, 6.3, 6.7],
                          "vs": [3.18, 3.64, 3.87]})
    scn = make_custom_scenario(stations, model, depth_km=(0, 20), cutoff_km=(60, 120),
                               n_events=30, noise=0.3, duration_s=3 * 3600.0, seed=0)
    picks = scn.picks[["station", "phase", "time"]].copy()
    picks["time"] = iso_utc(picks["time"])
    picks["amplitude"] = np.arange(len(picks), dtype=float)  # an extra column, kept
    junk = pd.DataFrame({"station": ["XX.NOPE.", "XX.NOPE.", "XX.S00."],
                         "phase": ["P", "S", "X"], "time": [picks["time"].iloc[0]] * 3,
                         "amplitude": [-1.0] * 3})
    pd.concat([picks, junk], ignore_index=True).to_csv(d / "picks.csv", index=False)
    stations.to_csv(d / "stations.csv", index=False)
    model.to_csv(d / "vm.csv", index=False)
    ev = scn.events.assign(magnitude=np.resize(MAGNITUDES, len(scn.events)))
    ev[["time", "latitude", "longitude", "depth_km", "magnitude"]].to_csv(d / "ref.csv",
                                                                          index=False)
    # a second opinion: the true events 0.5 s late, without depth or magnitude
    ev.assign(time=iso_utc(ev["time"] + 0.5))[["time", "latitude", "longitude"]].to_csv(
        d / "other.csv", index=False)
    return {"dir": d, "scenario": scn, "n_junk": len(junk)}


def _args(day, out, *extra):
    d = day["dir"]
    return ["benchmark-real", "--picks", str(d / "picks.csv"), "--stations",
            str(d / "stations.csv"), "--velocity-model", str(d / "vm.csv"), "--out", str(out),
            *extra]


@pytest.fixture(scope="module")
def isolated_caches(tmp_path_factory):
    """SeisBench and travel-time caches in a temporary folder; no remote for the weights."""
    root = tmp_path_factory.mktemp("caches")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEISBENCH_CACHE_ROOT", str(root / "seisbench"))
        mp.setenv("SEISBENCH_GENIE_CACHE", str(root / "genie"))
        mp.setenv("SEISBENCH_GENIE_REMOTE", "http://127.0.0.1:9/unreachable")
        mp.setenv("OMP_NUM_THREADS", "1")
        yield root


@pytest.fixture(scope="module")
def genie_run(real_day, isolated_caches, tmp_path_factory):
    out = tmp_path_factory.mktemp("genie_out") / "run"
    d = real_day["dir"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(_args(real_day, out, "--associators", "genie", "--genie-model", "crustal",
                        "--reference", str(d / "ref.csv"), "--compare",
                        f"other={d / 'other.csv'}", "--region-depth", "0,25",
                        "--threads", "1"))
    return {"rc": rc, "out": out, "stdout": buf.getvalue(),
            "results": pd.read_csv(out / "results.csv", keep_default_na=False,
                                   na_values=[""])}


def test_genie_on_a_real_style_day(genie_run, real_day):
    assert genie_run["rc"] == 0, genie_run["stdout"]
    out, res = genie_run["out"], genie_run["results"]
    for name in ("results.csv", "results.md", "recall_by_magnitude.png", "genie/events.csv",
                 "genie/assignments.csv"):
        assert (out / name).is_file(), name
    assert not list(out.rglob(".*.tmp"))
    res["bin"] = res["bin"].fillna("")
    assert _value(res, "genie", "status") == 1.0
    assert _value(res, "genie", "reference_recall", "all") >= 0.9
    for label in ("M<1", "1<=M<2", "2<=M<3", "M>=3"):
        assert _value(res, "genie", "reference_recall", label) >= 0.8
    assert _value(res, "genie", "confirmed_share", "any") >= 0.9
    assert _value(res, "genie", "median_epicentral_offset_km") < 3.0
    assert _value(res, "genie", "runtime_s") > 0
    n_used = len(real_day["scenario"].picks)
    picks_row = res[(res["catalog"] == "genie") & (res["metric"] == "picks_associated")]
    assert int(picks_row["total"].iloc[0]) == n_used  # unknown station and phase dropped
    assert 0.5 < float(picks_row["value"].iloc[0]) <= 1.0
    # the compare catalog is scored too: 0.5 s late is still within the rule
    assert _value(res, "other", "reference_recall", "all") == 1.0
    # the summary is printed
    assert "genie" in genie_run["stdout"] and "recall" in genie_run["stdout"]
    md = (out / "results.md").read_text()
    assert "Reference recall by magnitude" in md and "XX.NOPE." in md


def test_genie_outputs_point_to_the_users_rows(genie_run, real_day):
    out = genie_run["out"]
    picks = pd.read_csv(real_day["dir"] / "picks.csv")
    asg = pd.read_csv(out / "genie" / "assignments.csv")
    ev = pd.read_csv(out / "genie" / "events.csv")
    assert {"pick_idx", "event_idx", "station", "phase", "time", "amplitude"} <= set(asg.columns)
    rows = picks.iloc[asg["pick_idx"].to_numpy()]
    assert (rows["amplitude"].to_numpy() == asg["amplitude"].to_numpy()).all()
    assert (rows["station"].to_numpy() == asg["station"].to_numpy()).all()
    assert set(asg["event_idx"]) <= set(ev["event_idx"])
    assert (ev["n_picks"] >= 10).all()
    assert ev["time"].str.endswith("Z").all()


@pytest.mark.skipif(
    not peer_venv_ready(DEFAULT_PEER_VENV),
    reason="PyOcto's peer virtualenv (~/.cache/seisbench_genie/peers-venv) does not exist; "
           "it is created from PyPI on first use of --associators pyocto, which a test must "
           "not do",
)
def test_pyocto_on_a_real_style_day(real_day, tmp_path, capsys):
    out = tmp_path / "run"
    d = real_day["dir"]
    rc = main(_args(real_day, out, "--associators", "pyocto", "--reference",
                    str(d / "ref.csv"), "--region-depth", "0,25", "--threads", "1"))
    assert rc == 0, capsys.readouterr()
    res = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    res["bin"] = res["bin"].fillna("")
    assert _value(res, "pyocto", "reference_recall", "all") >= 0.9
    assert (out / "pyocto" / "events.csv").is_file()


# ------------------------------------------------------------------------------------------
# The run without real associators, and bad input
# ------------------------------------------------------------------------------------------


def _fake(outputs: tuple[pd.DataFrame, pd.DataFrame] | None = None):
    """An associator returning fixed ``(events, assignments)``, or failing without them."""

    def run(dataset, workdir, config):
        if outputs is None:
            raise AssociatorError("broken on purpose")
        return RunOutput(events=outputs[0], assignments=outputs[1],
                         timing={"wall_seconds": 0.25, "peak_rss_mb": 10.0},
                         process_seconds=1.0)

    return run


def _fake_outputs(real_day, keep_every, extra_times=()):
    """Events and assignments an associator would give for the picks as loaded (picks at
    the unknown station and with the unknown phase dropped: they were appended last)."""
    scn = real_day["scenario"]
    picks = scn.picks.reset_index(drop=True)
    kept = scn.events["event"].to_numpy()[::keep_every]
    ev = scn.events.set_index("event").loc[kept].reset_index()
    ev = ev.assign(event_idx=np.arange(len(ev)))
    lookup = dict(zip(kept, range(len(kept)), strict=True))
    sel = picks["event"].isin(kept).to_numpy()
    asg = pd.DataFrame({"pick_idx": np.flatnonzero(sel),
                        "event_idx": picks["event"][sel].map(lookup).to_numpy()})
    t0 = float(picks["time"].min())
    if len(extra_times):
        extra = pd.DataFrame({"event_idx": len(ev) + np.arange(len(extra_times)),
                              "time": t0 + np.asarray(extra_times, dtype=float),
                              "latitude": 35.7, "longitude": -117.6, "depth_km": 5.0})
        ev = pd.concat([ev, extra], ignore_index=True)
    return ev[["event_idx", "time", "latitude", "longitude", "depth_km"]], asg


def test_run_with_fake_associators_and_a_failure(real_day, tmp_path):
    d = real_day["dir"]
    all_fn = _fake(_fake_outputs(real_day, 1))
    half_fn = _fake(_fake_outputs(real_day, 2, (10.0, 20.0)))
    broken = _fake(None)
    cfg = RealBenchmarkConfig(d / "picks.csv", d / "stations.csv", d / "vm.csv", tmp_path / "o",
                              reference=d / "ref.csv", associators=["genie", "pyocto", "gamma"],
                              figures=True)
    res = run_real_benchmark(cfg, runners={"genie": all_fn, "pyocto": half_fn, "gamma": broken})
    assert not res.ok
    r = res.results
    assert _value(r, "genie", "reference_recall", "all") == 1.0
    assert _value(r, "pyocto", "reference_recall", "all") == 0.5
    assert _value(r, "pyocto", "n_events", "") == 15 + 2
    # every pyocto event but the two invented ones is found by genie, and confirmed
    assert _value(r, "pyocto", "also_found_by_genie", "all") == pytest.approx(15 / 17)
    assert _value(r, "pyocto", "confirmed_share", "any") == pytest.approx(15 / 17)
    assert _value(r, "genie", "also_found_by_pyocto", "all") == 0.5
    assert _value(r, "gamma", "status", "") == 0.0
    assert (tmp_path / "o" / "logs" / "gamma.log").is_file()
    assert not (tmp_path / "o" / "gamma").exists()
    assert (tmp_path / "o" / "pyocto" / "events.csv").is_file()
    md = (tmp_path / "o" / "results.md").read_text()
    assert "broken on purpose" in md and "share genie finds" in md


def test_reference_outside_the_picks_span_is_a_clear_error(real_day, tmp_path, capsys):
    d = real_day["dir"]
    late = pd.read_csv(d / "ref.csv").assign(time=lambda df: df["time"] + 365 * 86400.0)
    late.to_csv(tmp_path / "late.csv", index=False)
    out = tmp_path / "out"
    rc = main(_args(real_day, out, "--associators", "genie", "--reference",
                    str(tmp_path / "late.csv")))
    err = capsys.readouterr().err
    assert rc == 2
    assert str(tmp_path / "late.csv") in err and str(d / "picks.csv") in err
    assert "no event in the time span" in err and "Traceback" not in err
    assert not out.exists()


def test_picks_at_unknown_stations_are_a_clear_error(real_day, tmp_path, capsys):
    d = real_day["dir"]
    pd.DataFrame({"id": ["ZZ.A01.", "ZZ.A02."], "latitude": [35.0, 35.1],
                  "longitude": [-117.0, -117.1]}).to_csv(tmp_path / "other_st.csv", index=False)
    out = tmp_path / "out"
    rc = main(["benchmark-real", "--picks", str(d / "picks.csv"), "--stations",
               str(tmp_path / "other_st.csv"), "--velocity-model", str(d / "vm.csv"),
               "--associators", "genie", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(d / "picks.csv") in err and str(tmp_path / "other_st.csv") in err
    assert "XX.S00." in err and "ZZ.A01." in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("change, message", [
    (lambda d, t: ("--picks", str(t / "missing.csv")), "does not exist"),
    (lambda d, t: ("--velocity-model", str(d / "stations.csv")), "missing column"),
])
def test_other_bad_files(real_day, tmp_path, capsys, change, message):
    d = real_day["dir"]
    args = _args(real_day, tmp_path / "out", "--associators", "genie")
    flag, value = change(d, tmp_path)
    args[args.index(flag) + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and value in err and "Traceback" not in err


def test_help_documents_every_option_with_units():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["benchmark-real"]
    text = sub.format_help()
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
    for option in ("--picks", "--stations", "--velocity-model", "--reference", "--compare",
                   "--associators", "--genie-model", "--min-picks", "--min-p-and-s-stations",
                   "--region-depth", "--region-margin-km", "--set", "--threads", "--timeout",
                   "--match-time", "--match-distance", "--stage-losses", "--out"):
        assert option in text
    for unit in ("(m above sea level", "km/s", "in km", "in seconds", "in s"):
        assert unit in text


def test_realistic_days_score_an_oracle_and_a_half_catalog(tmp_path):
    """Days written for benchmark-real are scored against their truth: an associator that
    returns the true in-network events scores 1, one that drops every second event half."""
    from pathlib import Path

    from seisbench_genie.benchmark.realistic_days import score_runs, write_days

    config = Path(__file__).resolve().parents[1] / "pretrained" / "crustal.yaml"
    (day,) = write_days(config, tmp_path / "days", [40002])
    for name in ("picks.csv", "stations.csv", "velocity_model.csv", "reference.csv"):
        assert (day / name).is_file()
    picks = pd.read_csv(day / "truth_picks.csv")
    events = pd.read_csv(day / "truth_events.csv")
    kept = events.loc[events["in_network"], "event"].to_numpy()
    assert len(kept) >= 10
    for name, chosen in (("oracle", kept), ("half", kept[::2])):
        on = picks["event"].isin(chosen).to_numpy()
        run = tmp_path / "runs" / day.name / name
        run.mkdir(parents=True)
        pd.DataFrame({"pick_idx": np.flatnonzero(on), "event_idx": picks["event"][on],
                      "time": picks["time"][on]}).to_csv(run / "assignments.csv", index=False)
        events[events["event"].isin(chosen)].rename(columns={"event": "event_idx"}).assign(
            time=lambda e: pd.to_datetime(e["time"], unit="s").dt.strftime(
                "%Y-%m-%dT%H:%M:%S.%f")).to_csv(run / "events.csv", index=False)
    scores = score_runs(tmp_path / "days", tmp_path / "runs")
    assert scores.loc["oracle", "event_recall"] == pytest.approx(1.0)
    assert scores.loc["oracle", "event_precision"] == pytest.approx(1.0)
    assert scores.loc["half", "event_recall"] == pytest.approx(len(kept[::2]) / len(kept))
    assert scores.loc["half", "event_precision"] == pytest.approx(1.0)
    assert 0 < scores.loc["oracle", "small_events"] <= len(kept)


def test_realistic_days_take_generator_ranges(tmp_path):
    """``write_days`` overrides: a dense network keeps its stations within the aperture asked
    for, the false-pick rate asked for sets the number of picks of no event, and a name that
    is not a generator range is a clear error."""
    from pathlib import Path

    from seisbench_genie.benchmark.realistic_days import DAY_DURATION_S, write_days
    from seisbench_genie.geo import LocalProjection

    config = Path(__file__).resolve().parents[1] / "pretrained" / "crustal.yaml"
    quiet = {"aperture_km": (30.0, 40.0), "bursts": (0, 0), "regional_arrivals_per_hour": (0, 0)}
    unlabelled = []
    for rate in (0.0, 100.0):
        (day,) = write_days(config, tmp_path / f"days{rate:g}", [40003],
                            {**quiet, "false_pick_rate_per_station_hour": (rate, rate)})
        stations = pd.read_csv(day / "stations.csv")
        x, y = LocalProjection.centred_on(stations).to_local(stations["latitude"],
                                                            stations["longitude"])
        assert max(np.ptp(x), np.ptp(y)) <= 40.0 * 1.05
        unlabelled.append(int((pd.read_csv(day / "truth_picks.csv")["event"] < 0).sum()))
    # the same layout and events (same seed): the extra picks of no event are the false picks
    expected = 100.0 * len(stations) * DAY_DURATION_S / 3600.0
    assert unlabelled[1] - unlabelled[0] == pytest.approx(expected, rel=0.15)
    with pytest.raises(ValueError, match="not a \\(low, high\\) range"):
        write_days(config, tmp_path / "bad", [40003], {"n_windows": (1, 2)})


def test_realistic_days_with_a_pick_filter_keep_the_same_events_picks(tmp_path):
    """``pick_filter``: (1, 0) gives the same day without a single pick of no event, every
    pick of an event still there with its time and label, the truth and the input agreeing
    row by row (the scoring reads pick positions); (0.5, 0.2) removes about those shares;
    shares outside [0, 1] are a clear error."""
    from pathlib import Path

    from seisbench_genie.benchmark.realistic_days import write_days

    config = Path(__file__).resolve().parents[1] / "pretrained" / "crustal.yaml"
    (full,) = write_days(config, tmp_path / "full", [40004])
    (clean,) = write_days(config, tmp_path / "clean", [40004], pick_filter=(1.0, 0.0))
    (half,) = write_days(config, tmp_path / "half", [40004], pick_filter=(0.5, 0.2))
    all_picks = pd.read_csv(full / "truth_picks.csv")
    labels = all_picks["event"] >= 0
    thinned = pd.read_csv(half / "truth_picks.csv")["event"] >= 0
    assert thinned.sum() == pytest.approx(0.8 * labels.sum(), rel=0.1)
    assert (~thinned).sum() == pytest.approx(0.5 * (~labels).sum(), rel=0.1)
    with pytest.raises(ValueError, match="shares must lie in"):
        write_days(config, tmp_path / "bad", [40004], pick_filter=(1.5, 0.0))
    kept = pd.read_csv(clean / "truth_picks.csv")
    assert (all_picks["event"] < 0).sum() > 0
    assert (kept["event"] >= 0).all()
    pd.testing.assert_frame_equal(
        kept, all_picks[all_picks["event"] >= 0].reset_index(drop=True))
    pd.testing.assert_frame_equal(pd.read_csv(clean / "picks.csv"),
                                  kept[["station", "phase", "time"]])
    for name in ("reference.csv", "stations.csv"):
        assert (clean / name).read_text() == (full / name).read_text()
    # the events are the same, with their pick counts before the filter (the small events
    # are scored as the same earthquakes)
    events = pd.read_csv(clean / "truth_events.csv")
    pd.testing.assert_frame_equal(events.drop(columns="picks_before_filter"),
                                  pd.read_csv(full / "truth_events.csv"))
    counts = all_picks.loc[labels, "event"].value_counts()
    assert (events["picks_before_filter"]
            == counts.reindex(events["event"]).fillna(0).to_numpy()).all()
    # scored on the filtered day, the small events are the unfiltered day's
    from seisbench_genie.benchmark.realistic_days import SMALL_EVENT_PICKS, score_runs

    lo, hi = SMALL_EVENT_PICKS
    n = counts.reindex(events["event"]).fillna(0).to_numpy()
    small = int((events["in_network"] & (n >= lo) & (n <= hi)).sum())
    picks = pd.read_csv(half / "truth_picks.csv")
    on = (picks["event"] >= 0).to_numpy()
    run = tmp_path / "runs" / half.name / "truth"
    run.mkdir(parents=True)
    pd.DataFrame({"pick_idx": np.flatnonzero(on), "event_idx": picks["event"][on],
                  "time": picks["time"][on]}).to_csv(run / "assignments.csv", index=False)
    pd.read_csv(half / "truth_events.csv").rename(columns={"event": "event_idx"}).assign(
        time=lambda e: pd.to_datetime(e["time"], unit="s").dt.strftime(
            "%Y-%m-%dT%H:%M:%S.%f")).to_csv(run / "events.csv", index=False)
    assert score_runs(tmp_path / "half", tmp_path / "runs").loc["truth", "small_events"] == small


def test_stage_losses_follow_the_other_associators_small_events(real_day, isolated_caches,
                                                                 tmp_path):
    """`--stage-losses`: each small event of the other associator (here the true events and
    picks) is followed through GENIE's stages; the peer that failed gets no table."""
    from seisbench_genie.benchmark.stage_losses import LOSS_STAGES

    d = real_day["dir"]
    oracle = _fake_outputs(real_day, 1)
    # the peer associates each event's first 12 picks only: its events are small ones
    thin = (oracle[0], oracle[1].sort_values("pick_idx").groupby("event_idx").head(12))
    cfg = RealBenchmarkConfig(d / "picks.csv", d / "stations.csv", d / "vm.csv", tmp_path / "o",
                              associators=["genie", "pyocto", "gamma"], figures=False,
                              region_depth_km=(0.0, 25.0), stage_losses=True)
    res = run_real_benchmark(cfg, runners={"genie": _fake(oracle), "pyocto": _fake(thin),
                                           "gamma": _fake(None)})
    assert list(res.stage_losses) == ["pyocto"]
    table = res.stage_losses["pyocto"]
    n_picks = thin[1]["event_idx"].value_counts()
    small = n_picks[(n_picks >= 10) & (n_picks <= 15)]
    assert len(small) >= 5
    assert sorted(table["event"]) == sorted(small.index)
    assert (table["n_picks"].to_numpy() == small.loc[table["event"]].to_numpy()).all()
    assert set(table["lost_at"]) <= set(LOSS_STAGES)
    # GENIE finds almost every event of this day (test_genie_on_a_real_style_day)
    assert (table["lost_at"] == "kept").mean() >= 0.7
    assert ((table["lost_at"] == "detection") == (table["detection_cause"] != "")).all()
    # after the second pass: a kept event's source links at least the picks it holds, and
    # of the event's picks it lacks none is counted twice
    kept = table[table["lost_at"] == "kept"]
    assert (kept["second_pass_source_picks"] >= kept["held_second_pass"]).all()
    lacked = table["second_pass_elsewhere"] + table["second_pass_unlinked"]
    assert (lacked <= table["n_picks"] - table["held_second_pass"]).all()
    saved = pd.read_csv(tmp_path / "o" / "stage_losses_pyocto.csv")
    assert len(saved) == len(table)
    assert tmp_path / "o" / "stage_losses_pyocto.csv" in res.files
    md = (tmp_path / "o" / "results.md").read_text()
    assert "Where GENIE loses the small events another associator finds" in md
    assert "| pyocto | " + str(len(table)) + " |" in md
    # without GENIE and another associator there is nothing to follow: a clear error first
    lonely = RealBenchmarkConfig(d / "picks.csv", d / "stations.csv", d / "vm.csv",
                                 tmp_path / "lonely", associators=["genie"], stage_losses=True)
    with pytest.raises(RealInputError, match="--stage-losses .* genie and at least one other"):
        run_real_benchmark(lonely, runners={"genie": _fake(oracle)})
    assert not (tmp_path / "lonely").exists()
