"""Synthetic EMG-EPN612 corpus: one JSON file per user in the published layout (datasets.md §8.3).

`<out_dir>/EMG-EPN612 Dataset/{trainingJSON,testingJSON}/user<N>/user<N>.json`. Subjects are
split between the two sources (ceil(n/2) training users, the rest testing users, numbered from 1
in each source as the real corpus does). Trial counts per user, smaller than the real 25 per
gesture but enough for every branch of TinyMyo's split logic:

- trainingJSON user: `trainingSamples` `TRAINING_USER_TRAIN_PER_GESTURE` per gesture ("train"),
  `testingSamples` `TRAINING_USER_TEST_PER_GESTURE` per gesture ("val");
- testingJSON user: `trainingSamples` `TESTING_USER_TRAIN_PER_GESTURE` (12) per gesture (first 10
  "train", last 2 "test"), and `UNLABELLED_TRIALS` `testingSamples` without `gestureName`.

Trials are stored in gesture blocks (idx_1.. all of one gesture, then the next), keys in numeric
order. Each trial: `emg.ch1..ch8` integer lists (raw Myo counts, int8 range) of one length in
950..1050 x duration_scale; gestures other than noGesture carry a 0/1 `groundTruth` mask, a
`groundTruthIndex` [first, last] (1-based, inclusive: a guess, the real index base is
undocumented) and `startPointforGestureExecution`. The IMU streams, `myoDetection` and the
synchronisation trials' contents are omitted to keep files small (~1 MB per user); the reader
ignores them anyway.

Signals: per-gesture activation patterns shared by all users (`gesture_activation_patterns`,
row = TinyMyo label, row 0 = noGesture), scaled per user (electrode placement), the gesture
active during the ground-truth interval and rest elsewhere, through `synthesize_emg` at 200 Hz
with 60 Hz mains (the corpus was recorded in Ecuador), then rounded to counts.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from tinymyo_jax.data.corpora.epn612 import NAME
from tinymyo_jax.data.synth import check_writer_args, emg_model

FS = 200.0
NUM_CHANNELS = 8
TRIAL_SAMPLES = 1000  # 5 s at 200 Hz, before the +-5 % length jitter
# In TinyMyo's label order (noGesture 0, waveIn 1, waveOut 2, pinch 3, open 4, fist 5).
GESTURES: tuple[str, ...] = ("noGesture", "waveIn", "waveOut", "pinch", "open", "fist")
TRAINING_USER_TRAIN_PER_GESTURE = 4
TRAINING_USER_TEST_PER_GESTURE = 2
TESTING_USER_TRAIN_PER_GESTURE = 12
UNLABELLED_TRIALS = 6
COUNTS_PER_UNIT = 30.0  # unit-scale EMG -> Myo counts; strong gestures reach ~+-100, rarely saturate
_MYO_PREDICTION_LABEL = {"waveOut": 1, "waveIn": 2, "fist": 3, "open": 4, "pinch": 5, "noGesture": 6}


def write_raw_corpus(
    dataset: str,
    out_dir: pathlib.Path,
    *,
    seed: int = 0,
    num_subjects: int = 2,
    duration_scale: float = 1.0,
) -> list[pathlib.Path]:
    """Write a synthetic EPN-612 corpus under `out_dir / "EMG-EPN612 Dataset"`.

    Args:
      dataset: must be "epn612".
      out_dir: receives the `EMG-EPN612 Dataset` folder.
      seed: fixes every file's content.
      num_subjects: users in total (ceil(n/2) in trainingJSON, the rest in testingJSON; at most 612).
      duration_scale: multiplies the ~1000-sample trial length.

    Returns:
      the user JSON files written, trainingJSON first, then by user number (the order
      `readers.epn612.list_files` gives).
    """
    check_writer_args(dataset, (NAME,), num_subjects, duration_scale, max_subjects=612)
    base = pathlib.Path(out_dir) / "EMG-EPN612 Dataset"
    patterns = emg_model.gesture_activation_patterns(len(GESTURES), NUM_CHANNELS, seed=seed)
    num_training = (num_subjects + 1) // 2
    written: list[pathlib.Path] = []
    for source_index, source in enumerate(("trainingJSON", "testingJSON")):
        (base / source).mkdir(parents=True, exist_ok=True)  # both exist even when one is empty
        count = num_training if source_index == 0 else num_subjects - num_training
        for number in range(1, count + 1):
            rng = np.random.default_rng([seed, source_index, number])
            user_patterns = patterns * np.exp(0.2 * rng.standard_normal(patterns.shape)).astype(np.float32)
            if source == "trainingJSON":
                training = _labelled_group(rng, user_patterns, TRAINING_USER_TRAIN_PER_GESTURE, duration_scale)
                testing = _labelled_group(rng, user_patterns, TRAINING_USER_TEST_PER_GESTURE, duration_scale)
            else:
                training = _labelled_group(rng, user_patterns, TESTING_USER_TRAIN_PER_GESTURE, duration_scale)
                testing = {
                    f"idx_{i}": _trial(rng, user_patterns, int(rng.integers(len(GESTURES))), duration_scale, labelled=False)
                    for i in range(1, UNLABELLED_TRIALS + 1)
                }
            document = {
                "generalInfo": {
                    "deviceModel": "Myo Armband",
                    "samplingFrequencyInHertz": int(FS),
                    "recordingTimeInSeconds": 5,
                    "repetitionsForSynchronizationGesture": 5,
                    "myoPredictionLabel": _MYO_PREDICTION_LABEL,
                },
                "userInfo": _user_info(rng, number),
                "synchronizationGesture": {},
                "trainingSamples": training,
                "testingSamples": testing,
            }
            folder = base / source / f"user{number}"
            folder.mkdir(exist_ok=True)
            path = folder / f"user{number}.json"
            path.write_text(json.dumps(document, separators=(",", ":")))
            written.append(path)
    return written


def _labelled_group(
    rng: np.random.Generator, patterns: np.ndarray, per_gesture: int, duration_scale: float
) -> dict[str, dict[str, Any]]:
    """`idx_1..` trials, `per_gesture` of each gesture, in gesture blocks."""
    trials = {}
    for label in range(len(GESTURES)):
        for _ in range(per_gesture):
            trials[f"idx_{len(trials) + 1}"] = _trial(rng, patterns, label, duration_scale, labelled=True)
    return trials


def _trial(
    rng: np.random.Generator, patterns: np.ndarray, label: int, duration_scale: float, *, labelled: bool
) -> dict[str, Any]:
    length = max(20, int(round(TRIAL_SAMPLES * duration_scale * rng.uniform(0.95, 1.05))))
    per_sample = np.zeros(length, dtype=np.int64)
    start = stop = 0
    if label != 0:
        # The gesture is performed once, somewhere in the middle of the 5-s recording.
        start = int(rng.uniform(0.15, 0.35) * length)
        stop = min(length, start + max(1, int(rng.uniform(0.3, 0.5) * length)))
        per_sample[start:stop] = label
    activation = emg_model.activation_from_labels(per_sample, patterns, FS, rng=rng, subject_variation=0.0)
    emg = emg_model.synthesize_emg(rng, activation, FS, powerline_hz=60.0)
    counts = np.clip(np.round(emg * COUNTS_PER_UNIT), -128, 127).astype(np.int64)
    trial: dict[str, Any] = {"emg": {f"ch{c + 1}": counts[:, c].tolist() for c in range(NUM_CHANNELS)}}
    if not labelled:
        return trial
    trial["gestureName"] = GESTURES[label]
    if label != 0:
        mask = np.zeros(length, dtype=np.int64)
        mask[start:stop] = 1
        trial["groundTruth"] = mask.tolist()
        trial["groundTruthIndex"] = [start + 1, stop]
        trial["startPointforGestureExecution"] = start + 1
    return trial


def _user_info(rng: np.random.Generator, number: int) -> dict[str, Any]:
    return {
        "name": f"synthetic user {number}",
        "age": int(rng.integers(18, 60)),
        "gender": str(rng.choice(["m", "f"])),
        "occupation": "student",
        "ethnicGroup": "mestizo",
        "handedness": "right",
        "ArmDamage": False,
        "distanceFromElbowToMyoInCm": int(rng.integers(4, 8)),
        "distanceFromElbowToUlnaInCm": int(rng.integers(24, 30)),
        "forearmPerimeterInCm": int(rng.integers(22, 30)),
        "date": "2020-01-01",
    }
