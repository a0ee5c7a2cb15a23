"""A small real corpus inside the package: UCI "EMG data for gestures" subjects (CC BY 4.0).

Lobov S., Krilova N., Kastalskiy I., Kazantsev V., Makarov V.A., "Latent Factors Limiting the
Performance of sEMG-Interfaces", Sensors 2018;18(4):1122; UCI Machine Learning Repository
dataset 481 (doi 10.24432/C5ZP5C). Attribution and licence: `assets/uci_emg_subset/README.md`.

The asset (`assets/uci_emg_subset/uci_emg_subset.npz`) holds both series of 9 of the corpus's 36
subjects (5 train, 2 validation, 2 test under TinyMyo's subject split 1-24 / 25-30 / 31-36), so
the normal `uci_emg` protocol gives a subject-held-out train / validation / test set (221 / 87 /
100 windows). Each file is
stored as what the text holds: the Myo's 8-bit device levels (int8; the text's values are
level x 1e-5), the ms `time` column as first value + steps, and the `class` column. `write_raw`
turns them back into the original text files byte for byte (`pack` refuses to store a file it
cannot give back exactly), and `prepare` prepares them as `tinymyo prep uci_emg` does (`builder.prepare_dataset`): the embedded set
goes through the same reader, protocol and writer as the full corpus, with nothing re-implemented.

Public: `SUBJECTS`, `asset_path`, `write_raw`, `prepare`, `pack` (maintainers: rebuilds the asset
from the published files).
"""

from __future__ import annotations

import functools
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from tinymyo_jax.data import builder
from tinymyo_jax.data.corpora.uci_emg import NAME
from tinymyo_jax.data.readers.uci_emg import CORPUS_FOLDER, NUM_CHANNELS
from tinymyo_jax.data.source import dataset_dir
from tinymyo_jax.errors import UserError

DATASET = NAME  # the real subjects are UCI EMG recordings
# Train (01, 03-06), validation (25, 26), test (31, 32) under the protocol's split by subject
# number: every subject of the published files we hold. Three subjects (one per split) were
# embedded before; one training subject cannot show fine-tuning generalise and 39 test windows
# cannot measure a 99% int8 agreement (docs/data.md, "Embedded real subset").
SUBJECTS: tuple[int, ...] = (1, 3, 4, 5, 6, 25, 26, 31, 32)
ASSET_FOLDER = "uci_emg_subset"
ASSET_FILE = "uci_emg_subset.npz"
LEVEL_SCALE = 1e5  # text value = level / 1e5; levels are the Myo's int8 samples
_LEVELS = np.arange(-128, 128)
# The text of every int8 level as the published files write it ("1e-05", "0.00012", "0").
_LEVEL_TEXT = {int(level): "%g" % (level / LEVEL_SCALE) for level in _LEVELS}


def asset_path() -> Path:
    """The packaged .npz of the embedded subjects."""
    return Path(str(resources.files("tinymyo_jax") / "assets" / ASSET_FOLDER / ASSET_FILE))


def write_raw(out: Path | str, asset: Path | str | None = None, subjects: tuple[int, ...] | None = None) -> Path:
    """Write the embedded subjects (or only `subjects`, a part of `SUBJECTS`) as the published layout
    `out/EMG_data_for_gestures-master/NN/*.txt` (byte-identical to the original files); returns
    `out`, a `--manual_dir` for `tinymyo prep uci_emg`."""
    out = Path(out)
    with np.load(asset or asset_path()) as packed:
        header = str(packed["header"])
        files = packed["files"].tolist()
        held = {int(Path(relative).parent.name) for relative in files}
        if subjects is not None and not set(subjects) <= held:
            raise UserError(f"subjects {sorted(set(subjects) - held)} are not embedded (held: {sorted(held)})")
        for index, relative in enumerate(files):
            if subjects is not None and int(Path(relative).parent.name) not in subjects:
                continue
            path = out / CORPUS_FOLDER / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            time = np.cumsum(packed[f"time_{index}"], dtype=np.int64)  # stored as first value + steps
            path.write_text(_render(header, time, packed[f"levels_{index}"], packed[f"classes_{index}"]))
    return out


def prepare(data_dir: Path | str, *, raw_dir: Path | str | None = None, overwrite: bool = False,
            progress: bool = False) -> Path:  # fmt: skip
    """Prepare the embedded subjects into `data_dir` as `tinymyo prep uci_emg` does (same builder,
    protocol, report); returns the prepared dataset folder DATA_DIR/uci_emg/<config>/<version>.

    The dataset is named `uci_emg`, like the full corpus: give a data_dir of its own. `raw_dir`
    keeps the text files written for it (default: a temporary folder, removed afterwards).
    """
    if not progress:
        tfds.disable_progress_bar()

    def run(raw: Path) -> None:
        builder.prepare_dataset(functools.partial(builder.named_builder, DATASET, None), Path(data_dir), write_raw(raw),
                                label=DATASET, overwrite=overwrite, progress=progress)  # fmt: skip

    if raw_dir is not None:
        run(Path(raw_dir))
    else:
        with tempfile.TemporaryDirectory(prefix="tinymyo_uci_embedded_") as raw:
            run(Path(raw))
    return dataset_dir(DATASET, data_dir)


def pack(corpus_root: Path | str, out: Path | str, subjects: tuple[int, ...] = SUBJECTS) -> Path:
    """Store both series of `subjects` from the published files (`corpus_root` holds
    EMG_data_for_gestures-master/) in a compressed .npz; refuses any file that `write_raw` would
    not give back byte for byte (a value that is not an int8 level x 1e-5, a fractional time...)."""
    base = Path(corpus_root) / CORPUS_FOLDER
    files = sorted(p for subject in subjects for p in (base / f"{subject:02d}").glob("*.txt"))
    if not files or {int(p.parent.name) for p in files} != set(subjects):
        raise UserError(f"{base}: expected text files for subjects {subjects}")
    arrays: dict[str, np.ndarray] = {}
    header = None
    for index, path in enumerate(files):
        text = path.read_text()
        lines = text.splitlines()
        header = lines[0] if header is None else header
        table = np.array([line.split("\t") for line in lines[1:]], dtype=np.float64)
        time = table[:, 0].astype(np.int64)
        levels = np.rint(table[:, 1 : 1 + NUM_CHANNELS] * LEVEL_SCALE).astype(np.int8)
        classes = table[:, -1].astype(np.int8)
        if _render(header, time, levels, classes) != text:
            raise UserError(f"{path}: not reproducible from int8 levels, integer time and class; not packed")
        # Time as its first value followed by the steps: small integers compress to almost nothing.
        steps = np.concatenate([time[:1], np.diff(time)]).astype(np.int32)
        arrays.update({f"time_{index}": steps, f"levels_{index}": levels, f"classes_{index}": classes})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, header=np.array(header), files=np.array([p.relative_to(base).as_posix() for p in files]), **arrays)
    return out


# --------------------------------------------------------------------------------------------
# Internals.
# --------------------------------------------------------------------------------------------


def _render(header: str, time: np.ndarray, levels: np.ndarray, classes: np.ndarray) -> str:
    """The published text: header, then `time<TAB>8 values<TAB>class` per row, newline-terminated."""
    rows = [
        "\t".join([str(t), *(_LEVEL_TEXT[v] for v in row), str(c)])
        for t, row, c in zip(time.tolist(), levels.tolist(), classes.tolist())
    ]
    return header + "\n" + "\n".join(rows) + "\n"
