"""Does a patch's level survive into the tokens? A linear probe of each patch's log-RMS.

    python benchmarks/token_level.py --data_dir runs/demo/tfds --dataset ninapro_db6/w1000 \
        --checkpoints runs/smoke/checkpoints ... [--random]

For each encoder, on validation windows normalised as the encoder was trained (its stored
`normalization`): target = log RMS of each real-channel patch of the normalised input; features
taken (a) after the patch embedding (before any LayerNorm), (b) after the first block's
LayerNorm (what the first attention reads), (c) the encoder's output (after the final
LayerNorm). Ridge regression on the tokens of half of the windows, R² on the other half.
R² near 1 at (a) and low at (b)/(c) means LayerNorm erases the level.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def ridge_r2(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, l2: float = 1e-3) -> float:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-8
    a, b = (train_x - mean) / std, (test_x - mean) / std
    a1, b1 = np.c_[a, np.ones(len(a))], np.c_[b, np.ones(len(b))]
    w = np.linalg.solve(a1.T @ a1 + l2 * len(a1) * np.eye(a1.shape[1]), a1.T @ train_y)
    residual = test_y - b1 @ w
    return float(1.0 - residual.var() / test_y.var())


def token_features(model, x: jax.Array, channel_mask: jax.Array) -> dict[str, np.ndarray]:
    encoder = model.encoder
    embedded = encoder.patch_embed(x)
    first_norm = encoder.blocks[0].norm1(embedded)
    output = model.encode(x, channel_mask=channel_mask)
    return {"embedding": np.asarray(embedded), "first_layernorm": np.asarray(first_norm), "encoder_output": np.asarray(output)}


def measure(model, emg: np.ndarray, channel_mask: np.ndarray) -> dict[str, float]:
    from tinymyo_jax.models.normalization import normalize

    patch = model.config.patch_size
    x = normalize(jnp.asarray(emg, jnp.float32), model.config.normalization, jnp.asarray(channel_mask))
    b, c, t = x.shape
    level = np.log(np.sqrt((np.asarray(x).reshape(b, c * (t // patch), patch) ** 2).mean(-1)) + 1e-6)
    real = np.repeat(channel_mask, t // patch, axis=1)
    feats = token_features(model, x, jnp.asarray(channel_mask))
    half = b // 2
    out = {"level_std": float(level[real].std())}
    for name, f in feats.items():
        train = (slice(0, half),)
        tr_x, tr_y = f[:half][real[:half]], level[:half][real[:half]]
        te_x, te_y = f[half:][real[half:]], level[half:][real[half:]]
        out[f"r2_{name}"] = ridge_r2(tr_x, tr_y, te_x, te_y)
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
