"""Probe and fine-tune configs: every field a downstream run reads, with TinyMyo's values.

Config files in `configs/probe/` and `configs/finetune/` are one line each
(`return probe_config("epn612", arg)`), so the demo and the tests build the same configs without
the files. `arg` picks a variant:
  None        the benchmark protocol (datasets.md §1.2).
  "runlocal"  minutes on a laptop CPU: at most 512 windows per split, a small random encoder
              when init=random, a short fine-tune.
  "tiny"      seconds, for the tests: a 2-block dim-32 encoder, 2 epochs, few L2 values.
Every field can be overridden: `--config.init=runs/smoke/checkpoints --config.data.data_dir=runs/tfds`.
"""

from __future__ import annotations

import ml_collections

from tinymyo_jax.data import corpora
from tinymyo_jax.data.source import dataset_key
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.config import DEFAULTS as MODEL_DEFAULTS


VARIANTS = (None, "runlocal", "tiny")


def benchmarks() -> tuple[str, ...]:
    """The named benchmarks: every registered corpus that offers one with a fixed builder config."""
    return tuple(name for name, c in corpora.registry().items() if c.benchmark is not None and not c.user_configs)


def benchmark(name: str) -> tuple[corpora.Corpus, str, str]:
    """(corpus, builder config, task) of a benchmark: a named one (the `benchmark` a corpus's
    registry entry offers, data/corpora: `Downstream`), or `CORPUS/NAME` for a corpus whose
    configs users make (`generic/NAME`: a labelled corpus of your own recordings,
    `tinymyo prep generic --name NAME --label-...`), classified like the gesture benchmarks."""
    corpus_name, config = dataset_key(name)
    config = config or ""
    corpus = corpora.registry().get(corpus_name)
    if corpus is None or corpus.benchmark is None or bool(config) != corpus.user_configs or "/" in config:
        raise UserError(f"unknown benchmark {name!r}; choose from {', '.join(benchmarks())}"
                        + "".join(f", or {n}/NAME" for n, c in corpora.registry().items() if c.user_configs))  # fmt: skip
    task = corpus.protocol.task
    if corpus.user_configs:
        task = "classification"  # its labelled corpora; the prepared dataset's features say if it has labels
    return corpus, config or corpus.benchmark.builder_config, task


