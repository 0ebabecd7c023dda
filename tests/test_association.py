"""GENIE.classify / associate: SeisBench picks in, ObsPy Catalog out (with shipped weights)."""

import io
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import obspy
import pandas as pd
import pytest
from obspy import UTCDateTime

from seisbench_genie import GENIE
from seisbench_genie.catalog import NSMAP
from seisbench_genie.metrics import evaluate
from seisbench_genie.synthetic import make_scenario

PRETRAINED = Path(__file__).parents[1] / "pretrained"


# model (crustal v2) and day (one crustal hour) come from conftest.py


@pytest.fixture(scope="module")
def result(model, day):
    return model.classify(day.picks[["station", "phase", "time"]], day.stations,
                          velocity_model=day.velocity_model)


def test_finds_the_events_and_locates_them(day, result):
    s = evaluate(day.picks, result.assignments, day.events, result.events)
    assert s.event_f1 >= 0.8, s
    assert s.pick_precision >= 0.9 and s.epicentral_error_km < 10.0, s


def test_assignment_rules(day, result):
    asg, ev = result.assignments, result.events
    assert asg["pick_idx"].is_unique  # each pick to at most one event
    merged = asg.merge(day.picks[["station"]], left_on="pick_idx", right_index=True)
    assert not merged.duplicated(["event_idx", "station", "phase"]).any()
    counts = asg.groupby("event_idx").size()
    assert (counts >= 10).all()  # min_picks default
    assert (ev.set_index("event_idx")["n_picks"] == counts).all()
    assert asg["probability"].between(0.3, 1.0).all()
    assert set(asg["phase"]) <= {"P", "S"}


def test_output_is_a_seisbench_classify_output_with_its_catalog_on_demand(model, day, result):
    import pickle

    import seisbench.util

    assert isinstance(result, seisbench.util.ClassifyOutput)
    assert result.catalog is result.catalog  # built once, then kept
    origins = [e.preferred_origin() for e in result.catalog]
    assert [o.time.timestamp for o in origins] == pytest.approx(result.events["time"].tolist())
    assert sum(len(e.picks) for e in result.catalog) == len(result.assignments)
    again = pickle.loads(pickle.dumps(result))
    assert len(again.catalog) == len(result.catalog)
    # associate() gives the same events as classify().catalog
    catalog = model.associate(day.picks[["station", "phase", "time"]], day.stations,
                              velocity_model=day.velocity_model)
    assert [e.preferred_origin().time for e in catalog] == [o.time for o in origins]


def test_malloc_setting_changes_speed_not_results(model, day, result):
    import sys

    from seisbench_genie.runtime import tune_malloc

    if sys.platform.startswith("linux"):
        assert tune_malloc() is True  # glibc accepts both thresholds
    plain = model.classify(day.picks[["station", "phase", "time"]], day.stations,
                           velocity_model=day.velocity_model, tune_malloc=False)
    pd.testing.assert_frame_equal(plain.events, result.events)
    pd.testing.assert_frame_equal(plain.assignments, result.assignments)


def test_catalog_round_trips_through_quakeml(result):
    cat = result.catalog
    assert len(cat) == len(result.events)
    buf = io.BytesIO()
    cat.write(buf, format="QUAKEML", nsmap=NSMAP)
    buf.seek(0)
    back = obspy.read_events(buf)
    assert len(back) == len(cat)
    e0, b0 = cat[0], back[0]
    assert len(b0.picks) == len(e0.picks) and len(b0.origins[0].arrivals) == len(
        e0.origins[0].arrivals)
    assert "GENIE" in str(b0.preferred_origin().method_id)
    assert b0.preferred_origin().evaluation_mode == "automatic"


def test_same_answer_for_picklist_utcdatetime_and_shuffled_input(model, day, result):
    kw = dict(velocity_model=day.velocity_model)
    from_picklist = model.classify(day.to_picklist(), day.stations, **kw)
    assert len(from_picklist.events) == len(result.events)
    utc = day.picks[["station", "phase"]].assign(time=[UTCDateTime(t) for t in day.picks.time])
    from_utc = model.classify(utc, day.stations, **kw)
    assert from_utc.assignments["pick_idx"].tolist() == result.assignments["pick_idx"].tolist()
    perm = np.random.default_rng(0).permutation(len(day.picks))
    shuffled = model.classify(day.picks.iloc[perm][["station", "phase", "time"]],
                              day.stations, **kw)
    # pick_idx refers to positions in the caller's (shuffled) input
    back = np.sort(perm[shuffled.assignments["pick_idx"].to_numpy()])
    assert back.tolist() == sorted(result.assignments["pick_idx"].tolist())


def test_empty_and_unknown_station_input(model, day):
    empty = model.classify(pd.DataFrame({"station": [], "phase": [], "time": []}),
                           day.stations, velocity_model=day.velocity_model)
    assert len(empty.catalog) == 0 and len(empty.events) == 0
    picks = day.picks[["station", "phase", "time"]].copy()
    picks.loc[:4, "station"] = "XX.NOPE."
    with pytest.warns(UserWarning, match="5 pick"):
        model.classify(picks, day.stations, velocity_model=day.velocity_model)


