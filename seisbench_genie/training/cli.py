"""``seisbench-genie train CONFIG --out DIR``: train a GENIE model on synthetic data.

A run stopped by ``--max-steps`` or by the config's ``max_minutes`` (per command) prints the
command that continues it: the same one with ``--resume``.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand to the ``seisbench-genie`` parser."""
    p = subparsers.add_parser(
        "train", help="train a GENIE model on synthetic data",
        description="Train a GENIE model from a YAML/JSON config (see pretrained/*.yaml).")
    p.add_argument("config", help="training config (.yaml, .yml or .json)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, weights, curve)")
    p.add_argument("--trainer", default="synthetic",
                   help="trainer name in the seisbench_genie.trainers entry-point group")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in OUT/checkpoint.pt (same config); without it "
                        "training starts over from step 0")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps in this call (continue with --resume)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; print where the weights are and, for a run stopped early, the
    command that continues it. Returns 0."""
    from seisbench_genie.training import TrainingConfig, get_trainer

    config = TrainingConfig.from_file(args.config)
    trainer = get_trainer(args.trainer)(config, args.out, device=args.device,
                                        progress=not args.no_progress, threads=args.threads)
    path = trainer.fit(resume=args.resume, max_steps=args.max_steps)
    print(f"weights written to {path}.pt.v{config.version} / {path}.json.v{config.version}")
    summary = getattr(trainer, "last_run", None)
    if summary is not None and not summary.finished:
        reason = ("the time limit (max_minutes)" if summary.stopped_by_time_limit
                  else "--max-steps")
        print(f"stopped by {reason} after {summary.steps} of {summary.total_steps} steps; "
              f"checkpoint {summary.checkpoint}. Continue with:\n  {resume_command(args)}")
    return 0


def resume_command(args: argparse.Namespace) -> str:
    """The ``seisbench-genie train`` command that continues the run of ``args``.

    Examples
    --------
    >>> ns = argparse.Namespace(config="my.yaml", out="runs/my run", trainer="synthetic",
    ...                         device="cpu", threads=1, no_progress=False, max_steps=500)
    >>> resume_command(ns)
    "seisbench-genie train my.yaml --out 'runs/my run' --resume --threads 1"
    """
    import shlex

    words = ["seisbench-genie", "train", args.config, "--out", str(args.out), "--resume"]
    if args.trainer != "synthetic":
        words += ["--trainer", args.trainer]
    if args.device != "cpu":
        words += ["--device", args.device]
    if args.threads:
        words += ["--threads", str(args.threads)]
    if args.no_progress:
        words.append("--no-progress")
    return shlex.join(words)
