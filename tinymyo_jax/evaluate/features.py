"""Frozen-encoder features: extracted once per (encoder, data, feature settings), cached.

Per window: input normalisation -> encoder -> channel fusion (`heads.fuse_channels`, concat or
mean) -> temporal pooling of the P time patches into S equal segments (mean, max or both
concatenated). Classification uses S = 1 (one vector per window); regression one vector per
segment. Output: float32 (N, S, F).

Extraction runs in jit-compiled calls of a fixed batch size (the last batch is padded, so one
compilation serves a split), each call encoding `data.encode_chunk` windows at a time inside
(`models.tinymyo.map_over_batch`: on CPU one window at a time is the fastest).

Cache: WORKDIR/features/<tag>-<key>.npz, key = sha256 of the encoder hash, the dataset's
fingerprint (its dataset_info.json), the split, the windows used, and every setting that changes
the values (fusion, pooling, segments, input normalisation, channels). Batch sizes are not in the
key: they change the float rounding, not what is computed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
import zipfile
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate.data import SPLIT_KEYS, Splits, segment_means
from tinymyo_jax.models.heads import fuse_channels
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.normalization import NORMALIZATIONS as MODEL_NORMALIZATIONS
from tinymyo_jax.models.normalization import canonical_normalization, normalize
from tinymyo_jax.models.tinymyo import TinyMyo, map_over_batch

log = logging.getLogger("tinymyo.evaluate")

FEATURES_VERSION = 2  # bump when the extraction changes what it computes
POOLINGS = ("mean", "max", "mean_max")
# "checkpoint": the normalisation the encoder was trained with (its ModelConfig.normalization);
# else one of models/normalization.py's modes ("minmax" = "minmax_channel").
NORMALIZATIONS = ("checkpoint", *MODEL_NORMALIZATIONS, "minmax")


def resolve_normalization(requested: str, model_config: ModelConfig) -> str:
    """The mode `config.data.input_normalization` asks for, with "checkpoint" resolved."""
    if requested == "checkpoint":
        return model_config.normalization
    try:
        return canonical_normalization(requested)
    except ValueError:
        raise UserError(f"input_normalization must be one of {NORMALIZATIONS}, got {requested!r}") from None


def normalize_input(x: jax.Array, mode: str, channel_mask: jax.Array | None = None) -> jax.Array:
    """(B, C, T) float -> the encoder's input under a resolved mode (resolve_normalization)."""
    return normalize(x, mode, channel_mask)


