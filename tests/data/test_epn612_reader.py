"""EPN-612 reader: trials, labels, TinyMyo's split assignment, and refusal of bad files."""

from __future__ import annotations

import collections
import json
import pathlib
import shutil
from typing import Any

import numpy as np
import pytest

from tinymyo_jax.data.readers import epn612 as reader
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.recording import Recording
from tinymyo_jax.data import synth as synth_registry
from tinymyo_jax.data.synth import epn612 as synth


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[pathlib.Path]]:
    root = tmp_path_factory.mktemp("epn")
    return root, synth.write_raw_corpus("epn612", root, seed=1, num_subjects=2, duration_scale=0.3)


def _read(path: pathlib.Path, root: pathlib.Path) -> list[Recording]:
    return reader.read_file(path, root, "epn612")


def _trial(gesture: str | None, length: int = 40, **overrides: Any) -> dict[str, Any]:
    rng = np.random.default_rng(length)
    trial: dict[str, Any] = {"emg": {f"ch{c}": rng.integers(-20, 20, length).tolist() for c in range(1, 9)}}
    if gesture is not None:
        trial["gestureName"] = gesture
    if gesture not in (None, "noGesture"):
        trial["groundTruth"] = [0] * 10 + [1] * (length - 20) + [0] * 10
        trial["groundTruthIndex"] = [11, length - 10]
    trial.update(overrides)
    return trial


def _user_file(root: pathlib.Path, source: str, training: dict, testing: dict, user: str = "user1") -> pathlib.Path:
    """Write one user JSON in the corpus layout under `root`; returns its path."""
    folder = root / "EMG-EPN612 Dataset" / source / user
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "generalInfo": {"samplingFrequencyInHertz": 200, "deviceModel": "Myo Armband"},
        "userInfo": {},
        "trainingSamples": training,
        "testingSamples": testing,
    }
    path = folder / f"{user}.json"
    path.write_text(json.dumps(document))
    return path


# ----------------------------------------------------------------------------------------------
# The synthetic corpus reads back as written.
# ----------------------------------------------------------------------------------------------


def test_list_files_accepts_the_corpus_folder_or_its_parent(corpus):
    root, written = corpus
    assert reader.list_files(root, "epn612") == written
    assert reader.list_files(root / "EMG-EPN612 Dataset", "epn612") == written
    assert [p.parts[-3] for p in written] == ["trainingJSON", "testingJSON"]


def test_user_folders_are_ordered_by_number_and_sources_by_kind(corpus, tmp_path):
    root, written = corpus
    for source_file, users in ((written[0], ("user2", "user10")), (written[1], ("user1",))):
        for user in users:
            target = tmp_path / "EMG-EPN612 Dataset" / source_file.parts[-3] / user / f"{user}.json"
            target.parent.mkdir(parents=True)
            shutil.copy(source_file, target)
    names = [f"{p.parts[-3]}/{p.parent.name}" for p in reader.list_files(tmp_path, "epn612")]
    assert names == ["trainingJSON/user2", "trainingJSON/user10", "testingJSON/user1"]


def test_training_user_trials_have_raw_counts_labels_and_train_val_splits(corpus):
    root, written = corpus
    recordings = _read(written[0], root)
    per_gesture = synth.TRAINING_USER_TRAIN_PER_GESTURE + synth.TRAINING_USER_TEST_PER_GESTURE
    assert len(recordings) == 6 * per_gesture
    document = json.loads(written[0].read_text())
    for rec in recordings:
        extra = rec.meta.extra
        raw = document[extra["sample_group"]][extra["trial"]]
        assert rec.fs == 200.0 and rec.meta.subject == 1 and rec.meta.dataset == "epn612"
        assert rec.emg.dtype == np.float32 and rec.emg.shape == (len(raw["emg"]["ch1"]), 8)
        np.testing.assert_array_equal(rec.emg[:, 4], raw["emg"]["ch5"])  # counts, not /128
        assert rec.labels.dtype == np.int32 and set(rec.labels) == {reader.GESTURE_LABELS[extra["gesture"]]}
        assert extra["source"] == "trainingJSON" and extra["units"] == "myo_counts"
        assert extra["split"] == {"trainingSamples": "train", "testingSamples": "val"}[extra["sample_group"]]
        assert extra["trial"] == f"idx_{extra['trial_index']}"
        assert extra["unlabelled_trials_skipped"] == 0 and extra["dead_channels"] == []
        if extra["gesture"] == "noGesture":
            assert extra["ground_truth_interval"] is None
        else:
            first, last = raw["groundTruthIndex"]  # 1-based inclusive in the synthetic files
            assert extra["ground_truth_interval"] == (first - 1, last)
    lengths = {rec.num_samples for rec in recordings}
    assert len(lengths) > 1 and min(lengths) >= 0.95 * 300 - 1 and max(lengths) <= 1.05 * 300 + 1