def test_bad_arguments_name_the_culprit(model, day):
    picks = day.picks[["station", "phase", "time"]]
    with pytest.raises(ValueError, match="num_threads"):
        model.classify(picks, day.stations, num_threads=0)
    for bad in (0, 1.5, "two"):
        with pytest.raises(ValueError, match="detection_grids"):
            model.classify(picks, day.stations, detection_grids=bad)
    with pytest.raises(TypeError, match="threshhold"):
        model.classify(picks, day.stations, threshhold=0.3)
    for name, bad in (("association_threshold", 1.5), ("detection_threshold", "high"),
                      ("min_picks", 0), ("min_p_and_s_stations", -1), ("require_fit", "yes"),
                      ("chunk_s", 0.0), ("batch_size", 2.5), ("rounds", 0),
                      ("later_round_spacing", 0.0), ("later_round_spacing", 1.5),
                      ("edge_tolerance_km", -1.0), ("edge_tolerance_km", float("inf"))):
        with pytest.raises(ValueError, match=name):
            model.classify(picks, day.stations, **{name: bad})
    for region in ({"latitude": (35, 36)}, {"depth_km": (0, 10), "radius": 3},
                   {"depth_km": "deep"}, [34, 35]):
        with pytest.raises(ValueError, match="region"):
            model.classify(picks, day.stations, region=region)
    with pytest.raises(ValueError, match="region"):
        model.classify(picks, day.stations, velocity_model=day.velocity_model,
                       region={"latitude": (35, 34), "longitude": (-118, -117)})
    from seisbench_genie.traveltimes import get

    shallow = get("layered", model=day.velocity_model, max_distance_km=300, max_depth_km=20)
    with pytest.raises(ValueError, match="depth_km.*40.*20"):
        model.classify(picks, day.stations, velocity_model=shallow, region={"depth_km": (0, 40)})


def test_events_located_outside_the_region_are_left_out_with_their_picks(model, day):
    """A region over the western half of the network: with no edge tolerance every event
    reported lies inside it, with an unbounded one some lie well outside, and the events
    inside are the same in both runs with the same picks (the others' picks are freed, not
    given to anyone)."""
    st = day.stations
    lon_edge = (st["longitude"].min() + st["longitude"].max()) / 2
    region = {"latitude": (st["latitude"].min(), st["latitude"].max()),
              "longitude": (st["longitude"].min(), lon_edge)}
    picks = day.picks[["station", "phase", "time"]]
    runs = {tol: model.classify(picks, st, velocity_model=day.velocity_model, region=region,
                                edge_tolerance_km=tol) for tol in (0.0, 1000.0)}
    inside, every = runs[0.0], runs[1000.0]
    east_km = (every.events["longitude"] - lon_edge) * 111.19 * np.cos(np.radians(34.0))
    assert (east_km > 10.0).any()  # the association locates some events well outside
    km_per_degree = 111.19 * np.cos(np.radians(st["latitude"].max()))
    assert ((inside.events["longitude"] - lon_edge) * km_per_degree <= 1.0).all()
    kept = every.events[east_km.to_numpy() <= 1.0]
    assert len(inside.events) == len(kept) > 0
    assert inside.events["time"].tolist() == pytest.approx(kept["time"].tolist())

    def picks_of(out, ids):
        by_event = out.assignments.groupby("event_idx")["pick_idx"]
        return [sorted(by_event.get_group(i)) for i in ids]

    assert (picks_of(inside, inside.events["event_idx"])
            == picks_of(every, kept["event_idx"]))
    assert len(inside.assignments) == sum(map(len, picks_of(every, kept["event_idx"])))


def test_thread_count_is_restored_and_changes_nothing(model, day, result):
    import torch

    before = torch.get_num_threads()
    out = model.classify(day.picks[["station", "phase", "time"]], day.stations,
                         velocity_model=day.velocity_model, num_threads=2)
    assert torch.get_num_threads() == before
    assert out.assignments["pick_idx"].tolist() == result.assignments["pick_idx"].tolist()


@pytest.fixture(scope="module")
def local_day(day):
    """The day's pick table (time-sorted), region and bound travel times in the local frame,
    as :func:`seisbench_genie.association.associate_table` takes them."""
    from seisbench_genie.association import Region
    from seisbench_genie.geo import LocalProjection
    from seisbench_genie.picks import match_stations, pick_table
    from seisbench_genie.traveltimes import get

    table = match_stations(pick_table(day.picks[["station", "phase", "time"]]), day.stations)
    table = table.sort_values("time").reset_index(drop=True)
    proj = LocalProjection.centred_on(day.stations)
    x, y = proj.to_local(day.stations.latitude, day.stations.longitude)
    region = Region((x.min() - 20, x.max() + 20), (y.min() - 20, y.max() + 20), (0.0, 40.0))
    bound = get("layered", model=day.velocity_model, max_distance_km=300,
                max_depth_km=45).bind(day.stations, projection=proj)
    return table, region, bound


def test_chunking_loses_and_doubles_nothing(model, local_day):
    """Detection runs in chunks of windows and association in time blocks of candidates; the
    chunk sizes (and the windows per network call) must not change the result (no event lost
    or doubled at a border)."""
    from seisbench_genie.association import AssociationParams, associate_table

    table, region, bound = local_day
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big = associate_table(model.network, bound, region, table, AssociationParams())
        small = associate_table(model.network, bound, region, table,
                                AssociationParams(chunk_s=30.0, detection_chunk_s=301.0,
                                                  batch_size=3))
    assert len(big[0]) >= 10
    assert len(big[0]) == len(small[0])
    assert big[1]["pick_idx"].tolist() == small[1]["pick_idx"].tolist()
    assert np.allclose(big[0]["time"], small[0]["time"], atol=1e-3)
    # With a shifted second grid, whose windows follow the first grid's activity.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big = associate_table(model.network, bound, region, table,
                              AssociationParams(detection_grids=2))
        small = associate_table(model.network, bound, region, table,
                                AssociationParams(detection_grids=2, chunk_s=30.0,
                                                  detection_chunk_s=301.0, batch_size=3))
    assert len(big[0]) >= 10
    assert big[1]["pick_idx"].tolist() == small[1]["pick_idx"].tolist()
    assert np.allclose(big[0]["time"], small[0]["time"], atol=1e-3)


