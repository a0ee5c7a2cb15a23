"""The pure functions around the jit-compiled pretraining step.

State is a plain pytree {"params", "opt_state", "step"}; the model is rebuilt inside the step
from its graphdef (`nnx.merge`), so the step is a pure function of (state, batch) that jit can
shard, donate and compile ahead of time.

Randomness: the mask key and the dropout key are `fold_in(key(seed), step)`, split in two, so a
step's masks and dropout depend only on the seed and the global step: resumed runs, and runs on
other device or process counts, draw the same masks.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.normalization import normalize
from tinymyo_jax.models.objective import (
    combine_loss_terms,
    patches_to_signal,
    reconstruction_loss_terms,
    sample_patch_mask,
    token_mask_to_sample_mask,
)

TrainState = dict[str, Any]
Batch = dict[str, jax.Array]


def init_state(params, optimizer: optax.GradientTransformation) -> TrainState:
    return {"params": params, "opt_state": optimizer.init(params), "step": jnp.zeros((), jnp.int32)}


def step_keys(seed: int, step: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mask key, dropout key) of a global step."""
    mask_key, dropout_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), step))
    return mask_key, dropout_key


def prepare_batch(batch: Batch, mask_key: jax.Array, model_config: ModelConfig, config: ml_collections.ConfigDict):
    """Normalised input, channel mask (or None), token mask and sample mask of a global batch.

    The normalisation is the model's (`model_config.normalization`, from config.data.normalization).
    """
    channel_mask = batch["channel_mask"] if config.data.use_channel_mask else None
    x = normalize(batch["emg"].astype(jnp.float32), model_config.normalization, channel_mask)
    b, c, t = x.shape
    patches = t // model_config.patch_size
    token_mask = sample_patch_mask(mask_key, b, c, patches, config.masking.ratio, channel_mask)
    sample_mask = token_mask_to_sample_mask(token_mask, c, model_config.patch_size)
    return x, channel_mask, token_mask, sample_mask


def _split_micro(tree, micro_batches: int, sharding):
    """(B, ...) -> (micro_batches, B / micro_batches, ...) with row r in micro-batch r % k.

    Interleaving keeps every micro-batch spread over all devices (device d holds a contiguous
    block of rows, which contains every residue class).
    """

    def split(a):
        if a is None:
            return None
        a = a.reshape(a.shape[0] // micro_batches, micro_batches, *a.shape[1:]).swapaxes(0, 1)
        return a if sharding is None else jax.lax.with_sharding_constraint(a, sharding)

    return jax.tree.map(split, tree, is_leaf=lambda x: x is None)


def make_train_step(
    graphdef: nnx.GraphDef,
    model_config: ModelConfig,
    optimizer: optax.GradientTransformation,
    schedule: optax.Schedule,
    config: ml_collections.ConfigDict,
    micro_batch_sharding=None,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """The un-jitted train step: forward, loss, backward (with accumulation), AdamW update."""
    compute_dtype = jnp.dtype(config.compute_dtype)
    visible_weight = config.loss.visible_weight
    micro = config.micro_batch_size or config.global_batch_size
    if config.global_batch_size % micro:
        raise ValueError(f"global_batch_size {config.global_batch_size} is not a multiple of micro_batch_size {micro}")
    micro_batches = config.global_batch_size // micro

    def train_step(state: TrainState, batch: Batch):
        mask_key, dropout_key = step_keys(config.seed, state["step"])
        x, channel_mask, token_mask, sample_mask = prepare_batch(batch, mask_key, model_config, config)
        num_channels = x.shape[1]
        # Global element counts: every micro-batch's sums are normalised by them, so the
        # accumulated gradient is exactly the gradient of the whole batch's loss.
        totals = reconstruction_loss_terms(jnp.zeros_like(x), x, sample_mask, channel_mask)
        masked_total = jnp.maximum(totals["masked_count"], 1.0)
        visible_total = jnp.maximum(totals["visible_count"], 1.0)

        def loss_fn(params, inputs, key):
            xb, tokens, samples, channels = inputs
            model = nnx.merge(graphdef, jax.tree.map(lambda p: p.astype(compute_dtype), params))
            patches = model(xb.astype(compute_dtype), token_mask=tokens, channel_mask=channels, rngs=nnx.Rngs(dropout=key))
            terms = reconstruction_loss_terms(patches_to_signal(patches, num_channels), xb, samples, channels)
            loss = terms["masked_sum"] / masked_total + visible_weight * terms["visible_sum"] / visible_total
            return loss, terms

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        inputs = (x, token_mask, sample_mask, channel_mask)
        if micro_batches == 1:
            (_, terms), grads = grad_fn(state["params"], inputs, dropout_key)
        else:
            chunks = _split_micro(inputs, micro_batches, micro_batch_sharding)

            def accumulate(carry, chunk):
                grads_sum, terms_sum = carry
                index, chunk_inputs = chunk
                (_, terms), grads = grad_fn(state["params"], chunk_inputs, jax.random.fold_in(dropout_key, index))
                return (jax.tree.map(jnp.add, grads_sum, grads), jax.tree.map(jnp.add, terms_sum, terms)), None

            zero_grads = jax.tree.map(jnp.zeros_like, state["params"])
            zero_terms = {k: jnp.zeros((), jnp.float32) for k in totals}
            (grads, terms), _ = jax.lax.scan(accumulate, (zero_grads, zero_terms), (jnp.arange(micro_batches), chunks))

        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = combine_loss_terms(terms, visible_weight)
        metrics["grad_norm"] = optax.tree.norm(grads)
        metrics["lr"] = schedule(state["step"])
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, metrics

    return train_step


def make_eval_step(graphdef: nnx.GraphDef, model_config: ModelConfig, config: ml_collections.ConfigDict):
    """Loss terms of one validation batch, masked with a fixed key so evaluations compare."""

    def eval_step(params, batch: Batch, batch_index: jax.Array):
        mask_key = jax.random.fold_in(jax.random.key(config.seed + 1), batch_index)
        x, channel_mask, token_mask, sample_mask = prepare_batch(batch, mask_key, model_config, config)
        model = nnx.merge(graphdef, params)
        patches = model(x, token_mask=token_mask, channel_mask=channel_mask)
        reconstruction = patches_to_signal(patches, x.shape[1])
        return reconstruction_loss_terms(reconstruction, x, sample_mask, channel_mask), reconstruction, sample_mask, x

    return eval_step
