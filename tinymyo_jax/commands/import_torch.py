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

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.config import ROPE_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--safetensors", required=True, type=Path, help="reference checkpoint (.safetensors)")
    # storage.path, not pathlib.Path: a gs:// URL stays a URL (Path made a local `gs:` folder)
    parser.add_argument("--out", required=True, type=storage.path, help="orbax checkpoint directory to create (a local folder or a gs:// URL)")
    parser.add_argument("--num-heads", type=int, default=3, help="attention heads (published TinyMyo: 3)")
    parser.add_argument(
        "--rope", default="reference", choices=list(ROPE_MODES),
        help="positional encoding: 'reference' reproduces the published outputs (default); "
        "'time' / 'time_channel' are ours, different functions that need fine-tuning",
    )
    parser.add_argument("--reduction", default="concat", choices=["concat", "mean"], help="channel fusion of the head")
    parser.add_argument("--reg-target-len", type=int, default=None, help="regression checkpoints: output length")
    parser.add_argument("--force", action="store_true", help="replace the checkpoint in an existing local --out "
                        "(only its step folders; other files there are kept)")


def _written_by_import(name: str) -> bool:
    """The entries of an orbax checkpoint directory: step folders (and orbax's own temporaries)."""
    return name.isdigit() or ".orbax-checkpoint-tmp" in name


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.summary import parameter_counts
    from tinymyo_jax.models.torch_io import load_torch_checkpoint
    from tinymyo_jax.replace import replace_owned_on_success

    if args.num_heads < 1:
        raise UserError(f"--num-heads must be >= 1, got {args.num_heads}")
    if not args.safetensors.is_file():
        raise UserError(f"--safetensors {args.safetensors} is not a file")
    if storage.is_file(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder for the checkpoint")
    replacing = storage.is_dir(args.out) and bool(storage.listdir(args.out))
    if replacing and storage.is_remote(args.out):
        # an object store has no atomic folder swap: a half-replaced checkpoint would be worse
        raise UserError(f"{args.out} is not empty; give a new gs:// prefix (--force replaces local folders only)")
    if replacing and not args.force:
        raise UserError(f"{args.out} exists and is not empty; pass --force to overwrite it")
    model = load_torch_checkpoint(
        args.safetensors, num_heads=args.num_heads, rope=args.rope,
        reg_target_len=args.reg_target_len, reduction=args.reduction,
    )
    if storage.is_remote(args.out):
        save_model_checkpoint(args.out, model, step=0)  # orbax commits the step atomically
        path = args.out / "0"
    else:
        # the old checkpoint is replaced only once the new one is completely written; the
        # user's other files in --out are kept (an orbax directory holds only step folders)
        with replace_owned_on_success(args.out, _written_by_import) as staging:
            save_model_checkpoint(staging, model, step=0)
        path = Path(args.out).absolute() / "0"
    c = model.config
    counts = parameter_counts(model)
    print(
        f"imported {args.safetensors} -> {path}\n"
        f"  dim {c.embed_dim}, {c.depth} blocks, {c.num_heads} heads, patch {c.patch_size}, head {c.head}"
        f"{f' ({c.num_outputs} outputs)' if c.num_outputs else ''}, rope={c.rope}\n"
        f"  parameters: encoder {counts['encoder']:,}, head {counts['head']:,}, total {counts['total']:,}"
    )
    return 0
