"""Typed training configuration, loadable from YAML or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd
import yaml

from seisbench_genie.nn.config import ModelScale
from seisbench_genie.synthetic.scenarios import load_velocity_model
from seisbench_genie.synthetic.training import SyntheticDayConfig
from seisbench_genie.traveltimes import validate_velocity_model


@dataclass(frozen=True)
class TrainingStage:
    """A later stage of training: more steps, drawn from a changed generator.

    Parameters
    ----------
    steps
        Optimiser steps of this stage; it starts after ``TrainingConfig.steps`` and the steps
        of the stages before it.
    generator
        The full generator of the stage: in a config file, only the fields that differ from
        the main ``generator`` are given (see :meth:`TrainingConfig.from_dict`).

    Examples
    --------
    >>> cfg = TrainingConfig.from_dict({"name": "toy", "scale": {"name": "toy",
    ...     "length_km": 50, "node_spacing_km": 25, "depth_km": [0, 30],
    ...     "max_distance_km": 600, "kernel_s": 3, "window_step_s": 3}, "steps": 100,
    ...     "stages": [{"steps": 20, "generator": {"false_pick_rate_per_station_hour":
    ...                                            [200, 400]}}]})
    >>> cfg.total_steps, cfg.generator_at(110).false_pick_rate_per_station_hour
    (120, (200, 400))
    """

    steps: int
    generator: SyntheticDayConfig


@dataclass
class TrainingConfig:
    """Everything a training run needs; the trainer checks it before any work starts.

    Parameters
    ----------
    name
        Model name (weights are written as ``<name>.pt.v<version>``).
    scale
        :class:`~seisbench_genie.nn.ModelScale` of the model.
    generator
        :class:`~seisbench_genie.synthetic.training.SyntheticDayConfig`.
    velocity_model
        Base 1-D model the random models are drawn around: a shipped name
        (``"hadley_kanamori"``, ``"graeber_asch"``) or a CSV path with depth_km, vp, vs.
    n_velocity_models
        Random velocity models (travel-time tables are built once and cached).
    table_max_distance_km, table_max_depth_km
        Extent of the training travel-time tables (km).
    hidden
        Hidden width of the network.
    signed_residuals
        Feed the network the signed residual channels as well as the kernels (see
        :func:`~seisbench_genie.nn.window_features`).
    steps
        Optimiser steps (of the main stage, drawn from ``generator``).
    stages
        Later :class:`TrainingStage` s (a curriculum), for example a last stage of dense,
        noisy days (see :meth:`learning_rate_factor` for the schedule). Validation and
        threshold calibration use the main ``generator`` (the conditions the model is made
        for).
    samples_per_step
        Samples whose gradients are accumulated per step.
    learning_rate
        Initial Adam learning rate (cosine decay to 10 %).
    seed
        Seed of the generator and of the weights.
    checkpoint_every
        Steps between checkpoints.
    max_minutes
        Wall-clock budget of one ``fit`` call (one ``seisbench-genie train`` command), in
        minutes. When it runs out before the last step, training stops, saves its checkpoint,
        exports the weights reached and warns; ``fit(resume=True)`` (``--resume``) continues
        the run for up to another ``max_minutes``.
    validation_days
        Held-out synthetic stretches scored with event F1 at the end.
    calibration_days
        Held-out synthetic stretches on which the detection threshold is chosen at the end
        (other seeds than the validation stretches), per family of days (a generator that
        mixes the magnitude and radius detection laws gives two, see
        :func:`~seisbench_genie.training.validation.calibration_families`); default:
        ``validation_days``; 0 keeps the pipeline's default threshold.
    version
        Weight version string.
    docstring
        Description stored with the weights.

    Examples
    --------
    >>> cfg = TrainingConfig.from_dict({"name": "toy", "scale": {"name": "toy",
    ...     "length_km": 50, "node_spacing_km": 25, "depth_km": [0, 30],
    ...     "max_distance_km": 600, "kernel_s": 3, "window_step_s": 3}})
    >>> cfg.scale.length_km
    50
    """

    name: str
    scale: ModelScale
    generator: SyntheticDayConfig = field(default_factory=SyntheticDayConfig)
    velocity_model: str = "hadley_kanamori"
    n_velocity_models: int = 6
    table_max_distance_km: float = 700.0
    table_max_depth_km: float = 60.0
    hidden: int = 24
    signed_residuals: bool = False
    steps: int = 3000
    stages: tuple[TrainingStage, ...] = ()
    samples_per_step: int = 2
    learning_rate: float = 2e-3
    seed: int = 0
    checkpoint_every: int = 200
    max_minutes: float = 55.0
    validation_days: int = 2
    calibration_days: int | None = None
    version: str = "1"
    docstring: str = ""

    def __post_init__(self) -> None:
        if not self.name or "." in self.name or "/" in self.name:
            raise ValueError(f"name: must be a plain non-empty name, got {self.name!r}")
        for f in ("n_velocity_models", "hidden", "steps", "samples_per_step",
                  "checkpoint_every"):
            if int(getattr(self, f)) <= 0:
                raise ValueError(f"{f}: must be > 0, got {getattr(self, f)}")
        for f in ("learning_rate", "max_minutes", "table_max_distance_km",
                  "table_max_depth_km"):
            if not float(getattr(self, f)) > 0:
                raise ValueError(f"{f}: must be > 0, got {getattr(self, f)}")
        for i, stage in enumerate(self.stages):
            if int(stage.steps) <= 0:
                raise ValueError(f"stages[{i}].steps: must be > 0, got {stage.steps}")
        if self.validation_days < 0:
            raise ValueError(f"validation_days: must be >= 0, got {self.validation_days}")
        if self.calibration_days is not None and self.calibration_days < 0:
            raise ValueError(f"calibration_days: must be >= 0, got {self.calibration_days}")
        g, s = self.generator, self.scale
        if s.depth_km[1] > self.table_max_depth_km:
            raise ValueError(f"table_max_depth_km ({self.table_max_depth_km}) is shallower than "
                             f"scale.depth_km {s.depth_km}")
        if s.max_distance_km > self.table_max_distance_km:
            raise ValueError("table_max_distance_km must be >= scale.max_distance_km")
        spacing = g.aperture_km[0] / max(1.0, g.n_stations[1] ** 0.5)
        if g.detection_radius_km[1] < spacing:
            raise ValueError(
                f"generator.detection_radius_km {g.detection_radius_km} is smaller than the "
                f"station spacing (~{spacing:.0f} km): no event would reach two stations")
        if g.detection_radius_km[1] > s.max_distance_km:
            raise ValueError("generator.detection_radius_km exceeds scale.max_distance_km")
        self.base_velocity_model()  # validates

    @property
    def total_steps(self) -> int:
        """Steps of the main stage and of all later stages."""
        return self.steps + sum(stage.steps for stage in self.stages)

    def _stage_ends(self) -> list[int]:
        ends = [self.steps]
        for stage in self.stages:
            ends.append(ends[-1] + stage.steps)
        return ends

    def _stage_of(self, step: int) -> int:
        """Index of the stage (0: main) that step ``step`` (0-based) belongs to."""
        ends = self._stage_ends()
        return next((i for i, end in enumerate(ends) if step < end), len(ends) - 1)

    def generator_at(self, step: int) -> SyntheticDayConfig:
        """The generator of step ``step`` (0-based)."""
        k = self._stage_of(step)
        return self.generator if k == 0 else self.stages[k - 1].generator

    def learning_rate_factor(self, step: int) -> float:
        """Learning-rate multiplier at step ``step`` (0-based):
        ``0.1 + 0.45 (1 + cos(pi step / end))``, with ``end`` the last step of the stage that
        ``step`` belongs to. Over the main stage this is a cosine from 1 to 0.1; a later stage
        continues on the cosine stretched to its own end, so the rate steps up a little at the
        stage boundary (fine-tuning a finished run) and falls to 0.1 again at the very end.

        Examples
        --------
        >>> cfg = TrainingConfig.from_dict({"name": "toy", "scale": {"name": "toy",
        ...     "length_km": 50, "node_spacing_km": 25, "depth_km": [0, 30],
        ...     "max_distance_km": 600, "kernel_s": 3, "window_step_s": 3}, "steps": 100,
        ...     "stages": [{"steps": 100}]})
        >>> [round(cfg.learning_rate_factor(s), 2) for s in (0, 99, 100, 199)]
        [1.0, 0.1, 0.55, 0.1]
        """
        horizon = self._stage_ends()[self._stage_of(step)]
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / horizon)))

    def base_velocity_model(self) -> pd.DataFrame:
        """The base 1-D model (validated)."""
        if self.velocity_model in ("hadley_kanamori", "graeber_asch"):
            return load_velocity_model(self.velocity_model)
        path = Path(self.velocity_model)
        if not path.is_file():
            raise ValueError(f"velocity_model: {self.velocity_model!r} is neither a shipped "
                             "model name nor a CSV file")
        return validate_velocity_model(pd.read_csv(path))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scale"] = self.scale.to_dict()
        d["generator"] = self.generator.to_dict()
        base = d["generator"]
        d["stages"] = [{"steps": st.steps, "generator": {
            k: v for k, v in st.generator.to_dict().items() if v != base[k]}}
            for st in self.stages]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainingConfig:
        """Build from a plain dict (unknown keys raise ``ValueError``)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"training config: unknown field(s) {sorted(unknown)}")
        d = dict(d)
        if "scale" not in d or "name" not in d:
            raise ValueError("training config: 'name' and 'scale' are required")
        d["scale"] = ModelScale.from_dict(d["scale"])
        d["generator"] = SyntheticDayConfig.from_dict(d.get("generator", {}))
        base = d["generator"].to_dict()
        stages = []
        for i, st in enumerate(d.get("stages") or ()):
            if not isinstance(st, dict) or set(st) - {"steps", "generator"} or "steps" not in st:
                raise ValueError(f"stages[{i}]: expected a mapping with 'steps' and optionally "
                                 f"'generator', got {st!r}")
            try:
                gen = SyntheticDayConfig.from_dict({**base, **(st.get("generator") or {})})
            except ValueError as err:
                raise ValueError(f"stages[{i}].{err}") from None
            stages.append(TrainingStage(int(st["steps"]), gen))
        d["stages"] = tuple(stages)
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainingConfig:
        """Load from a ``.yaml``/``.yml`` or ``.json`` file."""
        path = Path(path)
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return cls.from_dict(data)