def test_save_load_round_trip_and_foreign_weights(model, tmp_path):
    model.save(tmp_path / "mine", version_str="3")
    again = GENIE.load(tmp_path / "mine", version_str="3")
    assert again.scale == model.scale
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    other = GENIE(scale={**model.scale.to_dict(), "name": "other"}, hidden=8)
    other.save(tmp_path / "other", version_str="1")
    # weights of a different shape under a json that claims the crustal model
    (tmp_path / "other.json.v1").write_text((tmp_path / "mine.json.v3").read_text())
    with pytest.raises(ValueError, match="another model"):
        GENIE.load(tmp_path / "other", version_str="1")
    # the input channels (with or without the signed residuals) survive save/load, and
    # weights under a description with the other choice are refused by name
    assert again.network.signed_residuals == model.network.signed_residuals
    flipped = GENIE(scale=model.scale, hidden=model.hidden,
                    signed_residuals=not model.network.signed_residuals)
    flipped.save(tmp_path / "flipped", version_str="1")
    assert GENIE.load(tmp_path / "flipped", version_str="1").network.signed_residuals == (
        not model.network.signed_residuals)
    (tmp_path / "flipped.json.v1").write_text((tmp_path / "mine.json.v3").read_text())
    with pytest.raises(ValueError, match=f"signed residuals {model.network.signed_residuals}"):
        GENIE.load(tmp_path / "flipped", version_str="1")
    (tmp_path / "junk.json.v1").write_text('{"model_args": {}}')
    (tmp_path / "junk.pt.v1").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown weight format"):
        GENIE.load(tmp_path / "junk", version_str="1")


def test_from_pretrained_uses_the_shipped_weights_offline(tmp_path, monkeypatch):
    import seisbench

    monkeypatch.setattr(seisbench, "cache_model_root", tmp_path / "models" / "v3")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", "http://127.0.0.1:9/unreachable")
    names = GENIE.list_pretrained(remote=True)
    assert {"crustal", "subduction"} <= set(names)
    model = GENIE.from_pretrained("crustal")
    assert model.scale.name == "crustal" and model.scale.depth_km == (0.0, 40.0)
    # "latest" with an empty cache is the newest shipped version, now copied to the cache
    shipped = sorted(int(f.name.rsplit(".v", 1)[1]) for f in PRETRAINED.glob("crustal.pt.v*"))
    assert model.weights_version == str(shipped[-1])
    assert (tmp_path / "models" / "v3" / "genie" / f"crustal.pt.v{shipped[-1]}").is_file()
    with pytest.raises(ValueError, match="crustal"):
        GENIE.from_pretrained("no_such_model")


@pytest.fixture(scope="module")
def window_grid(model, local_day):
    """The day's node grid, picks and global window grid: (grid, picks, step s, t_start s,
    number of windows)."""
    from seisbench_genie.association.inputs import NodeGrid, PickSet

    table, region, bound = local_day
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = NodeGrid(model.network, bound, region)
        picks = PickSet(table)
    step = grid.scale.window_step_s
    t_start = float(picks.time_s.min()) - grid.max_travel_s - step
    n_win = int(np.ceil((float(picks.time_s.max()) - t_start) / step)) + 1
    return SimpleNamespace(grid=grid, picks=picks, step=step, t_start=t_start, n_win=n_win)


