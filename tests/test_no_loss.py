"""Issue 14 outside preparation and pretraining: replace-on-success, the workdir record, the
demo's workdir, and import-torch / export mistakes as one-line errors (exit 2, no traceback).

Findings reproduced: 2 (`import-torch --force` with a missing input keeps --out), 3 (the demo
never deletes a folder it did not create; its stages replace their folders only on success),
7 (import-torch and export mistakes).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.errors import UserError
from tinymyo_jax.replace import replace_on_success
from tinymyo_jax.train import workdir as workdir_lib
from tests.assertions import one_line_error, tree_digest


# ---------------------------------------------------------------- replace-on-success


def test_replace_on_success_keeps_the_old_folder_when_the_build_fails(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with replace_on_success(target) as staging:
            (staging / "new.txt").write_text("half")
            raise RuntimeError("build failed")
    assert tree_digest(target) == {"old.txt": hashlib.sha256(b"old").hexdigest()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replace_on_success_swaps_in_the_new_folder_and_cleans_killed_leftovers(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    killed = tmp_path / ".out.staging-999999999"  # a run that was SIGKILLed (no such pid)
    killed.mkdir()
    with replace_on_success(target) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------- the workdir record


def test_start_run_records_then_refuses_a_difference_and_fresh_moves_the_old_run_aside(tmp_path):
    workdir = tmp_path / "run"
    record = {"init": "random", "model": {"embed_dim": 32}, "data": {"x": {"fingerprint": "abc"}}}
    workdir_lib.start_run(workdir, record, "resume")
    (workdir / "checkpoints").mkdir()
    (workdir / "checkpoints" / "marker").write_text("step")
    workdir_lib.start_run(workdir, record, "resume")  # same settings: resumes
    with pytest.raises(UserError, match=r"model.embed_dim=32, this run has model.embed_dim=64.*workdir_mode=fresh"):
        workdir_lib.start_run(workdir, {**record, "model": {"embed_dim": 64}}, "resume")
    workdir_lib.start_run(workdir, {**record, "model": {"embed_dim": 64}}, "fresh")
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert len(aside) == 1 and (aside[0] / "checkpoints" / "marker").read_text() == "step"
    assert json.loads((workdir / workdir_lib.RECORD_FILE).read_text())["model"] == {"embed_dim": 64}


# ---------------------------------------------------------------- finding 2: import-torch


def test_import_torch_force_with_a_missing_input_keeps_the_old_checkpoint(tmp_path, capsys):
    out = tmp_path / "imported"
    out.mkdir()
    (out / "0").mkdir()
    (out / "0" / "weights").write_bytes(b"the user's checkpoint")
    before = tree_digest(out)
    assert tinymyo(["import-torch", "--safetensors", str(tmp_path / "missing.safetensors"), "--out", str(out),
                    "--force"]) == 2  # fmt: skip
    assert "is not a file" in one_line_error(capsys)
    assert tree_digest(out) == before


def test_import_torch_force_with_a_bad_input_keeps_the_old_checkpoint(tmp_path, capsys):
    out = tmp_path / "imported"
    out.mkdir()
    (out / "keep").write_text("mine")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    assert tinymyo(["import-torch", "--safetensors", str(bad), "--out", str(out), "--force"]) == 2
    one_line_error(capsys)
    assert (out / "keep").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "imported"]


@pytest.mark.parametrize("case", ["num_heads_0", "out_is_a_file"])
def test_import_torch_mistakes_are_one_line_errors(case, golden, tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["import-torch", "--safetensors", str(golden / "classification_perturbed.safetensors"), "--out", str(out)]
    if case == "num_heads_0":
        arguments += ["--num-heads", "0"]
        phrase = "--num-heads"
    else:
        out.write_text("a file")
        phrase = "--out"
    assert tinymyo(arguments) == 2
    assert phrase in one_line_error(capsys)


# ---------------------------------------------------------------- finding 3: the demo's workdir


def test_the_demo_refuses_a_non_empty_workdir_it_did_not_create(tmp_path, capsys):
    workdir = tmp_path / "mine"
    (workdir / "pretrain").mkdir(parents=True)
    (workdir / "pretrain" / "precious.txt").write_text("do not delete")
    before = tree_digest(workdir)
    assert tinymyo(["demo", "--workdir", str(workdir)]) == 2
    assert "not created by the demo" in one_line_error(capsys)
    assert tree_digest(workdir) == before


def test_a_failing_demo_stage_keeps_the_previous_stage_output(tmp_path):
    from tinymyo_jax.commands import demo

    workdir = tmp_path / "demo"
    demo.claim_workdir(workdir)
    (workdir / "pretrain").mkdir()
    (workdir / "pretrain" / "summary.json").write_text("{}")
    before = tree_digest(workdir)
    with pytest.raises(UserError):  # no prepared data there: pretraining fails at its start
        demo.stage_pretrain(workdir, tmp_path / "no_tfds")
    assert tree_digest(workdir) == before
    demo.claim_workdir(workdir)  # the demo's own folder is accepted again


# ---------------------------------------------------------------- finding 7: export


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    directory = tmp_path_factory.mktemp("export") / "checkpoint"
    save_model_checkpoint(directory, build_model(preset("tinyissimo", embed_dim=32, depth=1, num_heads=2)))
    return directory


@pytest.mark.parametrize(
    "extra, phrase",
    [(["--channels", "0"], "--channels"), (["--samples", "0"], "--samples"), (["--step", "99"], "no step 99"),
     (["--samples", "30"], "multiple of the model's patch size"), ("out_is_a_file", "--out")],
)  # fmt: skip
def test_export_mistakes_are_one_line_errors(tiny_checkpoint, tmp_path, extra, phrase, capsys):
    out = tmp_path / "export"
    if extra == "out_is_a_file":
        out.write_text("a file")
        extra = []
    assert tinymyo(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), *extra]) == 2
    assert phrase in one_line_error(capsys)
