"""The probe-start head is trained in the probe's feature coordinates (finetune.HeadCoordinates).

Why (docs/evaluate.md, "The first-epoch dip, measured"): pooled encoder features sit far from 0
and vary little across windows; a plain linear head's kernel gradient is then dominated by the
feature means, and every AdamW step moves each class logit by about lr·Σ|mean| for every window
alike. In the probe's coordinates the same step changes the logits of different windows
differently (it discriminates) and shifts them all by far less.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tinymyo_jax.train.finetune import HeadCoordinates

FEATURES, CLASSES, WINDOWS, LR = 256, 4, 64, 1e-3


def _head(kernel, bias) -> dict:
    return {"encoder": {"w": jnp.ones((3, 3))}, "head": {"classifier": {"kernel": kernel, "bias": bias}}}


def _features(rng):
    mean = rng.uniform(0.3, 1.0, FEATURES) * rng.choice([-1, 1], FEATURES)  # far from 0 (measured: median |mean| 0.61)
    std = np.full(FEATURES, 0.04)  # and little variation across windows (median std 0.038)
    return mean, std, mean + std * rng.standard_normal((WINDOWS, FEATURES))


def _logits(params, f):
    head = params["head"]["classifier"]
    return f @ head["kernel"] + head["bias"]


def test_the_probe_coordinates_fold_back_into_the_same_linear_head():
    rng = np.random.default_rng(0)
    mean, std, f = _features(rng)
    params = _head(jnp.asarray(rng.normal(size=(FEATURES, CLASSES)) / std[:, None], jnp.float32),
                   jnp.asarray(rng.normal(size=CLASSES), jnp.float32))  # fmt: skip
    for scale in (std, np.ones(FEATURES)):  # "standardized", "centered"
        coordinates = HeadCoordinates(mean, scale)
        trained = coordinates.from_model(params)
        head = trained["head"]["classifier"]
        # in training coordinates the head reads (f - mean) / scale
        np.testing.assert_allclose(((f - mean) / scale) @ head["kernel"] + head["bias"], _logits(params, f), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(_logits(coordinates.to_model(trained), f), _logits(params, f), rtol=1e-4, atol=1e-3)
        assert trained["encoder"] is params["encoder"]  # only the head is re-expressed


@pytest.mark.parametrize("scale", ["standardized", "centered"])
def test_one_adamw_step_in_probe_coordinates_does_not_shift_every_window_alike(scale):
    rng = np.random.default_rng(1)
    mean, std, f = _features(rng)
    labels = rng.integers(0, CLASSES, WINDOWS)
    targets = optax.smooth_labels(jax.nn.one_hot(labels, CLASSES), 0.1)
    params = _head(jnp.asarray(rng.normal(size=(FEATURES, CLASSES)) * 0.05 / std[:, None], jnp.float32),
                   jnp.zeros(CLASSES, jnp.float32))  # fmt: skip
    f = jnp.asarray(f, jnp.float32)

    def change_after_one_step(to_model, start):
        loss = lambda p: optax.softmax_cross_entropy(_logits(to_model(p), f), targets).mean()  # noqa: E731
        optimizer = optax.adamw(LR, weight_decay=0.0)
        updates, _ = optimizer.update(jax.grad(loss)(start), optimizer.init(start), start)
        return np.asarray(_logits(to_model(optax.apply_updates(start, updates)), f) - _logits(to_model(start), f))

    plain = change_after_one_step(lambda p: p, params)
    coordinates = HeadCoordinates(mean, std if scale == "standardized" else np.ones(FEATURES))
    reparametrised = change_after_one_step(coordinates.to_model, coordinates.from_model(params))
    common = lambda change: np.abs(change.mean(axis=0)).max()  # noqa: E731  the same offset for every window
    # the plain head moves every window's logits by ~lr·Σ|mean| (each kernel entry moves by lr)
    assert common(plain) > 0.5 * LR * np.abs(mean).sum()
    assert common(reparametrised) < 0.2 * common(plain)
    # and still changes the logits of different windows differently: it learns
    assert np.std(reparametrised, axis=0).max() > 0.1 * np.std(plain, axis=0).max()
