"""The synthetic EMG model: signals that behave like surface EMG, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from tinymyo_jax.data import signal
from tinymyo_jax.data.synth import emg_model

FS = 2000.0


def _welch(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    return scipy.signal.welch(x, fs=fs, nperseg=int(fs), axis=0)  # 1 Hz bins


def test_spectrum_is_inside_the_emg_band_outside_the_power_line():
    rng = np.random.default_rng(0)
    x = emg_model.synthesize_emg(rng, np.full((40_000, 2), 0.3), FS)
    freqs, power = _welch(x, FS)
    power = power.sum(axis=1)
    not_line = np.abs(freqs - 50) > 2
    total = power[not_line].sum()
    in_band = power[not_line & (freqs >= 20) & (freqs <= 450)].sum()
    assert in_band / total > 0.95
    assert power[freqs < 10].sum() / total < 0.01  # no DC drift / motion artefact
    # sEMG's spectral mass sits at ~50-150 Hz: its median frequency is there too.
    cumulative = np.cumsum(power * not_line) / total
    median_freq = freqs[np.searchsorted(cumulative, 0.5)]
    assert 60 <= median_freq <= 160


def _line_to_neighbours(x: np.ndarray, fs: float, line_hz: float) -> float:
    freqs, power = _welch(x, fs)
    power = power.sum(axis=1)
    neighbours = (np.abs(freqs - line_hz) > 3) & (np.abs(freqs - line_hz) < 15)
    return float(power[np.argmin(np.abs(freqs - line_hz))] / np.median(power[neighbours]))


def test_power_line_interference_is_a_narrow_line_at_the_mains_frequency():
    activation = np.full((40_000, 2), 0.1)
    with_line = emg_model.synthesize_emg(np.random.default_rng(0), activation, FS)
    without = emg_model.synthesize_emg(np.random.default_rng(0), activation, FS, powerline_amplitude=0.0)
    us_mains = emg_model.synthesize_emg(np.random.default_rng(0), activation, FS, powerline_hz=60.0)
    assert _line_to_neighbours(with_line, FS, 50.0) > 10
    assert _line_to_neighbours(without, FS, 50.0) < 3
    assert _line_to_neighbours(us_mains, FS, 60.0) > 10
    assert _line_to_neighbours(us_mains, FS, 50.0) < 3


def test_low_rate_device_stays_below_nyquist():
    # Myo-like 200 Hz: the band is capped (20-90 Hz) instead of failing or aliasing.
    x = emg_model.synthesize_emg(np.random.default_rng(0), np.full((20_000, 2), 0.5), 200.0)
    freqs, power = _welch(x, 200.0)
    power = power.sum(axis=1)
    assert power[(freqs >= 20) & (freqs <= 92)].sum() / power.sum() > 0.95


def test_rms_grows_in_proportion_to_activation():
    # Levels change over time, uniform across the electrodes: every electrode then sees the same
    # activation whatever the volume conduction, so its RMS must be that level. (Before sources
    # were mixed across electrodes this test put one level per channel; with mixing an electrode
    # also sees its neighbours' muscles, which `test_volume_conduction_spreads_...` covers.)
    levels = np.array([0.05, 0.1, 0.2, 0.4, 0.8])
    segment = 20_000
    activation = np.repeat(levels, segment)[:, None] * np.ones((1, 4))
    x = emg_model.synthesize_emg(
        np.random.default_rng(1), activation, FS, powerline_amplitude=0.0, noise_amplitude=0.0
    )
    segments = x.astype(np.float64).reshape(len(levels), segment, 4)[:, 200:]  # skip filter onsets
    rms = np.sqrt(np.mean(segments**2, axis=1))  # [level, channel]
    assert np.all(np.diff(rms, axis=0) > 0)
    np.testing.assert_allclose(rms, np.broadcast_to(levels[:, None], rms.shape), rtol=0.15)


def test_volume_conduction_spreads_one_muscle_to_neighbouring_electrodes():
    # Only the muscle under electrode 5 of a 16-electrode ring is active: its electrode is the
    # loudest, the adjacent ones pick it up strongly (shared source) and electrodes >= 4 spacings
    # away see essentially nothing but their own (inactive) activity.
    num_channels, centre = 16, 5
    activation = np.zeros((20_000, num_channels))
    activation[:, centre] = 1.0
    x = emg_model.synthesize_emg(
        np.random.default_rng(2), activation, FS, powerline_amplitude=0.0, noise_amplitude=0.0
    )
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=0))
    offset = np.abs(np.arange(num_channels) - centre)
    distance = np.minimum(offset, num_channels - offset)
    assert np.argmax(rms) == centre
    assert np.all(rms[distance == 1] > 0.2 * rms[centre]), rms  # measured 0.41 and 0.54
    assert np.all(rms[distance == 1] < rms[centre])
    assert np.all(rms[distance >= 4] < 0.05 * rms[centre]), rms


def _preprocessed(x: np.ndarray, fs: float, line_hz: float = 50.0) -> np.ndarray:
    """Notch + band-pass as the real preprocessing does, minus the first second (filter onset)."""
    filtered = signal.bandpass(signal.notch(x, fs, line_hz), fs, 20.0, min(450.0, 0.45 * fs))
    return filtered[int(fs) :].astype(np.float64)


@pytest.mark.parametrize("num_channels, fs", [(16, 2000.0), (8, 200.0)])
def test_neighbouring_electrodes_are_correlated_opposite_ones_are_not(num_channels, fs):
    # Volume conduction: adjacent electrodes share sources, so their band-passed signals correlate;
    # electrodes across the ring share (almost) none. Measured: adjacent |r| 0.55-0.68 (mean
    # 0.61-0.64), opposite |r| mean 0.01 at 16 channels, 0.13 at 8 (only 4 spacings apart).
    activation = np.full((40_000, num_channels), 0.5)
    x = _preprocessed(emg_model.synthesize_emg(np.random.default_rng(5), activation, fs), fs)
    r = np.abs(np.corrcoef(x.T))
    channel = np.arange(num_channels)
    adjacent = r[channel, (channel + 1) % num_channels]
    opposite = r[channel, (channel + num_channels // 2) % num_channels]
    assert adjacent.min() > 0.4, adjacent
    assert opposite.mean() < 0.5 * adjacent.mean(), (opposite, adjacent)
    assert opposite.mean() < 0.25, opposite


def test_a_channel_is_linearly_predictable_from_the_others_at_the_same_time():
    # What masked reconstruction can learn beyond temporal interpolation. In every 0.5 s window of
    # a gesture recording, a least-squares fit of channel c's samples on the SAME-TIME samples of
    # the other channels (fitted on the window's first half, scored on its second) cuts the MSE
    # well below predicting the first half's mean. Measured: 31-61 % per channel (mean 51 %);
    # independent channels give ~0 %. Per window, because the best weights depend on which
    # muscles are active (as a model infers from its context): one fit for the whole recording,
    # trained on some gestures and scored on others, can fail on a channel.
    num_gestures, num_channels, fs = 6, 16, 2000.0
    patterns = emg_model.gesture_activation_patterns(num_gestures, num_channels, seed=1)
    labels, _ = emg_model.block_protocol(num_gestures - 1, 2, fs, move_s=1.0, rest_s=0.5)
    rng = np.random.default_rng(6)
    activation = emg_model.activation_from_labels(labels, patterns, fs, rng=rng)
    x = _preprocessed(emg_model.synthesize_emg(rng, activation, fs), fs)
    window = int(0.5 * fs)
    half = window // 2
    windows = x[: len(x) // window * window].reshape(-1, window, num_channels)
    reductions = []
    for c in range(num_channels):
        error = error_of_mean = 0.0
        for w in windows:
            design = np.column_stack([np.delete(w, c, axis=1), np.ones(window)])
            coef, *_ = np.linalg.lstsq(design[:half], w[:half, c], rcond=None)
            error += np.sum((w[half:, c] - design[half:] @ coef) ** 2)
            error_of_mean += np.sum((w[half:, c] - w[:half, c].mean()) ** 2)
        reductions.append(1.0 - error / error_of_mean)
    reductions = np.array(reductions)
    # Every channel > 25 % (the weakest, 31 %, is electrode 1, whose own source is weak in the
    # fixed geometry), and > 40 % on average.
    assert reductions.min() > 0.25, reductions
    assert reductions.mean() > 0.4, reductions


def test_rms_nearest_centroid_separates_gestures_across_repetitions():
    num_gestures, num_channels, fs = 8, 8, 1000.0
    patterns = emg_model.gesture_activation_patterns(num_gestures, num_channels, seed=3)
    labels, repetition = emg_model.block_protocol(num_gestures - 1, 4, fs, move_s=1.0, rest_s=1.0)
    rng = np.random.default_rng(4)
    activation = emg_model.activation_from_labels(labels, patterns, fs, rng=rng)
    x = emg_model.synthesize_emg(rng, activation, fs)

    window = 200
    n = len(labels) // window
    win_labels = labels[: n * window].reshape(n, window)
    win_reps = repetition[: n * window].reshape(n, window)
    feats = np.log(np.sqrt(np.mean(x[: n * window].reshape(n, window, num_channels) ** 2, axis=1)))
    pure = np.all(win_labels == win_labels[:, :1], axis=1)
    y, rep = win_labels[:, 0], win_reps[:, 0]
    # Rest windows carry repetition 0: give them to train/test by position so both sets have rest.
    rest = y == 0
    train = pure & (np.isin(rep, [1, 2]) | (rest & (np.arange(n) % 2 == 0)))
    test = pure & (np.isin(rep, [3, 4]) | (rest & (np.arange(n) % 2 == 1)))
    centroids = np.stack([feats[train & (y == g)].mean(axis=0) for g in range(num_gestures)])
    predicted = np.argmin(((feats[test, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    accuracy = np.mean(predicted == y[test])
    assert accuracy > 0.8, accuracy  # chance is 1/8


def test_same_seed_same_signal_different_seed_different_signal():
    activation = np.full((2_000, 3), 0.4)
    a = emg_model.synthesize_emg(np.random.default_rng(7), activation, FS)
    b = emg_model.synthesize_emg(np.random.default_rng(7), activation, FS)
    c = emg_model.synthesize_emg(np.random.default_rng(8), activation, FS)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(
        emg_model.gesture_activation_patterns(5, 4, seed=2), emg_model.gesture_activation_patterns(5, 4, seed=2)
    )
    assert not np.array_equal(
        emg_model.gesture_activation_patterns(5, 4, seed=2), emg_model.gesture_activation_patterns(5, 4, seed=3)
    )


def test_output_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    x = emg_model.synthesize_emg(rng, np.zeros((123, 5), np.float32), 500.0)
    assert x.shape == (123, 5) and x.dtype == np.float32
    patterns = emg_model.gesture_activation_patterns(6, 5)
    assert patterns.shape == (6, 5) and patterns.dtype == np.float32
    latents = emg_model.smooth_latents(rng, 300, 4, 500.0)
    assert latents.shape == (300, 4) and latents.dtype == np.float32
    activation = emg_model.activation_from_labels(np.array([0, 1, 2, 5]), patterns, 500.0, rng=rng)
    assert activation.shape == (4, 5) and activation.dtype == np.float32
    labels, reps = emg_model.block_protocol(2, 3, 100.0, move_s=0.1, rest_s=0.1)
    assert labels.dtype == np.int32 and reps.dtype == np.int32 and labels.shape == reps.shape


def test_patterns_rest_row_is_low_and_gestures_peak_at_one():
    patterns = emg_model.gesture_activation_patterns(10, 16, seed=0)
    np.testing.assert_allclose(patterns[0], 0.05)
    assert patterns.min() >= 0.05 - 1e-7 and patterns.max() <= 1.0 + 1e-7
    np.testing.assert_allclose(patterns[1:].max(axis=1), 1.0, rtol=1e-6)
    # Distinct gestures: no two rows nearly identical.
    distances = np.linalg.norm(patterns[1:, None] - patterns[None, 1:], axis=-1)
    assert distances[~np.eye(9, dtype=bool)].min() > 0.3


def test_activation_follows_labels_with_ramps():
    patterns = np.array([[0.05, 0.05], [1.0, 0.2]], np.float32)
    fs, ramp_s = 1000.0, 0.1
    labels = np.repeat([0, 1, 0], [500, 1000, 500])
    activation = emg_model.activation_from_labels(labels, patterns, fs, ramp_s=ramp_s)
    np.testing.assert_allclose(activation[:300], 0.05, rtol=1e-5)
    np.testing.assert_allclose(activation[700:1300], [[1.0, 0.2]] * 600, rtol=1e-5)
    # The step becomes a ramp of ~ramp_s: halfway at the label change, done 50 ms later.
    rising = activation[400:700, 0]
    assert np.all(np.diff(rising) >= -1e-6)
    assert 0.4 < activation[500, 0] < 0.65
    assert activation[440, 0] < 0.1 and activation[560, 0] > 0.95


def test_subject_variation_perturbs_but_keeps_the_map():
    patterns = emg_model.gesture_activation_patterns(6, 8, seed=0)
    labels = np.repeat(np.arange(6), 100)
    subjects = [
        emg_model.activation_from_labels(labels, patterns, 1000.0, ramp_s=0.0, rng=np.random.default_rng(s))
        for s in (1, 2)
    ]
    assert not np.allclose(subjects[0], subjects[1])
    for activation in subjects:
        rows = activation[::100]
        ratio = rows / patterns
        assert np.all((ratio > np.exp(-1.2)) & (ratio < np.exp(1.2)))  # ~4 sigma of 0.2 + 0.1
        # Still more like its own gesture than any other.
        nearest = np.argmin(np.linalg.norm(rows[:, None] - patterns[None], axis=-1), axis=1)
        assert np.mean(nearest == np.arange(6)) >= 5 / 6


def test_smooth_latents_are_slow_and_fill_the_unit_interval():
    fs = 500.0
    latents = emg_model.smooth_latents(np.random.default_rng(0), 50_000, 3, fs, cutoff_hz=2.0)
    assert latents.min() > 0 and latents.max() < 1
    np.testing.assert_allclose(latents.mean(axis=0), 0.5, atol=0.1)
    assert np.all(latents.std(axis=0) > 0.2)  # uniform on (0,1) has std 0.29
    # Slow: sample-to-sample steps are tiny compared with the range.
    assert np.abs(np.diff(latents, axis=0)).max() < 0.05
    again = emg_model.smooth_latents(np.random.default_rng(0), 50_000, 3, fs, cutoff_hz=2.0)
    np.testing.assert_array_equal(latents, again)


def test_block_protocol_counts():
    fs, move_s, rest_s = 100.0, 0.5, 0.3
    labels, reps = emg_model.block_protocol(3, 4, fs, move_s=move_s, rest_s=rest_s, movement_ids=[1, 3, 9])
    num_blocks = 3 * 4
    assert len(labels) == (num_blocks + 1) * 30 + num_blocks * 50
    assert labels[0] == 0 and labels[-1] == 0 and reps[0] == 0 and reps[-1] == 0
    for movement in (1, 3, 9):
        assert np.sum(labels == movement) == 4 * 50
        assert sorted(set(reps[labels == movement])) == [1, 2, 3, 4]
        for r in (1, 2, 3, 4):
            assert np.sum((labels == movement) & (reps == r)) == 50
    assert np.all(reps[labels == 0] == 0) and np.all(reps[labels != 0] > 0)
    # Every movement block is surrounded by rest: number of movement runs = blocks.
    starts = np.flatnonzero((labels[1:] != 0) & (labels[:-1] == 0))
    assert len(starts) == num_blocks
    # Movements in order, repetitions consecutive.
    assert list(labels[starts + 1][::4]) == [1, 3, 9]
    with pytest.raises(ValueError, match="movement_ids"):
        emg_model.block_protocol(3, 2, fs, move_s=1, rest_s=1, movement_ids=[1, 2])


def test_source_gains_are_a_fixed_ring_geometry_with_unit_energy_rows():
    gains = emg_model.source_gains(8)
    np.testing.assert_array_equal(gains, emg_model.source_gains(8))  # one anatomy per channel count
    assert gains.shape == (8, 8) and np.all(gains >= 0)
    np.testing.assert_allclose(np.sum(gains**2, axis=1), 1.0, rtol=1e-12)
    # Each electrode's strongest source is (next to) its own; gains fall off around the ring.
    assert np.all(np.abs(np.argmax(gains, axis=1) - np.arange(8)) <= 1)
    channel = np.arange(8)
    assert np.all(gains[channel, (channel + 1) % 8] > gains[channel, (channel + 4) % 8])
    np.testing.assert_allclose(emg_model.source_gains(1), [[1.0]])
