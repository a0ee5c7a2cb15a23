"""Does pretraining pay? The transfer benchmark on the real Myo armband corpus (issue 20).

    python benchmarks/transfer.py --workdir runs/transfer
    python benchmarks/transfer.py --workdir runs/transfer --checkpoint runs/pretrain/checkpoints
    python benchmarks/transfer.py --workdir runs/transfer_quick --quick

One resumable command: every unit of work writes its result file and a rerun skips the units
already done (the same command continues an interrupted run). Stages:
1. prepare `myo_armband` (../shared/real/myo_armband) and the real UCI subset (`uci_emg`);
2. pretrain with `--pretrain-config` (default configs/pretrain/real_small.py), or take
   `--checkpoint`;
3. features of every evaluation window under each encoder (the pretrained one, a random one of
   the same architecture per seed), cached per (encoder, participant);
4. per protocol and participant (tinymyo_jax/evaluate/transfer.py): the classic RMS/MAV/WL/ZC/
   SSC + LDA pipeline, the linear probe of the random and of the pretrained encoder, and
   fine-tunes from both (the project's `finetune`, on a per-unit copy of the unit's windows);
   within participant with k = 1, 2, 4 labelled cycles of `training0` (test `Test0` + `Test1`)
   and new user (leave one of the 17 published participants out). Hyperparameters (probe L2,
   LDA shrinkage) are chosen on Male15, the evaluation participant the authors left out;
5. the pretrained encoder's probe on the real UCI subset beside a random encoder and the classic
   pipeline (`run_probe`, configs/probe/uci_emg.py);
6. WORKDIR/results.json, report.md and transfer.png: mean ± std over participants, how many
   participants each comparison wins, wall time per stage.

Data: Côté-Allard et al., IEEE TNSRE 27(4):760-771, 2019 (GPL-3.0); UCI EMG data for gestures,
Lobov et al., Sensors 2018 (CC BY 4.0). Neither is copied into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from real_emg import cli, run  # benchmarks/, beside this script: the one runner of a CLI stage with its log

from tinymyo_jax import storage

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "real"
CORPUS = "myo_armband"
CYCLES = (1, 2, 4)
NEW_USER = "new_user"
PROBE_L2 = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
LDA_SHRINKAGE = (1e-4, 1e-3, 1e-2, 1e-1, 0.5)
# the MLP read-out's epoch counts (one training run gives all three; chosen on Male15)
MLP_EPOCHS = (10, 20, 40)
SESSION = "_session"  # suffix of the session-standardised features and their read-outs
NUM_CLASSES = 7


# ----------------------------------------------------------------------------- small helpers


def protocols_of(args: argparse.Namespace) -> list[str]:
    return [f"k{k}" for k in args.cycles] + ([NEW_USER] if args.new_user else [])


def write_json(path: Path, value: dict) -> None:
    """A unit's result, written whole or not at all (a killed run leaves no partial file)."""
    storage.write_atomic(path, json.dumps(value, indent=1))


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


