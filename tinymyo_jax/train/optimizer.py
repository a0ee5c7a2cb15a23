"""AdamW with warm-up + cosine decay and global-norm clipping: the paper's recipe.

The reference's config asks for betas (0.9, 0.98) but builds the optimiser without them; ours
uses them. Weight decay applies to matrices only (kernels), not to biases, LayerNorm gains or
the mask token, the usual choice for Transformers.
"""

from __future__ import annotations

import jax
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


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    opt = config.optimizer
    return optax.chain(
        optax.clip_by_global_norm(opt.clip_norm),
        optax.adamw(
            learning_rate_schedule(config), b1=opt.b1, b2=opt.b2,
            weight_decay=opt.weight_decay, mask=decay_mask,
        ),
    )
