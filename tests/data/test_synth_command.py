"""`tinymyo synth`: corpus registry and command, driven through the CLI entry point.

Two fake writer modules pin down the command's own behaviour (name expansion, validation,
output layout, report) without paying for every real corpus; one real corpus runs end to end.
"""

from __future__ import annotations

import pathlib
import sys
import types

import pytest

from tinymyo_jax import cli
from tinymyo_jax.data import synth
from tinymyo_jax.errors import UserError

calls: list[tuple[str, pathlib.Path, dict]] = []


def _fake_writer(dataset: str, out_dir: pathlib.Path, *, seed: int = 0, num_subjects: int = 2,
                 duration_scale: float = 1.0) -> list[pathlib.Path]:
    calls.append((dataset, out_dir, dict(seed=seed, num_subjects=num_subjects, duration_scale=duration_scale)))
    files = []
    for subject in range(1, num_subjects + 1):
        path = out_dir / f"s{subject}" / f"S{subject}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1500)
        files.append(path)
    return files


@pytest.fixture
def fake_corpora(monkeypatch):
    module = types.ModuleType("fake_synth_writer")
    module.write_raw_corpus = _fake_writer
    monkeypatch.setitem(sys.modules, "fake_synth_writer", module)
    monkeypatch.setattr(synth, "synth_modules", lambda: {"corpus_a": "fake_synth_writer", "corpus_b": "fake_synth_writer"})
    calls.clear()
    return calls


def test_registry_names_every_corpus_and_rejects_unknown_names(tmp_path):
    assert set(synth.synth_modules()) == {
        "ninapro_db5", "ninapro_db6", "ninapro_db7", "ninapro_db8", "emg2pose", "epn612", "uci_emg"
    }
    assert {synth.synth_modules()[f"ninapro_db{n}"] for n in (5, 6, 7, 8)} == {"tinymyo_jax.data.synth.ninapro"}
    with pytest.raises(UserError, match="emg2pose.*uci_emg"):
        synth.write_raw_corpus("ninapro_db2", tmp_path)


def test_synth_writes_each_corpus_into_its_own_folder_and_reports(fake_corpora, tmp_path, capsys):
    rc = cli.main(["synth", "corpus_b", "--out", str(tmp_path), "--seed", "3", "--subjects", "3",
                   "--duration-scale", "0.5"])
    assert rc == 0
    assert fake_corpora == [("corpus_b", tmp_path / "corpus_b", dict(seed=3, num_subjects=3, duration_scale=0.5))]
    out = capsys.readouterr().out
    assert "corpus_b: 3 files, 4.5 KB" in out and str(tmp_path / "corpus_b") in out
    assert "s2/S2.dat  1.5 KB" in out
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.dat")) == [
        "corpus_b/s1/S1.dat", "corpus_b/s2/S2.dat", "corpus_b/s3/S3.dat"
    ]


def test_all_expands_to_every_corpus_once(fake_corpora, tmp_path, capsys):
    assert cli.main(["synth", "all", "corpus_a", "--out", str(tmp_path)]) == 0
    assert [dataset for dataset, _, _ in fake_corpora] == ["corpus_a", "corpus_b"]
    assert "total: 2 corpora, 4 files, 6.0 KB" in capsys.readouterr().out


def test_bad_arguments_are_one_line_errors_and_nothing_is_written(fake_corpora, tmp_path, capsys):
    assert cli.main(["synth", "corpus_a", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown corpus 'nope'" in err and "corpus_a, corpus_b" in err
    assert cli.main(["synth", "corpus_a", "--out", str(tmp_path), "--subjects", "0"]) == 2
    assert "--subjects" in capsys.readouterr().err
    assert fake_corpora == [] and not any(tmp_path.iterdir())


def test_synth_writes_a_real_corpus(tmp_path, capsys):
    # One real writer end to end (emg2pose: the smallest); the others are exercised by their
    # readers' tests.
    assert cli.main(["synth", "emg2pose", "--out", str(tmp_path), "--subjects", "1", "--duration-scale", "0.1"]) == 0
    out = capsys.readouterr().out
    written = sorted(p for p in (tmp_path / "emg2pose").rglob("*.hdf5"))
    assert written, out
    assert out.startswith(f"emg2pose: {len(written)} files")
    for path in written:
        assert f"  {path.name}  " in out
