"""AdamW with warm-up + cosine decay and global-norm clipping: the paper's recipe, and the one
optimizer builder (fine-tuning adds its layer-wise lr scales through `make_optimizer`).

The reference's config asks for betas (0.9, 0.98) but builds the optimiser without them; ours
uses them. Weight decay applies to matrices only (kernels), not to biases, LayerNorm gains or
the mask token, the usual choice for Transformers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """Linear warm-up from 0 to lr, then cosine to end_lr at total_steps."""
    opt = config.optimizer
    warmup = min(opt.warmup_steps, max(config.total_steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=opt.lr, warmup_steps=warmup,
        decay_steps=max(config.total_steps, warmup + 1), end_value=opt.end_lr,
    )


def decay_mask(params) -> object:
    """True for parameters that get weight decay: 2-D and larger (linear and conv kernels)."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def scale_by_tree(scales) -> optax.GradientTransformation:
    """Multiply each update by its fixed scale (a pytree of floats shaped like the params)."""

    def update(updates, state, params=None):
        return jax.tree.map(lambda u, s: u * jnp.asarray(s, u.dtype), updates, scales), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(
    config: ml_collections.ConfigDict,
    schedule: optax.Schedule | None = None,
    *,
    layer_scales=None,
) -> optax.GradientTransformation:
    """[clip by global norm] -> AdamW(schedule, decay on matrices only) [-> layer-wise scales].

    The one optimizer of pretraining and fine-tuning, from `config.optimizer` (b1, b2,
    weight_decay, clip_norm; clip_norm 0 = no clipping). `schedule` defaults to pretraining's
    `learning_rate_schedule(config)`. `layer_scales` (a pytree of floats shaped like the params,
    fine-tuning's layer-wise lr decay) multiply AdamW's whole update, lr · (adam + wd · p), so
    each layer gets lr·scale and its weight decay with it, as a per-layer learning rate does in
    PyTorch's param groups.
    """
    opt = config.optimizer
    parts = [optax.clip_by_global_norm(opt.clip_norm)] if opt.clip_norm > 0 else []
    parts.append(optax.adamw(
        learning_rate_schedule(config) if schedule is None else schedule, b1=opt.b1, b2=opt.b2,
        weight_decay=opt.weight_decay, mask=decay_mask,
    ))  # fmt: skip
    if layer_scales is not None:
        parts.append(scale_by_tree(layer_scales))
    return optax.chain(*parts)
