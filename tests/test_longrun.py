"""Long runs: time chunks with exactly-once events, worker processes, a Dask cluster, resume,
and the ``seisbench-genie associate`` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from seisbench_genie import GENIE
from seisbench_genie.cli import build_parser, main
from seisbench_genie.runs import associate_long
from seisbench_genie.runs.plan import Chunk, plan_chunks, reconcile
from seisbench_genie.synthetic import make_scenario

MIDNIGHT = 1704153600.0  # 2024-01-02T00:00:00Z
#: 15-minute chunks: the test hour has 5 chunks and 4 boundaries besides midnight's.
CHUNK_S = 900
#: A found event is a true one when their origin times differ by less than this (s).
MATCH_S = 3.0


@pytest.fixture(scope="module")
def model():
    return GENIE.from_pretrained("crustal")


@pytest.fixture(scope="module")
def hour():
    """One hour of the crustal scenario (12 events, 30 % false picks), shifted so that one
    event's origin is 3 s before midnight: all its picks are after midnight."""
    day = make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11)
    near_middle = day.events.iloc[np.argmin(np.abs(day.events["time"] - day.events["time"].min()
                                                   - 1800.0))]
    shift = MIDNIGHT - 3.0 - near_middle["time"]
    picks = day.picks.assign(time=day.picks["time"] + shift)
    return SimpleNamespace(picks=picks[["station", "phase", "time"]], truth=picks,
                           events=day.events.assign(time=day.events["time"] + shift),
                           stations=day.stations, velocity_model=day.velocity_model,
                           straddler=int(near_middle["event"]))


@pytest.fixture(scope="module")
def single(model, hour):
    return model.classify(hour.picks, hour.stations, velocity_model=hour.velocity_model)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("longrun") / "run"


@pytest.fixture(scope="module")
def serial(model, hour, run_dir):
    """15-minute chunks, one after the other, written to a resumable folder."""
    return associate_long(model, hour.picks, hour.stations, chunk_s=CHUNK_S, n_workers=1,
                          out=run_dir, progress=False, velocity_model=hour.velocity_model)


def _pick_sets(out) -> dict[int, frozenset]:
    return {int(k): frozenset(g["pick_idx"].tolist())
            for k, g in out.assignments.groupby("event_idx")}


def _found(out, t: float) -> pd.DataFrame:
    return out.events[np.abs(out.events["time"] - t) < MATCH_S]


def test_event_straddling_midnight_and_chunk_boundaries_is_found_once_with_same_picks(
        model, hour, single, serial):
    daily = associate_long(model, hour.picks, hour.stations, chunk_s=86400, n_workers=1,
                           progress=False, velocity_model=hour.velocity_model)  # UTC days
    assert len(daily.chunks) == 2 and len(serial.chunks) == 5
    t = float(hour.events.loc[hour.events["event"] == hour.straddler, "time"].iloc[0])
    times = hour.truth.loc[hour.truth["event"] == hour.straddler, "time"]
    assert t < MIDNIGHT < times.max() and (times > MIDNIGHT).mean() > 0.9  # picks after
    [ref] = _found(single, t)["event_idx"].tolist()
    for out in (daily, serial):
        [idx] = _found(out, t)["event_idx"].tolist()  # once
        assert _pick_sets(out)[idx] == _pick_sets(single)[ref]
        # every true event once, and as many events as one run over the whole hour
        counts = [len(_found(out, t_true)) for t_true in hour.events["time"]]
        assert counts == [1] * len(hour.events)
        assert len(out.events) == len(single.events)
        # most events keep exactly their picks (a chunk's fit tolerance comes from its own
        # residuals, so a marginal event can gain or lose a false pick)
        assert len(set(_pick_sets(out).values()) & set(_pick_sets(single).values())) >= \
            len(single.events) - 1


def test_tables_are_consistent(serial, hour):
    ev, asg = serial.events, serial.assignments
    assert asg["pick_idx"].is_unique  # no pick in two events
    assert ev["event_idx"].tolist() == list(range(len(ev)))
    assert ev["time"].is_monotonic_increasing
    assert (ev.set_index("event_idx")["n_picks"] == asg.groupby("event_idx").size()).all()
    assert serial.chunks["n_picks"].sum() == len(hour.picks)
    assert len(serial.catalog) == len(ev)


