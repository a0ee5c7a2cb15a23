"""The corpus registry: a corpus is one module in data/corpora (plus a thin builder folder).

The new corpus below lives only in a temporary folder: a module `toy_corpus.py` (protocol,
reader, synthetic writer, decisions, download text, benchmark) and a builder folder
`data_prep/toy_corpus/`. Nothing of the package is edited, yet `tinymyo synth`, `tinymyo prep`,
`tfds`'s builder loading and the evaluation configs all serve it, and its real channel count
travels with the prepared data.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinymyo_jax.cli import main
from tinymyo_jax.data import corpora

CORPUS_MODULE = '''
"""A toy corpus: 3 named channels at 2 kHz, one .npz per subject, 2 gestures; split by subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.corpora import Corpus, Downstream
from tinymyo_jax.data.protocols import SPLITS, CorpusProtocol, W1000, Windows, assign_by
from tinymyo_jax.data.recording import Recording, RecordingMeta

NAME = "toy_corpus"
SPLIT_OF_SUBJECT = {1: "train", 2: "train", 3: "validation", 4: "test"}


# -- reader (its own module for a real corpus: readers/<name>.py) ---------------------------
def list_files(root, dataset):
    return sorted(Path(root).glob("s*.npz"))


def read_file(path, root, dataset):
    data = np.load(path)
    meta = RecordingMeta(dataset=dataset, subject=int(data["subject"]), session=None, file=Path(path).name,
                         extra={"channel_names": ["flexor", "extensor", "thenar"]})
    return [Recording(emg=data["emg"], fs=float(data["fs"]), meta=meta, labels=data["labels"])]


# -- synthetic raw files ---------------------------------------------------------------------
def write_raw_corpus(dataset, out_dir, *, seed=0, num_subjects=4, duration_scale=1.0):
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for subject in range(1, 5):
        labels = np.repeat([0, 1, 0, 1], 1500).astype(np.int32)
        emg = rng.standard_normal((labels.size, 3)).astype(np.float32) * (1 + labels[:, None] * [2.0, 0.0, 1.0])
        path = out_dir / f"s{subject}.npz"
        np.savez(path, emg=emg, labels=labels, fs=2000.0, subject=subject)
        files.append(path)
    return files


# -- protocol ----------------------------------------------------------------------------------
def cut(protocol, recording, config, split):
    emg, recording = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    labels = signal.labels_at(recording.labels, starts, config.window, "majority").astype(np.int64)
    return Windows(emg, starts, config.window, splits=np.full(starts.size, split, dtype=object), labels=labels)


def assign(files, root):
    return assign_by(files, lambda f: SPLIT_OF_SUBJECT.get(int(f.stem[1:]), (None, "not a toy subject")))


CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="classification", fs=2000.0, band=(20.0, 450.0), channels=3, configs=(W1000,),
        splits=SPLITS, cut=cut, assign=assign, class_names=("rest", "grip"),
    ),
    dataset_id=9, reader=__name__, synth=__name__,
    decisions="- A toy corpus for the registry test.\\n", homepage="", instructions="Run tinymyo synth toy_corpus.\\n",
    benchmark=Downstream("w1000", "accuracy"), emg_bound=100.0,
)
'''

BUILDER_MODULE = '''
"""Thin TFDS builder of the toy corpus: it only names the corpus."""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    PROTOCOL = "toy_corpus"
'''


@pytest.fixture
def toy_corpus(tmp_path, monkeypatch):
    """The package's corpus modules plus `toy_corpus.py` from a temporary folder."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "toy_corpus.py").write_text(textwrap.dedent(CORPUS_MODULE))
    builders = tmp_path / "data_prep" / "toy_corpus"
    builders.mkdir(parents=True)
    (builders / "__init__.py").write_text("")
    (builders / "toy_corpus_dataset_builder.py").write_text(textwrap.dedent(BUILDER_MODULE))
    monkeypatch.setattr(corpora, "__path__", [*corpora.__path__, str(modules)])
    corpora.reset()
    yield tmp_path
    corpora.reset()
    for name in [m for m in sys.modules if m.endswith("toy_corpus") or ".toy_corpus." in m or m.startswith("toy_corpus")]:
        del sys.modules[name]


def test_a_corpus_module_and_its_builder_folder_are_all_a_new_corpus_needs(toy_corpus, monkeypatch):
    import tensorflow_datasets as tfds

    from tinymyo_jax.data import protocols, window_record
    from tinymyo_jax.data.source import WindowShards, prepared_metadata
    from tinymyo_jax.evaluate.config import benchmarks, probe_config
    from tinymyo_jax.evaluate.data import Splits

    assert corpora.names()[-1] == "toy_corpus" and "toy_corpus" in corpora.named()
    assert corpora.get("toy_corpus").dataset_id == 9
    assert "toy_corpus" in benchmarks()

    raw, out = toy_corpus / "raw", toy_corpus / "tfds"
    assert main(["synth", "toy_corpus", "--out", str(raw)]) == 0
    assert sorted(p.name for p in (raw / "toy_corpus").iterdir()) == ["s1.npz", "s2.npz", "s3.npz", "s4.npz"]
    # --workers 1: the temporary module is registered in this process only
    assert main(["prep", "toy_corpus", "--manual_dir", str(raw), "--data_dir", str(out), "--workers", "1", "--no-progress"]) == 0

    shards = WindowShards("toy_corpus", "train", data_dir=out)
    # 2 subjects x 6000 samples -> 11 windows each; 3 real channels, then 13 padding rows
    assert len(shards) == 22
    record = shards[0]
    assert record["channel_mask"].tolist() == [True] * 3 + [False] * 13
    assert record["dataset"] == 9
    metadata = prepared_metadata(shards.directory)
    assert metadata["channels"] == 3 and metadata["channel_names"] == ["flexor", "extensor", "thenar"]
    report = json.loads((shards.directory / "prep_report.json").read_text())
    assert report["channels"] == 3 and report["files"][0]["channel_names"] == ["flexor", "extensor", "thenar"]
    features = json.loads((shards.directory / "features.json").read_text())["featuresDict"]["features"]
    assert int(features["dataset"]["classLabel"]["numClasses"]) == len(corpora.names()) == 10

    config = probe_config("toy_corpus", "tiny")
    config.data.data_dir = str(out)
    splits = Splits(config)
    assert splits.info.channels == 3 and splits.info.num_classes == 2 and splits.info.fs == 2000.0
    assert splits.info.channel_names == ("flexor", "extensor", "thenar")
    assert splits.read("test", np.arange(2))["emg"].shape == (2, 3, 1000)

    # `tfds build data_prep/toy_corpus` loads the same builder from the folder
    monkeypatch.syspath_prepend(str(toy_corpus / "data_prep"))
    cls = tfds.core.community.builder_cls_from_module("toy_corpus.toy_corpus_dataset_builder")
    assert cls.name == "toy_corpus" and [c.name for c in cls.BUILDER_CONFIGS] == ["w1000"]
    assert cls.MANUAL_DOWNLOAD_INSTRUCTIONS == "Run tinymyo synth toy_corpus.\n"
    assert window_record.features(corpora.protocol("toy_corpus"), protocols.W1000)["label"].names == ["rest", "grip"]


def test_the_registry_refuses_modules_that_break_its_rules(toy_corpus, monkeypatch):
    path = Path(corpora.__path__[-1]) / "toy_corpus.py"
    path.write_text(textwrap.dedent(CORPUS_MODULE).replace("dataset_id=9", "dataset_id=3"))
    with pytest.raises(ValueError, match="dataset ids must be 0..9, each once"):
        corpora.registry()
    corpora.reset()
    del sys.modules["tinymyo_jax.data.corpora.toy_corpus"]
    path.write_text(textwrap.dedent(CORPUS_MODULE).replace('NAME = "toy_corpus"', 'NAME = "other_name"'))
    with pytest.raises(ValueError, match="named after its corpus"):
        corpora.registry()


def test_unknown_corpora_are_a_user_error():
    from tinymyo_jax.errors import UserError

    with pytest.raises(UserError, match="no corpus named 'ninapro_db2'; choose from ninapro_db5, .*generic"):
        corpora.get("ninapro_db2")


def test_datasets_prepared_before_the_channel_metadata_fall_back_to_the_protocol(tmp_path):
    from tinymyo_jax.data.source import prepared_metadata
    from tinymyo_jax.errors import UserError

    old = tmp_path / "uci_emg" / "w1000" / "1.0.0"
    old.mkdir(parents=True)
    (old / "dataset_info.json").write_text(json.dumps({"name": "uci_emg"}))
    with pytest.warns(UserWarning, match="using the uci_emg protocol's 8"):
        assert prepared_metadata(old)["channels"] == 8
    users = tmp_path / "generic" / "lab" / "1.0.0"
    users.mkdir(parents=True)
    (users / "dataset_info.json").write_text(json.dumps({"name": "generic"}))
    with pytest.raises(UserError, match="re-prepare it"):
        prepared_metadata(users)