class Timer:
    """Wall time per stage, kept in WORKDIR/timings.json across resumed runs (summed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = read_json(path) or {}

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + seconds, 1)
        write_json(self.path, self.seconds)


# ----------------------------------------------------------------------------- stages 1-2


def prepare(args: argparse.Namespace) -> None:
    if not (args.data_dir / CORPUS / args.window_config).is_dir():
        run(cli("prep", CORPUS, "--manual_dir", str(args.myo_dir), "--data_dir", str(args.data_dir), "--config",
                args.window_config, "--no-progress"), args.workdir / "logs" / "prep_myo_armband.log")  # fmt: skip
    # the UCI windows at the benchmark's window config too: w200 is the Myo's 200 Hz, the rate
    # the recipe's encoder is pretrained at (docs/transfer.md, "The UCI probe at 200 Hz")
    if args.uci and not (args.data_dir / "uci_emg" / args.window_config).is_dir():
        run(cli("prep", "uci_emg", "--manual_dir", str(args.uci_dir), "--data_dir", str(args.data_dir), "--config",
                args.window_config, "--no-progress"), args.workdir / "logs" / f"prep_uci_emg_{args.window_config}.log")  # fmt: skip


def pretrain(args: argparse.Namespace) -> Path:
    """The pretrained checkpoint directory: --checkpoint, or a pretraining run in WORKDIR/pretrain."""
    if args.checkpoint is not None:
        return args.checkpoint
    config = REPO / "configs" / "pretrain" / "smoke.py" if args.quick else args.pretrain_config
    if not config.is_file():
        raise SystemExit(f"--pretrain-config {config}: no such file (or give --checkpoint DIR)")
    workdir = args.workdir / "pretrain"
    summary = read_json(workdir / "summary.json")
    overrides = [f"--config.data.data_dir={args.data_dir}"]
    if args.quick:  # the smoke config's tiny variant on this corpus alone
        overrides += [f"--config.data.mixture={{'{CORPUS}/{args.window_config}': 1.0}}", "--config.total_steps=4", "--config.eval_every_steps=4", "--config.plot_every_steps=4",
                      "--config.checkpoint.every_steps=4"]  # fmt: skip
    spec = f"{config}:tiny" if args.quick else str(config)
    written = read_json(workdir / "config.json")  # what the pretraining run was started with
    done = summary is not None and written is not None and summary.get("end_step") == written.get("total_steps")
    if not done:  # never started, interrupted or preempted (summary.json then holds an earlier step): resume
        run(cli("pretrain", "--config", spec, "--workdir", str(workdir), *overrides), args.workdir / "logs" / "pretrain.log")
    return workdir / "checkpoints"


# ----------------------------------------------------------------------------- data and features


def check_same_run(args: argparse.Namespace, encoder_hash: str) -> None:
    """A workdir holds the units of one encoder and one set of settings: a rerun with others
    would mix results, so it stops (use another --workdir)."""
    settings = {"encoder": encoder_hash, "window_config": args.window_config, "fusion": args.fusion,
                "pooling": args.pooling, "input_normalization": args.input_normalization,
                "finetune": [args.finetune_epochs, args.finetune_epochs_new_user, args.finetune_batch]}  # fmt: skip
    path = args.workdir / "run.json"
    before = read_json(path)
    if before is not None and before != settings:
        changed = sorted(k for k in settings if before.get(k) != settings[k])
        raise SystemExit(f"{args.workdir} holds a run with other {', '.join(changed)}; use another --workdir")
    write_json(path, settings)



def load_windows(args: argparse.Namespace):
    """(table, emg float16 (N, 8, W), channel_mask (N, 8)) of the evaluation split."""
    from tinymyo_jax.data.source import WindowShards
    from tinymyo_jax.evaluate.transfer import window_table

    shards = WindowShards(CORPUS, "evaluation", data_dir=args.data_dir, config=args.window_config,
                          fields=("emg", "channel_mask", "subject", "label", "file_index"))  # fmt: skip
    batch = shards.read_batch(np.arange(len(shards)))
    report = json.loads((shards.directory / "prep_report.json").read_text())
    channels = int(report["channels"])
    table = window_table(report["files"], batch["file_index"], batch["subject"], batch["label"])
    return table, batch["emg"][:, :channels], batch["channel_mask"][:, :channels], shards


def feature_config(args: argparse.Namespace):
    import ml_collections

    config = ml_collections.ConfigDict()
    config.features = {"fusion": args.fusion, "pooling": args.pooling, "segments": 1}
    config.data = {"input_normalization": args.input_normalization, "encode_chunk": 1}
    return config


def encoder_features(model, name: str, emg: np.ndarray, mask: np.ndarray, table, args: argparse.Namespace,
                     participants: list[int]) -> dict[int, np.ndarray]:  # fmt: skip
    """participant -> features (n, F) of its windows (table order), cached in
    WORKDIR/features/<name>/<participant>.npy."""
    from tqdm.auto import tqdm

    from tinymyo_jax.evaluate.features import make_feature_fn

    folder = args.workdir / "features" / name
    out, fn = {}, None
    batch = 64
    for participant in tqdm(participants, desc=f"features {name}", unit="participant", dynamic_ncols=True, leave=False):
        path = folder / f"{participant}.npy"
        if path.is_file():
            out[participant] = np.load(path)
            continue
        if fn is None:
            fn, params = make_feature_fn(model, feature_config(args))
        rows = np.flatnonzero(table.subject == participant)
        parts = []
        for start in range(0, rows.size, batch):
            chunk = rows[start:start + batch]
            x = np.zeros((batch, *emg.shape[1:]), emg.dtype)
            m = np.ones((batch, mask.shape[1]), bool)
            x[:chunk.size], m[:chunk.size] = emg[chunk], mask[chunk]
            parts.append(np.asarray(fn(params, x, m))[:chunk.size, 0])
        out[participant] = np.concatenate(parts).astype(np.float32)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".partial.npy"), out[participant])
        path.with_suffix(".partial.npy").replace(path)
    return out


def classic_features(emg: np.ndarray, table, participants: list[int]) -> dict[int, np.ndarray]:
    from tinymyo_jax.evaluate.classic import window_features

    return {p: window_features(emg[table.subject == p].astype(np.float32))[:, 0] for p in participants}


# ----------------------------------------------------------------------------- read-outs


def rows_of(table, participant: int, protocol: str, participants: list[int]) -> tuple[np.ndarray, np.ndarray]:
    from tinymyo_jax.evaluate.transfer import new_user, within_participant

    if protocol == NEW_USER:
        return new_user(table, participant, participants)
    return within_participant(table, participant, int(protocol[1:]))


def gather(per_participant: dict[int, np.ndarray], table, rows: np.ndarray) -> np.ndarray:
    """Features of table rows `rows` from the per-participant arrays (each in table order)."""
    position = np.zeros(len(table), np.int64)
    for p in per_participant:
        where = np.flatnonzero(table.subject == p)
        position[where] = np.arange(where.size)
    return np.stack([per_participant[int(table.subject[r])][position[r]] for r in rows])


def probe_accuracies(x_train, y_train, x_test, y_test, grid) -> list[float]:
    """Test accuracy of the logistic probe for each L2 of `grid` (standardised features)."""
    from tinymyo_jax.evaluate.linear import Standardizer, fit_logistic

    standardize = Standardizer.fit(x_train)
    w, b, _ = fit_logistic(standardize(x_train), y_train, NUM_CLASSES, grid)
    xt = standardize(x_test)
    return [float(np.mean(np.argmax(xt @ w[i] + b[i], axis=1) == y_test)) for i in range(len(grid))]


def lda_accuracies(x_train, y_train, x_test, y_test, grid) -> list[float]:
    from tinymyo_jax.evaluate.classic import fit_lda

    return [float(np.mean(m.predict(x_test) == y_test)) for m in fit_lda(x_train, y_train, grid)]


def mlp_accuracies(x_train, y_train, x_test, y_test, grid) -> list[float]:
    """Test accuracy of the one-hidden-layer read-out after each epoch count of `grid`."""
    from tinymyo_jax.evaluate.mlp_probe import fit_mlp

    return [float(np.mean(m.predict(x_test) == y_test)) for m in fit_mlp(x_train, y_train, NUM_CLASSES, grid)]


def session_features(per_participant: dict[int, np.ndarray], table) -> dict[int, np.ndarray]:
    """The same features, each session's (participant and round) standardised on its own
    windows: the label-free calibration a new user's first minutes of wear allow."""
    from tinymyo_jax.evaluate.linear import standardize_within

    return {p: standardize_within(f, table.round[table.subject == p]) for p, f in per_participant.items()}