def test_coarse_to_fine_detection_finds_the_peaks_of_the_full_field(model, window_grid):
    """The source field is evaluated on every other window, then next to high windows; the
    detections must be those of the field evaluated on every candidate window."""
    import torch

    from seisbench_genie.association import AssociationParams
    from seisbench_genie.association.detection import (
        DETECTION_STRIDE,
        candidate_windows,
        detect_windows,
        field_peaks,
        peak_estimate,
        source_field,
    )
    wg = window_grid
    grid, picks, step, t_start, n_win = wg.grid, wg.picks, wg.step, wg.t_start, wg.n_win
    params = AssociationParams(detection_threshold=0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = detect_windows(grid, picks, params, params.detection_threshold, t_start, 0,
                               n_win)
        w, n = peaks.window, peaks.node
        # reference: the field on every candidate window (same padding as detect_windows)
        pad = DETECTION_STRIDE
        keep = candidate_windows(picks.station, picks.time_s, grid.graph, grid.tp, grid.ts,
                                 t_start - pad * step, n_win + 2 * pad, step,
                                 max(3, int(0.7 * params.min_picks)), picks.phase)
        kept = torch.nonzero(keep).squeeze(1)
        field = torch.zeros(n_win + 2 * pad, grid.graph.n_sources)
        field[kept] = source_field(model.network, grid.graph, picks.index, grid.tp, grid.ts,
                                   t_start + (kept - pad).to(torch.float64) * step, 16)
    nbrs = grid.graph.source_edges[0].reshape(grid.graph.n_sources, -1)
    w_ref, n_ref, _ = field_peaks(field, nbrs, 0.75 * params.detection_threshold)
    core = (w_ref >= pad) & (w_ref < pad + n_win)
    w_ref, n_ref = w_ref[core] - pad, n_ref[core]
    ref_height = peak_estimate(field, w_ref + pad, n_ref)[1]
    ok = ref_height >= params.detection_threshold
    assert int(ok.sum()) >= 10
    found = sorted(zip(w.tolist(), n.tolist(), strict=True))
    expected = sorted(zip(w_ref[ok].tolist(), n_ref[ok].tolist(), strict=True))
    assert found == expected


def test_candidate_windows_need_stations_with_p_and_s(day, window_grid):
    """With ``min_p_and_s``, a window is a candidate only where stations back-project both a
    P and an S pick: every event of the day keeps its origin window, P picks alone make
    no candidate, and the stricter rule never adds a window."""
    import torch

    from seisbench_genie.association.detection import candidate_windows

    wg = window_grid
    grid, picks, step, t_start, n_win = wg.grid, wg.picks, wg.step, wg.t_start, wg.n_win

    def candidates(sel: torch.Tensor, min_p_and_s: int) -> torch.Tensor:
        return candidate_windows(picks.station[sel], picks.time_s[sel], grid.graph, grid.tp,
                                 grid.ts, t_start, n_win, step, 7, picks.phase[sel],
                                 min_p_and_s)

    every = torch.ones(len(picks.time_s), dtype=torch.bool)
    loose, strict = candidates(every, 0), candidates(every, 2)
    assert bool((strict <= loose).all()) and int(strict.sum()) < int(loose.sum())
    origin_window = np.round((day.events["time"].to_numpy() - picks.t_ref - t_start)
                             / step).astype(int)
    assert len(origin_window) == 12
    assert strict[torch.as_tensor(origin_window)].all()
    p_only = picks.phase == 0
    assert candidates(p_only, 0).any() and not candidates(p_only, 2).any()


def _links(source, pick, station, phase, probability):
    return pd.DataFrame({"source": source, "pick": pick, "station": station, "phase": phase,
                         "probability": probability})


def test_two_detections_splitting_one_event_leave_one_event():
    from seisbench_genie.association.assignment import competitive_assignment

    # Sources 0 and 1 are two detections of one 10-pick event; 0 wins 6 picks and 1 wins 4:
    # neither reaches min_picks alone, and the stronger one must end up with all ten.
    picks = np.arange(10)
    p0 = np.where(picks < 6, 0.9, 0.6)
    p1 = np.where(picks < 6, 0.5, 0.7)
    links = _links(np.r_[np.zeros(10, int), np.ones(10, int)], np.r_[picks, picks],
                   np.r_[picks, picks], np.zeros(20, int), np.r_[p0, p1])
    kept = competitive_assignment(links, min_picks=10)
    assert kept["source"].unique().tolist() == [0]
    assert sorted(kept["pick"]) == picks.tolist()


def test_weak_sources_are_dropped_and_each_pick_is_used_once():
    from seisbench_genie.association.assignment import competitive_assignment

    rng = np.random.default_rng(0)
    # a strong source with 12 picks, a weak one wanting 5 of them and 3 others (never 10),
    # and a third source with 8 candidates only
    links = pd.concat([
        _links(0, np.arange(12), np.arange(12), 0, 0.9),
        _links(1, np.r_[np.arange(5), 20, 21, 22], np.arange(8), 1, 0.95),
        _links(2, np.arange(30, 38), np.arange(8), 0, rng.uniform(0.4, 0.9, 8)),
    ], ignore_index=True)
    kept = competitive_assignment(links, min_picks=10)
    assert kept["source"].unique().tolist() == [0]
    assert kept["pick"].is_unique and len(kept) == 12


def _ring_bound():
    from seisbench_genie.traveltimes import get

    angle = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    stations = pd.DataFrame({"id": [f"XX.S{i:02d}." for i in range(12)],
                             "latitude": 35.0 + 0.45 * np.sin(angle),
                             "longitude": -118.0 + 0.55 * np.cos(angle), "elevation": 0.0})
    return get("homogeneous").bind(stations)


def _event_links(bound, source, xyz, t0, stations):
    """P and S arrivals of an event at ``stations`` and their links to ``source``."""
    import torch

    st = torch.as_tensor(np.r_[stations, stations])
    phase = np.repeat([0, 1], len(stations))
    src = torch.tensor([xyz] * len(stations), dtype=torch.float64)
    t = t0 + np.r_[bound.pair_times(src, st[:len(stations)], "P").numpy(),
                   bound.pair_times(src, st[len(stations):], "S").numpy()]
    return t, pd.DataFrame({"source": source, "station": st.numpy(), "phase": phase,
                            "probability": 0.8})


@pytest.mark.parametrize("second_event", [False, True])
def test_one_event_detected_twice_is_merged_two_events_are_not(second_event):
    import torch

    from seisbench_genie.association.merge import merge_duplicates
    from seisbench_genie.nn.config import ModelScale

    bound = _ring_bound()
    scale = ModelScale("t", 50.0, 25.0, (0, 30), 150.0, 2.0, 2.0)
    t_a, links_a = _event_links(bound, 0, [0.0, 0.0, 10.0], 100.0, np.arange(7))
    # the rest of the picks: of the same event, or of another one 45 km and 3 s away
    xyz_b, t0_b = ([40.0, 20.0, 10.0], 103.0) if second_event else ([0.0, 0.0, 10.0], 100.0)
    t_b, links_b = _event_links(bound, 1, xyz_b, t0_b, np.arange(7, 12))
    links = pd.concat([links_a, links_b], ignore_index=True).assign(pick=np.arange(24))
    # the detections: near the truth, each with its share of the picks
    xyz = torch.tensor([[4.0, 3.0, 10.0], [x + d for x, d in zip(xyz_b, (-3.0, -4.0, 2.0),
                                                                  strict=True)]],
                       dtype=torch.float64)
    origin = torch.tensor([100.2, t0_b - 0.2], dtype=torch.float64)
    times = torch.as_tensor(np.r_[t_a, t_b])
    out, new_xyz, _ = merge_duplicates(bound, xyz, origin, links, times, scale)
    if second_event:
        assert out.groupby("source").size().to_dict() == {0: 14, 1: 10}
    else:
        assert out.groupby("source").size().to_dict() == {0: 24}
        assert float((new_xyz[0] - torch.tensor([0.0, 0.0, 10.0])).norm()) < 1.0


def test_fitting_counts_count_picks_that_fit_one_hypocentre():
    import torch

    from seisbench_genie.association.credibility import fitting_counts

    bound = _ring_bound()
    t, links = _event_links(bound, 0, [0.0, 0.0, 10.0], 100.0, np.arange(12))
    t[12:18] += 5.0  # S picks at stations 0-5 are 5 s late: they do not fit
    t[0] -= 4.0      # nor the P pick at station 0
    # a second source at the same place whose picks are 3-6 s off at random
    rng = np.random.default_rng(0)
    t2, links2 = _event_links(bound, 1, [0.0, 0.0, 10.0], 100.0, np.arange(12))
    t2 += rng.choice([-1, 1], len(t2)) * rng.uniform(3.0, 6.0, len(t2))
    links = pd.concat([links, links2], ignore_index=True).assign(pick=np.arange(48))
    xyz = torch.tensor([[0.0, 0.0, 10.0]] * 2, dtype=torch.float64)
    origin = torch.tensor([100.0, 100.0], dtype=torch.float64)
    n_fit, n_both = fitting_counts(bound, xyz, origin, links, torch.as_tensor(np.r_[t, t2]),
                                   150.0)
    assert n_fit.tolist() == [17, 0]
    assert n_both.tolist() == [6, 0]


def test_fit_check_keeps_a_subset_of_the_events(model, day, result):
    loose = model.classify(day.picks[["station", "phase", "time"]], day.stations,
                           velocity_model=day.velocity_model, require_fit=False)
    assert 0 < len(result.events) <= len(loose.events)
    assert set(result.assignments["pick_idx"]) <= set(loose.assignments["pick_idx"])
    s = evaluate(day.picks, result.assignments, day.events, result.events)
    assert s.event_precision == 1.0, s


def test_fit_check_widens_its_tolerance_for_travel_time_errors(model, monkeypatch):
    """With 5-10 % travel-time errors the picks do not fit within the association tolerance;
    the check measures the input's residual level and widens its tolerance, so it keeps the
    events. Held at the plain tolerance, it drops some of them. (Every event is put in
    the dense-day regime, where min_picks counts fitting picks only.)"""
    from seisbench_genie.association import credibility, pipeline

    off = make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11,
                        tt_noise=(0.05, 0.10))
    args = (off.picks[["station", "phase", "time"]], off.stations)
    loose = model.classify(*args, velocity_model=off.velocity_model, require_fit=False)
    monkeypatch.setattr(credibility, "chance_picks",
                        lambda bound, xyz, *a, **k: np.full(len(xyz), 99.0))
    checked = model.classify(*args, velocity_model=off.velocity_model)
    assert len(loose.events) >= 8
    assert len(checked.events) >= len(loose.events) - 1
    for stage in (credibility, pipeline):  # the fit check and the duplicate merge
        monkeypatch.setattr(stage, "tolerance_factor", lambda *a: 1.0)
    plain = model.classify(*args, velocity_model=off.velocity_model)
    assert len(plain.events) <= len(checked.events) - 2


