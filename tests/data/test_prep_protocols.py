"""The protocol table, the subject hold-out rule, file -> split assignment, and the builders' wiring."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tinymyo_jax.data import builder, corpora, protocols
from tinymyo_jax.data.decisions import COMMON
from tinymyo_jax.data.recording import Recording, RecordingMeta


def test_held_out_subjects_are_deterministic_and_never_empty_or_everyone():
    assert protocols.held_out_subjects("ninapro_db6", [3]) == set()
    two = protocols.held_out_subjects("ninapro_db6", [1, 2])
    assert len(two) == 1 and two == protocols.held_out_subjects("ninapro_db6", [2, 1, 2])
    assert protocols.held_out_subjects("ninapro_db6", range(1, 11)) == {4}  # as documented
    assert protocols.held_out_subjects("ninapro_db7", range(1, 23)) == {9, 12}
    many = protocols.held_out_subjects("emg2pose", range(193))
    assert len(many) == 19


def test_files_are_assigned_to_splits_from_their_names(tmp_path):
    db8 = [Path(f"S1_E1_A{k}.mat") for k in (1, 2, 3, 4)]
    assigned, skipped = protocols.assign_files(corpora.protocol("ninapro_db8"), db8, tmp_path)
    assert [assigned.get(f) for f in db8[:3]] == ["train", "validation", "test"]
    assert "A1, A2 or A3" in skipped[db8[3]]
    uci = [Path(f"base/{n:02d}/1_raw_data.txt") for n in (1, 24, 25, 30, 31, 36, 37)]
    assigned, skipped = protocols.assign_files(corpora.protocol("uci_emg"), uci, tmp_path)
    assert [assigned.get(f) for f in uci[:6]] == ["train", "train", "validation", "validation", "test", "test"]
    assert "outside 1-36" in skipped[uci[6]]
    db5 = [Path("s1/S1_E1_A1.mat")]
    assert protocols.assign_files(corpora.protocol("ninapro_db5"), db5, tmp_path) == ({db5[0]: None}, {})
    emg2pose = [tmp_path / "unlisted.hdf5"]
    _, skipped = protocols.assign_files(corpora.protocol("emg2pose"), emg2pose, tmp_path)
    assert "metadata.csv" in skipped[emg2pose[0]]


def test_recordings_at_another_rate_are_resampled_with_their_labels():
    meta = RecordingMeta(dataset="emg2pose", subject=1, session=None, file="x")
    labels = np.repeat(np.arange(4), 1000)
    recording = Recording(emg=np.random.default_rng(0).standard_normal((4000, 2)).astype(np.float32),
                          fs=4000.0, meta=meta, labels=labels)  # fmt: skip
    resampled = protocols.at_rate(recording, 2000.0)
    assert resampled.fs == 2000.0 and resampled.num_samples == 2000
    np.testing.assert_array_equal(resampled.labels, np.repeat(np.arange(4), 500))
    assert protocols.at_rate(resampled, 2000.0) is resampled


def test_every_decision_is_in_the_docs_and_the_builder_description():
    def flat(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    docs = flat((REPO / "docs" / "data.md").read_text())
    for name, corpus in corpora.registry().items():
        text = corpus.decisions
        assert flat(text) in docs, name
        assert flat(text) in flat(corpora.get(name).all_decisions)
    assert flat(COMMON) in docs
    for section in ("§12.2", "§12.3", "§12.4", "§12.5", "§12.6", "§12.7", "§12.8", "§12.9", "§12.10", "§12.11",
                    "§12.12", "§12.13", "§12.14"):  # fmt: skip
        assert section in docs, section


@pytest.mark.parametrize("name", corpora.named())
def test_data_prep_folder_holds_a_thin_builder_for_the_corpus(name, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.syspath_prepend(str(REPO / "data_prep"))
    cls = tfds.core.community.builder_cls_from_module(f"{name}.{name}_dataset_builder")
    assert cls.name == name and cls.PROTOCOL == name and issubclass(cls, builder.EmgBuilder)
    protocol = corpora.protocol(name)
    assert [c.name for c in cls.BUILDER_CONFIGS] == [c.name for c in protocol.configs]
    assert cls.MANUAL_DOWNLOAD_INSTRUCTIONS
    made = builder.builder_class(name)
    assert made.name == name and [c.name for c in made.BUILDER_CONFIGS] == [c.name for c in cls.BUILDER_CONFIGS]
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        monkeypatch.delitem(sys.modules, module)  # a top-level name like `emg2pose` must not linger