def read_out_table(encoders: list[str]) -> dict[str, tuple[str, Callable, tuple]]:
    """method -> (features, fit, hyperparameter grid). Raw features: the classic LDA, the logistic
    probe and the shrinkage-LDA read-out of each encoder (docs/transfer.md "Recipe": it read the
    rectified-target encoder better than the logistic probe). Session-standardised features
    (SESSION): the LDA read-outs again, and the MLP read-out (new user only: `runs_on`)."""
    table: dict[str, tuple[str, Callable, tuple]] = {"lda": ("classic", lda_accuracies, LDA_SHRINKAGE),
                                                     "lda_log": ("logclassic", lda_accuracies, LDA_SHRINKAGE)}
    for name in encoders:
        table[f"probe_{name}"] = (name, probe_accuracies, PROBE_L2)
        table[f"ldaprobe_{name}"] = (name, lda_accuracies, LDA_SHRINKAGE)
    table[f"lda{SESSION}"] = (f"classic{SESSION}", lda_accuracies, LDA_SHRINKAGE)
    table[f"lda_log{SESSION}"] = (f"logclassic{SESSION}", lda_accuracies, LDA_SHRINKAGE)
    for name in encoders:
        table[f"ldaprobe_{name}{SESSION}"] = (f"{name}{SESSION}", lda_accuracies, LDA_SHRINKAGE)
    for name in ["classic", "logclassic", *encoders]:
        table[f"mlp_{name}{SESSION}"] = (f"{name}{SESSION}", mlp_accuracies, MLP_EPOCHS)
    return table


def runs_on(method: str, protocol: str) -> bool:
    """The MLP read-out is the new user's: a few dozen labelled windows of one user (k cycles)
    give a hidden layer nothing to learn from that LDA does not."""
    return protocol == NEW_USER or not method.startswith("mlp_")


# ----------------------------------------------------------------------------- fine-tuning


def finetune_seed(encoder: str, seeds: list[int]) -> int:
    """The seed of a fine-tune from `encoder`: a random encoder's own seed ("random_s<seed>");
    the pretrained encoder's, the first of --seeds, or 0 when --seeds '' asks for none."""
    if encoder.startswith("random_s"):
        return int(encoder.rsplit("_s", 1)[1])
    return seeds[0] if seeds else 0


