"""Tests of the benchmark tool: file contract, results tables, figures and CLI parsing.

Everything here is offline and needs neither the peer venv nor a GENIE model.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.benchmark import protocol
from seisbench_genie.benchmark.cli import config_from_args
from seisbench_genie.benchmark.genie_runner import resolve_model, run_genie
from seisbench_genie.benchmark.peers import (
    DEFAULT_PEER_VENV,
    PEER_REQUIREMENTS,
    gamma_config,
    layered_to_nodes,
    peer_venv_ready,
    pyocto_config,
)
from seisbench_genie.benchmark.plots import plot_f1_heatmaps, plot_runtime, write_figures
from seisbench_genie.benchmark.report import ProgressPrinter, write_results
from seisbench_genie.benchmark.runner import (
    BenchmarkConfig,
    Cell,
    RunContext,
    expand_grid,
    plan_runs,
    run_benchmark,
    run_one,
)
from seisbench_genie.cli import build_parser, main

T0 = 1_704_067_200.0

# A fake peer: reads the file contract, groups picks into 1000-s windows (picks in the first
# 100 s of a window belong to its event, the rest is left unassociated) and writes the outputs.
FAKE_PEER = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import pandas as pd

    workdir = Path(sys.argv[1])
    cfg = json.loads((workdir / "config.json").read_text())
    picks = pd.read_csv(workdir / "picks.csv")
    assert list(picks.columns) == ["station", "phase", "time"], list(picks.columns)
    t0 = time.perf_counter()
    rel = picks["time"] - cfg["t0"]
    window = (rel // 1000).astype(int)
    inside = (rel % 1000) < 100
    asg = pd.DataFrame({"pick_idx": picks.index[inside], "event_idx": window[inside] + 10})
    ev = pd.DataFrame({"event_idx": sorted(asg["event_idx"].unique())})
    ev["time"] = cfg["t0"] + (ev["event_idx"] - 10) * 1000.0
    ev["latitude"], ev["longitude"], ev["depth_km"] = -21.0, -69.5, 30.0
    wall = time.perf_counter() - t0
    ev.to_csv(workdir / "events.csv", index=False)
    asg.to_csv(workdir / "assignments.csv", index=False)
    (workdir / "timing.json").write_text(json.dumps({
        "wall_seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))
    """
)


def _fake_scenario(name: str = "subduction_3_0.3", n_events: int = 3) -> SimpleNamespace:
    """``n_events`` events with 12 picks each (one per 1000-s window) plus 6 false picks."""
    stations = pd.DataFrame({
        "id": [f"XX.S{i:02d}." for i in range(6)],
        "latitude": np.linspace(-22, -20, 6),
        "longitude": np.linspace(-70, -69, 6),
        "elevation": np.linspace(0, 1000, 6),
    })
    rows = []
    for e in range(n_events):
        for i, sid in enumerate(stations["id"]):
            rows.append((sid, "P", T0 + e * 1000 + 10 + i, e))
            rows.append((sid, "S", T0 + e * 1000 + 20 + 2 * i, e))
    for k in range(6):
        rows.append((stations["id"][k], "P", T0 + 500 + 1000 * (k % n_events), -1))
    picks = pd.DataFrame(rows, columns=["station", "phase", "time", "event"])
    picks = picks.sort_values("time", kind="stable").reset_index(drop=True)
    events = pd.DataFrame({
        "event": np.arange(n_events), "time": T0 + np.arange(n_events) * 1000.0,
        "latitude": -21.0, "longitude": -69.5, "depth_km": 30.0, "in_network": True,
    })
    vm = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 7.0], "vs": [3.5, 4.0]})
    region = {"latitude": (-22.0, -20.0), "longitude": (-70.0, -69.0), "depth_km": (0.0, 250.0)}
    return SimpleNamespace(name=name, picks=picks, events=events, stations=stations,
                           velocity_model=vm, region=region)


