"""The ``synthetic`` trainer: GENIE trained on on-the-fly synthetic picks, on a CPU."""

from __future__ import annotations

import csv
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from seisbench_genie.nn.network import GENIENetwork
from seisbench_genie.runtime import resolve_device, tune_malloc
from seisbench_genie.synthetic.training import (
    TrainingGenerator,
    TrainingSample,
    random_velocity_models,
)
from seisbench_genie.training.config import TrainingConfig
from seisbench_genie.traveltimes import get as get_backend


def _weighted_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    weight = 1.0 + 4.0 * labels
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weight)


def sample_loss(network: GENIENetwork, sample: TrainingSample) -> dict[str, torch.Tensor]:
    """Losses of one sample: source field at nodes and queries, and association.

    Examples
    --------
    >>> # see tests/test_training.py
    """
    latent = network.encode(sample.features, sample.graph)
    node = _weighted_bce(network.node_logits(latent), sample.node_labels)
    q_logit, _ = network.query_field(latent, sample.graph, sample.query_window, sample.query_xyz)
    query = _weighted_bce(q_logit, sample.query_labels)
    cand = sample.candidates
    if cand.pick.numel():
        _, emb = network.query_field(latent, sample.graph, sample.assoc_window, sample.assoc_xyz)
        ctx = torch.cat([emb[cand.group_source],
                         (cand.group_distance / network.scale.length_km)[:, None]], -1)
        prob = network.associate(emb[cand.source], cand.features, cand.group, ctx)
        assoc = F.binary_cross_entropy(prob.clamp(1e-6, 1 - 1e-6), sample.assoc_labels)
    else:
        assoc = torch.zeros((), device=latent.device)
    return {"node": node, "query": query, "association": assoc}


@dataclass(frozen=True)
class TrainingRun:
    """What one :meth:`SyntheticTrainer.fit` call did (``trainer.last_run``).

    Attributes
    ----------
    weights : pathlib.Path
        Exported weights, without the ``.pt.v<version>`` / ``.json.v<version>`` suffix.
    checkpoint : pathlib.Path
        ``checkpoint.pt`` of the run (continue with ``fit(resume=True)``).
    steps : int
        Steps done so far, over all calls on this output folder.
    total_steps : int
        Steps of the whole configuration (``TrainingConfig.total_steps``).
    minutes : float
        Wall-clock minutes of training so far, over all calls.
    stopped_by_time_limit : bool
        The call stopped before the last step because ``max_minutes`` ran out.
    stopped_by_max_steps : bool
        The call stopped before the last step because of its ``max_steps``.

    Examples
    --------
    >>> run = TrainingRun(Path("runs/toy/toy"), Path("runs/toy/checkpoint.pt"), 40, 100, 5.2,
    ...                   stopped_by_time_limit=True, stopped_by_max_steps=False)
    >>> run.finished
    False
    """

    weights: Path
    checkpoint: Path
    steps: int
    total_steps: int
    minutes: float
    stopped_by_time_limit: bool
    stopped_by_max_steps: bool

    @property
    def finished(self) -> bool:
        """All steps of the configuration are done."""
        return self.steps >= self.total_steps