def test_fit_check_counts_chance_among_the_picks_no_source_explains(model, day, monkeypatch):
    """The other events' picks are not noise: the chance count of the fit check uses only the
    picks linked to no source, and so is lower than one over every pick of the input."""
    from seisbench_genie.association import credibility
    from seisbench_genie.association.trace import recording

    original, calls = credibility.chance_picks, []

    def spy(bound, xyz, station, time_s, *args, **kwargs):
        calls.append((bound, xyz, time_s, args, kwargs,
                      original(bound, xyz, station, time_s, *args, **kwargs)))
        return calls[-1][-1]

    monkeypatch.setattr(credibility, "chance_picks", spy)
    with recording() as trace:
        model.classify(day.picks[["station", "phase", "time"]], day.stations,
                       velocity_model=day.velocity_model)
    bound, xyz, background, args, kwargs, chance = calls[-1]
    time_s = trace.picks.time_s
    linked = np.unique(trace.links["merge"]["pick"].to_numpy())
    assert len(linked) > len(day.picks) / 2
    assert np.array_equal(np.sort(background.numpy()), np.delete(time_s.numpy(), linked))
    everything = original(bound, xyz, trace.picks.station, time_s, *args, **kwargs)
    assert len(chance) > 0 and (chance <= everything + 1e-12).all()
    assert chance.sum() < 0.5 * everything.sum()


def test_chance_picks_scale_with_the_pick_rate_and_tolerance():
    import torch

    from seisbench_genie.association.credibility import chance_picks
    from seisbench_genie.nn.candidates import S_TOLERANCE_FACTOR, arrival_tolerance_s

    bound = _ring_bound()
    xyz = torch.tensor([[0.0, 0.0, 10.0]], dtype=torch.float64)
    # 100 picks per station over 1000 s: 0.1 picks/s at each of the 12 stations
    rng = np.random.default_rng(0)
    station = torch.as_tensor(np.repeat(np.arange(12), 100))
    time_s = torch.as_tensor(np.sort(rng.uniform(0, 1000, 1200)))
    time_s[0], time_s[-1] = 0.0, 1000.0
    tp = bound.pair_times(xyz.repeat(12, 1), torch.arange(12), "P").numpy()
    expected = (0.1 * 2 * arrival_tolerance_s(tp) * (1 + S_TOLERANCE_FACTOR)).sum()
    one = chance_picks(bound, xyz, station, time_s, 150.0)
    assert one == pytest.approx([expected], rel=1e-4)
    assert chance_picks(bound, xyz, station, time_s, 150.0, 2.0) == pytest.approx(2 * one)
    # stations beyond the largest distance add nothing
    assert chance_picks(bound, xyz, station, time_s, 1.0) == pytest.approx([0.0])
    # half the picks over the same span: half the rate
    half = chance_picks(bound, xyz, station[::2], time_s[::2], 150.0, span_s=1000.0)
    assert half == pytest.approx(one / 2, rel=1e-4)


def test_a_later_rounds_piece_of_an_earlier_event_is_dropped_a_new_event_is_not():
    """A later round's event made of picks at an earlier event's arrivals (jittered or
    doubled) is a piece of it and is dropped; an event 12 s later at the same place is new
    and stays; the kept events are renumbered from 0."""
    from seisbench_genie.association.rounds import explained_picks, without_pieces

    bound = _ring_bound()
    stations = np.arange(12)
    t_a, _ = _event_links(bound, 0, [0.0, 0.0, 10.0], 100.0, stations)
    t_b, _ = _event_links(bound, 1, [0.0, 0.0, 10.0], 112.0, stations)
    rng = np.random.default_rng(1)
    piece = np.r_[t_a[:12] + rng.uniform(-0.3, 0.3, 12), t_a[:6] + 0.4]
    time = np.r_[piece, t_b]
    picks = pd.DataFrame({"pick_idx": np.arange(len(time)) + 100,
                          "station_index": np.r_[stations, stations[:6], stations, stations],
                          "time": time})
    earlier = pd.DataFrame({"time": [100.0], "x_km": [0.0], "y_km": [0.0], "depth_km": [10.0]})
    explained = explained_picks(bound, earlier, picks, 150.0)
    assert explained[:len(piece)].all() and not explained[len(piece):].any()
    assert explained_picks(bound, earlier.iloc[:0], picks, 150.0).sum() == 0
    new_events = pd.DataFrame({"event_idx": [0, 1], "time": [100.1, 112.0]})
    new_assignments = pd.DataFrame({"pick_idx": picks["pick_idx"],
                                    "event_idx": np.r_[np.zeros(len(piece), int),
                                                       np.ones(len(t_b), int)]})
    kept, kept_assignments = without_pieces(bound, earlier, new_events, new_assignments, picks,
                                            150.0)
    assert kept["time"].tolist() == [112.0] and kept["event_idx"].tolist() == [0]
    assert kept_assignments["pick_idx"].tolist() == picks["pick_idx"][len(piece):].tolist()
    assert (kept_assignments["event_idx"] == 0).all()