def finetune_unit(args, shards, table, encoder_dir: Path, method: str, protocol: str, participant: int,
                  participants: list[int], seed: int) -> dict:  # fmt: skip
    """One fine-tune through the project's `finetune`, on a dataset holding just this unit's
    windows: train = the protocol's training rows, test = its test rows, validation = the
    training rows (within participant: no other labelled data of the user exists; the monitor is
    the loss, so the kept parameters are the last to lower it) or Male15 (new user)."""
    from tinymyo_jax.train.finetune import finetune
    from transfer_subset import write_subset  # benchmarks/, beside this script
    from tinymyo_jax.evaluate.config import finetune_config
    from tinymyo_jax.evaluate.transfer import TUNING

    train, test = rows_of(table, participant, protocol, participants)
    validation = train if protocol != NEW_USER else np.flatnonzero(table.subject == TUNING)
    unit = f"{protocol}-p{participant}"
    data_dir = args.workdir / "finetune_data" / unit
    write_subset({"train": shards, "validation": shards, "test": shards},
                 {"train": train, "validation": validation, "test": test},
                 data_dir / CORPUS / args.window_config / "1.0.0")  # fmt: skip
    config = finetune_config("uci_emg", None)
    config.benchmark = CORPUS
    config.data.name, config.data.builder_config, config.data.data_dir = CORPUS, args.window_config, str(data_dir)
    config.init = str(encoder_dir)
    config.seed = seed
    config.xla_cpu_tricks = True
    config.features.fusion = args.fusion
    config.data.input_normalization = args.input_normalization
    config.finetune.epochs = args.finetune_epochs if protocol != NEW_USER else args.finetune_epochs_new_user
    config.finetune.batch_size = args.finetune_batch
    # one evaluation, at the end: within participant the validation windows are the training
    # windows (nothing to select on), and each evaluation also writes a checkpoint
    config.finetune.eval_every_epochs = config.finetune.epochs if protocol != NEW_USER else 1
    config.optimizer.warmup_epochs = 1
    config.early_stopping.metric = "loss"
    config.early_stopping.patience = 1000  # fixed epochs: never stops early
    config.baselines.random_encoder = config.baselines.classic = config.baselines.frozen_probe = False
    config.checkpoint.async_save = False
    config.log_every_steps = 1000
    config.data.batch_size = 64
    config.probe.l2_grid = list(PROBE_L2)
    start = time.perf_counter()
    log = args.workdir / "logs" / "finetune" / f"{method}-{unit}-s{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out, contextlib.redirect_stdout(out):
        results = finetune(config, args.workdir / "finetune" / method / f"{unit}-s{seed}")
    accuracy = float(results["metrics"]["accuracy"])
    return {"accuracy": accuracy, "n_train": int(train.size), "n_test": int(test.size),
            "seconds": round(time.perf_counter() - start, 1), "epochs": config.finetune.epochs}  # fmt: skip


# ----------------------------------------------------------------------------- the benchmark


