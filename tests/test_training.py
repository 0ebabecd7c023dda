"""Training configuration, the synthetic generator and the trainer (tiny runs)."""

import json
import warnings

import numpy as np
import pytest
import torch

from seisbench_genie.training import TrainingConfig, get_trainer

TINY = {
    "name": "tiny",
    "scale": {"name": "tiny", "length_km": 50.0, "node_spacing_km": 40.0, "depth_km": [0, 30],
              "max_distance_km": 100.0, "kernel_s": 3.0, "window_step_s": 3.0, "k_pairs": 6},
    "generator": {"n_stations": [6, 8], "aperture_km": [60.0, 80.0], "segment_s": 60.0,
                  "detection_radius_km": [40.0, 90.0], "n_windows": 2, "n_queries": 8,
                  "n_association_sources": 2},
    "n_velocity_models": 1, "table_max_distance_km": 120.0, "table_max_depth_km": 35.0,
    "hidden": 8, "steps": 3, "checkpoint_every": 1, "validation_days": 0, "seed": 3,
}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEISBENCH_GENIE_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("change, field", [
    ({"generator": {**TINY["generator"], "n_stations": [0, 0]}}, "n_stations"),
    ({"scale": {**TINY["scale"], "depth_km": [30, 0]}}, "depth_km"),
    ({"generator": {**TINY["generator"], "event_rate_per_hour": [-1.0, 5.0]}},
     "event_rate_per_hour"),
    ({"generator": {**TINY["generator"], "detection_radius_km": [1.0, 2.0]}},
     "detection_radius_km"),
    ({"steps": 0}, "steps"),
    ({"calibration_days": -1}, "calibration_days"),
    ({"velocity_model": "no_such_model"}, "velocity_model"),
    ({"bogus": 1}, "bogus"),
    ({"stages": [{"steps": 0}]}, r"stages\[0\].steps"),
    ({"stages": [{"steps": 2, "generator": {"bursts": [3, 1]}}]}, r"stages\[0\].bursts"),
    ({"stages": [{"generator": {}}]}, r"stages\[0\]"),
])
def test_inconsistent_config_is_refused_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        TrainingConfig.from_dict({**TINY, **change})


def test_config_files_load(tmp_path):
    for name in ("crustal", "subduction"):
        cfg = TrainingConfig.from_file(f"pretrained/{name}.yaml")
        assert cfg.name == name
    path = tmp_path / "c.json"
    path.write_text(json.dumps(TINY))
    assert TrainingConfig.from_file(path).hidden == 8


def test_generator_labels_and_shapes():
    from seisbench_genie.synthetic.training import TrainingGenerator
    from seisbench_genie.traveltimes import get

    cfg = TrainingConfig.from_dict({**TINY, "generator": {**TINY["generator"], "n_windows": 4,
                                                          "event_rate_per_hour": [200, 200]}})
    gen = TrainingGenerator(cfg.scale, cfg.generator, [get("homogeneous")], seed=0)
    s = gen.sample()
    assert s.features.shape == (4, s.graph.n_pairs, 4)
    assert s.node_labels.shape == (4, s.graph.n_sources)
    assert float(s.node_labels.max()) <= 1.0 and float(s.node_labels.min()) >= 0.0
    assert set(torch.unique(s.assoc_labels).tolist()) <= {0.0, 1.0}
    # same seed, same sample
    s2 = TrainingGenerator(cfg.scale, cfg.generator, [get("homogeneous")], seed=0).sample()
    assert torch.equal(s.features, s2.features)


def test_trainer_entry_point_checkpoint_resume_and_export(tmp_path):
    trainer_cls = get_trainer("synthetic")
    out = tmp_path / "run"
    cfg5 = TrainingConfig.from_dict({**TINY, "steps": 5})
    path = trainer_cls(cfg5, out, progress=False, threads=1).fit(max_steps=3)
    assert (out / "checkpoint.pt").is_file() and (out / "history.csv").is_file()
    meta = json.loads((out / "tiny.json.v1").read_text())
    assert meta["scale"]["name"] == "tiny" and meta["training"]["steps"] == 3
    assert meta["velocity_model_type"] == "layered" and meta["depth_km"] == [0.0, 30.0]
    trainer_cls(cfg5, out, progress=False, threads=1).fit(resume=True)
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 5 and len(state["history"]) == 5
    # a fresh 5-step run with the same seed ends with the same weights as 3 + resume 2
    fresh = trainer_cls(cfg5, tmp_path / "fresh", progress=False, threads=1)
    fresh.fit()
    other = torch.load(tmp_path / "fresh" / "checkpoint.pt", weights_only=False)
    for k, v in state["network"].items():
        assert torch.allclose(v, other["network"][k], atol=1e-6), k
    from seisbench_genie import GENIE

    model = GENIE.load(path, version_str="1")
    assert model.scale == cfg5.scale
    assert np.isfinite([p.detach().numpy().sum() for p in model.parameters()]).all()


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="resume"):
        get_trainer("synthetic")(TrainingConfig.from_dict(TINY), tmp_path).fit(resume=True)


