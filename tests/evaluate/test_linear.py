"""The linear read-outs: ridge against the normal equations, L-BFGS at the optimum, and the L2
strength chosen on the validation split."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.data import DatasetInfo
from tinymyo_jax.evaluate.linear import Standardizer, choose, fit_logistic, fit_ridge, standardize_within
from tinymyo_jax.evaluate.probe import fit_readout

GRID = [1e-3, 1e-1, 10.0]


def _info(task: str = "classification", num_classes: int = 3) -> DatasetInfo:
    return DatasetInfo(name="toy", directory=Path("."), task=task, window=4, channels=1, num_classes=num_classes,
                       class_names=(), target_names=("a", "b"), fingerprint="0", split_sizes={}, fs=None)


def test_ridge_matches_the_normal_equations():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    weights, intercepts = fit_ridge(x, y, [0.0, 0.5])
    xc, yc = x - x.mean(0), y - y.mean(0)
    for l2, w, b in zip([0.0, 0.5], weights, intercepts):
        expected = np.linalg.solve(xc.T @ xc / 40 + l2 * np.eye(6), xc.T @ yc / 40)
        np.testing.assert_allclose(w, expected, atol=1e-9)
        np.testing.assert_allclose(b, y.mean(0) - x.mean(0) @ expected, atol=1e-9)


def test_logistic_regression_reaches_the_regularised_optimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    y = np.argmax(x[:, :3] + 0.5 * rng.normal(size=(60, 3)), axis=1)
    w, b, iterations = fit_logistic(x, y, 3, GRID, max_iterations=200, tolerance=1e-6)
    assert w.shape == (3, 5, 3) and b.shape == (3, 3) and (iterations < 200).all()
    onehot = jax.nn.one_hot(y, 3)
    for i, l2 in enumerate(GRID):
        def objective(p):
            return optax.softmax_cross_entropy(x @ p[0] + p[1], onehot).mean() + 0.5 * l2 * jnp.sum(p[0] ** 2)

        grad_w, grad_b = jax.grad(objective)((jnp.asarray(w[i]), jnp.asarray(b[i])))
        assert float(jnp.abs(grad_w).max()) < 1e-4 and float(jnp.abs(grad_b).max()) < 1e-4
    # stronger L2, smaller weights
    norms = [np.linalg.norm(w[i]) for i in range(3)]
    assert norms[0] > norms[1] > norms[2]


def test_the_l2_strength_is_the_one_that_wins_on_validation():
    rng = np.random.default_rng(2)
    train_x = rng.normal(size=(30, 8)).astype(np.float32)
    train_y = rng.integers(0, 3, 30)
    test_x = rng.normal(size=(50, 8)).astype(np.float32)
    config = probe_config("epn612", "tiny")
    config.probe.l2_grid = GRID
    # the read-out standardises with the training statistics; fit the candidates the same way
    standardize = Standardizer.fit(train_x)
    w, b, _ = fit_logistic(standardize(train_x), train_y, 3, GRID, max_iterations=config.probe.max_iterations,
                           tolerance=config.probe.tolerance)
    predictions = [np.argmax(standardize(test_x) @ w[i] + b[i], axis=1) for i in range(3)]
    assert len({tuple(p) for p in predictions}) == 3  # the candidates disagree on these windows
    for target in range(3):  # validation labels = candidate `target`'s predictions: it must win
        data = {
            "train": {"features": train_x[:, None], "label": train_y, "subject": np.zeros(30, int)},
            "validation": {"features": test_x[:, None], "label": predictions[target], "subject": np.zeros(50, int)},
            "test": {"features": test_x[:, None], "label": predictions[target], "subject": np.zeros(50, int)},
        }
        record = fit_readout(data, _info(), config)
        assert record["selection"]["chosen"] == GRID[target]
        assert record["selection"]["validation_scores"][target] == 1.0
        assert record["metrics"]["accuracy"] == 1.0


def test_ties_on_validation_go_to_the_stronger_l2():
    assert choose([0.5, 0.9, 0.9, 0.1], [1e-3, 1e-2, 1e-1, 1.0]) == 2
    assert choose([0.9, 0.9], [10.0, 0.1]) == 0


def test_regression_readout_predicts_segments_and_reports_per_sample_metrics():
    rng = np.random.default_rng(3)
    n, segments, f = 20, 2, 3
    features = rng.normal(size=(n, segments, f))
    coefficients = rng.normal(size=(f, 2))
    targets = features @ coefficients  # exactly linear: ridge with tiny L2 recovers it
    full = np.repeat(targets, 2, axis=1)  # (N, W=4, K): each segment constant over its 2 samples
    data = {key: {"features": features, "target": targets, "subject": np.arange(n), "target_full": full}
            for key in ("train", "validation", "test")}
    config = probe_config("ninapro_db8", "tiny")
    config.probe.l2_grid = [1e-8, 10.0]
    record = fit_readout(data, _info("regression", 0), config)
    assert record["selection"]["chosen"] == 1e-8
    assert record["_predictions"].shape == (n, 4, 2)
    # linear interpolation between segment centres: exact at the centres' neighbours only, so
    # compare the per-segment means of the prediction with the segment targets
    np.testing.assert_allclose(record["_predictions"].reshape(n, 2, 2, 2).mean(axis=2), targets, atol=0.35 * np.abs(targets).max())
    assert set(record["metrics"]) >= {"mae", "rmse", "r2", "mae_per_target", "per_subject_mae"}


def test_standardize_within_centres_and_scales_each_group_on_its_own_rows():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(5, 2, (40, 3)), rng.normal(-1, 0.5, (60, 3))])
    groups = np.array(["a"] * 40 + ["b"] * 60, dtype=object)
    out = standardize_within(features, groups)
    for g in ("a", "b"):
        np.testing.assert_allclose(out[groups == g].mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(out[groups == g].std(0), 1, atol=1e-5)
    # the whole array standardised at once would leave the two groups apart
    assert abs(out[groups == "a"].mean() - out[groups == "b"].mean()) < 1e-5
