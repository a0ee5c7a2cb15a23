"""Before renting a TPU slice: will the recipe fit, what does a step cost, how is it sharded?

  tinymyo plan --config configs/pretrain/tinymyo.py --topology v5e:4x4 --config.compute_dtype=bfloat16
  tinymyo plan --config configs/pretrain/tinymyo.py --topology v5e:2x2 --config.micro_batch_size=256

Compiles the real train step (the trainer's mesh, shardings and micro-batching) ahead of time for
the TPU topology with libtpu, on this CPU host, and prints per-chip memory (parameters,
optimizer state, activations) against the chip's HBM, FLOPs per step from XLA's cost analysis
beside the analytic count, the collectives the sharding produced, and the step time implied at
--peak-fraction of the chip's dense bf16 peak (data-sheet numbers, listed in docs/launch.md).

When the recipe does not fit, it compiles the changes that may make it fit, in this order:
halving the micro-batch, FSDP over every chip, bfloat16; prints each attempt and exits 2 naming
the first that fits. Compiling the published model takes minutes on a small CPU.

Topologies: GENERATION:AxB[xC] with GENERATION v4, v5e, v5p or v6e (v5e:2x2 = a v5litepod-4,
v5e:4x4 = v5litepod-16, v4:2x2x2 = v4-16). TPU only: compiling for GPUs without one needs
jax's CUDA plugin and a description of the GPU, which this command does not install.
Needs libtpu: pip install 'tinymyo-jax[tpu-plan]'.
"""

from __future__ import annotations

import argparse
import sys

from tinymyo_jax.errors import UserError

TAKES_CONFIG_OVERRIDES = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="pretraining config file or shipped preset, optionally with ':arg' "
                        "(e.g. configs/pretrain/tinymyo.py or pretrain/tinymyo; presets: see `tinymyo pretrain --help`)")
    parser.add_argument("--topology", required=True, help="TPU slice, e.g. v5e:4x4, v5e:2x2, v4:2x2x2, v5p:2x2x2, v6e:4x4")
    parser.add_argument("--channels", type=int, default=16, help="channels per prepared window (default 16)")
    parser.add_argument("--samples", type=int, default=1000, help="samples per prepared window (default 1000)")
    parser.add_argument("--peak-fraction", type=float, default=0.5,
                        help="fraction of the chip's peak bf16 FLOP/s the implied step time assumes (default 0.5)")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.config_files import load_config

    if not 0 < args.peak_fraction <= 1:
        raise UserError(f"--peak-fraction {args.peak_fraction} must be in (0, 1]")
    if args.channels <= 0 or args.samples <= 0:
        raise UserError("--channels and --samples must be positive")
    config = load_config(args.config, args.config_overrides)
    from tinymyo_jax.train.plan import format_attempts, format_plan, make_plan

    plan = make_plan(config, args.topology, args.channels, args.samples,
                     progress=lambda message: print(f"tinymyo plan: {message} ...", file=sys.stderr, flush=True))
    if plan.first.fits:
        print(format_plan(plan, plan.first, args.peak_fraction))
        return 0
    print(format_attempts(plan))
    fit = plan.fit
    if fit is not None:
        print()
        print(format_plan(plan, fit, args.peak_fraction))
    needs = f"needs {plan.first.used_bytes / 2**30:.2f} GiB per chip of {plan.first.hbm_limit / 2**30:.2f} GiB HBM"
    if fit is None:
        raise UserError(f"the recipe does not fit {args.topology}: it {needs}, and no micro-batch, FSDP or bfloat16 "
                        "change tried fits either; use more chips or a smaller global batch")
    raise UserError(f"the recipe does not fit {args.topology}: it {needs}; the smallest change that fits is "
                    f"{fit.change(config)} ({fit.used_bytes / 2**30:.2f} GiB)")