def test_unknown_trainer():
    with pytest.raises(ValueError, match="synthetic"):
        get_trainer("nope")


def test_train_command_line(tmp_path):
    from seisbench_genie.cli import main

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "steps": 2}))
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--no-progress",
                 "--threads", "1"]) == 0
    assert (tmp_path / "run" / "tiny.pt.v1").is_file()
    assert (tmp_path / "run" / "curve.png").is_file()


@pytest.mark.parametrize("calibration_days", [0, 1])
def test_detection_threshold_is_calibrated_on_held_out_days(tmp_path, calibration_days):
    from seisbench_genie import GENIE
    from seisbench_genie.training.validation import DETECTION_THRESHOLDS

    cfg = TrainingConfig.from_dict({**TINY, "steps": 1, "validation_days": 1,
                                    "calibration_days": calibration_days})
    path = get_trainer("synthetic")(cfg, tmp_path, progress=False).fit()
    meta = json.loads(path.with_suffix(".json.v1").read_text())
    model = GENIE.load(path, version_str="1")
    if calibration_days:
        assert meta["validation"]["thresholds"]["detection_threshold"] in DETECTION_THRESHOLDS
        assert (model.default_args["detection_threshold"]
                == meta["validation"]["thresholds"]["detection_threshold"])
    else:
        assert meta["validation"]["thresholds"] == {}
        assert "detection_threshold" not in model.default_args


def test_calibration_days_cover_both_detection_laws_at_realistic_false_pick_rates():
    from seisbench_genie.training.validation import (
        CALIBRATION_MAX_FALSE_PICK_RATE_PER_STATION_HOUR as CAP,
    )
    from seisbench_genie.training.validation import calibration_families

    mixed = TrainingConfig.from_dict({**TINY, "generator": {
        **TINY.get("generator", {}), "magnitude_detection_fraction": 0.5,
        "false_pick_rate_per_station_hour": [10.0, 400.0]}})
    families = calibration_families(mixed)
    assert {name: c.generator.magnitude_detection_fraction for name, c in families.items()} \
        == {"magnitude-law": 1.0, "radius-law": 0.0}
    for c in families.values():
        assert c.generator.false_pick_rate_per_station_hour == (10.0, CAP)
        assert c.scale == mixed.scale
    # One detection law: one family; rates below the cap are kept.
    single = TrainingConfig.from_dict({**TINY, "generator": {
        **TINY.get("generator", {}), "false_pick_rate_per_station_hour": [0.0, 20.0]}})
    (only,) = calibration_families(single).values()
    assert only.generator.false_pick_rate_per_station_hour == (0.0, 20.0)


def test_stages_switch_the_generator_and_resume_across_the_boundary(tmp_path, monkeypatch):
    from seisbench_genie.synthetic.training import TrainingGenerator

    dense = {"false_pick_rate_per_station_hour": [300.0, 300.0]}
    cfg = TrainingConfig.from_dict({**TINY, "steps": 3,
                                    "stages": [{"steps": 2, "generator": dense}]})
    assert cfg.total_steps == 5
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg  # the metadata round trip
    assert cfg.to_dict()["stages"] == [{"steps": 2, "generator": dense}]
    # the learning rate decays over the main stage, then on towards 10 % at the very end
    factors = [cfg.learning_rate_factor(s) for s in range(6)]
    assert factors[0] == 1.0 and factors[3] > factors[4] > factors[5] == pytest.approx(0.1)
    seen = []
    original = TrainingGenerator.sample

    def spy(self):
        seen.append(tuple(self.config.false_pick_rate_per_station_hour))
        return original(self)

    monkeypatch.setattr(TrainingGenerator, "sample", spy)
    trainer_cls = get_trainer("synthetic")
    trainer_cls(cfg, tmp_path / "a", progress=False, threads=1).fit(max_steps=4)
    trainer_cls(cfg, tmp_path / "a", progress=False, threads=1).fit(resume=True)
    main_rate = tuple(cfg.generator.false_pick_rate_per_station_hour)  # TINY keeps the default
    per_step = cfg.samples_per_step
    assert seen == [main_rate] * 3 * per_step + [(300.0, 300.0)] * 2 * per_step
    trainer_cls(cfg, tmp_path / "b", progress=False, threads=1).fit()
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 5
    for k, v in a["network"].items():
        assert torch.allclose(v, b["network"][k], atol=1e-6), k


