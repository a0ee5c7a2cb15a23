"""Specification of the checks every corpus reader shares (`readers/checks.py`), on hand-made arrays."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers.base import RawFileError

PATH = "corpus/s1/file.mat"


def _ramp(num_samples: int, num_channels: int = 2) -> np.ndarray:
    """[T, C] float32 with channel c = c * 100 + t, so every interpolated value is known."""
    return (np.arange(num_samples)[:, None] + 100.0 * np.arange(num_channels)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Non-finite samples: interpolate up to 1 % of the time steps, refuse more.


def test_finite_signal_is_returned_as_is_and_nothing_is_recorded():
    signal, extra = _ramp(10), {}
    assert checks.repair_nonfinite(PATH, "emg", signal, extra) is signal
    assert extra == {}


def test_one_nan_in_100_rows_is_interpolated_linearly_and_counted(caplog):
    signal = _ramp(100)
    signal[50, 1] = np.nan
    extra: dict = {}
    with caplog.at_level(logging.WARNING, logger="tinymyo_jax.data.readers.checks"):
        repaired = checks.repair_nonfinite(PATH, "emg", signal, extra)
    assert repaired[50, 1] == 150.0 and repaired.dtype == np.float32
    np.testing.assert_array_equal(np.delete(repaired, 50, axis=0), np.delete(_ramp(100), 50, axis=0))
    assert extra == {"nonfinite_emg_rows": 1}
    assert np.isnan(signal[50, 1])  # the caller's array is not modified
    assert PATH in caplog.text and "repaired 1 time steps of NaN/Inf emg (first at sample 50)" in caplog.text


def test_nonfinite_at_the_ends_take_the_nearest_finite_value():
    signal = _ramp(200)
    signal[0, 0] = np.inf
    signal[199, 1] = -np.inf
    extra: dict = {}
    repaired = checks.repair_nonfinite(PATH, "emg", signal, extra)
    assert repaired[0, 0] == 1.0 and repaired[199, 1] == 298.0
    assert extra["nonfinite_emg_rows"] == 2


def test_rows_are_counted_not_values():
    signal = _ramp(100, num_channels=3)
    signal[20, :] = np.nan  # one time step, three channels
    extra: dict = {}
    repaired = checks.repair_nonfinite(PATH, "emg", signal, extra)
    np.testing.assert_array_equal(repaired[20], [20.0, 120.0, 220.0])
    assert extra["nonfinite_emg_rows"] == 1


def test_more_than_one_percent_of_rows_is_refused_naming_file_signal_and_first_sample():
    signal = _ramp(100)
    signal[30, 0] = np.nan
    signal[70, 1] = np.nan  # 2 of 100 rows
    match = r"emg has NaN/Inf at 2 of 100 time steps \(2.0%, first at sample 30\)"
    with pytest.raises(RawFileError, match=match) as info:
        checks.repair_nonfinite(PATH, "emg", signal, {})
    assert info.value.path == PATH


def test_a_whole_nan_channel_is_refused():
    signal = _ramp(1000)
    signal[:, 1] = np.nan
    with pytest.raises(RawFileError, match="1000 of 1000 time steps"):
        checks.repair_nonfinite(PATH, "emg", signal, {})


def test_one_dimensional_time_column_is_repaired_under_its_own_name():
    time = np.arange(100, dtype=np.float64) / 1000.0
    time[3] = np.nan
    extra: dict = {}
    repaired = checks.repair_nonfinite(PATH, "time", time, extra)
    assert repaired[3] == pytest.approx(0.003) and repaired.dtype == np.float64
    assert extra == {"nonfinite_time_rows": 1}


def test_where_names_the_part_of_the_file():
    signal = _ramp(10)
    signal[4, 0] = np.nan
    with pytest.raises(RawFileError, match=r"^corpus/s1/file.mat: trainingSamples/idx_3: emg has NaN/Inf at 1 of 10"):
        checks.repair_nonfinite(PATH, "emg", signal, {}, where="trainingSamples/idx_3")


# --------------------------------------------------------------------------------------------
# Integer labels: never interpolated.


def test_whole_floats_become_int32_labels():
    labels = checks.integer_labels(PATH, "restimulus", np.array([0.0, 3.0, 3.0, 0.0]), minimum=0)
    assert labels.dtype == np.int32 and labels.tolist() == [0, 3, 3, 0]


@pytest.mark.parametrize(
    "values, match",
    [
        (np.array([0.0, 0.5, 1.0]), r"labels holds a non-integer value 0.5 \(row 1\)"),
        (np.array([0.0, 1.0, np.nan]), r"labels holds a non-integer value nan \(row 2\)"),
        (np.array([1, -1, 2]), r"labels holds -1 \(row 1\), outside the ids 0..7"),
        (np.array([1, 8, 2]), r"labels holds 8 \(row 1\), outside the ids 0..7"),
        (np.array(["a", "b"]), r"labels must hold integer ids, got dtype <U1"),
    ],
)
def test_non_integer_non_finite_or_out_of_range_labels_are_refused(values, match):
    with pytest.raises(RawFileError, match=match):
        checks.integer_labels(PATH, "labels", values, minimum=0, maximum=7)


def test_labels_without_bounds_may_be_negative():
    assert checks.integer_labels(PATH, "labels", np.array([-2, 5])).tolist() == [-2, 5]


# --------------------------------------------------------------------------------------------
# Dead channels.


def test_dead_channels_are_the_exactly_constant_ones():
    emg = np.array([[1.0, 2.0, 0.0, 5.0], [1.0, 5.0, 0.0, 5.0000001], [1.0, 7.0, 0.0, 5.0]])
    assert checks.dead_channels(emg) == [0, 2]


def test_a_single_sample_recording_has_only_dead_channels():
    assert checks.dead_channels(np.array([[0.3, -1.0]])) == [0, 1]


# --------------------------------------------------------------------------------------------
# Length alignment.


def test_equal_lengths_are_returned_unchanged():
    series = {"emg": np.zeros((5, 2)), "labels": np.zeros(5)}
    extra: dict = {}
    assert checks.align_lengths(PATH, series, extra) is series and extra == {}


def test_lengths_within_one_percent_are_truncated_to_the_shortest_and_recorded(caplog):
    series = {"emg": np.zeros((200, 2)), "labels": np.arange(199), "glove": np.zeros((200, 18))}
    extra: dict = {}
    with caplog.at_level(logging.WARNING, logger="tinymyo_jax.data.readers.checks"):
        aligned = checks.align_lengths(PATH, series, extra)
    assert {name: a.shape[0] for name, a in aligned.items()} == {"emg": 199, "labels": 199, "glove": 199}
    assert extra == {"truncated_samples": {"emg": 1, "glove": 1}}
    assert "lengths differ (emg 200, labels 199, glove 200); truncated to 199 samples" in caplog.text


def test_lengths_differing_by_more_than_one_percent_are_refused():
    series = {"emg": np.zeros((100, 2)), "labels": np.zeros(98)}
    with pytest.raises(RawFileError, match=r"disagree in length by more than 1% \(emg 100, labels 98\)") as info:
        checks.align_lengths(PATH, series, {})
    assert info.value.path == PATH


# --------------------------------------------------------------------------------------------
# Sampling rate.


def test_fs_from_a_uniform_time_column_in_its_own_unit():
    assert checks.fs_from_time(PATH, np.arange(10.0), tolerance=0.1) == 1.0  # 1-ms steps: 1 per ms
    assert checks.fs_from_time(PATH, np.arange(10) / 250.0, tolerance=0.1) == pytest.approx(250.0)


def test_fs_from_time_ignores_gaps_when_tolerance_is_none():
    time = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    assert checks.fs_from_time(PATH, time, tolerance=None) == 1.0
    with pytest.raises(RawFileError, match=r"not uniform: step 7 at sample 4"):
        checks.fs_from_time(PATH, time, tolerance=0.1)


def test_fs_from_time_averages_out_timestamp_quantisation():
    time = 1.67e9 + np.arange(1000) / 2000.0  # float64 unix seconds resolve ~2.4e-7 s
    assert checks.fs_from_time(PATH, time, tolerance=0.1) == pytest.approx(2000.0, rel=1e-6)


@pytest.mark.parametrize(
    "time, tolerance, match",
    [
        (np.array([0.0]), None, "need at least 2 samples"),
        (np.array([5.0, 5.0, 5.0]), None, "median step of 0.0"),
        (np.array([0.0, 1.0, 2.0, 2.0, 3.0]), 0.1, r"not strictly increasing \(sample 3\)"),
    ],
)
def test_fs_from_time_refuses_time_that_does_not_advance(time, tolerance, match):
    with pytest.raises(RawFileError, match=match):
        checks.fs_from_time(PATH, time, tolerance=tolerance)


def test_time_irregularities_count_backward_steps_and_gaps():
    time = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 6.0])  # steps 1, 1, 0, 1, 3; median 1
    assert checks.time_irregularities(time) == {"time_nonincreasing_steps": 1, "time_gaps": 1}


def test_two_rates_may_differ_by_at_most_one_percent():
    checks.check_fs_agrees(PATH, 2000.0, 2019.0, "the time column")  # 19 Hz < 1 % of 2019
    with pytest.raises(RawFileError, match=r"2000 Hz disagrees with the time column \(2021 Hz\) by more than 1%"):
        checks.check_fs_agrees(PATH, 2000.0, 2021.0, "the time column")
