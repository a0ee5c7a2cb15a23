"""The pure functions around the jit-compiled train step.

State is a plain pytree {"params", "opt_state", "step"}; the model is rebuilt inside the step
from its graphdef (`nnx.merge`), so the step is a pure function of (state, batch) that jit can
shard, donate and compile ahead of time (train/loop.py does).

`make_train_step` is the one update step of the codebase: it takes the objective as a gradient
function (params, batch, step) -> (gradients, metrics). Pretraining supplies masked
reconstruction (`reconstruction_gradients`, below); fine-tuning supplies classification or
regression (`train/finetune.supervised_gradients`).

Randomness: the mask key and the dropout key are `fold_in(key(seed), step)`, split in two, so a
step's masks and dropout depend only on the seed and the global step: resumed runs, and runs on
other device or process counts, draw the same masks. Dropout masks are keyed per sample by its
index in the global batch (not by micro-batch), so micro-batch sizes change nothing either.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.dropout import DropoutStream
from tinymyo_jax.models.matmul import set_matmul_dtype
from tinymyo_jax.models.normalization import normalize
from tinymyo_jax.models.objective import (
    combine_loss_terms,
    patches_to_signal,
    reconstruction_loss_terms,
    reconstruction_target,
    sample_patch_mask,
    token_mask_to_sample_mask,
)
from tinymyo_jax.train.config import micro_batch_count

TrainState = dict[str, Any]
Batch = dict[str, jax.Array]
# (params, global batch, step) -> (gradients shaped like params, metrics of the step)
GradientFn = Callable[[Any, Batch, jax.Array], tuple[Any, dict[str, jax.Array]]]


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
    pattern = config.masking.get("pattern", "random")  # configs saved before the field: random patches
    token_mask = sample_patch_mask(mask_key, b, c, patches, config.masking.ratio, channel_mask, pattern)
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


def make_gradient_fn(
    graphdef: nnx.GraphDef,
    model_config: ModelConfig,
    config: ml_collections.ConfigDict,
    micro_batch_sharding=None,
) -> Callable[[Any, Batch, jax.Array], tuple[Any, dict[str, jax.Array]]]:
    """The pure function (params, batch, step) -> (gradients, loss terms) of one global batch.

    With `micro_batch_size` > 0 the batch runs as `global / micro` micro-batches in a scan and
    the gradients are summed. Every micro-batch normalises its loss sums by the *global* element
    counts and draws its dropout masks keyed by each sample's global batch index (a
    `DropoutStream`), so the sum is the whole batch's gradient whatever the micro-batch size or
    device count (tests/train/test_accumulation.py checks it to 1e-5).
    """
    compute_dtype = jnp.dtype(config.compute_dtype)
    visible_weight = config.loss.visible_weight
    micro_batches = micro_batch_count(config)
    xla_cpu_tricks = bool(config.get("xla_cpu_tricks", False))
    loss_target = config.loss.get("target", "signal")  # configs saved before the field: the signal
    matmul_dtype = config.get("matmul_dtype", "float32")  # configs saved before the field: float32

    def gradients(params, batch: Batch, step: jax.Array):
        mask_key, dropout_key = step_keys(config.seed, step)
        x, channel_mask, token_mask, sample_mask = prepare_batch(batch, mask_key, model_config, config)
        target = reconstruction_target(x, loss_target, model_config.patch_size)
        num_channels = x.shape[1]
        # Global element counts: every micro-batch's sums are normalised by them, so the
        # accumulated gradient is exactly the gradient of the whole batch's loss.
        totals = reconstruction_loss_terms(jnp.zeros_like(x), x, sample_mask, channel_mask)
        counts = {"masked_count": totals["masked_count"], "visible_count": totals["visible_count"]}

        def loss_fn(params, inputs):
            xb, tb, tokens, samples, channels, rows = inputs
            model = nnx.merge(graphdef, jax.tree.map(lambda p: p.astype(compute_dtype), params))
            if matmul_dtype != "float32":
                set_matmul_dtype(model, matmul_dtype)
            patches = model(xb.astype(compute_dtype), token_mask=tokens, channel_mask=channels,
                            rngs=DropoutStream(dropout_key, rows), materialise_cotangents=xla_cpu_tricks)
            terms = reconstruction_loss_terms(patches_to_signal(patches, num_channels), tb, samples, channels)
            loss = combine_loss_terms({**terms, **counts}, visible_weight)["loss"]
            return loss, terms

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        inputs = (x, target, token_mask, sample_mask, channel_mask, jnp.arange(x.shape[0], dtype=jnp.uint32))
        if micro_batches == 1:
            (_, terms), grads = grad_fn(params, inputs)
            return grads, terms
        chunks = _split_micro(inputs, micro_batches, micro_batch_sharding)

        def accumulate(carry, chunk_inputs):
            grads_sum, terms_sum = carry
            (_, terms), grads = grad_fn(params, chunk_inputs)
            return (jax.tree.map(jnp.add, grads_sum, grads), jax.tree.map(jnp.add, terms_sum, terms)), None

        zero_grads = jax.tree.map(jnp.zeros_like, params)
        zero_terms = {k: jnp.zeros((), jnp.float32) for k in totals}
        (grads, terms), _ = jax.lax.scan(accumulate, (zero_grads, zero_terms), chunks)
        return grads, terms

    return gradients


def reconstruction_gradients(
    graphdef: nnx.GraphDef,
    model_config: ModelConfig,
    config: ml_collections.ConfigDict,
    micro_batch_sharding=None,
) -> GradientFn:
    """Pretraining's objective for `make_train_step`: `make_gradient_fn`'s gradients, with the
    loss terms combined into the logged metrics (loss, masked_loss, visible_loss)."""
    gradients = make_gradient_fn(graphdef, model_config, config, micro_batch_sharding)
    visible_weight = config.loss.visible_weight

    def reconstruction(params, batch: Batch, step: jax.Array):
        grads, terms = gradients(params, batch, step)
        return grads, combine_loss_terms(terms, visible_weight)

    return reconstruction


def make_train_step(
    gradients: GradientFn,
    optimizer: optax.GradientTransformation,
    schedule: optax.Schedule,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """The un-jitted train step of any objective: its gradients, then the optimizer's update.

    Metrics: the objective's own, plus the gradients' global norm and the step's learning rate.
    """

    def train_step(state: TrainState, batch: Batch):
        grads, metrics = gradients(state["params"], batch, state["step"])
        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = dict(metrics)
        metrics["grad_norm"] = optax.tree.norm(grads)
        metrics["lr"] = schedule(state["step"])
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, metrics

    return train_step


def make_eval_step(graphdef: nnx.GraphDef, model_config: ModelConfig, config: ml_collections.ConfigDict):
    """Loss terms of one validation batch, masked with a fixed key so evaluations compare.

    Returns (terms, reconstruction, sample mask, target): the target (the input, or its
    transform under loss.target, objective.reconstruction_target) is what the no-model baselines
    are scored against."""
    loss_target = config.loss.get("target", "signal")

    def eval_step(params, batch: Batch, batch_index: jax.Array):
        mask_key = jax.random.fold_in(jax.random.key(config.seed + 1), batch_index)
        x, channel_mask, token_mask, sample_mask = prepare_batch(batch, mask_key, model_config, config)
        model = nnx.merge(graphdef, params)
        patches = model(x, token_mask=token_mask, channel_mask=channel_mask)
        reconstruction = patches_to_signal(patches, x.shape[1])
        target = reconstruction_target(x, loss_target, model_config.patch_size)
        return reconstruction_loss_terms(reconstruction, target, sample_mask, channel_mask), reconstruction, sample_mask, target

    return eval_step
