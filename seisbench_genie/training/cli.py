"""``seisbench-genie train CONFIG --out DIR``."""

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
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps in this call (continue with --resume)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seisbench_genie.training import TrainingConfig, get_trainer

    config = TrainingConfig.from_file(args.config)
    trainer = get_trainer(args.trainer)(config, args.out, device=args.device,
                                        progress=not args.no_progress, threads=args.threads)
    path = trainer.fit(resume=args.resume, max_steps=args.max_steps)
    print(f"weights written to {path}.pt.v{config.version} / {path}.json.v{config.version}")
    return 0
