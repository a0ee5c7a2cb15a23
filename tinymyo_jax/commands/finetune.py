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
import sys
TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinymyo_jax.config_files import add_config_run_arguments

    add_config_run_arguments(parser, example="finetune/epn612:runlocal", workdir_help="run directory (created; resumed if it holds checkpoints)")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import config_from_args

    config = config_from_args(args)
    if config is None:
        return 0
    from tinymyo_jax.train.finetune import finetune
    from tinymyo_jax.evaluate.report import format_table
    from tinymyo_jax.train.checkpointing import PREEMPTED_EXIT_STATUS

    results = finetune(config, args.workdir)
    if "preempted_at_step" in results:
        print(f"tinymyo finetune: preempted at step {results['preempted_at_step']} (saved); the run is not finished: "
              "rerun the same command to resume", file=sys.stderr)
        return PREEMPTED_EXIT_STATUS
    print(format_table(results))
    print(f"results: {args.workdir / 'results.json'}, report: {args.workdir / 'report.md'} ({results['wall_time_s']:.0f} s)")
    return 0