def test_a_later_round_finds_hidden_events_and_keeps_the_first_rounds(model, tmp_path):
    """On a synthetic day crowded with small events, the second round (on the picks no event
    of the first explains) adds true events; the first round's events stay, each with the
    same picks, no pick is in two events, and events are numbered by origin time."""
    from seisbench_genie.benchmark.real import load_dataset
    from seisbench_genie.benchmark.realistic_days import write_days

    dense = {"false_pick_rate_per_station_hour": (0, 20), "bursts": (0, 0),
             "regional_arrivals_per_hour": (0, 2), "aperture_km": (30, 80)}
    (path,) = write_days(PRETRAINED / "crustal.yaml", tmp_path, [42003], dense)
    data = load_dataset(path / "picks.csv", path / "stations.csv", path / "velocity_model.csv",
                        region_depth_km=(0.0, 30.0))
    kwargs = {"velocity_model": data.velocity_model, "region": data.region, "min_picks": 10,
              "min_p_and_s_stations": 4}
    one = model.classify(data.picks, data.stations, rounds=1, **kwargs)
    two = model.classify(data.picks, data.stations, **kwargs)  # rounds=2, the default
    events_one = set(one.assignments.groupby("event_idx")["pick_idx"].apply(frozenset))
    events_two = set(two.assignments.groupby("event_idx")["pick_idx"].apply(frozenset))
    assert events_one < events_two
    assert two.assignments["pick_idx"].is_unique
    assert two.events["event_idx"].tolist() == list(range(len(two.events)))
    assert two.events["time"].is_monotonic_increasing
    truth = pd.read_csv(path / "truth_picks.csv")
    truth["time"] = pd.to_datetime(truth["time"]).map(pd.Timestamp.timestamp)
    true_events = pd.read_csv(path / "truth_events.csv")
    score_one = evaluate(truth, one.assignments, true_events, one.events)
    score_two = evaluate(truth, two.assignments, true_events, two.events)
    assert score_two.n_matched > score_one.n_matched, (score_one, score_two)


def test_location_ignores_stations_beyond_the_travel_time_table():
    """A pick at a station farther than the table reaches (a hypocentre moved away from it)
    gets no weight instead of stopping the run; the others locate the event."""
    import torch

    from seisbench_genie.location import locate
    from seisbench_genie.traveltimes import get

    angle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    stations = pd.DataFrame({"id": [f"XX.S{i}." for i in range(9)],
                             "latitude": np.r_[35.0 + 0.3 * np.sin(angle), 35.0],
                             "longitude": np.r_[-118.0 + 0.35 * np.cos(angle), -115.0],
                             "elevation": 0.0})
    model = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 6.8], "vs": [3.5, 3.9]})
    bound = get("layered", model=model, max_distance_km=150, max_depth_km=40).bind(stations)
    centre = bound.station_xyz_km[:8, :2].to(torch.float64).mean(dim=0)
    true = torch.cat([centre, torch.tensor([10.0], dtype=torch.float64)])[None]
    sta = torch.arange(8)
    t = bound.pair_times(true.expand(8, 3), sta, "P").to(torch.float64) + 50.0
    # the ninth station is ~270 km away, beyond the 150 km table
    rows = torch.cat([sta, torch.tensor([8])])
    times = torch.cat([t, torch.tensor([90.0], dtype=torch.float64)])
    res = locate(bound, true + torch.tensor([[5.0, 5.0, 2.0]], dtype=torch.float64),
                 torch.tensor([51.0], dtype=torch.float64), torch.zeros(9, dtype=torch.long),
                 rows, torch.zeros(9, dtype=torch.long), times,
                 bounds_km=((-500.0, 500.0), (-500.0, 500.0), (0.0, 40.0)))
    assert float((res.xyz_km[0, :2] - true[0, :2]).norm()) < 1.0
    assert abs(float(res.origin_s[0]) - 50.0) < 0.2


def test_verified_candidates_find_the_events(model, day, result):
    """verify_candidates re-scores candidates on lattices centred on them: on a clean day
    it finds the same events, with scores that reach at least the grid's."""
    out = model.classify(day.picks[["station", "phase", "time"]], day.stations,
                         velocity_model=day.velocity_model, verify_candidates=True)
    s = evaluate(day.picks, out.assignments, day.events, out.events)
    base = evaluate(day.picks, result.assignments, day.events, result.events)
    assert s.event_f1 >= base.event_f1 - 0.05, (s, base)
    assert s.event_precision == 1.0
    assert len(out.events) == len(result.events)
    assert (out.events["score"].to_numpy() >= result.events["score"].to_numpy() - 1e-6).all()


@pytest.fixture
def grid_shifts(monkeypatch):
    """The ``grid_shift`` of every node grid at the model's spacing (the first round's) the
    pipeline builds, in order."""
    from seisbench_genie.association import pipeline

    shifts = []
    node_grid = pipeline.NodeGrid

    def recording_grid(*args, grid_shift=0.0, spacing_factor=1.0, **kwargs):
        if spacing_factor == 1.0:
            shifts.append(grid_shift)
        return node_grid(*args, grid_shift=grid_shift, spacing_factor=spacing_factor,
                         **kwargs)

    monkeypatch.setattr(pipeline, "NodeGrid", recording_grid)
    return shifts


