"""Synthetic UCI "EMG data for gestures" corpus in the published text layout (datasets.md §7.3).

`<out_dir>/EMG_data_for_gestures-master/<NN>/<series>_raw_data_<HH-MM>_<DD.MM.YY>.txt`, two
series per subject (NN = 01, 02, ...). Each file: the header line
`time channel1 ... channel8 class` (tab-separated), then tab-separated rows: time in integer ms
(~1 kHz: steps of 1 ms, occasionally 2 ms as a dropped packet would leave), 8 values ~1e-5 in
scientific notation (Myo counts x 1e-5, hence multiples of 1e-5), and the class following the
corpus's blocks 0 / 1 / 0 / 2 / ... / 0 (class 0 = unmarked, 1 = hand at rest, 2..6 gestures).
Holds last `HOLD_S` and pauses `PAUSE_S` (x duration_scale), shorter than the real 3 s + 3 s to
keep files ~1 MB.

Deliberate quirks the reader must handle:
- the first series of subject 01 has one truncated row (`MALFORMED_FIELDS` fields) in place of
  a data row at line `MALFORMED_LINE`;
- subject 02 also performs class 7 (extended palm), which only some real subjects did.

Signals: `gesture_activation_patterns` over classes 0..7 shared by all subjects (class 1, hand at
rest, is a weak uniform contraction rather than a gesture bump), scaled per subject, through
`synthesize_emg` at 1 kHz with 50 Hz mains.
"""

from __future__ import annotations

import io
import pathlib

import numpy as np

from tinymyo_jax.data.corpora.uci_emg import NAME
from tinymyo_jax.data.synth import check_writer_args, emg_model

FS = 1000.0
NUM_CHANNELS = 8
NUM_CLASSES = 8  # 0 unmarked, 1 hand at rest, 2..6 gestures, 7 extended palm
HOLD_S = 1.2
PAUSE_S = 0.8
VOLTS_PER_COUNT = 1e-5
COUNTS_PER_UNIT = 20.0  # unit-scale EMG -> Myo counts; strong gestures reach ~+-80
CLASS7_SUBJECT = 2  # folder "02" performs class 7
MALFORMED_LINE = 101  # 1-based line number (line 1 is the header) of the truncated row
MALFORMED_FIELDS = 6
HEADER = "\t".join(["time", *(f"channel{c}" for c in range(1, NUM_CHANNELS + 1)), "class"])


def write_raw_corpus(
    dataset: str,
    out_dir: pathlib.Path,
    *,
    seed: int = 0,
    num_subjects: int = 2,
    duration_scale: float = 1.0,
) -> list[pathlib.Path]:
    """Write a synthetic UCI EMG corpus under `out_dir / "EMG_data_for_gestures-master"`.

    Args:
      dataset: must be the UCI corpus name (corpora/uci_emg.py).
      out_dir: receives the `EMG_data_for_gestures-master` folder.
      seed: fixes every file's content.
      num_subjects: subject folders 01..NN (at most 99).
      duration_scale: multiplies hold and pause durations.

    Returns:
      the text files written, by subject then file name (the order `readers.uci_emg.list_files`
      gives).
    """
    check_writer_args(dataset, (NAME,), num_subjects, duration_scale, max_subjects=99)
    base = pathlib.Path(out_dir) / "EMG_data_for_gestures-master"
    patterns = emg_model.gesture_activation_patterns(NUM_CLASSES, NUM_CHANNELS, seed=seed)
    patterns[1] = 3.0 * patterns[0]  # "hand at rest": a slight, even tone on every channel
    written: list[pathlib.Path] = []
    for subject in range(1, num_subjects + 1):
        folder = base / f"{subject:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        subject_rng = np.random.default_rng([seed, subject])
        user_patterns = patterns * np.exp(0.2 * subject_rng.standard_normal(patterns.shape)).astype(np.float32)
        classes = list(range(1, 7)) + ([7] if subject == CLASS7_SUBJECT else [])
        day = 1 + (subject - 1) % 28
        for series in (1, 2):
            rng = np.random.default_rng([seed, subject, series])
            labels, _ = emg_model.block_protocol(
                len(classes), 1, FS, move_s=HOLD_S * duration_scale, rest_s=PAUSE_S * duration_scale, movement_ids=classes
            )
            activation = emg_model.activation_from_labels(labels, user_patterns, FS, rng=rng, subject_variation=0.0)
            emg = emg_model.synthesize_emg(rng, activation, FS, powerline_hz=50.0)
            # + 0.0 turns the -0.0 that rounding leaves into 0.0, which the files do not contain.
            volts = np.clip(np.round(emg * COUNTS_PER_UNIT), -128, 127) * VOLTS_PER_COUNT + 0.0
            steps = np.where(rng.random(labels.shape[0]) < 0.01, 2, 1)
            time_ms = np.cumsum(steps)
            minute = 10 + series
            name = f"{series}_raw_data_{9 + subject % 10:02d}-{minute:02d}_{day:02d}.03.16.txt"
            path = folder / name
            malformed = subject == 1 and series == 1
            path.write_text(_format(time_ms, volts, labels, malformed))
            written.append(path)
    return written


def _format(time_ms: np.ndarray, volts: np.ndarray, labels: np.ndarray, malformed: bool) -> str:
    """The file's text: header, then one tab-separated row per sample (optionally one truncated)."""
    table = np.column_stack([time_ms, volts, labels])
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt=["%d"] + ["%.2e"] * NUM_CHANNELS + ["%d"], delimiter="\t")
    rows = buffer.getvalue().splitlines()
    if malformed and len(rows) >= MALFORMED_LINE - 1:
        # A row cut short, as an interrupted write leaves it; it replaces that sample's row.
        index = MALFORMED_LINE - 2
        rows[index] = "\t".join(rows[index].split("\t")[:MALFORMED_FIELDS])
    return "\n".join([HEADER, *rows]) + "\n"
