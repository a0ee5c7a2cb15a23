"""TinyMyo's signal processing, each step checked against an independent scipy/numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from tinymyo_jax.data import signal
from tinymyo_jax.errors import UserError

FS = 2000.0


def _sines(freqs_hz: list[float], fs: float = FS, seconds: float = 2.0) -> np.ndarray:
    """[T, len(freqs)] float32, one unit sine per channel."""
    t = np.arange(int(seconds * fs)) / fs
    return np.stack([np.sin(2 * np.pi * f * t) for f in freqs_hz], axis=1).astype(np.float32)


def _interior_amplitude(x: np.ndarray, fs: float = FS, edge_s: float = 0.25) -> np.ndarray:
    """Peak amplitude per channel away from the first/last `edge_s` seconds (edge transients)."""
    edge = int(edge_s * fs)
    return np.abs(x[edge:-edge]).max(axis=0)


# ----------------------------------------------------------------------------- band-pass


def test_bandpass_keeps_in_band_sines_and_removes_out_of_band_ones():
    x = _sines([5.0, 100.0, 300.0, 800.0])
    y = signal.bandpass(x, FS, 20.0, 450.0)
    assert y.dtype == np.float32 and y.shape == x.shape
    amplitude = _interior_amplitude(y)
    np.testing.assert_allclose(amplitude[1:3], 1.0, atol=0.01)
    assert amplitude[0] < 0.01 and amplitude[3] < 0.01


def test_bandpass_matches_tinymyo_butter_ba_filtfilt():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 3)).astype(np.float32)
    for fs, band in ((2000.0, (20.0, 450.0)), (200.0, (20.0, 90.0))):
        b, a = scipy.signal.butter(4, band, btype="bandpass", fs=fs)
        expected = scipy.signal.filtfilt(b, a, x.astype(np.float64), axis=0)
        np.testing.assert_allclose(signal.bandpass(x, fs, *band), expected, atol=1e-5)


def test_bandpass_rejects_bands_that_do_not_fit_the_sampling_rate():
    x = np.zeros((100, 2), np.float32)
    with pytest.raises(UserError, match="Nyquist"):
        signal.bandpass(x, 200.0, 20.0, 100.0)
    with pytest.raises(UserError, match="Nyquist"):
        signal.bandpass(x, 200.0, 20.0, 450.0)
    with pytest.raises(UserError, match="low < high"):
        signal.bandpass(x, 2000.0, 90.0, 20.0)


# ----------------------------------------------------------------------------- notch


def test_notch_removes_the_mains_line_and_keeps_the_rest():
    # Q = 30 at 50 Hz is a 1.7 Hz wide notch: its transient lasts ~1 s, hence long edges.
    x = _sines([50.0, 120.0, 30.0], seconds=6.0)
    y = signal.notch(x, FS, 50.0)
    amplitude = _interior_amplitude(y, edge_s=1.5)
    assert amplitude[0] < 0.01
    np.testing.assert_allclose(amplitude[1:], 1.0, atol=0.01)
    b, a = scipy.signal.iirnotch(50.0, 30.0, fs=FS)
    np.testing.assert_allclose(y, scipy.signal.filtfilt(b, a, x.astype(np.float64), axis=0), atol=1e-6)


def test_notch_at_60_hz_leaves_50_hz():
    x = _sines([50.0, 60.0], seconds=6.0)
    amplitude = _interior_amplitude(signal.notch(x, FS, 60.0), edge_s=1.5)
    assert amplitude[1] < 0.01 and amplitude[0] > 0.98


# ----------------------------------------------------------------------------- z-score


def test_zscore_per_channel_with_ddof_1_and_constant_channels_untouched_in_scale():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.normal(3.0, 2.0, (50, 2)), np.full((50, 1), 7.0)], axis=1
    ).astype(np.float32)
    z = signal.zscore(x)
    assert z.dtype == np.float32
    x64 = x.astype(np.float64)
    expected = (x64[:, :2] - x64[:, :2].mean(axis=0)) / x64[:, :2].std(axis=0, ddof=1)
    np.testing.assert_allclose(z[:, :2], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[:, :2].std(axis=0, ddof=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0.0)  # (7 - 7) / 1, not 0 / 0
    with pytest.raises(UserError, match="at least 2"):
        signal.zscore(x[:1])


def test_preprocess_is_bandpass_then_notch_then_zscore():
    rng = np.random.default_rng(2)
    x = (1e-5 * rng.standard_normal((3000, 2)) + 1e-5 * _sines([50.0, 50.0], seconds=1.5)).astype(np.float32)
    y = signal.preprocess(x, FS, band=(20.0, 450.0))
    # Independent chain with TinyMyo's own calls.
    b, a = scipy.signal.butter(4, [20.0, 450.0], btype="bandpass", fs=FS)
    nb, na = scipy.signal.iirnotch(50.0, 30.0, fs=FS)
    ref = scipy.signal.filtfilt(nb, na, scipy.signal.filtfilt(b, a, x.astype(np.float64), axis=0), axis=0)
    ref = (ref - ref.mean(axis=0)) / ref.std(axis=0, ddof=1)
    np.testing.assert_allclose(y, ref, atol=1e-4)
    no_notch = signal.preprocess(x, FS, band=(20.0, 450.0), notch_hz=None)
    np.testing.assert_allclose(no_notch, signal.zscore(signal.bandpass(x, FS, 20.0, 450.0)), atol=1e-6)
    assert not np.allclose(no_notch, y, atol=1e-2)  # the 50 Hz line was there to remove


# ----------------------------------------------------------------------------- resampling


def _dominant_hz(x: np.ndarray, fs: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    "fs_in, fs_out, up, down",
    [(2000.0, 200.0, 1, 10), (2000.0, 1111.0, 1111, 2000), (200.0, 2000.0, 10, 1), (1000.0, 200.0, 1, 5)],
)
def test_resample_preserves_frequency_and_scales_length(fs_in, fs_out, up, down):
    x = _sines([10.0, 37.0], fs=fs_in, seconds=4.0)
    y, fs = signal.resample(x, fs_in, fs_out)
    assert fs == fs_out
    assert y.dtype == np.float32
    assert y.shape == (math.ceil(len(x) * up / down), 2)
    assert len(y) == pytest.approx(len(x) * fs_out / fs_in, abs=1)
    for channel, freq in enumerate((10.0, 37.0)):
        assert _dominant_hz(y[:, channel], fs) == pytest.approx(freq, abs=0.3)
    np.testing.assert_allclose(y, scipy.signal.resample_poly(x.astype(np.float64), up, down, axis=0), atol=1e-6)


def test_resample_to_the_same_rate_is_a_copy():
    x = _sines([10.0], fs=200.0)
    y, fs = signal.resample(x, 200.0, 200.0)
    assert fs == 200.0 and y is not x
    np.testing.assert_array_equal(y, x)


# ----------------------------------------------------------------------------- windows


@pytest.mark.parametrize("num_samples", [0, 5, 9, 10, 11, 1000, 1001, 1499])
@pytest.mark.parametrize("length, stride", [(10, 5), (10, 10), (10, 3), (200, 50), (1000, 500)])
def test_window_counts_follow_the_formulas(num_samples, length, stride):
    starts = signal.window_starts(num_samples, length, stride)
    expected = (num_samples - length) // stride + 1 if num_samples >= length else 0
    assert len(starts) == expected
    if len(starts):
        assert starts[0] == 0 and np.all(np.diff(starts) == stride) and starts[-1] + length <= num_samples
    padded = signal.window_starts(num_samples, length, stride, pad_tail=True)
    assert len(padded) == math.ceil(num_samples / stride)
    assert np.all(padded < max(num_samples, 1))


def test_extract_windows_is_channel_first_and_zero_pads_the_tail():
    x = np.stack([np.arange(10), 100 + np.arange(10)], axis=1).astype(np.float32)  # [10, 2]
    windows = signal.extract_windows(x, np.array([0, 3, 8]), 4)
    assert windows.shape == (3, 2, 4) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0], [[0, 1, 2, 3], [100, 101, 102, 103]])
    np.testing.assert_array_equal(windows[1], [[3, 4, 5, 6], [103, 104, 105, 106]])
    np.testing.assert_array_equal(windows[2], [[8, 9, 0, 0], [108, 109, 0, 0]])


def test_extract_windows_matches_a_per_window_loop():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1003, 5)).astype(np.float32)
    starts = signal.window_starts(len(x), 100, 37, pad_tail=True)
    windows = signal.extract_windows(x, starts, 100)
    for i, start in enumerate(starts):
        chunk = x[start : start + 100]
        expected = np.zeros((100, 5), np.float32)
        expected[: len(chunk)] = chunk
        np.testing.assert_array_equal(windows[i], expected.T)
    assert signal.extract_windows(x, np.array([], np.int64), 100).shape == (0, 5, 100)
    with pytest.raises(ValueError, match="starts"):
        signal.extract_windows(x, np.array([1003]), 100)


# ----------------------------------------------------------------------------- labels


def test_labels_first_center_majority():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 3])
    starts = np.array([0, 2, 5])
    np.testing.assert_array_equal(signal.labels_at(labels, starts, 4, "first"), [0, 1, 2])
    # centre = (start + start + 4) // 2 = start + 2 -> indices 2, 4, 7
    np.testing.assert_array_equal(signal.labels_at(labels, starts, 4, "center"), [1, 1, 2])
    # odd length: (2 * start + 3) // 2 = start + 1 -> indices 1, 3, 6
    np.testing.assert_array_equal(signal.labels_at(labels, starts, 3, "center"), [0, 1, 2])
    # [0,0,1,1] tie -> 0 ; [1,1,1,2] -> 1 ; [2,2,2,2] -> 2
    np.testing.assert_array_equal(signal.labels_at(labels, starts, 4, "majority"), [0, 1, 2])


def test_majority_ties_go_to_the_smallest_value_and_padding_does_not_vote():
    labels = np.array([9, 9, 4, 4, 7, 7, 7, 3])
    np.testing.assert_array_equal(signal.labels_at(labels, np.array([0]), 4, "majority"), [4])
    # Tail window starting at 6 covers [7, 3] + 4 padded samples: tie 3 vs 7 -> 3.
    np.testing.assert_array_equal(signal.labels_at(labels, np.array([6]), 6, "majority"), [3])
    # Matches a brute-force mode on random data.
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 5, 500)
    starts = signal.window_starts(500, 17, 6, pad_tail=True)
    got = signal.labels_at(labels, starts, 17, "majority")
    for start, value in zip(starts, got):
        counts = np.bincount(labels[start : start + 17], minlength=5)
        assert value == np.argmax(counts)


def test_center_past_the_end_is_an_error():
    with pytest.raises(ValueError, match="centre"):
        signal.labels_at(np.zeros(10, int), np.array([8]), 6, "center")
    with pytest.raises(ValueError, match="where"):
        signal.labels_at(np.zeros(10, int), np.array([0]), 6, "middle")


# ----------------------------------------------------------------------------- channels


def test_pad_channels_appends_zero_channels_after_the_real_ones():
    windows = np.arange(2 * 14 * 3, dtype=np.float32).reshape(2, 14, 3) + 1
    padded, mask = signal.pad_channels(windows)
    assert padded.shape == (2, 16, 3) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[:, :14], windows)
    np.testing.assert_array_equal(padded[:, 14:], 0.0)
    np.testing.assert_array_equal(mask, [True] * 14 + [False] * 2)
    full, full_mask = signal.pad_channels(np.ones((1, 16, 3), np.float32))
    assert full_mask.all() and full.shape == (1, 16, 3)
    with pytest.raises(UserError, match="17 channels"):
        signal.pad_channels(np.zeros((1, 17, 3), np.float32))
