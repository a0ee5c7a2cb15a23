"""The encoder a downstream run starts from: a checkpoint, a reference safetensors file or a
random initialisation, and the hash that names it in caches and reports.

`config.init`:
  DIR                 an orbax checkpoint directory (`tinymyo import-torch` output, a
                      pretraining run's `checkpoints/`, or the pretraining workdir itself).
  torch:FILE          reference PyTorch safetensors (head count and RoPE mode from config.model).
  random              a fresh encoder of the config.model architecture, seeded by config.seed.
"""

from __future__ import annotations

import hashlib

import jax
import ml_collections
import numpy as np

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint import load_model_checkpoint, params_of
from tinymyo_jax.models.checkpoint_checks import checkpoint_directory
from tinymyo_jax.models.config import ModelConfig, from_run_config
from tinymyo_jax.models.tinymyo import TinyMyo, build_model
from tinymyo_jax.models.torch_io import load_torch_checkpoint


def random_architecture(config: ml_collections.ConfigDict) -> ModelConfig:
    """The ModelConfig of init=random: config.model's preset with its non-zero overrides."""
    # a random encoder was trained on nothing: it reads the prepared z-scores as they are
    return from_run_config(config, head="none", normalization="none")


def load_initial_model(config: ml_collections.ConfigDict) -> tuple[TinyMyo, dict]:
    """(model with its encoder loaded, description {"init", "source", "checkpoint_hash", "model_config"})."""
    init = str(config.init)
    if init == "random":
        model = build_model(random_architecture(config), seed=config.seed)
        source = f"random (seed {config.seed})"
    elif init.startswith("torch:"):
        path = storage.path(init[len("torch:"):])
        if not storage.is_file(path):
            raise UserError(f"init torch:{path}: no such safetensors file")
        model = load_torch_checkpoint(storage.local_copy(path), num_heads=config.model.torch_num_heads,
                                      rope=config.model.torch_rope)
        source = str(path)
    else:
        directory = checkpoint_directory(init)
        model = load_model_checkpoint(directory)
        source = str(directory)
    require_finite_encoder(model, source)
    return model, describe(model, init, source)


def require_finite_encoder(model: TinyMyo, source: str) -> None:
    """Refuse an encoder holding NaN or infinite weights (a diverged run): its features are
    NaN, and a probe of them would report chance accuracy as if it were a result."""
    leaves = jax.tree_util.tree_flatten_with_path(params_of(model)["encoder"])[0]
    bad = [(jax.tree_util.keystr(path), int(np.size(leaf) - np.isfinite(np.asarray(leaf)).sum())) for path, leaf in leaves]
    bad = [(name, count) for name, count in bad if count]
    if bad:
        total = sum(count for _, count in bad)
        raise UserError(f"the encoder in {source} holds {total:,} non-finite weights (first in encoder{bad[0][0]}): "
                        "a diverged run? start from an earlier checkpoint")  # fmt: skip


def random_like(model_config: ModelConfig, seed: int) -> tuple[TinyMyo, dict]:
    """A freshly initialised encoder of the same architecture: the random-features baseline."""
    model = build_model(model_config.replace(head="none"), seed=seed)
    return model, describe(model, "random", f"random (seed {seed}), architecture of the evaluated encoder")


def describe(model: TinyMyo, init: str, source: str) -> dict:
    return {
        "init": init,
        "source": source,
        "checkpoint_hash": params_hash(params_of(model)["encoder"]),
        "model_config": model.config.to_json(),
    }


def params_hash(params) -> str:
    """sha256 over the parameter paths, shapes, dtypes and bytes, in path order (16 hex digits).

    Names the weights, not the file: the same encoder imported twice, or saved at another
    step number, gets the same hash.
    """
    digest = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        array = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{jax.tree_util.keystr(path)}|{array.shape}|{array.dtype}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def rate_mismatch(model_config: ModelConfig, data_rate_hz: float | None, dataset: str) -> str | None:
    """A one-line warning when the encoder learnt from windows at another sampling rate than the
    dataset's (both known, more than 1 % apart), else None. The model runs at any rate, but its
    patches of patch_size samples then span another duration than in training, and its features
    describe another time scale: the real UCI probe of the 200-Hz recipe encoder was 39 points
    above a random encoder's on 200-Hz windows and 3 points above on 1-kHz ones (docs/transfer.md,
    "The UCI probe at 200 Hz")."""
    trained = model_config.input_rate_hz
    if trained is None or data_rate_hz is None or abs(trained - data_rate_hz) <= 0.01 * trained:
        return None
    patch = model_config.patch_size
    return (f"the encoder learnt from windows at {trained:g} Hz, {dataset} holds windows at {data_rate_hz:g} Hz: its "
            f"{patch}-sample patches span {1e3 * patch / data_rate_hz:g} ms here against {1e3 * patch / trained:g} ms in "
            f"training. To read it at the time scale the encoder knows, prepare the data at {trained:g} Hz: "
            f"`tinymyo prep NAME --config w200` where a corpus offers 200 Hz, `tinymyo prep generic ... --rate "
            f"{trained:g}` for your own recordings.")  # fmt: skip


def encoder_warnings(encoder: dict, dataset: str, data_rate_hz: float | None) -> list[str]:
    """What a downstream report warns about the evaluated encoder (`describe`'s dict) on this data."""
    note = rate_mismatch(ModelConfig.from_json(encoder["model_config"]), data_rate_hz, dataset)
    return [note] if note else []