def _common(name: str, arg: str | None) -> ml_collections.ConfigDict:
    if arg not in VARIANTS:
        raise UserError(f"unknown config variant {arg!r}; choose from runlocal, tiny (or none)")
    corpus, builder_config, task = benchmark(name)
    config = ml_collections.ConfigDict()
    config.benchmark = name
    config.task = task
    config.seed = 0  # random encoder init (baseline and init=random), fine-tune head init, data order, dropout
    # Where the encoder comes from: a checkpoint directory (a pretraining workdir, its
    # checkpoints/ folder, or `tinymyo import-torch` output), "random", or "torch:FILE.safetensors".
    config.init = "random"

    config.model = ml_collections.ConfigDict()
    # Architecture of a random encoder (init=random); a checkpoint brings its own.
    config.model.preset = "tinymyo"
    config.model.embed_dim = 0  # 0 keeps the preset's value
    config.model.depth = 0
    config.model.num_heads = 0
    # A random encoder (init=random) is ModelConfig's defaults (models/config.DEFAULTS); the
    # pretraining config's two differences (train/config.py) are not applied to it.
    config.model.rope = MODEL_DEFAULTS.rope
    config.model.channel_embedding = MODEL_DEFAULTS.channel_embedding  # none | learned (models/encoder.py)
    # torch:FILE only: the head count is not in the weights; "reference" RoPE = the published model.
    config.model.torch_num_heads = 3
    config.model.torch_rope = "reference"

    config.data = ml_collections.ConfigDict()
    config.data.name = corpus.name
    config.data.builder_config = builder_config
    config.data.data_dir = ""  # "" -> $TFDS_DATA_DIR, else ~/tensorflow_datasets
    config.data.train_split = "train"
    config.data.validation_split = "validation"
    config.data.test_split = "test"
    # "checkpoint": the normalisation the encoder was pretrained with (stored in its checkpoint;
    # a reference torch: import -> minmax_channel; init=random -> none). Or force one:
    # "none": the prepared z-scores as they are (TinyMyo's fine-tuning: normalize False);
    # "minmax_channel" (alias "minmax"): per-window, per-channel min-max to [-1, 1] (reference
    # pretraining); "window_scale": one scale per window (models/normalization.py).
    config.data.input_normalization = "checkpoint"
    config.data.max_windows = 0  # > 0: an evenly spaced subset of at most this many windows per split
    config.data.batch_size = 64  # windows per feature-extraction / evaluation call
    config.data.encode_chunk = 1  # CPU: encode this many windows at a time inside a call (0: all)

    config.features = ml_collections.ConfigDict()
    config.features.fusion = "concat"  # concat | mean over channels (models/heads.fuse_channels)
    config.features.pooling = "mean"  # mean | max | mean_max over the time patches of a segment
    # regression: one prediction per segment; classification: 1 (whole window), or S > 1 to put
    # the S segments' pooled features side by side (a one-level temporal pyramid)
    config.features.segments = corpus.benchmark.segments
    config.features.cache = True  # WORKDIR/features/*.npz, keyed by encoder hash, data and these fields

    config.probe = ml_collections.ConfigDict()
    # Classification: multinomial logistic regression (optax L-BFGS, full batch) on standardised
    # features, one fit per L2 strength. Regression: closed-form ridge. The L2 with the best
    # validation `selection_metric` is kept (ties -> the stronger L2).
    # (Ridge's optimum does not depend on the targets' scale; standardised features put the
    # useful strengths higher for ridge than for the logistic loss.)
    config.probe.l2_grid = ([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0] if task == "classification"
                            else [1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4])  # fmt: skip
    config.probe.max_iterations = 500
    config.probe.tolerance = 1e-5  # gradient norm at which L-BFGS stops
    config.probe.selection_metric = corpus.benchmark.selection_metric

    config.classic = ml_collections.ConfigDict()
    # RMS, MAV, waveform length, zero crossings, slope-sign changes per channel -> LDA
    # (regression: ridge), on the same windows and segments as the probe.
    config.classic.zc_threshold = 0.0  # in the prepared units (z-scores)
    config.classic.ssc_threshold = 0.0
    config.classic.shrinkage_grid = [1e-4, 1e-3, 1e-2, 1e-1, 0.5]  # LDA covariance shrinkage, chosen on validation
    config.classic.l2_grid = [1e-4, 1e-2, 1.0, 10.0, 100.0, 1e3]  # regression ridge

    config.baselines = ml_collections.ConfigDict()
    config.baselines.random_encoder = True  # the same probe on a randomly initialised encoder
    config.baselines.classic = True

    config.report = ml_collections.ConfigDict()
    config.report.trajectory_windows = 3  # regression: test windows drawn in trajectories.png
    return config


def generic_arg(arg: str | None, kind: str) -> tuple[str, str | None]:
    """`configs/<kind>/generic.py:NAME[:VARIANT]` -> ("generic/NAME", VARIANT or None)."""
    name, _, variant = (arg or "").partition(":")
    if not name:
        raise UserError(f"name the corpus: --config configs/{kind}/generic.py:NAME (NAME as given to tinymyo prep generic --name)")
    return f"generic/{name}", variant or None


def probe_config(name: str, arg: str | None = None) -> ml_collections.ConfigDict:
    """The linear-probe config of benchmark `name` (see the module docstring for `arg`)."""
    config = _common(name, arg)
    config.kind = "probe"
    if arg in ("runlocal", "tiny"):
        _shrink(config, arg)
    return config


