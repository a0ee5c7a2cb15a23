"""A one-hidden-layer read-out on fixed features: the transfer benchmark's non-linear probe for
a new user, where the training windows come from many people (docs/transfer.md).

A linear read-out has to separate the gestures of every training participant with one
hyperplane per class; people differ in where on the arm each gesture is loud, and one hidden
layer can give each such region its own units. The encoder stays frozen: what is measured is
still what its features hold.

`fit_mlp` trains once for the largest epoch count of its grid and keeps a snapshot at every
count of the grid, so the grid costs one training run (the benchmark chooses the count on its
tuning participant, as it chooses the linear probe's L2).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tinymyo_jax.evaluate.linear import Standardizer


@dataclasses.dataclass(frozen=True)
class MLPSettings:
    hidden: int = 256
    dropout: float = 0.3
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    batch_size: int = 128


@dataclasses.dataclass(frozen=True)
class MLPProbe:
    """A trained read-out: standardise with the training features' statistics, then the MLP."""

    standardize: Standardizer
    params: dict

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(_forward(self.params, jnp.asarray(self.standardize(features)), None, 0.0))

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(features), axis=1)


def _forward(params: dict, x: jax.Array, key: jax.Array | None, dropout: float) -> jax.Array:
    hidden = jax.nn.gelu(x @ params["w1"] + params["b1"], approximate=False)
    if key is not None and dropout > 0:
        hidden = hidden * jax.random.bernoulli(key, 1.0 - dropout, hidden.shape) / (1.0 - dropout)
    return hidden @ params["w2"] + params["b2"]


def _init(key: jax.Array, features: int, hidden: int, classes: int) -> dict:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (features, hidden)) / np.sqrt(features), "b1": jnp.zeros((hidden,)),
        "w2": jax.random.normal(k2, (hidden, classes)) / np.sqrt(hidden), "b2": jnp.zeros((classes,)),
    }  # fmt: skip


def _optimizer(settings: MLPSettings) -> optax.GradientTransformation:
    return optax.adamw(settings.learning_rate, weight_decay=settings.weight_decay)


@functools.partial(jax.jit, static_argnames=("settings",))
def _epoch(params, state, x, y, batches, key, *, settings: MLPSettings):
    """One pass over `batches` (steps, batch) of row indices."""
    optimizer = _optimizer(settings)

    def step(carry, rows):
        params, state, key = carry
        key, sub = jax.random.split(key)

        def loss(p):
            logits = _forward(p, x[rows], sub, settings.dropout)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y[rows]).mean()

        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state, key), None

    (params, state, _), _ = jax.lax.scan(step, (params, state, key), batches)
    return params, state


def fit_mlp(
    features: np.ndarray, labels: np.ndarray, num_classes: int, epoch_grid: Sequence[int],
    *, settings: MLPSettings = MLPSettings(), seed: int = 0,
) -> list[MLPProbe]:
    """One MLPProbe per epoch count of `epoch_grid` (in its order), all from one training run:
    AdamW on shuffled mini-batches (the last partial batch of each epoch is left for the next
    shuffle), dropout on the hidden layer, standardised features."""
    grid = sorted({int(e) for e in epoch_grid})
    if not grid or grid[0] < 1:
        raise ValueError(f"epoch_grid must hold positive epoch counts, got {list(epoch_grid)}")
    standardize = Standardizer.fit(features)
    x = jnp.asarray(standardize(features))
    y = jnp.asarray(labels, jnp.int32)
    n = x.shape[0]
    batch = min(settings.batch_size, n)
    key = jax.random.PRNGKey(seed)
    key, init_key = jax.random.split(key)
    params = _init(init_key, x.shape[1], settings.hidden, num_classes)
    state = _optimizer(settings).init(params)
    order = np.random.default_rng(seed)
    snapshots: dict[int, MLPProbe] = {}
    for epoch in range(1, grid[-1] + 1):
        rows = order.permutation(n)[: n // batch * batch].reshape(-1, batch)
        key, sub = jax.random.split(key)
        params, state = _epoch(params, state, x, y, jnp.asarray(rows), sub, settings=settings)
        if epoch in grid:
            snapshots[epoch] = MLPProbe(standardize, jax.tree.map(np.asarray, params))
    return [snapshots[int(e)] for e in epoch_grid]