def pool_time(fused: jax.Array, segments: int, pooling: str) -> jax.Array:
    """(B, P, F) -> (B, S, F) (or 2F for mean_max): pooled over each of S equal runs of patches."""
    b, p, f = fused.shape
    if p % segments:
        raise UserError(f"{p} patches per window do not split into {segments} equal segments")
    parts = fused.reshape(b, segments, p // segments, f)
    if pooling == "mean":
        return parts.mean(axis=2)
    if pooling == "max":
        return parts.max(axis=2)
    if pooling == "mean_max":
        return jnp.concatenate([parts.mean(axis=2), parts.max(axis=2)], axis=-1)
    raise UserError(f"features.pooling must be one of {POOLINGS}, got {pooling!r}")


def make_feature_fn(model: TinyMyo, config: ml_collections.ConfigDict) -> Callable:
    """jit-compiled (params, emg (B, C, W) float16, channel_mask (B, C) bool) -> features (B, S, F) float32."""
    graphdef, params = nnx.split(model)
    fusion, pooling = config.features.fusion, config.features.pooling
    segments = config.features.segments
    normalization = resolve_normalization(config.data.input_normalization, model.config)
    micro = config.data.encode_chunk or None

    def features(params, emg, channel_mask):
        encoder = nnx.merge(graphdef, params)
        x = normalize_input(emg.astype(jnp.float32), normalization, channel_mask)
        channels = x.shape[1]

        def encode(inputs):
            xb, mask = inputs[:, :, :-1], inputs[:, :, -1] > 0.5  # the mask rides along as a last column
            latent = encoder.encode(xb, channel_mask=mask)  # deterministic: no dropout rngs
            return pool_time(fuse_channels(latent, channels, fusion, mask), segments, pooling)

        packed = jnp.concatenate([x, channel_mask[:, :, None].astype(x.dtype)], axis=-1)
        return map_over_batch(encode, packed, micro_batch=micro)

    return jax.jit(features), params


def encoder_features(
    model: TinyMyo, encoder_hash: str, splits: Splits, config: ml_collections.ConfigDict, workdir: storage.PathLike, tag: str
) -> dict[str, dict[str, np.ndarray]]:
    """Per split key: {"features" (N, S, F), "subject" (N,), "label" (N,) | "target" (N, S, K)
    [+ "target_full" (N, W, K) for the test split]}, from the cache when it holds them.
    The encoder is compiled once, and only if some split is not cached."""
    if config.features.fusion not in ("concat", "mean"):
        raise UserError(f"features.fusion must be concat or mean, got {config.features.fusion!r}")
    compiled: list = []

    def compute(key: str) -> dict[str, np.ndarray]:
        if not compiled:
            compiled.extend(make_feature_fn(model, config))
        return extract_split(*compiled, splits, key, config)

    out = {}
    for key in SPLIT_KEYS:
        settings = {
            "version": FEATURES_VERSION, "encoder": encoder_hash, "dataset": splits.info.fingerprint,
            "split": key, "rows": rows_digest(splits.indices[key]), "fusion": config.features.fusion,
            "pooling": config.features.pooling, "segments": config.features.segments,
            "normalization": resolve_normalization(config.data.input_normalization, model.config),
            "channels": splits.info.channels,
        }  # fmt: skip
        out[key] = cached(workdir, f"{tag}-{key}", settings, config.features.cache, lambda key=key: compute(key))
    return out


def extract_split(fn: Callable, params, splits: Splits, key: str, config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
    """The `encoder_features` record of split `key`, uncached, from a compiled `make_feature_fn`
    and the params to run it with (the pretraining probe calls it with each step's params)."""
    batch_size = config.data.batch_size
    micro = config.data.encode_chunk
    if micro and batch_size % micro:
        raise UserError(f"data.batch_size {batch_size} is not a multiple of data.encode_chunk {micro}")
    start = time.perf_counter()
    collected: dict[str, list[np.ndarray]] = {}
    for batch in splits.batches(key, batch_size):
        n = batch["emg"].shape[0]
        emg = np.zeros((batch_size, *batch["emg"].shape[1:]), batch["emg"].dtype)
        emg[:n] = batch["emg"]
        mask = np.ones((batch_size, emg.shape[1]), bool)
        mask[:n] = batch["channel_mask"]
        collected.setdefault("features", []).append(np.asarray(fn(params, emg, mask))[:n])
        collected.setdefault("subject", []).append(batch["subject"])
        if "label" in batch:
            collected.setdefault("label", []).append(batch["label"])
        else:
            collected.setdefault("target", []).append(segment_means(batch["target"], config.features.segments))
            if key == "test":
                collected.setdefault("target_full", []).append(batch["target"])
    out = {name: np.concatenate(parts) for name, parts in collected.items()}
    log.info("features of %s: %s in %.1f s", key, out["features"].shape, time.perf_counter() - start)
    return out


def cached(workdir: storage.PathLike, name: str, settings: dict, enabled: bool, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """compute() once per settings: stored as WORKDIR/features/<name>-<sha256(settings)[:16]>.npz."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = storage.path(workdir) / "features" / f"{name}-{key}.npz"
    if enabled and storage.is_file(path):
        try:
            with np.load(io.BytesIO(storage.read_bytes(path))) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # truncated or corrupted by hand
            print(f"feature cache {path} is damaged ({type(err).__name__}); computing it again", flush=True)
    arrays = compute()
    if enabled:
        npz = io.BytesIO()
        np.savez(npz, **arrays)
        storage.write_atomic(path, npz.getvalue())  # a killed run never leaves a truncated cache file
        storage.write_atomic(path.with_suffix(".json"), json.dumps(settings, indent=2, sort_keys=True))
    return arrays


def rows_digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()[:16]
