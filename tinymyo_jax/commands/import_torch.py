"""Convert a reference PyTorch TinyMyo checkpoint (safetensors) into an orbax checkpoint.

The reference key names are accepted with or without the release prefix `model.`; depth,
width and the head are read from the tensors. The head count is not stored in the weights:
pass --num-heads (3 for the published TinyMyo). The written directory is what `tinymyo
summary --checkpoint`, pretraining's `--config.init_from` and the evaluators read.

Example:
  tinymyo import-torch --safetensors TinyMyo_pretrained.safetensors --out runs/imported
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinymyo_jax.errors import UserError
from tinymyo_jax.models.config import ROPE_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--safetensors", required=True, type=Path, help="reference checkpoint (.safetensors)")
    parser.add_argument("--out", required=True, type=Path, help="orbax checkpoint directory to create")
    parser.add_argument("--num-heads", type=int, default=3, help="attention heads (published TinyMyo: 3)")
    parser.add_argument(
        "--rope", default="reference", choices=list(ROPE_MODES),
        help="positional encoding: 'reference' reproduces the published outputs (default); "
        "'time' / 'time_channel' are ours, different functions that need fine-tuning",
    )
    parser.add_argument("--reduction", default="concat", choices=["concat", "mean"], help="channel fusion of the head")
    parser.add_argument("--reg-target-len", type=int, default=None, help="regression checkpoints: output length")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out directory")


def run(args: argparse.Namespace) -> int:
    import shutil

    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.summary import parameter_counts
    from tinymyo_jax.models.torch_io import load_torch_checkpoint

    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            raise UserError(f"{args.out} exists and is not empty; pass --force to overwrite it")
        shutil.rmtree(args.out)
    model = load_torch_checkpoint(
        args.safetensors, num_heads=args.num_heads, rope=args.rope,
        reg_target_len=args.reg_target_len, reduction=args.reduction,
    )
    path = save_model_checkpoint(args.out, model, step=0)
    c = model.config
    counts = parameter_counts(model)
    print(
        f"imported {args.safetensors} -> {path}\n"
        f"  dim {c.embed_dim}, {c.depth} blocks, {c.num_heads} heads, patch {c.patch_size}, head {c.head}"
        f"{f' ({c.num_outputs} outputs)' if c.num_outputs else ''}, rope={c.rope}\n"
        f"  parameters: encoder {counts['encoder']:,}, head {counts['head']:,}, total {counts['total']:,}"
    )
    return 0
