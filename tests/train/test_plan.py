"""`tinymyo plan`: the trainer's step compiled for a TPU topology on this CPU host, with libtpu.

A small model keeps each compile to seconds of CPU; what is checked is what the command is for:
the compiled FLOPs match the analytic count, the state arrives at its analytic size, data
parallelism all-reduces the gradients, and a recipe too large for the chip is refused with the
change that fits named.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("libtpu", reason="libtpu is not installed (pip install 'tinymyo-jax[tpu-plan]')")

from tinymyo_jax.cli import main  # noqa: E402
from tinymyo_jax.config_files import load_config  # noqa: E402
from tinymyo_jax.train.plan import collectives, make_plan, parse_hbm_oom  # noqa: E402

# head_dim 64 as in the published model: with tiny heads, softmax's element-wise work (which XLA
# counts and the matmul-only analytic count leaves out) alone is > 10% of the FLOPs. Width 128
# (TPU's lane count): narrower arrays are padded to 128 lanes, 21% more argument bytes at dim 64.
SMALL = ["compute_dtype=bfloat16", "model.embed_dim=128", "model.num_heads=2", "global_batch_size=8",
         "micro_batch_size=4"]


@pytest.fixture(scope="module")
def small_plan():
    config = load_config("configs/pretrain/smoke.py:tiny", SMALL)
    return make_plan(config, "v5e:2x2", channels=16, samples=400)


@pytest.mark.slow
def test_compiled_flops_and_memory_agree_with_the_analytic_counts(small_plan):
    plan = small_plan
    attempt = plan.first
    assert plan.devices == 4 and attempt.fits
    # the micro-batch scan body is counted once by XLA: 2 micro-batches must be counted twice
    assert attempt.flops_per_step == pytest.approx(plan.analytic_flops_per_step, rel=0.10)
    from tinymyo_jax.models.summary import parameter_counts
    from tinymyo_jax.models.tinymyo import TinyMyo
    from tinymyo_jax.train.pretrain import model_config_from
    from flax import nnx

    n_params = parameter_counts(TinyMyo(model_config_from(plan.config), rngs=nnx.Rngs(params=0)))["total"]
    # replicated fp32 params, AdamW's two fp32 moments, and this chip's quarter of the batch
    state = 3 * 4 * n_params
    batch = 8 // 4 * (16 * 400 * 2 + 16)
    assert attempt.memory["parameters"] == 4 * n_params
    assert attempt.memory["arguments"] == pytest.approx(state + batch, rel=0.10)
    assert 0 < attempt.memory["temporaries"] < attempt.hbm_limit
    # data parallelism: every gradient (bf16 or fp32) is all-reduced across the chips each step
    reduced = sum(row["bytes"] for row in attempt.collectives if row["op"] == "all-reduce")
    assert reduced >= 2 * n_params


@pytest.mark.slow
def test_a_recipe_that_does_not_fit_is_refused_with_the_change_that_fits(capsys):
    # 4096 windows of 16 x 1000 at once on one v5e chip: XLA refuses the temporaries
    code = main(["plan", "--config", "configs/pretrain/smoke.py:tiny", "--topology", "v5e:1x1",
                 "--config.global_batch_size=4096", "--config.compute_dtype=bfloat16"])
    captured = capsys.readouterr()
    assert code == 2
    error = captured.err.strip().splitlines()[-1]
    assert error.startswith("tinymyo plan: error: the recipe does not fit v5e:1x1")
    fix = re.search(r"smallest change that fits is --config\.micro_batch_size=(\d+)", error)
    assert fix, error
    assert int(fix[1]) < 4096
    table = captured.out.splitlines()
    assert "HBM out of memory" in table[1] and "(as configured)" in table[1]
    assert any(f"--config.micro_batch_size={fix[1]}" in line and line.endswith("fits") for line in table)
    assert "FLOPs per step per chip" in captured.out  # the plan of the change that fits follows


def test_hbm_refusals_are_read_in_both_of_xlas_wordings():
    assert parse_hbm_oom("Ran out of memory in memory space hbm. Used 16.25G of 15.75G hbm. Exceeded") == (
        int(16.25 * 2**30), int(15.75 * 2**30))
    assert parse_hbm_oom("the total memory required for HLO temporaries (36.73G) exceeds available HBM (15.75G).") == (
        int(36.73 * 2**30), int(15.75 * 2**30))
    assert parse_hbm_oom("INVALID_ARGUMENT: something else") is None


def test_collectives_are_counted_per_step_with_loop_bodies_per_trip():
    hlo = "\n".join([
        "%body.1 (p: (s32[], f32[4])) -> (s32[], f32[4]) {",
        "  %all-reduce.1 = bf16[192,576]{1,0} all-reduce(%x), channel_id=1, to_apply=%add",
        "}",
        "ENTRY %main (a: f32[8]) -> f32[8] {",
        "  %w = (s32[], f32[4]) while(%t), condition=%cond.1, body=%body.1",
        "  %all-reduce.2 = (f32[], f32[]) all-reduce(%a, %b), channel_id=2, to_apply=%add",
        "  %ag = (f32[2,3], f32[8,3]) all-gather-start(%c), dimensions={0}",
        "}",
    ])
    rows = {row["op"]: row for row in collectives(hlo, loop_trips=3)}
    assert rows["all-reduce"] == {"op": "all-reduce", "count": 4, "bytes": 3 * 192 * 576 * 2 + 8, "in_loop": 3}
    assert rows["all-gather"] == {"op": "all-gather", "count": 1, "bytes": 8 * 3 * 4, "in_loop": 0}
