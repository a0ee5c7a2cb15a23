"""Does a patch's level survive into the tokens? A linear probe of a random per-patch gain.

    python benchmarks/token_level.py --data_dir runs/demo/tfds --dataset ninapro_db6/w1000 \
        --checkpoints runs/smoke/checkpoints ... [--random minmax_channel window_scale none]

For each encoder, on validation windows normalised as the encoder was trained (its stored
`normalization`), every real-channel patch is multiplied by its own random gain g, log g uniform
in [-log 4, log 4] (so a patch's level is independent of its shape, which a level probe could
otherwise read). Targets: log g ("gain": shape-free), and the log RMS of the scaled patch
("level": what the input holds). Ridge regression (tokens of half of the windows, R² on the other
half) from (a) log ‖patch embedding‖ (before any LayerNorm: the level is there), (b) the first
block's LayerNorm output (what the first attention reads), (c) the encoder's output (final
LayerNorm). R² ≈ 1 at (a) and ≈ 0 at (b)/(c) means LayerNorm erases the level.
"""

from __future__ import annotations

import argparse
import json

import jax.numpy as jnp
import numpy as np


def ridge_r2(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, l2: float = 1e-3) -> float:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-8
    a, b = (train_x - mean) / std, (test_x - mean) / std
    a1, b1 = np.c_[a, np.ones(len(a))], np.c_[b, np.ones(len(b))]
    w = np.linalg.solve(a1.T @ a1 + l2 * len(a1) * np.eye(a1.shape[1]), a1.T @ train_y)
    residual = test_y - b1 @ w
    return float(1.0 - residual.var() / test_y.var())


def measure(model, emg: np.ndarray, channel_mask: np.ndarray, seed: int = 0) -> dict[str, float]:
    from tinymyo_jax.models.normalization import normalize

    patch = model.config.patch_size
    x = np.asarray(normalize(jnp.asarray(emg, jnp.float32), model.config.normalization, jnp.asarray(channel_mask)))
    b, c, t = x.shape
    log_gain = np.random.default_rng(seed).uniform(-np.log(4.0), np.log(4.0), (b, c, t // patch))
    x = (x.reshape(b, c, t // patch, patch) * np.exp(log_gain)[..., None]).reshape(b, c, t).astype(np.float32)
    targets = {"gain": log_gain.reshape(b, -1),
               "level": np.log(np.sqrt((x.reshape(b, -1, patch) ** 2).mean(-1)) + 1e-6)}  # fmt: skip
    real = np.repeat(channel_mask, t // patch, axis=1)
    encoder = model.encoder
    embedded = encoder.patch_embed(jnp.asarray(x))
    feats = {
        "embedding_log_norm": np.log(np.linalg.norm(np.asarray(embedded), axis=-1, keepdims=True) + 1e-12),
        "first_layernorm": np.asarray(encoder.blocks[0].norm1(embedded)),
        "encoder_output": np.asarray(model.encode(jnp.asarray(x), channel_mask=jnp.asarray(channel_mask))),
    }
    half = b // 2
    out = {}
    for target_name, target in targets.items():
        for name, f in feats.items():
            out[f"r2_{target_name}_{name}"] = ridge_r2(f[:half][real[:half]], target[:half][real[:half]],
                                                       f[half:][real[half:]], target[half:][real[half:]])  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--dataset", default="ninapro_db6/w1000")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--checkpoints", nargs="*", default=[])
    parser.add_argument("--random", nargs="*", default=[], help="random encoders: NORMALIZATION[:ROPE] of the first checkpoint's architecture")
    args = parser.parse_args()

    from tinymyo_jax.data.source import WindowShards
    from tinymyo_jax.evaluate.encoders import checkpoint_directory
    from tinymyo_jax.models.checkpoint import load_model_checkpoint
    from tinymyo_jax.models.tinymyo import build_model

    name, _, builder_config = args.dataset.partition("/")
    shards = WindowShards(name, args.split, data_dir=args.data_dir, config=builder_config or None, fields=("emg", "channel_mask"))
    rows = np.unique(np.linspace(0, len(shards) - 1, args.windows).round().astype(np.int64))
    batch = shards.read_batch(rows)
    emg, channel_mask = batch["emg"].astype(np.float32), batch["channel_mask"].astype(bool)
    models = {}
    for path in args.checkpoints:
        models[path] = load_model_checkpoint(checkpoint_directory(path))
    first = next(iter(models.values())).config if models else None
    for spec in args.random:
        normalization, _, rope = spec.partition(":")
        config = first.replace(normalization=normalization, rope=rope or first.rope)
        models[f"random ({spec})"] = build_model(config, seed=0)
    for label, model in models.items():
        row = {"encoder": label, "normalization": model.config.normalization, "rope": model.config.rope,
               **measure(model, emg, channel_mask)}  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