class _Clock:
    """A stand-in for the trainer's ``time`` module: minutes pass only when samples are drawn."""

    def __init__(self, minutes_per_sample: float):
        self.now = 1.0e9
        self.step_s = 60.0 * minutes_per_sample

    def time(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step_s


def test_time_limit_stops_the_run_says_how_to_resume_and_resume_finishes_it(
        tmp_path, monkeypatch):
    from seisbench_genie.synthetic.training import TrainingGenerator
    from seisbench_genie.training import trainer as trainer_module

    clock = _Clock(minutes_per_sample=0.4)  # 0.8 min per step (2 samples per step)
    original = TrainingGenerator.sample

    def timed_sample(self):
        clock.tick()
        return original(self)

    monkeypatch.setattr(TrainingGenerator, "sample", timed_sample)
    monkeypatch.setattr(trainer_module, "time", clock)
    cfg = TrainingConfig.from_dict({**TINY, "steps": 5, "max_minutes": 2.0})
    out = tmp_path / "run"
    trainer = get_trainer("synthetic")(cfg, out, progress=False, threads=1)
    with pytest.warns(UserWarning, match="stopped by its time limit") as caught:
        path = trainer.fit()
    message = str(caught[0].message)
    # 0.8, 1.6, 2.4 minutes after steps 1-3: the check before step 4 stops the call
    assert "after 3 of 5 steps" in message and str(out / "checkpoint.pt") in message
    assert f"--out {out} --resume" in message and "fit(resume=True)" in message
    run = trainer.last_run
    assert run.stopped_by_time_limit and not run.stopped_by_max_steps and not run.finished
    assert (run.steps, run.total_steps, run.weights, run.checkpoint) == (3, 5, path,
                                                                          out / "checkpoint.pt")
    meta = json.loads((out / "tiny.json.v1").read_text())["training"]
    assert meta["stopped_by_time_limit"] is True
    assert (meta["steps"], meta["total_steps"]) == (3, 5)
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 3
    # each call has its own budget: resuming runs the last two steps (1.6 min) and finishes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(resume=True)
    assert not [w for w in caught if "time limit" in str(w.message)]
    assert trainer.last_run.finished and not trainer.last_run.stopped_by_time_limit
    meta = json.loads((out / "tiny.json.v1").read_text())["training"]
    assert meta["stopped_by_time_limit"] is False and meta["steps"] == 5
    # calling fit again without resume starts over, and says so
    with pytest.warns(UserWarning, match="starting over from step 0"):
        get_trainer("synthetic")(TrainingConfig.from_dict({**TINY, "steps": 1}), out,
                                 progress=False, threads=1).fit()


def test_train_command_prints_how_to_continue_a_run_stopped_early(tmp_path, capsys):
    from seisbench_genie.cli import main

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "steps": 3}))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress", "--threads", "1",
                 "--max-steps", "1"]) == 0
    printed = capsys.readouterr().out
    assert "stopped by --max-steps after 1 of 3 steps" in printed
    assert (f"seisbench-genie train {cfg} --out {out} --resume --threads 1 --no-progress"
            in printed)
    assert main(["train", str(cfg), "--out", str(out), "--no-progress", "--threads", "1",
                 "--resume"]) == 0
    assert "Continue with" not in capsys.readouterr().out
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 3


def test_train_is_a_registered_subcommand(capsys):
    from seisbench_genie import cli

    assert "seisbench_genie.training.cli" in cli.SUBCOMMAND_MODULES
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: seisbench-genie train") and "--resume" in usage