def test_testing_user_first_ten_per_gesture_train_rest_test_and_unlabelled_skipped(corpus):
    root, written = corpus
    recordings = _read(written[1], root)
    assert len(recordings) == 6 * synth.TESTING_USER_TRAIN_PER_GESTURE
    assert {rec.meta.subject for rec in recordings} == {reader.USERS_PER_SOURCE + 1}
    assert {rec.meta.extra["unlabelled_trials_skipped"] for rec in recordings} == {synth.UNLABELLED_TRIALS}
    by_gesture: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    for rec in recordings:
        assert rec.meta.extra["sample_group"] == "trainingSamples"
        by_gesture[rec.meta.extra["gesture"]].append((rec.meta.extra["trial_index"], rec.meta.extra["split"]))
    assert set(by_gesture) == set(reader.GESTURE_LABELS)
    for trials in by_gesture.values():
        assert [split for _, split in sorted(trials)] == ["train"] * 10 + ["test"] * 2


def test_gestures_are_separable_across_users(corpus):
    """Nearest centroid on log-RMS of the ground-truth interval, trained on user 1, tested on user 307."""
    root, written = corpus

    def features(recordings: list[Recording]) -> tuple[np.ndarray, np.ndarray]:
        xs = []
        for rec in recordings:
            start, stop = rec.meta.extra["ground_truth_interval"] or (0, rec.num_samples)
            xs.append(np.log(np.sqrt(np.mean(rec.emg[start:stop] ** 2, axis=0)) + 1.0))
        return np.array(xs), np.array([rec.labels[0] for rec in recordings])

    x_train, y_train = features(_read(written[0], root))
    x_test, y_test = features(_read(written[1], root))
    centroids = np.stack([x_train[y_train == g].mean(axis=0) for g in range(6)])
    predicted = np.argmin(((x_test[:, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    assert np.mean(predicted == y_test) > 0.6  # chance is 1/6


def test_writer_is_deterministic_given_the_seed(tmp_path):
    first = synth.write_raw_corpus("epn612", tmp_path / "a", seed=5, num_subjects=2, duration_scale=0.05)
    second = synth.write_raw_corpus("epn612", tmp_path / "b", seed=5, num_subjects=2, duration_scale=0.05)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_tinymyo_splits_counts_per_gesture_in_trial_order():
    gestures = ["fist", "open"] * 12  # interleaved: the 11th fist is trial 21
    splits = reader.tinymyo_splits("testingJSON", "trainingSamples", gestures)
    assert splits[:20] == ["train"] * 20 and splits[20:] == ["test"] * 4
    assert reader.tinymyo_splits("trainingJSON", "testingSamples", ["fist"]) == ["val"]
    assert reader.tinymyo_splits("testingJSON", "testingSamples", ["fist"]) == [None]


def test_trial_keys_are_read_in_numeric_order(tmp_path):
    training = {f"idx_{i}": _trial("fist", length=40 + i) for i in (10, 2, 1, 11, 3, 4, 5, 6, 7, 8, 9)}
    path = _user_file(tmp_path, "testingJSON", training, {})
    recordings = _read(path, tmp_path)
    assert [rec.meta.extra["trial_index"] for rec in recordings] == list(range(1, 12))
    assert [rec.num_samples for rec in recordings] == [40 + i for i in range(1, 12)]
    assert [rec.meta.extra["split"] for rec in recordings] == ["train"] * 10 + ["test"]


def test_package_registry_dispatches_to_this_writer(tmp_path):
    written = synth_registry.write_raw_corpus("epn612", tmp_path, num_subjects=2, duration_scale=0.05)
    assert written == reader.list_files(tmp_path, "epn612")


def test_short_nan_stretch_in_emg_is_interpolated_and_counted_per_trial(tmp_path):
    trial = _trial("fist", length=1000)  # a 5-s trial at 200 Hz, as in the corpus
    trial["emg"]["ch2"][5:8] = [float("nan")] * 3
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial, "idx_2": _trial("open", length=1000)}, {})
    first, second = _read(path, tmp_path)
    assert first.meta.extra["nonfinite_emg_rows"] == 3 and "nonfinite_emg_rows" not in second.meta.extra
    before, after = trial["emg"]["ch2"][4], trial["emg"]["ch2"][8]
    np.testing.assert_allclose(first.emg[5:8, 1], np.linspace(before, after, 5)[1:-1], rtol=1e-6)


def test_ground_truth_a_few_samples_short_truncates_the_trial(tmp_path):
    trial = _trial("pinch", length=1000)
    trial["groundTruth"] = trial["groundTruth"][:-2]
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    (rec,) = _read(path, tmp_path)
    assert rec.num_samples == 998 and rec.labels.shape == (998,)
    assert rec.meta.extra["truncated_samples"] == {"emg": 2}
    assert rec.meta.extra["ground_truth_interval"] == (10, 990)


# ----------------------------------------------------------------------------------------------
# Refused input: each raises RawFileError naming the file.
# ----------------------------------------------------------------------------------------------


def _assert_refused(path: pathlib.Path, root: pathlib.Path, match: str) -> None:
    with pytest.raises(RawFileError, match=match) as info:
        _read(path, root)
    assert info.value.path == str(path)


def test_truncated_json_is_refused(corpus, tmp_path):
    _, written = corpus
    path = _user_file(tmp_path, "trainingJSON", {}, {})
    path.write_bytes(written[0].read_bytes()[:5000])
    _assert_refused(path, tmp_path, "cannot parse JSON")


def test_missing_general_info_is_refused(tmp_path):
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": _trial("fist")}, {})
    document = json.loads(path.read_text())
    del document["generalInfo"]
    path.write_text(json.dumps(document))
    _assert_refused(path, tmp_path, r"missing top-level key\(s\) \['generalInfo'\]")


def test_missing_channel_is_refused(tmp_path):
    trial = _trial("fist")
    del trial["emg"]["ch5"]
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    _assert_refused(path, tmp_path, r"trainingSamples/idx_1: emg lacks channel\(s\) \['ch5'\]")


def test_channels_of_different_lengths_are_refused(tmp_path):
    trial = _trial("open")
    trial["emg"]["ch3"] = trial["emg"]["ch3"][:-1]
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    _assert_refused(path, tmp_path, "channels have different lengths")


def test_unknown_gesture_in_labelled_group_is_refused(tmp_path):
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": _trial("fist"), "idx_2": _trial("thumbsUp")}, {})
    _assert_refused(path, tmp_path, "trainingSamples/idx_2: gestureName 'thumbsUp'")


def test_missing_gesture_outside_testing_users_testing_samples_is_refused(tmp_path):
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": _trial("fist")}, {"idx_1": _trial(None)})
    _assert_refused(path, tmp_path, "testingSamples/idx_1: gestureName None")


def test_ground_truth_of_wrong_length_is_refused(tmp_path):
    trial = _trial("pinch", length=40)
    trial["groundTruth"] = trial["groundTruth"] + [0]  # 1 of 41 samples: above 1 %
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    _assert_refused(path, tmp_path, r"idx_1: per-sample arrays disagree in length .*\(emg 40, groundTruth 41\)")


def test_nan_stretch_in_emg_is_refused(tmp_path):
    trial = _trial("fist")
    trial["emg"]["ch2"][5:8] = [float("nan")] * 3  # json writes NaN literals, as MATLAB exports can
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    _assert_refused(path, tmp_path, r"idx_1: emg has NaN/Inf at 3 of 40 time steps .*first at sample 5")


def test_non_numeric_emg_is_refused(tmp_path):
    trial = _trial("fist")
    trial["emg"]["ch1"][0] = "x"
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    _assert_refused(path, tmp_path, "emg.ch1 is not a list of numbers")


def test_bad_trial_key_is_refused(tmp_path):
    path = _user_file(tmp_path, "trainingJSON", {"sample_1": _trial("fist")}, {})
    _assert_refused(path, tmp_path, "expected idx_<n>")


def test_user_number_beyond_306_is_refused(tmp_path):
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": _trial("fist")}, {}, user="user307")
    _assert_refused(path, tmp_path, "outside 1..306")


def test_user_folder_without_json_is_listed_then_refused(tmp_path):
    _user_file(tmp_path, "trainingJSON", {"idx_1": _trial("fist")}, {})
    (tmp_path / "EMG-EPN612 Dataset" / "testingJSON" / "user4").mkdir(parents=True)
    files = reader.list_files(tmp_path, "epn612")
    assert files[-1].parts[-2:] == ("user4", "user4.json")
    _assert_refused(files[-1], tmp_path, "no JSON file")


def test_flat_channel_is_recorded_not_refused(tmp_path):
    trial = _trial("waveIn")
    trial["emg"]["ch8"] = [0] * 40
    path = _user_file(tmp_path, "trainingJSON", {"idx_1": trial}, {})
    (rec,) = _read(path, tmp_path)
    assert rec.meta.extra["dead_channels"] == [7]
