"""Fine-tune the whole model on a downstream benchmark; resumes from WORKDIR if it holds checkpoints.

  tinymyo finetune --config configs/finetune/epn612.py --workdir runs/finetune_epn612 \\
      --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

TinyMyo's recipe (AdamW lr 5e-4, warm-up + cosine, layer-wise lr decay 0.9, label smoothing
0.1 or L1 for DB8, early stopping on the validation loss). Running the same command again after a
crash, SIGKILL or preemption continues from the last checkpoint with the same losses. Writes
WORKDIR/config.json, metrics.jsonl, tensorboard/, checkpoints/, best/ (the selected model, a
checkpoint `tinymyo probe` and the export read), results.json, report.md and plots/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="config file, optionally with ':arg' (e.g. configs/finetune/epn612.py:runlocal)")
    parser.add_argument("--workdir", required=True, type=Path, help="run directory (created; resumed if it holds checkpoints)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import load_config

    config = load_config(args.config, args.config_overrides)
    if args.print_config:
        print(config.to_json_best_effort(indent=2, sort_keys=True))
        return 0
    from tinymyo_jax.evaluate.finetune import finetune
    from tinymyo_jax.evaluate.report import format_table

    results = finetune(config, args.workdir)
    if "preempted_at_step" in results:
        return 0
    print(format_table(results))
    print(f"results: {args.workdir / 'results.json'}, report: {args.workdir / 'report.md'} ({results['wall_time_s']:.0f} s)")
    return 0
