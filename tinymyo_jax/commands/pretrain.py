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
import sys
TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinymyo_jax.config_files import add_config_run_arguments

    add_config_run_arguments(parser, example="pretrain/smoke:tiny", workdir_help="run directory (created; resumed if it holds checkpoints)")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import config_from_args

    config = config_from_args(args)
    if config is None:
        return 0
    from tinymyo_jax.train.checkpointing import PREEMPTED_EXIT_STATUS
    from tinymyo_jax.train.pretrain import pretrain

    summary = pretrain(config, args.workdir)
    if summary["preempted"]:
        print(f"tinymyo pretrain: preempted at step {summary['end_step']} of {summary['total_steps']} (saved); "
              "the run is not finished: rerun the same command to resume", file=sys.stderr)
        return PREEMPTED_EXIT_STATUS
    # the last results of every config.evals entry ("validation": the masked loss, probes...)
    evaluations = {name: summary[name] for name in config.evals if name in summary}
    if evaluations:
        print(json.dumps({"step": summary["end_step"], **evaluations}, indent=None))
    return 0