def _fake_associator(script: Path):
    def run(scenario, cell, ctx, workdir):
        protocol.write_inputs(workdir, scenario.picks, scenario.stations,
                              scenario.velocity_model, {"t0": T0, "threads": 1})
        return protocol.run_associator_process([sys.executable, str(script)], workdir,
                                               timeout=60)

    return run


@pytest.fixture
def fake_peer(tmp_path: Path) -> Path:
    path = tmp_path / "fake_peer.py"
    path.write_text(FAKE_PEER)
    return path


# --------------------------------------------------------------------------- file contract


def test_protocol_roundtrip_with_fake_peer(tmp_path, fake_peer):
    scn = _fake_scenario()
    workdir = protocol.write_inputs(tmp_path / "w", scn.picks, scn.stations,
                                    scn.velocity_model, {"t0": T0, "threads": 1})
    written = pd.read_csv(workdir / protocol.PICKS_FILE)
    assert "event" not in written.columns  # ground truth never reaches an associator
    np.testing.assert_allclose(written["time"], scn.picks["time"], atol=1e-6)
    assert json.loads((workdir / protocol.CONFIG_FILE).read_text())["t0"] == T0

    out = protocol.run_associator_process([sys.executable, str(fake_peer)], workdir, timeout=60)
    true = scn.picks["event"]
    assert set(out.assignments["pick_idx"]) == set(np.flatnonzero(true >= 0))
    # pick_idx is the row position: each assigned pick's event is its true event + 10
    np.testing.assert_array_equal(
        out.assignments["event_idx"], true.to_numpy()[out.assignments["pick_idx"]] + 10
    )
    assert list(out.events["event_idx"]) == [10, 11, 12]
    assert out.timing["wall_seconds"] >= 0 and out.timing["peak_rss_mb"] > 1
    assert out.process_seconds >= out.timing["wall_seconds"]