def test_worker_processes_give_the_serial_catalog(model, hour, serial):
    two = associate_long(model, hour.picks, hour.stations, chunk_s=CHUNK_S, n_workers=2,
                         progress=False, velocity_model=hour.velocity_model)
    pd.testing.assert_frame_equal(two.events, serial.events)
    pd.testing.assert_frame_equal(two.assignments, serial.assignments)


def test_dask_cluster_gives_the_serial_catalog(model, hour, serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = associate_long(model, hour.picks, hour.stations, chunk_s=CHUNK_S, client=client,
                             progress=False, velocity_model=hour.velocity_model)
    pd.testing.assert_frame_equal(out.events, serial.events)
    pd.testing.assert_frame_equal(out.assignments, serial.assignments)


def test_rerun_skips_finished_chunks_and_other_settings_are_refused(model, hour, serial,
                                                                   run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["chunks"]) == 5
    again = associate_long(model, hour.picks, hour.stations, chunk_s=CHUNK_S, n_workers=1,
                           out=run_dir, progress=False, velocity_model=hour.velocity_model)
    assert again.chunks["resumed"].all()
    pd.testing.assert_frame_equal(again.events, serial.events)
    with pytest.raises(ValueError, match="differ in min_picks|differ in classify"):
        associate_long(model, hour.picks, hour.stations, chunk_s=CHUNK_S, out=run_dir,
                       progress=False, velocity_model=hour.velocity_model, min_picks=12)


def test_bad_arguments_name_the_problem(model, hour):
    with pytest.raises(ValueError, match=r"none of the .*XX\.NOPE.*AZ\.LVA2"):
        associate_long(model, hour.picks.assign(station="XX.NOPE."), hour.stations,
                       progress=False)
    with pytest.raises(ValueError, match="chunk_s: must exceed twice overlap_s"):
        associate_long(model, hour.picks, hour.stations, chunk_s=100, progress=False,
                       velocity_model=hour.velocity_model)
    with pytest.raises(TypeError, match="unknown argument"):
        associate_long(model, hour.picks, hour.stations, min_pick=3)


def _event(t: float, n: int = 3, score: float = 0.9) -> pd.DataFrame:
    return pd.DataFrame({"event_idx": [0], "time": [t], "latitude": [0.0],
                         "longitude": [0.0], "depth_km": [5.0], "n_picks": [n],
                         "n_stations": [n], "score": [score]})


def _picks(ids, event_idx=0, probability=0.9) -> pd.DataFrame:
    return pd.DataFrame({"pick_idx": list(ids), "event_idx": event_idx, "phase": "P",
                         "probability": probability, "residual_s": 0.0})


def test_reconcile_keeps_each_event_once():
    plan = [Chunk(0, 0, 0.0, 100.0), Chunk(1, 1, 100.0, 200.0)]
    same = _picks([1, 2, 3])
    # each chunk says the event is the other's: kept once, not lost
    ev, asg = reconcile(plan, {0: (_event(100.4), same), 1: (_event(99.8), same)}, 10.0,
                        station_of=lambda p: p)
    assert len(ev) == 1 and sorted(asg["pick_idx"]) == [1, 2, 3]
    # each chunk owns its estimate: kept once
    ev, _ = reconcile(plan, {0: (_event(99.9), same), 1: (_event(100.1), same)}, 10.0,
                      station_of=lambda p: p)
    assert ev["time"].tolist() == [99.9]
    # two events that competed for one pick: both kept, the pick in the likelier one only
    a, b = _picks([1, 2, 3, 4], probability=0.6), _picks([4, 5, 6, 7], probability=0.8)
    ev, asg = reconcile(plan, {0: (_event(98.0, 4), a), 1: (_event(102.0, 4), b)}, 10.0,
                        station_of=lambda p: p)
    assert len(ev) == 2 and asg["pick_idx"].is_unique
    assert asg.loc[asg["pick_idx"] == 4, "event_idx"].item() == 1
    assert ev["n_picks"].tolist() == [3, 4]
    # the run's range: events before start are left out
    ev, _ = reconcile(plan, {0: (_event(50.0), same)}, 10.0, station_of=lambda p: p,
                      start=60.0)
    assert len(ev) == 0


def _chunk_results(rng, plan, pick_time, overlap_s, guard_s, true_times):
    """What chunks report for events seen by neighbouring chunks: each chunk finds most true
    events near its core, with its own origin time and its own draw of the picks in its span
    (so neighbours share many picks of one event, and a few of two competing ones)."""
    results = {}
    for c in plan:
        rows_e, rows_a, used = [], [], set()
        for t in true_times:
            t_found = t + rng.normal(0.0, 1.5)
            if rng.random() < 0.15 or not (c.start - guard_s - 3 <= t_found
                                           < c.end + guard_s + 3):
                continue
            near = np.flatnonzero((pick_time >= max(c.start - overlap_s, t))
                                  & (pick_time < min(c.end + overlap_s, t + 25.0)))
            chosen = [int(q) for q in near if q not in used and rng.random() < 0.8]
            if len(chosen) < 3:
                continue
            used.update(chosen)
            k = len(rows_e)
            rows_e.append({**_event(t_found, len(chosen), float(rng.random())).iloc[0],
                           "event_idx": k})
            rows_a.append(_picks(chosen, k, np.round(rng.random(len(chosen)), 2)))
        if rows_e and rng.random() > 0.1:  # else: a chunk without events
            results[c.index] = (pd.DataFrame(rows_e), pd.concat(rows_a, ignore_index=True))
    return results


def test_reconcile_block_by_block_equals_the_whole_run_at_once(monkeypatch):
    """Each chunk's events are decided from the chunks within RECONCILE_REACH of it: the same
    catalog as deciding with every chunk at hand, on runs with gaps and a start time."""
    import seisbench_genie.runs.plan as plan_module

    rng = np.random.default_rng(5)
    for trial in range(40):
        overlap_s, guard_s = float(rng.uniform(15.0, 45.0)), 10.0
        pick_time = np.sort(rng.uniform(0.0, 1000.0, 400))
        if trial % 2:  # a gap of empty chunks
            pick_time = pick_time[(pick_time < 250.0) | (pick_time > 520.0)]
        station_of = rng.integers(0, 12, len(pick_time)).__getitem__
        plan = plan_chunks(pick_time, 100.0, overlap_s)
        results = _chunk_results(rng, plan, pick_time, overlap_s, guard_s,
                                 np.sort(rng.uniform(0.0, 1000.0, 60)))
        start = 50.0 if trial % 3 == 0 else -np.inf
        blocks = list(plan_module.reconcile_stream(plan, results, guard_s,
                                                   station_of, start=start))
        with monkeypatch.context() as m:
            m.setattr(plan_module, "RECONCILE_REACH", len(plan))
            whole = reconcile(plan, results, guard_s, station_of, start=start)
        ev, asg = plan_module.join_blocks(blocks)
        pd.testing.assert_frame_equal(ev, whole[0])
        pd.testing.assert_frame_equal(asg, whole[1])
        assert asg["pick_idx"].is_unique
        # blocks in time order, each event's picks in its own block
        for (ev_a, _), (ev_b, _) in zip(blocks[:-1], blocks[1:], strict=True):
            assert ev_a["time"].max() <= ev_b["time"].min()
        for ev_k, asg_k in blocks:
            assert set(asg_k["event_idx"]) <= set(ev_k["event_idx"])


def test_outputs_are_written_day_by_day_as_blocks_arrive(tmp_path):
    """write_outputs holds a day or two of events, never the whole run: a day's files are on
    disk once a block after that day has arrived; the merged tables are the days' rows."""
    from seisbench_genie.picks import pick_table
    from seisbench_genie.runs.engine import PickArrays
    from seisbench_genie.runs.files import write_outputs

    day0 = 1704067200.0  # 2024-01-01
    t = day0 + np.array([3600.0, 7200.0, 86400 + 3600.0, 86400 + 80000.0, 3 * 86400 + 10.0])
    picks = pd.DataFrame({"station": "XX.A.", "phase": "P",
                          "time": np.repeat(t, 3) + np.tile([1.0, 2.0, 3.0], len(t))})
    arrays = PickArrays.from_table(pick_table(picks))
    stations = pd.DataFrame({"id": ["XX.A."], "latitude": [35.0], "longitude": [-117.0],
                             "elevation": [0.0]})
    events = pd.concat([_event(x) for x in t], ignore_index=True).assign(
        event_idx=np.arange(len(t)))
    assignments = pd.concat([_picks(range(3 * k, 3 * k + 3), k) for k in range(len(t))],
                            ignore_index=True)
    on_disk = []

    def blocks():
        for rows in ([0], [1, 2], [3], [4]):  # a block per chunk, in time order
            ev = events.iloc[rows]
            on_disk.append(sorted(p.name for p in (tmp_path / "days").glob("*")))
            yield ev, assignments[assignments["event_idx"].isin(ev["event_idx"])]

    written = write_outputs(tmp_path, blocks(), arrays, stations, "crustal", "test")
    # when the 2nd block came, day 1 was still open; when the 4th came, days 1-2 were written
    assert on_disk == [[], [], ["2024-01-01"], ["2024-01-01"]]
    assert sorted(p.name for p in (tmp_path / "days").iterdir()) == [
        "2024-01-01", "2024-01-02", "2024-01-04"]
    assert (written.n_events, written.n_assignments) == (5, 15)
    merged = pd.read_csv(tmp_path / "assignments.csv")
    days = pd.concat([pd.read_csv(f) for f in sorted(tmp_path.glob("days/*/assignments.csv"))],
                     ignore_index=True)
    pd.testing.assert_frame_equal(merged, days)
    assert merged["pick_idx"].tolist() == list(range(15))
    assert pd.read_csv(tmp_path / "events.csv")["time_s"].tolist() == t.tolist()
    # days written side by side in two processes: the same files
    parallel = write_outputs(tmp_path / "parallel", blocks(), arrays, stations, "crustal",
                             "test", n_workers=2)
    assert [p.relative_to(tmp_path / "parallel") for p in parallel.files] == \
        [p.relative_to(tmp_path) for p in written.files]
    for a, b in zip(written.files, parallel.files, strict=True):
        assert _without_creation_time(a) == _without_creation_time(b), a.name


def _without_creation_time(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if "<creationTime>" not in line]


def test_plan_covers_every_pick_and_skips_empty_time():
    times = np.array([5.0, 100.0, 3590.0, 3605.0, 1e7])
    plan = plan_chunks(times, chunk_s=3600, overlap_s=60.0)
    assert [c.cell for c in plan] == [-1, 0, 1, 2777]
    covered = [any(c.start - 60 <= t <= c.end + 60 for c in plan) for t in times]
    assert all(covered)


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def _write_inputs(folder: Path, hour) -> list[str]:
    hour.picks.to_csv(folder / "picks.csv", index=False)
    hour.stations.to_csv(folder / "stations.csv", index=False)
    hour.velocity_model.to_csv(folder / "vm.csv", index=False)
    return [str(folder / "picks.csv"), "--stations", str(folder / "stations.csv"),
            "--velocity-model", str(folder / "vm.csv"), "--chunk", str(CHUNK_S),
            "--workers", "1", "--no-progress"]


def _run_until_a_chunk_is_done(args: list[str], out: Path) -> subprocess.Popen:
    """``seisbench-genie ARGS`` in a subprocess, returned once its manifest records a finished
    chunk (or it ended, or 300 s passed)."""
    proc = subprocess.Popen([sys.executable, "-m", "seisbench_genie.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.is_file() and json.loads(manifest.read_text())["chunks"]:
            break
        time.sleep(0.02)
    return proc


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory, hour):
    """``associate`` killed (SIGKILL) after its first chunk, then the same command again."""
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "out"
    args = ["associate", *_write_inputs(folder, hour), "--out", str(out)]
    proc = _run_until_a_chunk_is_done(args, out)
    proc.kill()
    proc.wait()
    assert proc.returncode < 0, proc.stderr.read().decode()[-2000:]  # killed, not finished
    done_before = len(json.loads((out / "manifest.json").read_text())["chunks"])
    left_before = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    return SimpleNamespace(out=out, args=args, done_before=done_before,
                           left_before=left_before, rc=main(args))


def test_killed_run_resumes_to_the_uninterrupted_catalog(killed_and_resumed, serial, capsys):
    k = killed_and_resumed
    assert 1 <= k.done_before < 5
    assert k.left_before == ["chunks", "manifest.json"]  # no half-written catalog
    assert k.rc == 0
    summary = json.loads((k.out / "summary.json").read_text())
    assert summary["chunks_resumed"] == k.done_before and summary["chunks"] == 5
    assert summary["days"] == 2  # the UTC days of the picks
    events = pd.read_csv(k.out / "events.csv")
    assert events["time_s"].tolist() == serial.events["time"].tolist()
    assert events["latitude"].tolist() == serial.events["latitude"].tolist()
    asg = pd.read_csv(k.out / "assignments.csv")
    assert asg[["pick_idx", "event_idx"]].values.tolist() == \
        serial.assignments[["pick_idx", "event_idx"]].values.tolist()


def test_outputs_per_day_and_merged(killed_and_resumed, serial):
    import obspy

    out = killed_and_resumed.out
    days = sorted(p.name for p in (out / "days").iterdir())
    assert days == ["2024-01-01", "2024-01-02"]
    per_day = [len(pd.read_csv(out / "days" / d / "events.csv")) for d in days]
    assert sum(per_day) == len(serial.events)
    merged = obspy.read_events(str(out / "catalog.xml"))
    assert len(merged) == len(serial.events)
    assert sum(len(e.picks) for e in merged) == len(serial.assignments)
    assert len(obspy.read_events(str(out / "days" / days[1] / "catalog.xml"))) == per_day[1]


def test_a_stop_while_writing_the_catalog_exits_cleanly_and_the_rerun_writes_it(
        killed_and_resumed, hour, tmp_path, monkeypatch, capsys):
    """Ctrl-C after the first day's files: exit 130, no merged file, no temporary file; the
    same command then writes the whole catalog from the kept chunks."""
    import shutil

    import seisbench_genie.runs.files as files

    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(killed_and_resumed.out / "chunks", out / "chunks")
    shutil.copy(killed_and_resumed.out / "manifest.json", out)
    args = ["associate", *_write_inputs(tmp_path, hour), "--out", str(out)]
    real, days = files.write_day, []

    def stop_after_one_day(folder, *rest):
        if days:
            raise KeyboardInterrupt
        days.append(folder.name)
        return real(folder, *rest)

    monkeypatch.setattr(files, "write_day", stop_after_one_day)
    assert main(args) == 130
    assert "interrupted; the finished chunks are kept" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["chunks", "days", "manifest.json"]
    assert sorted(p.name for p in (out / "days").iterdir()) == days
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setattr(files, "write_day", real)
    assert main(args) == 0
    for name in ("events.csv", "assignments.csv"):
        assert (out / name).read_bytes() == (killed_and_resumed.out / name).read_bytes()


def test_help_documents_every_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    associate = sub.choices["associate"]
    for action in associate._actions:
        if action.dest != "help":
            assert action.help and len(action.help) >= 10, action.dest
    text = associate.format_help()
    for unit in ("(s)", "degrees", "km", "seconds"):
        assert unit in text


def test_region_margin_option_reaches_classify_and_conflicts_with_region(tmp_path, capsys):
    from seisbench_genie.runs.cli import classify_kwargs

    parser = build_parser()
    base = ["associate", "p.csv", "--stations", "s.csv", "--out", str(tmp_path / "out")]
    args = parser.parse_args(base + ["--region-margin-km", "40"])
    assert classify_kwargs(args)["region"] == {"margin_km": 40.0}
    (tmp_path / "p.csv").write_text("station,phase,time\nCI.A.,P,1.0\n")
    (tmp_path / "s.csv").write_text("id,latitude,longitude\nCI.A.,35,-117\n")
    rc = main(["associate", str(tmp_path / "p.csv"), "--stations", str(tmp_path / "s.csv"),
               "--out", str(tmp_path / "out"), "--region", "35,36,-118,-117",
               "--region-margin-km", "40"])
    assert rc == 2 and "--region-margin-km" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_later_round_spacing_option_reaches_classify_and_is_checked(tmp_path, capsys):
    from seisbench_genie.runs.cli import classify_kwargs

    parser = build_parser()
    base = ["associate", "p.csv", "--stations", "s.csv", "--out", str(tmp_path / "out")]
    assert classify_kwargs(parser.parse_args(base))["later_round_spacing"] is None  # automatic
    given = parser.parse_args(base + ["--later-round-spacing", "1"])
    assert classify_kwargs(given)["later_round_spacing"] == 1.0
    for bad in ("0", "1.5", "half"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(base + ["--later-round-spacing", bad])
        assert exc.value.code == 2 and "--later-round-spacing" in capsys.readouterr().err


def test_device_option_reaches_classify_and_a_missing_gpu_is_named(tmp_path, capsys):
    from seisbench_genie.runs.cli import classify_kwargs

    parser = build_parser()
    base = ["associate", "p.csv", "--stations", "s.csv", "--out", str(tmp_path / "out")]
    assert "device" not in classify_kwargs(parser.parse_args(base))  # cpu: not in the manifest
    auto = classify_kwargs(parser.parse_args(base + ["--device", "auto"]))
    assert auto.get("device") == ("cuda" if torch.cuda.is_available() else None)
    (tmp_path / "p.csv").write_text("station,phase,time\nCI.A.,P,1.0\n")
    (tmp_path / "s.csv").write_text("id,latitude,longitude\nCI.A.,35,-117\n")
    files = [str(tmp_path / "p.csv"), "--stations", str(tmp_path / "s.csv"),
             "--out", str(tmp_path / "out")]
    bad = ["gpu"] if torch.cuda.is_available() else ["gpu", "cuda"]
    for device in bad:
        assert main(["associate", *files, "--device", device]) == 2
        assert "--device" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_bad_pick_file_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "picks.csv"
    bad.write_text("station,phase,time\nCI.A.,P,1.0\nCI.A.,P,yesterday\n")
    (tmp_path / "st.csv").write_text("id,latitude,longitude\nCI.A.,35,-117\n")
    rc = main(["associate", str(bad), "--stations", str(tmp_path / "st.csv"), "--out",
               str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and f"{bad}, line 3" in err and "yesterday" in err
    bad.write_text("station,phase,time\nCI.A.,P,1.0\nCI.A.,P,2.0,extra\n")
    rc = main(["associate", str(bad), "--stations", str(tmp_path / "st.csv"), "--out",
               str(tmp_path / "out")])
    assert rc == 2 and "line 3" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_stations_matching_no_pick_and_unreachable_scheduler(tmp_path, hour, capsys):
    args = _write_inputs(tmp_path, hour)
    other = hour.stations.assign(id="XX." + hour.stations["id"].str.split(".").str[1] + ".")
    other.to_csv(tmp_path / "other.csv", index=False)
    rc = main(["associate", args[0], "--stations", str(tmp_path / "other.csv"), "--out",
               str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "CI." in err and "XX." in err  # ids from both sides
    rc = main(["associate", *args, "--out", str(tmp_path / "out"), "--dask-scheduler",
               "tcp://127.0.0.1:9", "--dask-timeout", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "tcp://127.0.0.1:9" in err
    assert not (tmp_path / "out").exists()


def test_seisbench_pick_export_stationxml_and_parquet(tmp_path, hour):
    from obspy.core.inventory import Inventory, Network, Station

    from seisbench_genie.runs.files import read_pick_files, read_station_file
    from seisbench_genie.synthetic.scenarios import Scenario

    scn = Scenario("x", hour.truth.head(50).reset_index(drop=True), hour.events,
                   hour.stations, hour.velocity_model, {})
    scn.to_picklist().to_dataframe().to_csv(tmp_path / "sb.csv")  # SeisBench's own export
    arrays = read_pick_files([tmp_path / "sb.csv"])
    assert np.allclose(arrays.time, scn.picks["time"].to_numpy(), rtol=0, atol=1e-6)
    st = hour.stations.head(3)
    inv = Inventory(networks=[Network(i.split(".")[0], stations=[
        Station(i.split(".")[1], latitude=la, longitude=lo, elevation=el)])
        for i, la, lo, el in st[["id", "latitude", "longitude", "elevation"]].values])
    inv.write(str(tmp_path / "st.xml"), format="STATIONXML")
    assert read_station_file(tmp_path / "st.xml")["id"].tolist() == st["id"].tolist()
    pytest.importorskip("pyarrow")
    hour.picks.head(20).to_parquet(tmp_path / "p.parquet")
    assert len(read_pick_files([tmp_path / "p.parquet"])) == 20


def test_files_read_in_blocks_and_duplicates_across_files(tmp_path, monkeypatch):
    import seisbench_genie.runs.files as files

    rng = np.random.default_rng(7)
    n = 23
    first = pd.DataFrame({"station": rng.choice(["CI.A.", "CI.B.", "CI.C."], n),
                          "phase": rng.choice(["P", "S"], n),
                          "time": np.round(rng.uniform(0.0, 100.0, n), 3)})
    first.to_csv(tmp_path / "a.csv", index=False)
    # The second file repeats rows 4 and 9 of the first (exact duplicates) and adds two picks.
    second = pd.concat([first.iloc[[4]], pd.DataFrame({"station": ["CI.D."], "phase": ["S"],
                                                       "time": [50.5]}),
                        first.iloc[[9]], pd.DataFrame({"station": ["CI.A."], "phase": ["P"],
                                                       "time": [1e3]})])
    second.to_csv(tmp_path / "b.csv", index=False)
    whole = files.read_pick_files([tmp_path / "a.csv"])
    monkeypatch.setattr(files, "READ_BLOCK_ROWS", 4)  # six blocks for the first file
    blocks = files.read_pick_files([tmp_path / "a.csv"])
    assert blocks.pick_idx.tolist() == whole.pick_idx.tolist()
    assert blocks.ids[blocks.station].tolist() == whole.ids[whole.station].tolist()
    assert np.array_equal(blocks.time, whole.time) and np.array_equal(blocks.phase, whole.phase)
    order = np.lexsort((np.arange(n), first["time"].to_numpy()))
    assert whole.pick_idx.tolist() == order.tolist()  # pick_idx = data row, time-sorted
    with pytest.warns(UserWarning, match="dropped 2 pick"):
        both = files.read_pick_files([tmp_path / "a.csv", tmp_path / "b.csv"])
    # The first file's copies are kept; the new picks are rows 1 and 3 of the second file.
    assert sorted(both.pick_idx.tolist()) == list(range(n)) + [n + 1, n + 3]
    new = both.take(np.flatnonzero(both.pick_idx >= n))
    assert new.ids[new.station].tolist() == ["CI.D.", "CI.A."]


def _workers_of(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.is_file() else []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_worker_processes_start_for_a_script_read_from_standard_input(tmp_path, hour, serial):
    """``python - <<EOF`` (a batch job's here-document): a spawned worker would run the main
    script again from a file named ``<stdin>`` and die; it runs the chunks instead."""
    _write_inputs(tmp_path, hour)
    script = f"""
import pandas as pd
from seisbench_genie import GENIE
from seisbench_genie.runs import associate_long
d = {str(tmp_path)!r}
out = associate_long(GENIE.from_pretrained("crustal"), pd.read_csv(d + "/picks.csv"),
                     pd.read_csv(d + "/stations.csv"), velocity_model=pd.read_csv(d + "/vm.csv"),
                     chunk_s={CHUNK_S}, n_workers=2, progress=False)
out.events.to_csv(d + "/events.csv", index=False)
"""
    done = subprocess.run([sys.executable, "-"], input=script.encode(), cwd=tmp_path,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    events = pd.read_csv(tmp_path / "events.csv")
    np.testing.assert_allclose(events["time"], serial.events["time"], rtol=0, atol=1e-6)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_stopped_run_ends_its_workers_and_resumes(tmp_path, hour, serial, how):
    import signal

    out = tmp_path / "out"
    args = ["associate", *_write_inputs(tmp_path, hour), "--out", str(out)]
    args[args.index("--workers") + 1] = "2"
    proc = _run_until_a_chunk_is_done(args, out)
    workers = _workers_of(proc.pid)
    assert proc.poll() is None and workers, proc.stderr.read().decode()[-2000:]
    proc.send_signal(getattr(signal, how))
    rc = proc.wait(timeout=60)
    if how == "SIGTERM":  # an orderly stop, as Ctrl-C
        assert rc == 143 and "terminated (SIGTERM)" in proc.stderr.read().decode()
    else:
        assert rc == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers)  # no worker left computing for nobody
    if how == "SIGTERM":
        assert main(args) == 0
        events = pd.read_csv(out / "events.csv")
        assert events["time_s"].tolist() == serial.events["time"].tolist()


def test_network60_benchmark_days_join_without_an_event_twice(tmp_path, capsys):
    """The long-run benchmark's dense 60-station workload: one layout, days that follow each
    other, each event's picks in one day's file only; a missing config is named."""
    from seisbench_genie.runs.benchmark import load_days, make_network_days
    from seisbench_genie.runs.benchmark import main as bench_main

    make_network_days(tmp_path, 2)  # the shipped crustal config
    stations = pd.read_csv(tmp_path / "network60_stations.csv")
    assert len(stations) == 60 and stations["id"].is_unique
    assert (tmp_path / "network60_velocity_model.csv").is_file()
    days = [np.load(tmp_path / f"network60_day{k:03d}.npz") for k in range(2)]
    for k, f in enumerate(days):
        assert f["time"].min() >= 86400.0 * k  # nothing before the day's start ...
        assert ((f["event_time"] >= 86400.0 * k) & (f["event_time"] < 86400.0 * (k + 1))).all()
        assert 80_000 < len(f["time"]) < 200_000  # ... and a day of a dense network's picks
        assert set(f["station"]) <= set(stations["id"])
    # the picks of day 0's last events reach past midnight, in day 0's file
    assert days[0]["time"].max() > 86400.0
    stamp = (tmp_path / "network60_day000.npz").stat().st_mtime_ns
    make_network_days(tmp_path, 2)  # generated once
    assert (tmp_path / "network60_day000.npz").stat().st_mtime_ns == stamp
    picks, truth = load_days(tmp_path, 2, "network60")
    assert len(picks.time) == sum(len(f["time"]) for f in days) and np.all(np.diff(truth) >= 0)
    with pytest.raises(SystemExit) as exc:
        bench_main(["--workload", "network60", "--cache", str(tmp_path / "new"),
                    "--config", str(tmp_path / "missing.yaml"), "--days", "1"])
    assert exc.value.code == 2 and "missing.yaml" in capsys.readouterr().err


def test_edge_tolerance_option_reaches_classify_and_is_checked(tmp_path, capsys):
    from seisbench_genie.runs.cli import classify_kwargs

    parser = build_parser()
    base = ["associate", "p.csv", "--stations", "s.csv", "--out", str(tmp_path / "out")]
    assert classify_kwargs(parser.parse_args(base))["edge_tolerance_km"] is None  # the model's
    given = parser.parse_args(base + ["--edge-tolerance-km", "0"])
    assert classify_kwargs(given)["edge_tolerance_km"] == 0.0
    for bad in ("-5", "inf", "far"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(base + ["--edge-tolerance-km", bad])
        assert exc.value.code == 2 and "--edge-tolerance-km" in capsys.readouterr().err