def test_shifted_grids_find_each_event_once(model, local_day, grid_shifts):
    """A second node grid, shifted by half the spacing, re-finds the events of the first:
    each must come out once, with the same picks."""
    import torch

    from seisbench_genie.association import AssociationParams, associate_table
    from seisbench_genie.association.inputs import NodeGrid

    table, region, bound = local_day
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = associate_table(model.network, bound, region, table, AssociationParams())
        assert grid_shifts == [0.0]  # automatic: this day is not crowded
        again = associate_table(model.network, bound, region, table,
                                AssociationParams(detection_grids=1))
        assert again[1]["pick_idx"].tolist() == one[1]["pick_idx"].tolist()
        grid_shifts.clear()
        two = associate_table(model.network, bound, region, table,
                              AssociationParams(detection_grids=2))
        assert grid_shifts == [0.0, 0.5]
        grid0 = NodeGrid(model.network, bound, region)
        grid1 = NodeGrid(model.network, bound, region, grid_shift=0.5)
    offset = grid1.graph.source_xyz - grid0.graph.source_xyz
    spacing = model.network.scale.node_spacing_km
    assert torch.allclose(offset[:, :2], torch.full_like(offset[:, :2], 0.5 * spacing))
    assert len(one[0]) >= 10 and len(two[0]) == len(one[0])
    assert two[1]["pick_idx"].is_unique
    assert np.abs(two[0]["time"].to_numpy() - one[0]["time"].to_numpy()).max() < 1.0
    same = len(np.intersect1d(one[1]["pick_idx"], two[1]["pick_idx"]))
    assert same >= 0.95 * max(len(one[1]), len(two[1]))


def test_a_crowded_day_gets_a_second_grid(model, grid_shifts):
    """Automatic detection_grids: 40 events in ten minutes crowd the stations with event
    picks (event_pick_density >= CROWDED_EVENT_PICKS), so a shifted grid looks again, and the
    result is the one of two grids asked for explicitly."""
    from seisbench_genie.association import candidates

    crowded = make_scenario("crustal", n_events=40, noise=0.3, duration_s=600.0, seed=3)
    picks = crowded.picks[["station", "phase", "time"]]
    auto = model.classify(picks, crowded.stations, velocity_model=crowded.velocity_model)
    assert grid_shifts == [0.0, 0.5]
    one = model.classify(picks, crowded.stations, velocity_model=crowded.velocity_model,
                         detection_grids=1)
    density = candidates.event_pick_density(
        len(one.assignments), crowded.picks["station"].to_numpy(),
        crowded.picks["time"].to_numpy(), model.network.scale.kernel_s)
    assert density >= candidates.CROWDED_EVENT_PICKS
    two = model.classify(picks, crowded.stations, velocity_model=crowded.velocity_model,
                         detection_grids=2)
    assert auto.assignments["pick_idx"].tolist() == two.assignments["pick_idx"].tolist()
    s = evaluate(crowded.picks, auto.assignments, crowded.events, auto.events)
    assert s.event_f1 >= 0.9, s


def test_classify_lists_every_parameter_with_the_defaults_of_one_dataclass():
    """Tab completion and help() show every argument; their defaults and docs come from
    AssociationParams, and SeisBench's _annotate_args follows the signature."""
    import inspect
    from dataclasses import fields

    from seisbench_genie.association import AssociationParams

    sig = inspect.signature(GENIE.classify)
    keyword = {n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}
    for f in fields(AssociationParams):
        assert f.name in keyword
        expected = None if f.metadata.get("from_weights") else f.default
        assert sig.parameters[f.name].default == expected, f.name
        assert f"{f.name} : " in GENIE.classify.__doc__
        assert GENIE._annotate_args[f.name][0], f.name
    assert set(GENIE._annotate_args) == keyword
    assert list(inspect.signature(GENIE.associate).parameters) == list(sig.parameters)


def test_weights_thresholds_apply_unless_given(model, day, monkeypatch):
    """The calibrated detection threshold stored with the weights is used when the caller
    omits it; an explicit value wins."""
    from seisbench_genie.association import pipeline

    seen = []
    real = pipeline.grid_candidates
    monkeypatch.setattr(pipeline, "grid_candidates",
                        lambda grid, picks, params, *a, **k: seen.append(
                            params.detection_threshold) or real(grid, picks, params, *a, **k))
    picks = day.picks[["station", "phase", "time"]]
    model.classify(picks, day.stations)
    omitted = seen.copy()  # one value per round
    seen.clear()
    model.classify(picks, day.stations, detection_threshold=0.45)
    assert set(omitted) == {model.default_args["detection_threshold"]} and set(seen) == {0.45}


def test_progress_is_one_bar_for_the_whole_run(model, day, monkeypatch):
    from seisbench_genie.association import pipeline

    bars = []
    real = pipeline.tqdm

    def recording_bar(*args, **kwargs):
        bar = real(*args, **kwargs)
        if not kwargs.get("disable"):  # later rounds show none
            bars.append(bar)
        return bar

    monkeypatch.setattr(pipeline, "tqdm", recording_bar)
    # chunks of 10 minutes: the hour is detected in 7 chunks, shown on one bar
    model.classify(day.picks[["station", "phase", "time"]], day.stations, progress=True,
                   detection_chunk_s=600.0, detection_grids=2)
    assert len(bars) == 1
    assert bars[0].total > 0 and bars[0].n == bars[0].total


@pytest.mark.parametrize("depth_km", [(0.0, 20.0), (0.0, 25.0), (0.0, 30.0), (0.0, 40.0),
                                      (5.0, 44.0)])