class SyntheticTrainer:
    """Train a GENIE model on synthetic data (registered as trainer ``synthetic``).

    Parameters
    ----------
    config
        Training configuration (checked on construction).
    out_dir
        Output folder: ``checkpoint.pt``, ``history.csv`` and the weights
        ``<name>.pt.v<version>`` + ``<name>.json.v<version>`` in SeisBench's layout.
    device
        Torch device (``"cpu"`` default; ``"cuda"`` when present).
    progress
        Show a tqdm bar with the running loss.
    threads
        CPU threads for torch (default: all).

    Attributes
    ----------
    last_run : TrainingRun or None
        Summary of the latest :meth:`fit` call (steps done, whether the time limit stopped
        it); ``None`` before the first call.

    Examples
    --------
    >>> # seisbench-genie train pretrained/crustal.yaml --out runs/crustal
    >>> # or: trainer = SyntheticTrainer(config, "runs/crustal"); trainer.fit()
    """

    def __init__(self, config: TrainingConfig, out_dir: str | Path, device: str = "cpu",
                 progress: bool = True, threads: int | None = None):
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = resolve_device(device)
        self.progress = progress
        self.last_run: TrainingRun | None = None
        if threads:
            torch.set_num_threads(threads)
        tune_malloc()  # each step allocates and frees arrays of a few MB (see runtime.py)

    def backends(self) -> list:
        cfg = self.config
        models = random_velocity_models(cfg.base_velocity_model(), cfg.n_velocity_models,
                                        cfg.generator.velocity_perturbation, cfg.seed)
        return [get_backend("layered", model=m, max_distance_km=cfg.table_max_distance_km,
                            max_depth_km=cfg.table_max_depth_km) for m in models]

    def fit(self, resume: bool = False, max_steps: int | None = None) -> Path:
        """Train (or resume), then export the weights and validate.

        A call ends at the last step of the configuration, after ``max_steps`` steps, or when
        the call has run ``config.max_minutes`` wall-clock minutes. In every case the state is
        saved in ``out_dir/checkpoint.pt`` and the weights reached so far are exported. A run
        stopped early continues, exactly where it stopped, with ``fit(resume=True)`` on the
        same output folder and configuration (``seisbench-genie train CONFIG --out OUT_DIR
        --resume``), for up to another ``max_minutes``; ``fit()`` without ``resume`` starts
        over from step 0. When the time limit stops a run, a ``UserWarning`` says how many
        steps are done and how to continue, and ``last_run.stopped_by_time_limit`` is set
        (also recorded as ``training.stopped_by_time_limit`` in the weights' JSON).

        Parameters
        ----------
        resume
            Continue from ``out_dir/checkpoint.pt`` (same config).
        max_steps
            Stop this call after so many steps (resume later); default: run to the end.

        Returns
        -------
        pathlib.Path
            Path of the exported weights (without ``.pt.v*`` suffix); the call's summary is
            in :attr:`last_run`.

        Raises
        ------
        ValueError
            ``resume=True`` without a checkpoint in ``out_dir``.

        Examples
        --------
        >>> # trainer = get_trainer("synthetic")(config, "runs/mine")
        >>> # trainer.fit(); trainer.last_run.stopped_by_time_limit   # True: run out of time
        >>> # trainer.fit(resume=True)                                 # continue the run
        """
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        torch.manual_seed(cfg.seed)
        network = GENIENetwork(cfg.scale, hidden=cfg.hidden,
                               signed_residuals=cfg.signed_residuals).to(self.device)
        opt = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, cfg.learning_rate_factor)
        gen = TrainingGenerator(cfg.scale, cfg.generator, self.backends(), seed=cfg.seed,
                                signed_residuals=cfg.signed_residuals)
        step, elapsed, history = 0, 0.0, []
        ckpt = self.out_dir / "checkpoint.pt"
        if resume and ckpt.is_file():
            state = torch.load(ckpt, map_location=self.device, weights_only=False)
            network.load_state_dict(state["network"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            gen.rng.bit_generator.state = state["generator_rng"]
            torch.set_rng_state(state["torch_rng"])
            step, elapsed, history = state["step"], state["elapsed_s"], state["history"]
        elif resume:
            raise ValueError(f"--resume: no checkpoint at {ckpt}")
        elif ckpt.is_file():
            warnings.warn(f"{ckpt} exists: starting over from step 0 and overwriting it "
                          "(fit(resume=True) / --resume would continue that run)", stacklevel=2)
        call_start = time.time()
        start = call_start - elapsed  # elapsed_s in the history counts all calls of the run
        bar = tqdm(total=cfg.total_steps, initial=step, disable=not self.progress, desc=cfg.name)
        running = None
        stopped_by_time_limit = False
        stop_at = cfg.total_steps if max_steps is None else min(cfg.total_steps, step + max_steps)
        while step < stop_at:
            if (time.time() - call_start) / 60.0 > cfg.max_minutes:
                stopped_by_time_limit = True
                break
            gen.config = cfg.generator_at(step)
            network.train()
            opt.zero_grad()
            parts = {"node": 0.0, "query": 0.0, "association": 0.0}
            for _ in range(cfg.samples_per_step):
                sample = gen.sample()
                losses = sample_loss(network, _to(sample, self.device))
                total = sum(losses.values()) / cfg.samples_per_step
                total.backward()
                for k, v in losses.items():
                    parts[k] += float(v.detach()) / cfg.samples_per_step
            torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
            loss = sum(parts.values())
            running = loss if running is None else 0.98 * running + 0.02 * loss
            history.append({"step": step, "elapsed_s": round(time.time() - start, 2),
                            "loss": loss, **parts})
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if step % cfg.checkpoint_every == 0 or step == cfg.total_steps:
                self._checkpoint(ckpt, network, opt, sched, gen, step, time.time() - start,
                                 history)
        bar.close()
        elapsed = time.time() - start
        self._checkpoint(ckpt, network, opt, sched, gen, step, elapsed, history)
        self._write_history(history)
        call_minutes = (time.time() - call_start) / 60.0
        path = self.export(network, step, elapsed, stopped_by_time_limit)
        if stopped_by_time_limit:
            warnings.warn(self._time_limit_message(step, call_minutes), stacklevel=2)
        self.last_run = TrainingRun(
            weights=path, checkpoint=ckpt, steps=step, total_steps=cfg.total_steps,
            minutes=round(elapsed / 60.0, 2), stopped_by_time_limit=stopped_by_time_limit,
            stopped_by_max_steps=not stopped_by_time_limit and step < cfg.total_steps)
        return path

    def _time_limit_message(self, step: int, call_minutes: float) -> str:
        cfg = self.config
        return (
            f"training {cfg.name!r} stopped by its time limit (max_minutes={cfg.max_minutes:g} "
            f"per call; {call_minutes:.3g} min in this call) after {step} of {cfg.total_steps} "
            f"steps. The state is saved in {self.out_dir / 'checkpoint.pt'} and the weights of "
            f"step {step} are exported to {self.out_dir / cfg.name}.pt.v{cfg.version}. "
            f"Continue the run with `seisbench-genie train CONFIG --out {self.out_dir} "
            f"--resume` (CONFIG: this run's config file) or, in Python, "
            f"`{type(self).__name__}(config, {str(self.out_dir)!r}).fit(resume=True)`; each "
            f"call may run another max_minutes."
        )

    def _checkpoint(self, path, network, opt, sched, gen, step, elapsed, history) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save({"network": network.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "generator_rng": gen.rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "step": step, "elapsed_s": elapsed,
                    "history": history}, tmp)
        tmp.replace(path)

    def _write_history(self, history: list[dict]) -> None:
        if not history:
            return
        with open(self.out_dir / "history.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)
        plot_history(history, self.out_dir / "curve.png", title=self.config.name)

    def export(self, network: GENIENetwork, step: int, elapsed_s: float,
               stopped_by_time_limit: bool) -> Path:
        """Save the weights as a :class:`~seisbench_genie.GENIE` model and validate them.

        The weights' JSON records the run under ``training``: ``steps`` (done), ``total_steps``,
        ``minutes`` and ``stopped_by_time_limit``.
        """
        from seisbench_genie.model import GENIE  # the model class sits above the network

        cfg = self.config
        model = GENIE(scale=cfg.scale, hidden=cfg.hidden, velocity_model_type="layered",
                      signed_residuals=cfg.signed_residuals).to("cpu")
        model.network.load_state_dict(network.state_dict())
        training = {"config": cfg.to_dict(), "steps": step, "total_steps": cfg.total_steps,
                    "minutes": round(elapsed_s / 60, 2),
                    "stopped_by_time_limit": stopped_by_time_limit,
                    "final_loss": float(np.mean([h["loss"] for h in self._history_tail()]))
                    if self._history_tail() else None}
        path = self.out_dir / cfg.name
        model.default_args = {"velocity_model": cfg.base_velocity_model()}
        model.save(path, weights_docstring=cfg.docstring, version_str=cfg.version,
                   training=training)
        if cfg.validation_days:
            from seisbench_genie.training.validation import (
                calibrate_thresholds,
                validation_scores,
            )

            # Thresholds are chosen on held-out synthetic days (seeds 20000+) and the scores
            # reported on other held-out days (seeds 10000+): never on benchmark scenarios.
            n_calibration = (cfg.validation_days if cfg.calibration_days is None
                             else cfg.calibration_days)
            thresholds = (calibrate_thresholds(model, cfg, n_days=n_calibration, seed=20_000)
                          if n_calibration else {})
            model.default_args.update(thresholds)
            scores = validation_scores(model, cfg, n_days=cfg.validation_days, seed=10_000)
            scores["thresholds"] = thresholds
            model.save(path, weights_docstring=cfg.docstring, version_str=cfg.version,
                       training=training, validation=scores)
        return path

    def _history_tail(self) -> list[dict]:
        f = self.out_dir / "history.csv"
        if not f.is_file():
            return []
        with open(f) as fh:
            rows = list(csv.DictReader(fh))
        return [{"loss": float(r["loss"])} for r in rows[-50:]]


def _to(sample: TrainingSample, device: torch.device) -> TrainingSample:
    if device.type == "cpu":
        return sample
    from dataclasses import fields, replace

    moved = {}
    for f in fields(sample):
        v = getattr(sample, f.name)
        moved[f.name] = v.to(device) if hasattr(v, "to") else v
    cand = sample.candidates
    moved["candidates"] = replace(cand, **{f.name: getattr(cand, f.name).to(device)
                                           for f in fields(cand)})
    return TrainingSample(**moved)


def plot_history(history: list[dict], path: str | Path, title: str = "") -> None:
    """Training curve (losses against wall-clock minutes, smoothed over 100 steps) as PNG.

    Examples
    --------
    >>> plot_history([{"step": 1, "elapsed_s": 1.0, "loss": 1.0, "node": 0.5, "query": 0.3,
    ...                "association": 0.2}], "/tmp/curve.png")
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = np.array([h["elapsed_s"] for h in history]) / 60.0
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "node", "query", "association"):
        values = np.array([h[key] for h in history], dtype=float)
        k = min(100, len(values))
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(minutes[k - 1:], smooth, label=key)
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel("loss (100-step mean)")
    ax.set_yscale("log")
    ax.set_title(f"GENIE training: {title}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
