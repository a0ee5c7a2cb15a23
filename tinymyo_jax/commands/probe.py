"""Linear probe of a frozen encoder on a downstream benchmark, with baselines.

  tinymyo probe --config configs/probe/epn612.py --workdir runs/probe_epn612 \\
      --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds
  tinymyo probe --config configs/probe/ninapro_db5.py:runlocal --workdir runs/probe_db5 \\
      --config.init=torch:TinyMyo.safetensors

--config.init is a checkpoint directory (a pretraining workdir, its checkpoints/, or
`tinymyo import-torch` output), `random`, or `torch:FILE.safetensors`. Features are extracted
once and cached in WORKDIR/features/; the L2 strength is chosen on the validation split; test
metrics sit beside the same probe on a random encoder and the classic RMS/MAV/WL/ZC/SSC + LDA
pipeline. Writes WORKDIR/config.json, results.json, report.md and plots/.
"""

from __future__ import annotations

import argparse
TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinymyo_jax.config_files import add_config_run_arguments

    add_config_run_arguments(parser, example="probe/epn612:runlocal", workdir_help="output directory (created; its feature cache is reused)")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import config_from_args

    config = config_from_args(args)
    if config is None:
        return 0
    from tinymyo_jax.evaluate.probe import run_probe
    from tinymyo_jax.evaluate.report import format_table

    results = run_probe(config, args.workdir)
    print(format_table(results))
    print(f"results: {args.workdir / 'results.json'}, report: {args.workdir / 'report.md'} ({results['wall_time_s']:.0f} s)")
    return 0