def test_peak_rss_is_the_associators_own(tmp_path):
    """ru_maxrss must not inherit the (large) benchmark process's RSS across exec."""
    ballast = np.ones(400 * 2**20 // 8)  # ~400 MB resident in this process
    script = tmp_path / "rss.py"
    script.write_text(
        "import json, resource, sys\nfrom pathlib import Path\n"
        "d = Path(sys.argv[1])\n"
        "(d / 'events.csv').write_text('event_idx,time,latitude,longitude,depth_km\\n')\n"
        "(d / 'assignments.csv').write_text('pick_idx,event_idx\\n')\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "(d / 'timing.json').write_text(json.dumps({'wall_seconds': 0, 'peak_rss_mb': rss}))\n"
    )
    out = protocol.run_associator_process([sys.executable, str(script)], tmp_path / "w")
    assert ballast.sum() > 0
    assert out.timing["peak_rss_mb"] < 200, out.timing


def test_protocol_failure_reports_stderr_tail(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import sys\nprint('peer exploded: no numpy', file=sys.stderr)\nsys.exit(4)\n")
    with pytest.raises(protocol.AssociatorError, match="status 4(.|\n)*peer exploded"):
        protocol.run_associator_process([sys.executable, str(script)], tmp_path / "w")


def test_protocol_missing_outputs(tmp_path):
    with pytest.raises(protocol.AssociatorError, match="wrote no events.csv"):
        protocol.run_associator_process([sys.executable, "-c", "pass"], tmp_path / "w")


def test_protocol_timeout_kills(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(protocol.AssociatorTimeout, match="timed out"):
        protocol.run_associator_process([sys.executable, str(script)], tmp_path / "w",
                                        timeout=1.0)


# --------------------------------------------------------------------------- grid and runs


def test_run_benchmark_with_fake_peer_and_failure(tmp_path, fake_peer):
    """End to end with a fake scenario factory: scoring, a failed cell, tables, figures."""
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nsys.stderr.write('boom\\n')\nsys.exit(1)\n")

    def factory(**kw):
        return _fake_scenario(f"{kw['scenario']}_{kw['n_events']}_{kw['noise']:.1f}",
                              n_events=kw["n_events"])

    cfg = BenchmarkConfig(scenarios=["subduction"], events=[2, 3], noise=[0.3],
                          associators=["pyocto", "gamma"], out=tmp_path / "out", threads=1)
    import io

    buf = io.StringIO()
    df = run_benchmark(cfg, stream=buf, scenario_factory=factory,
                       associator_functions={"pyocto": _fake_associator(fake_peer),
                                             "gamma": _fake_associator(broken)})
    assert len(df) == 4
    ok = df[df["associator"] == "pyocto"]
    assert (ok["status"] == "ok").all()
    assert ok["event_f1"].tolist() == [1.0, 1.0]
    assert ok["pick_precision"].tolist() == [1.0, 1.0]
    assert ok["n_picks"].tolist() == [2 * 12 + 6, 3 * 12 + 6]
    bad = df[df["associator"] == "gamma"]
    assert (bad["status"] == "failed").all() and bad["message"].str.contains("boom").all()
    assert np.isnan(bad["event_f1"]).all()
    out = tmp_path / "out"
    for name in ("results.csv", "results.md", "f1_heatmap_subduction.png",
                 "runtime_vs_picks.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "logs" / "gamma__subduction_2_0.3.log").read_text().count("boom") >= 1
    printed = buf.getvalue()
    assert "pyocto" in printed and "subduction_3_0.3" in printed and "failed" in printed

    # --resume skips the runs that succeeded, reruns the failed ones
    calls = []

    def counting(scenario, cell, ctx, workdir):
        calls.append(cell.label)
        raise protocol.AssociatorError("still broken")

    cfg.resume = True
    df2 = run_benchmark(cfg, stream=io.StringIO(), scenario_factory=factory,
                        associator_functions={"pyocto": counting, "gamma": counting})
    assert sorted(calls) == ["subduction_2_0.3", "subduction_3_0.3"]
    assert len(df2) == 4 and (df2[df2["associator"] == "pyocto"]["status"] == "ok").all()


def test_genie_without_model_fails_clearly(tmp_path):
    with pytest.raises(protocol.AssociatorError, match="--genie-model"):
        run_genie(_fake_scenario(), tmp_path / "w", model=None, threads=1)
    cell = Cell("subduction", 3, 0.3)
    ctx = RunContext(config=BenchmarkConfig(out=tmp_path, associators=["genie"]))

    def no_genie(scenario, cell, ctx, workdir):
        raise protocol.AssociatorError("genie: GENIE is not available in this installation")

    row = run_one("genie", _fake_scenario(), cell, ctx, fn=no_genie)
    assert row["status"] == "failed" and "not available" in row["message"]
    assert np.isnan(row["event_f1"]) and row["n_picks"] == 3 * 12 + 6
    assert (tmp_path / "logs" / "genie__subduction_3_0.3.log").is_file()


def test_genie_model_resolution(tmp_path):
    base = tmp_path / "mymodel"
    assert resolve_model(str(base)) == ("pretrained", str(base), None)
    (tmp_path / "mymodel.json.v2").write_text("{}")
    (tmp_path / "mymodel.pt.v2").write_bytes(b"")
    assert resolve_model(str(base)) == ("path", str(base), "2")
    assert resolve_model(str(tmp_path / "mymodel.pt.v2")) == ("path", str(base), "2")
    assert resolve_model("subduction") == ("pretrained", "subduction", None)


def test_grid_order_defers_slow_big_cells():
    cfg = BenchmarkConfig(scenarios=["crustal", "subduction"], events=[2000, 100],
                          noise=[3.0, 0.3])
    cells = expand_grid(cfg)
    assert len(cells) == 8 and cells[0].n_events == 100 and cells[-1].n_events == 2000
    runs = plan_runs(cells, ["gamma", "pyocto"])
    assert runs[-1][0].label in ("crustal_2000_3.0", "subduction_2000_3.0")
    assert runs[-1][1] == "gamma"
    assert Cell("subduction", 500, 1.0, tt_noise=(0.05, 0.1)).label == "subduction_500_1.0_tt0.05-0.1"


# --------------------------------------------------------------------------- peer settings


def test_layered_model_to_constant_nodes():
    vm = pd.DataFrame({"depth_km": [0.0, 5.5, 16.0], "vp": [5.5, 6.3, 6.7],
                       "vs": [3.2, 3.6, 3.9]})
    nodes = layered_to_nodes(vm, 50.0)
    z = np.linspace(0, 50, 2003)
    z = z[np.min(np.abs(z[:, None] - np.array([5.5, 16.0])[None, :]), axis=1) > 2e-3]
    vp = np.interp(z, nodes["depth"], nodes["vp"])  # how PyOcto and GaMMA read the nodes
    np.testing.assert_allclose(vp, np.select([z < 5.5, z < 16.0], [5.5, 6.3], 6.7))
    assert nodes["depth"].is_monotonic_increasing and nodes["depth"].iloc[-1] == 50.0


def test_peer_configs_follow_pyocto_benchmark():
    vm = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 7.0], "vs": [3.5, 4.0]})
    st = pd.DataFrame({"elevation": [4480.0, 0.0]})
    reg = {"latitude": (-25.0, -18.0), "longitude": (-71.0, -69.0), "depth_km": (0.0, 250.0)}
    cfg, nodes = pyocto_config("subduction_500_1.0", reg, vm, st, threads=2,
                               overrides={"pick_match_tolerance": 2.0, "tolerance": 2.5})
    assert cfg["associator"] == {"time_before": 300.0, "n_picks": 10, "n_p_picks": 2,
                                 "n_s_picks": 2, "n_p_and_s_picks": 4,
                                 "pick_match_tolerance": 2.0}
    assert cfg["velocity_model"]["association_cutoff_distance"] == 250.0
    assert cfg["velocity_model"]["tolerance"] == 2.5
    assert cfg["velocity_model"]["surface_p_velocity"] == 6.0
    assert cfg["threads"] == 2 and cfg["region"]["depth_km"] == [0.0, 250.0]
    assert cfg["table"]["xdist_km"] > 780 and cfg["table"]["zdist_km"] >= 255
    crustal, _ = pyocto_config("crustal_100_0.3", {**reg, "depth_km": (0.0, 30.0)}, vm, st,
                               threads=1)
    assert crustal["velocity_model"]["association_cutoff_distance"] == 100.0
    g, _ = gamma_config("crustal_100_0.3", reg, vm, st, threads=2, seed=3,
                        overrides={"max_sigma11": 3.0})
    assert g["method"] == "BGMM" and g["seed"] == 3 and g["threads"] == 2
    assert g["gamma"]["max_sigma11"] == 3.0 and g["gamma"]["oversample_factor"] == 4
    assert g["gamma"]["dbscan_eps"] == 25.0 and g["gamma"]["min_picks_per_eq"] == 10
    assert g["gamma"]["vel"] == {"p": 6.3, "s": 3.7}
    assert any(r.startswith("pyocto==0.2.2") for r in PEER_REQUIREMENTS)
    assert any(r.startswith("gmma==1.2.17") for r in PEER_REQUIREMENTS)
    assert not peer_venv_ready(Path("/nonexistent/peers-venv"))


# --------------------------------------------------------------------------- tables, figures


def _results_frame() -> pd.DataFrame:
    rows = []
    for assoc, base in (("pyocto", 0.99), ("gamma", 0.8)):
        for n in (100, 500):
            for z in (0.3, 1.0):
                timeout = assoc == "gamma" and n == 500 and z == 1.0
                rows.append({
                    "associator": assoc, "scenario": "subduction", "n_events": n, "noise": z,
                    "tt_noise_lo": 0.0, "tt_noise_hi": 0.01, "out_of_network": 0,
                    "pick_removal": 0.0, "seed": 0, "cell": f"subduction_{n}_{z:.1f}",
                    "n_picks": int(n * 20 * (1 + z)),
                    "status": "timeout" if timeout else "ok",
                    "wall_s": np.nan if timeout else 0.01 * n * (1 + z),
                    "peak_mb": np.nan if timeout else 100.0,
                    "event_precision": base, "event_recall": base - 0.05,
                    "event_f1": np.nan if timeout else base - n / 1e4,
                    "message": "timed out after 1800 s; stderr tail:\nx" if timeout else "",
                })
    return pd.DataFrame(rows)


def test_results_csv_and_markdown(tmp_path):
    df = _results_frame()
    csv_path, md_path = write_results(df.sample(frac=1, random_state=1), tmp_path)
    back = pd.read_csv(csv_path)
    assert len(back) == len(df)
    assert back["associator"].tolist()[:2] == ["pyocto", "gamma"]  # ordered per cell
    assert list(back.columns)[:2] == ["associator", "scenario"] and back.columns[-1] == "message"
    md = md_path.read_text()
    assert "| pyocto | subduction_100_0.3 | 2600 | ok |" in md
    assert "runtime s" in md and "peak MB" in md and "event F1" in md
    assert "### Event F1 – subduction" in md and "| gamma | 500 | 0.750 | timeout |" in md
    assert "Failed or timed-out runs" in md and "gamma / subduction_500_1.0: timeout" in md
    assert "cores" in md


def test_progress_printer_handles_failures():
    import io

    buf = io.StringIO()
    p = ProgressPrinter(buf)
    p.header(2)
    p.row({"associator": "gamma", "cell": "crustal_2000_3.0", "status": "timeout",
           "message": "timed out after 1800 s", "n_picks": 3.0e5})
    p.footer()
    text = buf.getvalue()
    assert "timeout: timed out after 1800 s" in text and "runtime_s" in text


def test_figures_are_written(tmp_path):
    df = _results_frame()
    extra = df[df["associator"] == "pyocto"].assign(scenario="crustal",
                                                    cell=lambda d: d["cell"] + "c")
    df = pd.concat([df, extra, extra.assign(pick_removal=0.2)], ignore_index=True)
    paths = plot_f1_heatmaps(df, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["f1_heatmap_crustal.png", "f1_heatmap_crustal_rm0.2.png",
                     "f1_heatmap_subduction.png"]
    runtime = plot_runtime(df, tmp_path, timeout=1800.0)
    for p in [*paths, runtime]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_figures(df.iloc[0:0], tmp_path) == []


# --------------------------------------------------------------------------- CLI


def test_cli_parsing_all_options(tmp_path):
    args = build_parser().parse_args([
        "benchmark", "--scenario", "subduction", "--events", "100,500", "--noise", "0.3,100%",
        "--tt-noise", "0-0.01,0.05:0.10", "--out-of-network", "0,150", "--pick-removal",
        "0,0.2", "--associators", "pyocto,GaMMA", "--genie-model",
        "crustal=a.pt,subduction=b", "--seed", "7", "--out", str(tmp_path), "--peer-venv",
        "~/pv", "--threads", "1", "--timeout", "60", "--set", "pyocto.pick_match_tolerance=3",
        "--set", "gamma.use_dbscan=false", "--keep-workdirs", "--resume", "--no-figures",
    ])
    assert args.command == "benchmark" and callable(args.func)
    cfg = config_from_args(args)
    assert cfg.scenarios == ["subduction"] and cfg.events == [100, 500]
    assert cfg.noise == [0.3, 1.0] and cfg.tt_noise == [(0.0, 0.01), (0.05, 0.1)]
    assert cfg.out_of_network == [0, 150] and cfg.pick_removal == [0.0, 0.2]
    assert cfg.associators == ["pyocto", "gamma"]
    assert cfg.genie_model == {"crustal": "a.pt", "subduction": "b"}
    assert cfg.seed == 7 and cfg.threads == 1 and cfg.timeout == 60.0
    assert cfg.peer_venv == Path("~/pv").expanduser() and cfg.out == tmp_path
    assert cfg.peer_overrides == {"pyocto": {"pick_match_tolerance": 3},
                                  "gamma": {"use_dbscan": False}}
    assert cfg.keep_workdirs and cfg.resume and not cfg.figures
    assert len(expand_grid(cfg)) == 2 * 2 * 2 * 2 * 2


def test_cli_defaults():
    import os

    cfg = config_from_args(build_parser().parse_args(["benchmark"]))
    assert cfg.scenarios == ["crustal", "subduction"]
    assert cfg.events == [100, 500, 2000] and cfg.noise == [0.3, 1.0, 3.0]
    assert cfg.associators == ["genie", "pyocto", "gamma"]
    assert cfg.out == Path("benchmark_results") and cfg.timeout == 1800.0
    assert cfg.peer_venv == DEFAULT_PEER_VENV.expanduser()
    assert cfg.threads == (os.cpu_count() or 1)
    assert len(expand_grid(cfg)) == 18


@pytest.mark.parametrize("bad", [
    ["benchmark", "--associators", "phaselink"],
    ["benchmark", "--events", "many"],
    ["benchmark", "--tt-noise", "0.05"],
    ["benchmark", "--scenario", "volcanic"],
    ["benchmark", "--set", "real.nrt=3"],
])
def test_cli_rejects_bad_arguments(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(bad)
    assert exc.value.code == 2


def test_main_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "benchmark" in capsys.readouterr().out


def test_report_only_rewrites_from_csv(tmp_path, capsys):
    write_results(_results_frame(), tmp_path)
    (tmp_path / "results.md").unlink()
    assert main(["benchmark", "--report-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.md").is_file() and (tmp_path / "runtime_vs_picks.png").is_file()


def test_subcommand_registration_is_pluggable():
    parser = argparse.ArgumentParser(prog="x")
    sub = parser.add_subparsers(dest="command")
    from seisbench_genie.benchmark import cli as bench_cli

    bench_cli.register(sub)
    assert parser.parse_args(["benchmark", "--noise", "3.0"]).noise == [3.0]


def test_scenario_generation_failure_is_recorded(tmp_path):
    import io

    def factory(**kw):
        if kw["n_events"] == 2:
            raise ValueError("bad station file")
        return _fake_scenario(n_events=kw["n_events"])

    def perfect(scenario, cell, ctx, workdir):
        picks = scenario.picks
        asg = pd.DataFrame({"pick_idx": np.flatnonzero(picks["event"] >= 0),
                            "event_idx": picks.loc[picks["event"] >= 0, "event"].to_numpy()})
        ev = scenario.events.rename(columns={"event": "event_idx"})
        return protocol.RunOutput(ev, asg, {"wall_seconds": 0.5, "peak_rss_mb": 10.0})

    cfg = BenchmarkConfig(scenarios=["crustal"], events=[2, 3], noise=[1.0],
                          associators=["pyocto"], out=tmp_path, figures=False)
    df = run_benchmark(cfg, stream=io.StringIO(), scenario_factory=factory,
                       associator_functions={"pyocto": perfect})
    assert df["status"].tolist() == ["failed", "ok"]
    assert "bad station file" in df["message"].iloc[0]
    assert df["event_f1"].iloc[1] == 1.0 and df["wall_s"].iloc[1] == 0.5


def test_duplicate_assignments_keep_smallest_residual():
    from seisbench_genie.benchmark.runner import unique_assignments

    asg = pd.DataFrame({"pick_idx": [3, 4, 4, 5, 5], "event_idx": [1, 1, 2, 1, 2],
                        "residual_s": [0.0, -1.2, 0.3, np.nan, 0.5]})
    kept, dropped = unique_assignments(asg)
    assert dropped == 2 and kept["pick_idx"].tolist() == [3, 4, 5]
    assert kept["event_idx"].tolist() == [1, 2, 2]
    no_res = asg.drop(columns="residual_s")
    assert unique_assignments(no_res)[0]["event_idx"].tolist() == [1, 1, 1]
    assert unique_assignments(asg.iloc[:2])[1] == 0