def test_node_levels_never_coarser_than_training(model, local_day, depth_km):
    """Whatever the search depth range, the node grid's depth levels are no further apart
    than the levels the model was trained on, and tile the range evenly (a 0-25 km search
    under a 0-40 km crustal model gets two levels, not one)."""
    import dataclasses

    from seisbench_genie.association.inputs import NodeGrid

    _, region, bound = local_day
    sc = model.network.scale
    trained_levels = round((sc.depth_km[1] - sc.depth_km[0])
                           / (sc.node_spacing_km * sc.depth_spacing_factor))
    trained_spacing = (sc.depth_km[1] - sc.depth_km[0]) / trained_levels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = NodeGrid(model.network, bound, dataclasses.replace(region, depth_km=depth_km))
    levels = np.unique(np.round(grid.graph.source_xyz[:, 2].numpy(), 6))
    spacing = (depth_km[1] - depth_km[0]) / len(levels)
    assert spacing <= trained_spacing + 1e-9
    # evenly spread cell centres: half a spacing inside each end of the range
    assert np.allclose(levels, depth_km[0] + (np.arange(len(levels)) + 0.5) * spacing)
    # and no more levels than needed
    assert len(levels) == max(1, int(np.ceil((depth_km[1] - depth_km[0]) / trained_spacing
                                             - 1e-9)))


def grid_spacings_built(monkeypatch) -> list[float]:
    """The spacing factor of every node grid the pipeline builds, in order (a list filled
    as the association runs)."""
    from seisbench_genie.association import pipeline

    built = []
    node_grid = pipeline.NodeGrid
    monkeypatch.setattr(pipeline, "NodeGrid", lambda *a, spacing_factor=1.0, **k: built.append(
        spacing_factor) or node_grid(*a, spacing_factor=spacing_factor, **k))
    return built


def test_later_rounds_search_a_finer_grid_over_the_same_volume(model, local_day, monkeypatch):
    """The rounds after the first build their own grid at ``later_round_spacing`` of the
    model's node spacing: half as far between nodes horizontally, the same depth levels, the
    same box and location bounds; at 1 they reuse the first round's grid."""
    from scipy.spatial import cKDTree

    from seisbench_genie.association import AssociationParams, associate_table
    from seisbench_genie.association.inputs import NodeGrid

    table, region, bound = local_day
    spacing = model.network.scale.node_spacing_km
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coarse = NodeGrid(model.network, bound, region)
        fine = NodeGrid(model.network, bound, region, spacing_factor=0.5)
    assert fine.scale.node_spacing_km == 0.5 * spacing
    xyz_coarse, xyz_fine = coarse.graph.source_xyz.numpy(), fine.graph.source_xyz.numpy()
    for xyz, expected in ((xyz_coarse, spacing), (xyz_fine, 0.5 * spacing)):
        level = xyz[xyz[:, 2] == xyz[0, 2], :2]
        nearest = cKDTree(level).query(level, k=2)[0][:, 1]
        assert np.allclose(nearest, expected, rtol=0.1)
    assert np.allclose(np.unique(xyz_fine[:, 2]), np.unique(xyz_coarse[:, 2]))
    assert fine.location_bounds() == coarse.location_bounds()
    for axis, (lo, hi) in enumerate((region.x_km, region.y_km)):
        box = (lo - 0.5 * spacing, hi + 0.5 * spacing)  # the box both grids tile
        assert box[0] < xyz_fine[:, axis].min() < xyz_coarse[:, axis].min() + 1e-9
        assert xyz_coarse[:, axis].max() - 1e-9 < xyz_fine[:, axis].max() < box[1]

    built = grid_spacings_built(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events, _ = associate_table(model.network, bound, region, table,
                                    AssociationParams(detection_grids=1,
                                                      later_round_spacing=0.5))
        assert len(events) > 0 and built == [1.0, 0.5]  # the second round's own grid
        built.clear()
        associate_table(model.network, bound, region, table,
                        AssociationParams(detection_grids=1, later_round_spacing=1.0))
    assert built == [1.0]  # the first round's grid, reused


def test_later_round_spacing_follows_the_station_spacing(model, local_day, monkeypatch):
    """By default the later rounds' nodes are as far apart as the stations are from their
    nearest neighbour, never finer than half the model's spacing nor coarser than it: a
    network denser than the nodes gets a finer later grid, a sparse one the model's."""
    from seisbench_genie.association import AssociationParams, associate_table
    from seisbench_genie.association.rounds import (
        FINEST_LATER_ROUND_SPACING,
        later_round_spacing_factor,
    )

    table, region, bound = local_day
    spacing = model.network.scale.node_spacing_km
    xyz = bound.station_xyz_km.numpy()
    nearest = np.sqrt(((xyz[:, None, :2] - xyz[None, :, :2]) ** 2).sum(-1))
    nearest = np.median(np.where(np.eye(len(xyz), dtype=bool), np.inf, nearest).min(1))
    assert later_round_spacing_factor(xyz, spacing) == pytest.approx(
        min(1.0, max(FINEST_LATER_ROUND_SPACING, nearest / spacing)))
    # Squeezed or spread about their centre, the same stations get a finer or the model's grid.
    centre = xyz.mean(0)
    dense = centre + (xyz - centre) * 0.1 * spacing / nearest
    sparse = centre + (xyz - centre) * 2.0 * spacing / nearest
    assert later_round_spacing_factor(dense, spacing) == FINEST_LATER_ROUND_SPACING
    assert later_round_spacing_factor(sparse, spacing) == 1.0
    assert later_round_spacing_factor(xyz[:1], spacing) == 1.0  # one station: no neighbour
    # Two instruments per site (location codes) are one site: the spacing is the sites'.
    for network in (xyz, sparse):
        twice = np.vstack([network, network + [0.01, 0.0, 0.0]])
        assert later_round_spacing_factor(twice, spacing) == pytest.approx(
            later_round_spacing_factor(network, spacing))

    built = grid_spacings_built(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        associate_table(model.network, bound, region, table, AssociationParams(detection_grids=1))
    expected = later_round_spacing_factor(xyz, spacing)
    assert built == ([1.0] if expected == 1.0 else [1.0, expected])
