"""Print a model's parameter counts per part and its FLOPs per window.

Examples:
  tinymyo summary                                   # the model `tinymyo pretrain` builds, 16 x 1000
  tinymyo summary --reference                       # the published TinyMyo (no channel embedding)
  tinymyo summary --preset tinyissimo --channels 8 --samples 200
  tinymyo summary --checkpoint runs/imported        # a checkpoint written by import-torch
"""

from __future__ import annotations

import argparse

from tinymyo_jax.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", default="tinymyo", choices=["tinymyo", "tinyissimo"],
                        help="size of the model the pretraining config builds (default: tinymyo)")
    parser.add_argument("--reference", action="store_true",
                        help="the published model's behaviour (the pretraining config's `reference` variant: "
                             "rope=reference, no channel embedding)")
    source.add_argument("--checkpoint", help="orbax checkpoint directory (e.g. from `tinymyo import-torch`) or a run's workdir")
    parser.add_argument("--channels", type=int, default=16, help="EMG channels per window (default 16)")
    parser.add_argument("--samples", type=int, default=1000, help="samples per window, a multiple of the patch size (default 1000)")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.models.checkpoint import load_model_checkpoint
    from tinymyo_jax.models.summary import format_summary
    from tinymyo_jax.models.tinymyo import build_model
    from tinymyo_jax.train.config import apply_variants, base_config
    from tinymyo_jax.train.pretrain import model_config_from

    if args.checkpoint:
        model = load_model_checkpoint(args.checkpoint)
    else:  # what `tinymyo pretrain` builds from its config (train/config.py) for this preset
        config = base_config()
        config.model.preset = args.preset
        apply_variants(config, "reference" if args.reference else None)
        model = build_model(model_config_from(config))
    if args.channels <= 0 or args.samples <= 0 or args.samples % model.config.patch_size:
        raise UserError(f"--samples must be a positive multiple of the patch size {model.config.patch_size} and --channels positive")
    print(format_summary(model, args.channels, args.samples))
    return 0
