"""Every probe and fine-tune config file loads in every variant, with TinyMyo's recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinymyo_jax.config_files import load_config
from tinymyo_jax.errors import UserError

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = ("ninapro_db5", "epn612", "uci_emg", "ninapro_db8")


@pytest.mark.parametrize("kind", ["probe", "finetune"])
@pytest.mark.parametrize("benchmark", BENCHMARKS)
@pytest.mark.parametrize("variant", ["", ":runlocal", ":tiny"])
def test_config_files_load_in_every_variant(kind, benchmark, variant):
    config = load_config(f"{REPO}/configs/{kind}/{benchmark}.py{variant}", ["init=runs/smoke", "data.data_dir=runs/tfds"])
    assert config.kind == kind and config.benchmark == benchmark and config.init == "runs/smoke"
    assert config.task == ("regression" if benchmark == "ninapro_db8" else "classification")
    assert config.probe.selection_metric == ("mae" if benchmark == "ninapro_db8" else "accuracy")


def test_the_finetune_recipe_is_tinymyos():
    config = load_config(f"{REPO}/configs/finetune/ninapro_db5.py")
    opt = config.optimizer
    assert (opt.lr, opt.b1, opt.b2, opt.weight_decay, opt.layer_decay, opt.warmup_epochs) == (5e-4, 0.9, 0.98, 0.01, 0.9, 5)
    assert config.loss.label_smoothing == 0.1 and config.early_stopping.patience == 7
    assert config.finetune.epochs == 50 and config.finetune.batch_size == 32
    # TinyMyo fine-tunes on what its encoder was trained on: the checkpoint's own normalisation
    assert config.data.input_normalization == "checkpoint" and config.features.fusion == "concat"


def test_an_unknown_variant_is_a_user_error():
    with pytest.raises(UserError, match="unknown config variant"):
        load_config(f"{REPO}/configs/probe/epn612.py:huge")
