"""The GPU path: association, long runs, training and GraphDD give the CPU's results on a GPU
(skipped where none is present), and a GPU asked for where none is present is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seisbench_genie.runtime import resolve_device

PRETRAINED = Path(__file__).parents[1] / "pretrained"

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")


# model (crustal v2) and day (one crustal hour) come from conftest.py


def _classify(model, day, device):
    try:
        return model.classify(day.picks[["station", "phase", "time"]], day.stations,
                              velocity_model=day.velocity_model, device=device)
    finally:
        model.to("cpu")


def _same_catalog(a, b):
    """Same events (origin times within 0.05 s, epicentres within 0.5 km) and the same picks
    in each, up to floating-point differences between the devices."""
    assert len(a.events) == len(b.events)
    ta, tb = np.sort(a.events["time"].to_numpy()), np.sort(b.events["time"].to_numpy())
    np.testing.assert_allclose(ta, tb, atol=0.05)
    ea = a.events.sort_values("time")
    eb = b.events.sort_values("time")
    km_per_deg = 111.2
    np.testing.assert_allclose(ea["latitude"].to_numpy() * km_per_deg,
                               eb["latitude"].to_numpy() * km_per_deg, atol=0.5)
    pa = set(map(tuple, a.assignments[["pick_idx", "phase"]].to_numpy().tolist()))
    pb = set(map(tuple, b.assignments[["pick_idx", "phase"]].to_numpy().tolist()))
    assert len(pa ^ pb) <= 0.02 * max(len(pa), 1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_a_gpu_asked_for_where_none_is_present_is_named(model, day):
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match="device: .* no GPU is available"):
            model.classify(day.picks[["station", "phase", "time"]], day.stations,
                           velocity_model=day.velocity_model, device=device)
    with pytest.raises(ValueError, match="device: expected 'cpu', 'cuda'"):
        resolve_device("gpu0")
    assert resolve_device("auto") == torch.device("cpu")


@needs_gpu
def test_classify_on_the_gpu_gives_the_cpu_catalog(model, day):
    cpu = _classify(model, day, "cpu")
    gpu = _classify(model, day, "cuda")
    assert len(cpu.events) >= 10
    _same_catalog(cpu, gpu)
    assert next(model.parameters()).device.type == "cpu"


@needs_gpu
def test_long_run_workers_on_the_gpu_give_the_cpu_catalog(model, day):
    from seisbench_genie.runs import associate_long

    picks = day.picks[["station", "phase", "time"]]
    kwargs = dict(velocity_model=day.velocity_model, chunk_s=1800, progress=False)
    cpu = associate_long(model, picks, day.stations, n_workers=1, **kwargs)
    gpu = associate_long(model, picks, day.stations, n_workers=2, device="cuda", **kwargs)
    _same_catalog(cpu, gpu)


@needs_gpu
def test_training_steps_on_the_gpu_match_the_cpu(tmp_path, monkeypatch):
    from test_training import TINY

    from seisbench_genie.training import TrainingConfig, get_trainer

    monkeypatch.setenv("SEISBENCH_GENIE_CACHE", str(tmp_path / "cache"))
    cfg = TrainingConfig.from_dict({**TINY, "steps": 3})
    trainer_cls = get_trainer("synthetic")
    runs = {}
    for device in ("cpu", "cuda"):
        trainer_cls(cfg, tmp_path / device, device=device, progress=False, threads=1).fit()
        runs[device] = torch.load(tmp_path / device / "checkpoint.pt", weights_only=False,
                                  map_location="cpu")
    # The same samples (generated on the CPU from the seed): the first step's loss agrees to
    # floating-point precision; later steps may drift by the optimiser's steps.
    cpu_hist, gpu_hist = runs["cpu"]["history"], runs["cuda"]["history"]
    assert len(cpu_hist) == len(gpu_hist) == 3
    assert gpu_hist[0]["loss"] == pytest.approx(cpu_hist[0]["loss"], rel=1e-4)
    for a, b in zip(cpu_hist, gpu_hist, strict=True):
        assert np.isfinite(b["loss"]) and b["loss"] == pytest.approx(a["loss"], rel=0.05)
    for name, value in runs["cpu"]["network"].items():
        assert torch.allclose(value, runs["cuda"]["network"][name], atol=5e-3), name


@needs_gpu
def test_graphdd_on_the_gpu_reduces_the_interevent_error():
    from seisbench_genie.relocation import GraphDD
    from seisbench_genie.relocation.synthetic import make_cluster, origins_xyz, relative_errors

    cluster = make_cluster(30, truth="homogeneous", seed=0)
    graphdd = GraphDD(seed=3, device="cuda", iterations=4, warmup_steps=150,
                      steps_per_iteration=40, progress=False)
    out = graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model)
    before = relative_errors(cluster.true_xyz_km, cluster.catalog_xyz_km)
    after = relative_errors(cluster.true_xyz_km, origins_xyz(out, cluster.projection))
    assert graphdd.device.startswith("cuda")
    assert after["interevent_km"] < 0.3 * before["interevent_km"]


def test_device_check_runs_a_device_against_the_cpu(model, day, tmp_path, capsys):
    """The device benchmark on files as `benchmark-real` reads them; checked here with the CPU
    as the device (where a GPU is present it runs on the GPU as asked)."""
    import pandas as pd

    from seisbench_genie.runs import device_check
    from seisbench_genie.synthetic.scenarios import load_velocity_model

    day.picks[["station", "phase", "time"]].to_csv(tmp_path / "picks.csv", index=False)
    day.stations.to_csv(tmp_path / "stations.csv", index=False)
    load_velocity_model("hadley_kanamori").to_csv(tmp_path / "vm.csv", index=False)
    files = ["--picks", str(tmp_path / "picks.csv"), "--stations",
             str(tmp_path / "stations.csv"), "--velocity-model", str(tmp_path / "vm.csv")]
    weights = str(PRETRAINED / "crustal")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert device_check.main(["--device", device, "--model", weights, "--batch-sizes",
                              "default,2", "--out", str(tmp_path / "rows.csv"),
                              *files]) == 0
    rows = pd.read_csv(tmp_path / "rows.csv")
    runs = rows[rows["compare"].isna()]
    assert runs["batch_size"].astype(str).tolist() == ["default", "2", "default"]
    assert runs["device"].iloc[-1] == "cpu"
    assert (runs["events"] == runs["events"].iloc[-1]).all() and runs["events"].iloc[-1] >= 5
    compared = rows[rows["compare"].notna()]
    assert len(compared) == 2
    assert (compared["same_origin"] == compared["events_reference"]).all()
    assert (compared["picks_assigned_differently"]
            <= 0.02 * compared["picks_assigned_reference"]).all()
    assert "picks_per_s" in capsys.readouterr().out

    assert device_check.main(["--device", "cpu", *files[:2]]) == 2
    assert device_check.main(["--device", "cpu", "--batch-sizes", "0", *files]) == 2
    assert "--batch-sizes" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert device_check.main(["--device", "cuda", *files]) == 2
        assert "no GPU is available" in capsys.readouterr().err
