"""Masked-reconstruction pretraining from a config file; resumes from WORKDIR if it holds checkpoints.

  tinymyo pretrain --config configs/pretrain/tinymyo.py --workdir runs/tinymyo
  tinymyo pretrain --config configs/pretrain/smoke.py --workdir runs/smoke \\
      --config.data.data_dir=runs/tfds --config.total_steps=100

Any config field can be overridden with --config.FIELD=VALUE. Running the same command again
after a crash, SIGKILL or preemption continues from the last checkpoint with the same data
order and the same losses. Writes WORKDIR/config.json, metrics.jsonl, tensorboard/,
plots/*.png, checkpoints/ and summary.json. Multi-process jobs: see launch/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="config file, optionally with ':arg' (e.g. configs/pretrain/smoke.py:tiny)")
    parser.add_argument("--workdir", required=True, type=Path, help="run directory (created; resumed if it holds checkpoints)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import load_config

    config = load_config(args.config, args.config_overrides)
    if args.print_config:
        print(config.to_json_best_effort(indent=2, sort_keys=True))
        return 0
    from tinymyo_jax.train.pretrain import pretrain

    summary = pretrain(config, args.workdir)
    validation = summary.get("validation", {})
    if validation:
        print(json.dumps({"step": summary["end_step"], "validation": validation}, indent=None))
    return 0
