"""benchmarks/spatial_oracle.py: its predictors are the linear predictors they claim to be."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "spatial_oracle.py"
_spec = importlib.util.spec_from_file_location("spatial_oracle_benchmark", _PATH)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def _two_sources(windows: int, seed: int) -> np.ndarray:
    """(N, 4, 40): four electrodes mixing two independent sources; channel 3 = 2·ch0 − ch1."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((windows, 2, 40))
    ch0, ch1 = s[:, 0], s[:, 1]
    return np.stack([ch0, ch1, ch0 + ch1, 2 * ch0 - ch1], axis=1)


def test_conditional_gaussian_recovers_a_masked_electrode_that_is_a_mix_of_visible_ones():
    train, held = _two_sources(200, 0), _two_sources(3, 1)
    flat = train.transpose(0, 2, 1).reshape(-1, 4)
    covariance = flat.T @ flat / len(flat)
    masked = np.zeros((3, 4, 2), bool)
    masked[:, 3, 0] = True  # the last electrode's first patch
    masked[:, 2, 1] = True
    prediction = oracle.conditional_gaussian(held, masked, covariance, patch=20)
    np.testing.assert_allclose(prediction, held, atol=1e-4)  # two visible sources determine the rest
    mean_of_others = held[:, :3, :20].mean(axis=1)
    assert np.abs(mean_of_others - held[:, 3, :20]).max() > 0.5  # where the plain channel mean is wrong


def test_conditional_gaussian_falls_back_to_zero_when_nothing_is_visible():
    held = _two_sources(1, 2)
    masked = np.ones((1, 4, 2), bool)
    prediction = oracle.conditional_gaussian(held, masked, np.eye(4), patch=20)
    assert np.all(prediction == 0.0)


def test_masked_loss_is_the_trainers_smooth_l1_over_masked_samples_only():
    x = np.zeros((1, 1, 4))
    prediction = np.array([[[0.5, 3.0, 100.0, 0.0]]])
    sample_mask = np.array([[[True, True, False, False]]])
    # 0.5·0.5² and 3 − 0.5; the unmasked error of 100 does not count
    assert oracle.masked_loss(prediction, x, sample_mask) == (0.125 + 2.5) / 2


def test_all_other_channels_is_exact_when_each_electrode_is_a_mix_of_the_others():
    train, held = _two_sources(50, 3), _two_sources(2, 4)
    np.testing.assert_allclose(oracle.all_other_channels(train, held), held, atol=1e-8)