def main() -> None:
    args = parse_args()
    from tqdm.auto import tqdm

    from tinymyo_jax.evaluate.transfer import PUBLISHED, TUNING

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    timer = Timer(args.workdir / "timings.json")
    args.workdir.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    prepare(args)
    timer.add("prepare", time.perf_counter() - t)
    t = time.perf_counter()
    checkpoint = pretrain(args).absolute()
    timer.add("pretrain", time.perf_counter() - t)

    import jax

    jax.config.update("jax_compilation_cache_dir", str(args.workdir / "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    from tinymyo_jax.evaluate.classic import log_amplitude
    from tinymyo_jax.evaluate.encoders import load_initial_model, random_like
    from tinymyo_jax.models.checkpoint import save_model_checkpoint

    t = time.perf_counter()
    table, emg, mask, shards = load_windows(args)
    participants = [p for p in PUBLISHED if p in table.participants]
    if args.participants:
        participants = [p for p in participants if p in args.participants]
    if TUNING not in table.participants:
        raise SystemExit("the evaluation split has no Male15, the tuning participant")
    everyone = participants + [TUNING]
    # new user: the left-out participant against the others of the protocol (all 17 published
    # participants, or the chosen ones with --participants)
    protocol_people = participants
    import ml_collections

    init = ml_collections.ConfigDict({"init": str(checkpoint)})
    pretrained, described = load_initial_model(init)
    check_same_run(args, described["checkpoint_hash"])
    encoders: dict[str, tuple] = {"pretrained": (pretrained, checkpoint)}
    for seed in args.seeds:
        model, _ = random_like(pretrained.config, seed)
        directory = args.workdir / "encoders" / f"random_s{seed}"
        if not directory.is_dir():
            save_model_checkpoint(directory, model)
        encoders[f"random_s{seed}"] = (model, directory)
    features = {name: encoder_features(model, name, emg, mask, table, args, everyone) for name, (model, _) in encoders.items()}
    features["classic"] = classic_features(emg, table, everyone)
    # the classic features with RMS/MAV/WL in log space: the stronger hand-made baseline (docs/transfer.md)
    features["logclassic"] = {p: log_amplitude(f, emg.shape[1]) for p, f in features["classic"].items()}
    for name in list(features):
        features[f"{name}{SESSION}"] = session_features(features[name], table)
    timer.add("features", time.perf_counter() - t)

    # --- read-outs: hyperparameters on Male15, then every published participant
    t = time.perf_counter()
    protocols = protocols_of(args)
    read_outs = read_out_table(list(encoders))
    units = [(method, protocol) for method in read_outs for protocol in protocols if runs_on(method, protocol)]
    bar = tqdm(total=len(units) * (len(participants) + 1), desc="probes and LDA", unit="fit", dynamic_ncols=True)
    for method, protocol in units:
        source, fit, grid = read_outs[method]
        tuning_path = args.workdir / "units" / method / protocol / f"tuning_{TUNING}.json"
        tuning = read_json(tuning_path)
        if tuning is None:
            train, test = rows_of(table, TUNING, protocol, participants + [TUNING])
            y = table.label
            scores = fit(gather(features[source], table, train), y[train], gather(features[source], table, test), y[test], grid)
            tuning = {"grid": list(grid), "tuning_accuracies": scores, "chosen": grid[int(np.argmax(scores))]}
            write_json(tuning_path, tuning)
        bar.update(1)
        for participant in participants:
            path = args.workdir / "units" / method / protocol / f"{participant}.json"
            if not path.is_file():
                start = time.perf_counter()
                train, test = rows_of(table, participant, protocol, protocol_people)
                accuracy = fit(gather(features[source], table, train), table.label[train],
                               gather(features[source], table, test), table.label[test], [tuning["chosen"]])[0]  # fmt: skip
                write_json(path, {"accuracy": accuracy, "n_train": int(train.size), "n_test": int(test.size),
                                  "hyperparameter": tuning["chosen"], "seconds": round(time.perf_counter() - start, 2)})  # fmt: skip
            bar.update(1)
    bar.close()
    timer.add("probes_and_lda", time.perf_counter() - t)

    # --- other systems: the real UCI subset (before the fine-tunes, the longest stage)
    uci = None
    if args.uci:
        t = time.perf_counter()
        uci = uci_probe(args, checkpoint)
        timer.add("uci_probe", time.perf_counter() - t)

    # --- fine-tunes
    t = time.perf_counter()
    ft_units = [(name, protocol) for name in encoders for protocol in args.finetune_protocols if protocol in protocols]
    bar = tqdm(total=len(ft_units) * min(len(participants), args.finetune_participants or len(participants)), desc="fine-tunes", unit="run", dynamic_ncols=True)
    ft_people = participants[:args.finetune_participants] if args.finetune_participants else participants
    for name, protocol in ft_units:
        for participant in ft_people:
            seed = finetune_seed(name, args.seeds)
            path = args.workdir / "units" / f"finetune_{name}" / protocol / f"{participant}.json"
            if not path.is_file():
                write_json(path, finetune_unit(args, shards, table, encoders[name][1], f"finetune_{name}", protocol,
                                               participant, protocol_people, seed))  # fmt: skip
            bar.update(1)
    bar.close()
    timer.add("finetunes", time.perf_counter() - t)

    results = summarise(args, participants, protocols, list(read_outs) + [f"finetune_{n}" for n in encoders], uci,
                        checkpoint, described, timer, started)  # fmt: skip
    write_json(args.workdir / "results.json", results)
    (args.workdir / "report.md").write_text(report_markdown(results))
    plot(results, args.workdir / "transfer.png")
    print(report_markdown(results))
    print(f"wrote {args.workdir / 'results.json'}, report.md and transfer.png")


def uci_probe(args: argparse.Namespace, checkpoint: Path) -> dict:
    """The pretrained encoder's probe on the real UCI subset, its random encoder and the classic
    pipeline (run_probe on configs/probe/uci_emg.py) on UCI windows of the benchmark's window
    config, cached in WORKDIR/uci/<window config>/summary.json."""
    folder = args.workdir / "uci" / args.window_config
    cached = read_json(folder / "summary.json")
    if cached is not None:
        return cached
    from tinymyo_jax.evaluate.config import probe_config
    from tinymyo_jax.evaluate.probe import run_probe

    rows = {}
    # the pretrained encoder's probe is a headline row: with no seeds (`--seeds ''`) it runs at seed 0
    for seed in args.seeds or [0]:
        config = probe_config("uci_emg", "tiny" if args.quick else None)
        config.init = str(checkpoint)
        config.seed = seed
        config.data.data_dir = str(args.data_dir)
        config.data.builder_config = args.window_config
        config.features.fusion, config.features.pooling = args.fusion, args.pooling
        config.data.input_normalization = args.input_normalization
        results = run_probe(config, folder / f"s{seed}")
        methods = {results["main"]: results["details"], **results["baselines"]}
        rows[f"s{seed}"] = {name: float(record["metrics"]["accuracy"]) for name, record in methods.items()}
    summary = {"accuracy": rows, "seeds": list(args.seeds or [0]), "window_config": args.window_config}
    write_json(folder / "summary.json", summary)
    return summary


# ----------------------------------------------------------------------------- summary and report


def summarise(args, participants, protocols, methods, uci, checkpoint, described, timer, started) -> dict:
    from tinymyo_jax.data.readers.myo_armband import participant_name
    from tinymyo_jax.evaluate.transfer import TUNING

    table: dict[str, dict[str, dict]] = {}
    for method in methods:
        for protocol in protocols:
            per = {}
            for p in participants:
                unit = read_json(args.workdir / "units" / method / protocol / f"{p}.json")
                if unit is not None:
                    per[participant_name(p).split("/")[1]] = unit["accuracy"]
            if per:
                values = np.array(list(per.values()))
                tuning = read_json(args.workdir / "units" / method / protocol / f"tuning_{TUNING}.json")
                table.setdefault(method, {})[protocol] = {
                    "mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
                    "participants": len(per), "per_participant": per,
                    "hyperparameter": tuning["chosen"] if tuning else None,
                }  # fmt: skip
    comparisons = {}
    pairs = [("probe_pretrained", "lda"), ("probe_pretrained", "probe_random_s0"), ("ldaprobe_pretrained", "lda"),
             ("ldaprobe_pretrained", "ldaprobe_random_s0"), ("finetune_pretrained", "lda"),
             ("finetune_pretrained", "finetune_random_s0"), ("finetune_pretrained", "probe_pretrained"),
             (f"ldaprobe_pretrained{SESSION}", f"lda{SESSION}"), (f"ldaprobe_pretrained{SESSION}", f"ldaprobe_random_s0{SESSION}"),
             (f"mlp_pretrained{SESSION}", "lda"), (f"mlp_pretrained{SESSION}", f"mlp_classic{SESSION}"),
             (f"mlp_pretrained{SESSION}", f"mlp_random_s0{SESSION}"),
             ("ldaprobe_pretrained", "lda_log"), (f"ldaprobe_pretrained{SESSION}", f"lda_log{SESSION}"),
             ("finetune_pretrained", "lda_log"), (f"mlp_pretrained{SESSION}", f"mlp_logclassic{SESSION}")]  # fmt: skip
    for a, b in pairs:
        for protocol in protocols:
            x, y = table.get(a, {}).get(protocol), table.get(b, {}).get(protocol)
            if x and y:
                common = sorted(set(x["per_participant"]) & set(y["per_participant"]))
                d = np.array([x["per_participant"][p] - y["per_participant"][p] for p in common])
                comparisons[f"{a} vs {b} ({protocol})"] = {
                    "wins": int((d > 0).sum()), "ties": int((d == 0).sum()), "losses": int((d < 0).sum()),
                    "mean_difference": float(d.mean()) if d.size else None,
                }  # fmt: skip
    return {
        "started": started, "command": " ".join(sys.argv), "checkpoint": str(checkpoint),
        "encoder": {k: v for k, v in described.items() if k != "model_config"}, "model_config": described["model_config"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "window_config": args.window_config,
        "seeds": list(args.seeds), "fusion": args.fusion, "pooling": args.pooling,
        "finetune": {"epochs": args.finetune_epochs, "epochs_new_user": args.finetune_epochs_new_user,
                     "batch_size": args.finetune_batch, "protocols": list(args.finetune_protocols)},
        "participants": len(participants), "protocols": protocols, "results": table,
        "comparisons": comparisons, "uci": uci, "timings_s": timer.seconds,
        "wall_time_s": round(sum(timer.seconds.values()), 1),
    }  # fmt: skip


METHOD_NAMES = {
    "lda": "classic RMS/MAV/WL/ZC/SSC + LDA",
    "lda_log": "classic features, RMS/MAV/WL in log space, + LDA",
    "probe_pretrained": "probe, pretrained encoder",
    "ldaprobe_pretrained": "LDA on the pretrained encoder's features",
    "finetune_pretrained": "fine-tune, pretrained encoder",
}


def features_name(source: str) -> str:
    """Whose features: "classic", "logclassic", "pretrained" or "random_s<seed>"."""
    if source == "classic":
        return "RMS/MAV/WL/ZC/SSC"
    if source == "logclassic":
        return "log RMS/MAV/WL, ZC, SSC"
    seed = source.rpartition("random_s")[2]
    return f"random encoder (seed {seed})" if source.startswith("random_s") else f"{source} encoder"


def method_name(method: str) -> str:
    if method.endswith(SESSION):
        base = method[: -len(SESSION)]
        if base.startswith("mlp_"):
            return f"MLP on {features_name(base[len('mlp_'):])} features, session-standardised"
        return f"{method_name(base)}, session-standardised"
    if method in METHOD_NAMES:
        return METHOD_NAMES[method]
    kind, _, seed = method.rpartition("_random_s")
    if seed:
        what = {"probe": "probe", "ldaprobe": "LDA on the features"}.get(kind, "fine-tune")
        return f"{what}, random encoder (seed {seed})"
    return method


PROTOCOL_NAMES = {"k1": "1 cycle", "k2": "2 cycles", "k4": "4 cycles", NEW_USER: "new user (LOPO)"}


def report_markdown(results: dict) -> str:
    protocols = results["protocols"]
    lines = [
        f"# Transfer benchmark: Myo armband, {results['participants']} participants",
        "",
        f"Checkpoint: `{results['checkpoint']}` (hash {results['encoder'].get('checkpoint_hash')}); windows "
        f"{results['window_config']}; features {results['fusion']}/{results['pooling']}; seeds {results['seeds']}; "
        f"fine-tunes {results['finetune']}.",
        "",
        "Accuracy on the test windows, mean ± std over participants (min); within participant: "
        "train on the first k cycles of `training0`, test `Test0` + `Test1`; new user: leave one "
        "participant out. Hyperparameters chosen on Male15.",
        "",
        "| method | " + " | ".join(PROTOCOL_NAMES.get(p, p) for p in protocols) + " |",
        "|---|" + "---|" * len(protocols),
    ]
    for method, by_protocol in results["results"].items():
        cells = []
        for p in protocols:
            r = by_protocol.get(p)
            cells.append(f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} ({100 * r['min']:.1f}), n={r['participants']}" if r else "n/a")
        lines.append(f"| {method_name(method)} | " + " | ".join(cells) + " |")
    if results["comparisons"]:
        lines += ["", "Participants won / tied / lost, and the mean difference (points):", "",
                  "| comparison | wins | ties | losses | mean diff. |", "|---|---|---|---|---|"]
        for name, c in results["comparisons"].items():
            lines.append(f"| {name} | {c['wins']} | {c['ties']} | {c['losses']} | {100 * c['mean_difference']:+.1f} |")
    if results.get("uci"):
        lines += ["", f"Real UCI subset ({results['uci'].get('window_config', 'w1000')} windows, test split, 2 subjects; "
                  "accuracy per seed of the random encoder):", "",
                  "| method | " + " | ".join(results["uci"]["accuracy"]) + " |", "|---|" + "---|" * len(results["uci"]["accuracy"])]
        names = list(dict.fromkeys(m for row in results["uci"]["accuracy"].values() for m in row))
        for m in names:
            lines.append(f"| {m} | " + " | ".join(f"{100 * row[m]:.1f}%" if m in row else "n/a"
                                                  for row in results["uci"]["accuracy"].values()) + " |")  # fmt: skip
    lines += ["", "Wall time per stage (s, summed over resumed runs): " + json.dumps(results["timings_s"]),
              f"total {results['wall_time_s']:.0f} s on {results['machine']}.", ""]
    return "\n".join(lines)


# the new-user panel's methods (each participant a point per method; all of them are in report.md)
NEW_USER_PLOTTED = ("lda", "ldaprobe_pretrained", f"mlp_classic{SESSION}", f"mlp_logclassic{SESSION}",
                    f"mlp_random_s0{SESSION}", f"mlp_pretrained{SESSION}", "finetune_pretrained")  # fmt: skip


def line_style(method: str) -> str:
    """Solid: the pretrained encoder's methods; dotted: a random encoder's; dashed: hand-made features."""
    if "random" in method:
        return ":"
    return "-" if "pretrained" in method else "--"


def plot(results: dict, path: Path) -> None:
    """Left: accuracy vs labelled cycles, one line per method (mean ± std over participants);
    middle: the same, the methods above 88 % with one cycle only, so the close ones can be told
    apart. Right: new-user accuracy per participant (sorted by the classic pipeline's) for the
    methods of NEW_USER_PLOTTED, so a reader sees who gains and who does not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(21, 7), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    colours = plt.get_cmap("tab20").colors
    cycles = [p for p in results["protocols"] if p != NEW_USER]
    for i, (method, by_protocol) in enumerate(results["results"].items()):
        xs = [int(p[1:]) for p in cycles if p in by_protocol]
        if not xs:
            continue
        means = [100 * by_protocol[f"k{x}"]["mean"] for x in xs]
        stds = [100 * by_protocol[f"k{x}"]["std"] for x in xs]
        style = {"color": colours[i % len(colours)], "linestyle": line_style(method), "marker": "o"}
        left.errorbar(xs, means, yerr=stds, capsize=3, label=method_name(method), **style)
        if means[0] >= 88.0:
            middle.plot(xs, means, label=f"{method_name(method)}: {' / '.join(f'{m:.1f}' for m in means)}", **style)
    for axis, title in ((left, "within participant (mean ± std)"), (middle, "within participant, the top methods (mean)")):
        axis.set(xlabel="labelled cycles of training0", ylabel="accuracy (%)", title=title, xticks=[1, 2, 4])
        axis.grid(alpha=0.3)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    middle.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    new_user = {m: results["results"][m][NEW_USER] for m in NEW_USER_PLOTTED if NEW_USER in results["results"].get(m, {})}
    if new_user:
        first = next(iter(new_user.values()))["per_participant"]
        people = sorted(first, key=first.get)
        for i, (method, r) in enumerate(new_user.items()):
            ys = [100 * r["per_participant"].get(p, np.nan) for p in people]
            right.plot(np.arange(len(people)) + (i - len(new_user) / 2) * 0.08, ys, "o", markersize=5,
                       label=f"{method_name(method)}: mean {100 * r['mean']:.1f}")  # fmt: skip
        right.set_xticks(np.arange(len(people)), people, rotation=60, fontsize=7)
        right.set(ylabel="accuracy (%)", title="new user (leave one participant out)")
        right.grid(axis="y", alpha=0.3)
        right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="everything the run writes (rerun: continues)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a pretrained encoder (orbax dir); skips pretraining")
    parser.add_argument("--pretrain-config", type=Path, default=REPO / "configs" / "pretrain" / "real_small.py",
                        help="the pretraining recipe when no --checkpoint is given")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: tiny pretraining, 2 participants, 1-epoch fine-tunes of the first one")  # fmt: skip
    parser.add_argument("--seeds", default="0",
                        help="random-encoder and fine-tune seeds, e.g. 0,1 ('': no random encoder; fine-tunes use seed 0)")
    parser.add_argument("--participants", default="", help="subject ids to evaluate (default the 17 published)")
    parser.add_argument("--window-config", default="w200", choices=["w200", "w1000"],
                        help="myo_armband builder config: 1-s windows at the Myo's 200 Hz (the recipe's), or resampled to 1 kHz")  # fmt: skip
    parser.add_argument("--fusion", default="concat", choices=["concat", "mean"])
    parser.add_argument("--pooling", default="mean", choices=["mean", "max", "mean_max"])
    parser.add_argument("--input-normalization", default="checkpoint",
                        choices=["checkpoint", "none", "minmax_channel", "window_scale"],
                        help="the encoder's input normalisation (checkpoint: the one it was pretrained with; "
                             "none, minmax_channel, window_scale: models/normalization.py)")  # fmt: skip
    parser.add_argument("--cycles", default="1,2,4", help="within-participant labelled cycles")
    parser.add_argument("--no-new-user", dest="new_user", action="store_false", help="skip the leave-one-participant-out protocol")
    parser.add_argument("--finetune-protocols", default="k1,k4",
                        help="protocols fine-tuned (comma list of k1,k2,k4,new_user; '' none). Default: the few-label "
                             "protocol where pretraining must pay, and the published one")  # fmt: skip
    parser.add_argument("--finetune-epochs", type=int, default=30, help="within-participant fine-tune epochs")
    parser.add_argument("--finetune-epochs-new-user", type=int, default=2, help="new-user fine-tune epochs")
    parser.add_argument("--finetune-batch", type=int, default=16)
    parser.add_argument("--finetune-participants", type=int, default=0,
                        help="fine-tune only the first N participants in id order (0, the default: all 17; on w200 "
                             "windows the k1 and k4 fine-tunes of two encoders took ~67 min here, docs/transfer.md)")  # fmt: skip
    parser.add_argument("--no-uci", dest="uci", action="store_false", help="skip the real UCI subset probe")
    parser.add_argument("--myo-dir", type=Path, default=SHARED / "myo_armband")
    parser.add_argument("--uci-dir", type=Path, default=SHARED / "uci_emg")
    args = parser.parse_args()
    args.workdir = args.workdir.absolute()
    args.data_dir = args.workdir / "tfds"
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s]
        args.participants = [int(s) for s in args.participants.split(",") if s]
        args.cycles = [int(s) for s in args.cycles.split(",") if s]
    except ValueError:
        parser.error("--seeds, --participants and --cycles take comma-separated integers")
    args.finetune_protocols = [p for p in args.finetune_protocols.split(",") if p]
    unknown = set(args.finetune_protocols) - {f"k{k}" for k in args.cycles} - {NEW_USER}
    if unknown:
        parser.error(f"--finetune-protocols: unknown {sorted(unknown)}")
    if not args.myo_dir.is_dir():
        parser.error(f"--myo-dir {args.myo_dir}: no such folder (../shared/real/myo_armband)")
    if args.quick:
        args.participants = args.participants or [110, 111]
        args.new_user = False if len(args.participants) < 2 else args.new_user
        args.finetune_epochs = min(args.finetune_epochs, 1)
        args.finetune_participants = 1
        args.finetune_epochs_new_user = 1
    return args


if __name__ == "__main__":
    main()
