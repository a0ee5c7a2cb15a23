"""The UCI subjects embedded in the package (tinymyo_jax/data/embedded.py): lossless against the
published files in ../shared/real/uci_emg, and prepared into exactly the windows that preparing
those original files gives."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.data.prep_reference import read_split
from tinymyo_jax.data import embedded
from tinymyo_jax.errors import UserError

CORPUS = "EMG_data_for_gestures-master"


def test_embedded_files_are_the_published_bytes_and_attributed(real_uci, tmp_path):
    written = embedded.write_raw(tmp_path / "raw") / CORPUS
    files = sorted(p.relative_to(written) for p in written.glob("*/*.txt"))
    assert {int(f.parent.name) for f in files} == set(embedded.SUBJECTS) and len(files) == 2 * len(embedded.SUBJECTS)
    for relative in files:
        assert (written / relative).read_bytes() == (real_uci / CORPUS / relative).read_bytes(), relative
    with np.load(embedded.asset_path()) as packed:  # int8 device levels: exactly value x 1e5
        assert all(packed[k].dtype == np.int8 for k in packed.files if k.startswith("levels_"))
    readme = (embedded.asset_path().parent / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Lobov" in readme and "10.24432/C5ZP5C" in readme


def test_write_raw_of_some_subjects_writes_exactly_their_published_files(real_uci, tmp_path):
    written = embedded.write_raw(tmp_path / "raw", subjects=(1, 25, 31)) / CORPUS
    files = sorted(p.relative_to(written) for p in written.glob("*/*.txt"))
    assert [f.parent.name for f in files] == ["01", "01", "25", "25", "31", "31"]
    for relative in files:
        assert (written / relative).read_bytes() == (real_uci / CORPUS / relative).read_bytes(), relative
    with pytest.raises(UserError, match=r"subjects \[2\] are not embedded"):
        embedded.write_raw(tmp_path / "other", subjects=(1, 2))
    assert not (tmp_path / "other").exists()  # refused before writing anything


def test_pack_refuses_a_value_that_is_not_a_device_level(real_uci, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(real_uci / CORPUS / "01", root / CORPUS / "01")
    path = sorted((root / CORPUS / "01").glob("*.txt"))[0]
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[5].split("\t")
    fields[3] = "1.5e-05"  # half a level: an int8 store would change it
    lines[5] = "\t".join(fields)
    path.write_text("".join(lines))
    with pytest.raises(UserError, match="not reproducible"):
        embedded.pack(root, tmp_path / "subset.npz", subjects=(1,))


def test_prepare_gives_the_windows_of_the_original_files(real_uci, real_uci_prepared, embedded_uci):
    """`embedded.prepare` == `tinymyo prep uci_emg` on the same subjects' published files, record
    for record: TinyMyo's subject split of the 9 subjects, 221 / 87 / 100 windows. Both preparations
    are the session's (tests/conftest.py); the published folder holds exactly the embedded subjects."""
    published = {int(p.name) for p in (real_uci / CORPUS).iterdir() if p.is_dir()}
    assert published == set(embedded.SUBJECTS), "the comparison needs the published files of exactly the embedded subjects"
    expected = {"train": ((1, 3, 4, 5, 6), 221), "validation": ((25, 26), 87), "test": ((31, 32), 100)}
    for split, (subjects, windows) in expected.items():
        mine, theirs = read_split("uci_emg", split, embedded_uci), read_split("uci_emg", split, real_uci_prepared)
        assert np.unique(mine["subject"]).tolist() == list(subjects) and len(mine["label"]) == windows, split
        assert mine.keys() == theirs.keys()
        for key in mine:
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=f"{split}/{key}")
