"""What every checkpoint reader checks before it allocates: the path, the model config's bounds,
and damage as one line naming the file.

Every command that reads a checkpoint (summary, probe, finetune, export, pretraining's
`init_from`) goes through `models/checkpoint.load_model_checkpoint`, which uses these:

- `checkpoint_directory`: a run's workdir (holding `checkpoints/`) and the checkpoint
  directory itself are accepted alike.
- `check_model_config`: a stored `model_config` is only data: `depth=10000` built a model for
  minutes before anything failed. Each size field has a bound far above any TinyMyo (the
  published model is dim 192, 8 blocks) and the parameter count is estimated before a module
  is built.
- `check_safetensors_header`: a reference file's header is read before any tensor: a tensor
  announcing 4 GB took 8 GB of RAM before "missing key".
- `damage_as_user_error`: a truncated OCDBT file, a missing `params` item or a `model_config`
  that is not UTF-8 JSON surfaced as orbax/tensorstore tracebacks; they become one line
  naming the step folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from typing import Iterator

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.config import ModelConfig

# Upper bounds of a stored ModelConfig's size fields (inclusive); lower bound 1 (0 for the
# output-count fields a head may leave unset).
FIELD_BOUNDS = {
    "embed_dim": (1, 8192), "depth": (1, 256), "num_heads": (1, 256), "patch_size": (1, 100_000),
    "num_outputs": (0, 1_000_000), "num_channels": (1, 4096), "reg_hidden_dim": (1, 65_536),
    "reg_target_len": (1, 1_000_000),
}  # fmt: skip
MAX_MLP_RATIO = 64.0
# ~4 GB of float32: 1000x the published model; anything larger is not a TinyMyo checkpoint
MAX_PARAMETERS = 1_000_000_000
# safetensors: the published model's largest tensor is 0.6 MB; a header is a few kB
MAX_TENSOR_BYTES = 1 << 30
MAX_HEADER_BYTES = 100 << 20
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
                "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}  # fmt: skip


def checkpoint_directory(path: storage.PathLike) -> storage.epath.Path:
    """The checkpoint directory a path names: itself, or for a run's workdir the model it
    selected (`best/`, fine-tuning's chosen step) else its `checkpoints/` (pretraining)."""
    path = storage.path(path)
    if not storage.is_dir(path) or any(name.isdigit() for name in storage.listdir(path)):
        return path
    for inner in ("best", "checkpoints"):
        if storage.is_dir(path / inner):
            return path / inner
    return path


def estimated_parameters(config: ModelConfig) -> int:
    """The encoder's parameter count from its config (blocks dominate: attention + MLP)."""
    d, hidden = config.embed_dim, int(config.embed_dim * config.mlp_ratio)
    per_block = 4 * d * d + 2 * d * hidden + 9 * d + hidden
    return config.depth * per_block + config.patch_size * d + 16 * d


def check_model_config(config: ModelConfig, source: str) -> None:
    """UserError when a stored model config is out of any plausible TinyMyo's range."""
    values = dataclasses.asdict(config)
    for name, (low, high) in FIELD_BOUNDS.items():
        value = values[name]
        if value is None and name == "num_channels":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise UserError(f"{source}: model_config {name}={value!r} is out of range ({low}..{high}); "
                            "not a checkpoint this package wrote?")  # fmt: skip
    if not isinstance(config.mlp_ratio, (int, float)) or not 0 < config.mlp_ratio <= MAX_MLP_RATIO:
        raise UserError(f"{source}: model_config mlp_ratio={config.mlp_ratio!r} is out of range (0..{MAX_MLP_RATIO:g}]")
    count = estimated_parameters(config)
    if count > MAX_PARAMETERS:
        raise UserError(f"{source}: model_config describes ~{count:,} parameters (more than {MAX_PARAMETERS:,}); "
                        "not a TinyMyo checkpoint this package wrote?")  # fmt: skip


@contextlib.contextmanager
def damage_as_user_error(step_directory: storage.PathLike, what: str) -> Iterator[None]:
    """Turn what orbax/tensorstore raise on a damaged or foreign checkpoint into one line.

    When one array of a damaged OCDBT file fails, orbax closes its event loop while the other
    reads are in flight, and each of them prints "RuntimeError: Event loop is closed" from a
    tensorstore thread. So descriptor 2 is held in a temporary file during the read: replayed
    when the read succeeds, dropped when it fails (the one line says what happened)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except UserError:
            raise
        except (ValueError, KeyError, TypeError, OSError, AttributeError) as err:
            time.sleep(0.2)  # let the in-flight reads fail into the capture, not the terminal
            detail = " ".join(str(err).split())[:200]
            raise UserError(f"{step_directory}: cannot read its {what} (damaged or not written by this package): "
                            f"{type(err).__name__}: {detail}") from err  # fmt: skip
        else:
            sys.stderr.flush()
            capture.seek(0)
            os.write(saved, capture.read())
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def check_safetensors_header(path: str) -> None:
    """UserError when a safetensors file's header is malformed, or announces tensors larger than
    a TinyMyo's or than the file: read before safetensors allocates anything."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise UserError(f"{path}: not a readable safetensors file (shorter than its 8-byte header length)")
        length = int.from_bytes(prefix, "little")
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise UserError(f"{path}: not a readable safetensors file (header length {length:,} bytes, file {size:,} bytes)")
        try:
            header = json.loads(handle.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise UserError(f"{path}: not a readable safetensors file (its header is not UTF-8 JSON: {err})") from err
    if not isinstance(header, dict):
        raise UserError(f"{path}: not a readable safetensors file (its header is not a JSON object)")
    data_bytes = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shape, dtype, (start, end) = entry["shape"], entry["dtype"], entry["data_offsets"]
            announced = math.prod(int(d) for d in shape) * _DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{path}: tensor {name[:80]!r} has a malformed header entry ({type(err).__name__}: {err})") from err
        if announced > MAX_TENSOR_BYTES:
            raise UserError(f"{path}: tensor {name[:80]!r} announces {announced:,} bytes (shape {shape}); a TinyMyo "
                            f"tensor is at most {MAX_TENSOR_BYTES:,}")  # fmt: skip
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= data_bytes and end - start == announced):
            raise UserError(f"{path}: tensor {name[:80]!r} lies outside the file or does not match its shape "
                            f"(bytes {start}..{end} of {data_bytes:,})")  # fmt: skip