def finetune_config(name: str, arg: str | None = None) -> ml_collections.ConfigDict:
    """The fine-tuning config of benchmark `name`: TinyMyo's recipe (BF-main TinyMyo_finetune.yaml)."""
    config = _common(name, arg)
    config.kind = "finetune"
    config.model.dropout = MODEL_DEFAULTS.dropout
    config.model.attention_dropout = MODEL_DEFAULTS.attention_dropout
    config.model.drop_path = MODEL_DEFAULTS.drop_path
    config.model.head_dropout = MODEL_DEFAULTS.head_dropout

    config.finetune = ml_collections.ConfigDict()
    config.finetune.epochs = 50
    config.finetune.batch_size = 32
    config.finetune.eval_every_epochs = 1
    # "probe": the head starts as the frozen encoder's linear probe (fitted first, standardisation
    # folded in; classification only), "random": a fresh head (TinyMyo's recipe). docs/evaluate.md.
    config.finetune.head_init = "probe"
    # The probe head is trained in the probe's standardised feature coordinates and folded back
    # into the linear layer for evaluation and best/ ("standardized"; "centered"; "model": the
    # plain layer, whose AdamW steps shift every window's logits alike). Measured on real UCI in
    # docs/evaluate.md; finetune.HeadCoordinates.
    config.finetune.head_coordinates = "standardized"
    config.baselines.frozen_probe = True  # the linear probe of the same (frozen) encoder

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.lr = 5e-4
    config.optimizer.init_lr = 1e-5  # warm-up starts here (the reference's warmup_lr_init)
    config.optimizer.end_lr = 1e-5  # cosine ends here (its min_lr)
    config.optimizer.warmup_epochs = 5
    config.optimizer.b1 = 0.9
    config.optimizer.b2 = 0.98
    config.optimizer.weight_decay = 0.01
    config.optimizer.clip_norm = 0.0  # 0: no clipping (the reference does not clip when fine-tuning)
    # lr of block i (0-based) = lr · layer_decay^(depth - i); patch embedding and mask token
    # lr · layer_decay^(depth + 1); final norm and head: lr.
    config.optimizer.layer_decay = 0.9

    config.loss = ml_collections.ConfigDict()
    config.loss.label_smoothing = 0.1
    # Regression: L1 on targets standardised with the training split's per-DoA mean and std
    # (the head starts near 0; raw degrees would need thousands of steps just to reach the mean).
    config.loss.standardize_targets = True

    config.early_stopping = ml_collections.ConfigDict()
    # The benchmark's selection metric (accuracy; DB8: MAE), the one the probe's L2 is chosen on.
    # (The reference stops on the validation loss; measured in docs/evaluate.md.)
    config.early_stopping.metric = config.probe.selection_metric
    config.early_stopping.patience = 7  # evaluations without improvement before stopping

    config.checkpoint = ml_collections.ConfigDict()
    config.checkpoint.every_steps = 0  # 0: at every evaluation only
    config.checkpoint.keep = 2
    config.checkpoint.async_save = True
    # "resume" continues the run in the workdir, refusing one started with another init, model or
    # data; "fresh" moves a previous run aside and starts over (train/workdir.py)
    config.workdir_mode = "resume"
    config.log_every_steps = 10
    # XLA:CPU speed-ups of the train step (train/config.py); the CPU variants below set it
    config.xla_cpu_tricks = False
    # "bfloat16": the model's products from bf16 operands into f32 results (models/matmul.py)
    config.matmul_dtype = "float32"
    if arg in ("runlocal", "tiny"):
        _shrink(config, arg)
    return config


def _shrink(config: ml_collections.ConfigDict, arg: str) -> None:
    config.data.max_windows = 512
    config.model.preset = "tinyissimo"
    config.model.embed_dim = 96
    config.model.depth = 2
    config.model.num_heads = 3
    if config.task == "classification":
        config.probe.l2_grid = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    if config.kind == "finetune":
        config.xla_cpu_tricks = True  # runlocal and tiny run on CPUs
        config.finetune.epochs = 6
        config.finetune.batch_size = 16
        config.optimizer.warmup_epochs = 1
        config.early_stopping.patience = 3
        config.log_every_steps = 5
    if arg == "tiny":
        config.data.max_windows = 96
        config.data.batch_size = 16
        config.model.embed_dim = 32
        config.model.num_heads = 2
        config.probe.l2_grid = [1e-3, 1e-1, 10.0] if config.task == "classification" else [1e-1, 10.0, 1e3]
        config.probe.max_iterations = 100
        config.classic.shrinkage_grid = [1e-3, 0.1]
        config.classic.l2_grid = [1e-2, 1.0]
        if config.kind == "finetune":
            config.finetune.epochs = 2
            config.finetune.batch_size = 8
            config.optimizer.warmup_epochs = 1
            config.checkpoint.async_save = False
            config.log_every_steps = 1
            config.model.dropout = 0.1  # kept on: the resume test checks dropout keys are step-addressed
