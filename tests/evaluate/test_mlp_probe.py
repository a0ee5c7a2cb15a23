"""The non-linear read-out of the transfer benchmark (evaluate/mlp_probe.py)."""

import numpy as np
import pytest

from tinymyo_jax.evaluate.linear import Standardizer, fit_logistic
from tinymyo_jax.evaluate.mlp_probe import MLPSettings, fit_mlp


def rings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes on concentric rings in 2-D plus 6 noise dimensions: no hyperplane separates them."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(label == 1, 2.0, 1.0) + rng.normal(0, 0.1, n)
    x = np.concatenate([np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), rng.normal(0, 1, (n, 6))], 1)
    return x.astype(np.float32), label


def test_the_mlp_separates_what_no_linear_read_out_can():
    x, y = rings(1200, 0)
    x_test, y_test = rings(600, 1)
    probe = fit_mlp(x, y, 2, [60], settings=MLPSettings(hidden=64, dropout=0.0, learning_rate=3e-3))[0]
    standardize = Standardizer.fit(x)
    w, b, _ = fit_logistic(standardize(x), y, 2, [1e-3])
    linear = np.mean(np.argmax(standardize(x_test) @ w[0] + b[0], axis=1) == y_test)
    mlp = np.mean(probe.predict(x_test) == y_test)
    assert linear < 0.7  # the task needs the hidden layer
    assert mlp > 0.95


def test_the_epoch_grid_is_one_run_with_a_snapshot_per_count_in_the_grids_order():
    x, y = rings(600, 2)
    x_test, y_test = rings(300, 3)
    settings = MLPSettings(hidden=64, dropout=0.0, learning_rate=3e-3)
    late, early = fit_mlp(x, y, 2, [40, 1], settings=settings)
    assert np.mean(late.predict(x_test) == y_test) > np.mean(early.predict(x_test) == y_test) + 0.2
    # the snapshot at 40 epochs is the model a 40-epoch run alone ends with (same seed)
    alone = fit_mlp(x, y, 2, [40], settings=settings)[0]
    np.testing.assert_allclose(alone.logits(x_test), late.logits(x_test), rtol=1e-5, atol=1e-5)


def test_a_grid_without_positive_epoch_counts_is_refused():
    x, y = rings(50, 4)
    with pytest.raises(ValueError, match="positive epoch counts"):
        fit_mlp(x, y, 2, [0])
