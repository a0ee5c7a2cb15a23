"""Does pretraining buy anything? The same linear probe on a checkpoint's encoder and on random
encoders of its architecture (several seeds), on prepared benchmarks, beside the classic pipeline.

    .venv/bin/python benchmarks/probe_pretrained_vs_random.py --checkpoint runs/smoke \\
        --data_dir runs/tfds --benchmarks ninapro_db5 epn612 --seeds 0 1 2 --normalizations none minmax

For every (benchmark, input normalisation): one `run_probe` of the checkpoint with the random
encoder of `--seeds[0]` as its baseline, then the random encoders of the other seeds. Prints one
line per probe and writes <out>/summary.json; docs/evaluate.md quotes the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="pretraining workdir or checkpoint directory")
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--benchmarks", nargs="+", default=["ninapro_db5", "epn612"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--normalizations", nargs="+", default=["none", "minmax"], choices=["none", "minmax"])
    parser.add_argument("--variant", default="", help="config variant (runlocal, tiny); default the full protocol")
    parser.add_argument("--override", nargs="*", default=[], help="extra config overrides a.b=value")
    parser.add_argument("--out", type=Path, default=Path("runs/probe_pretrained_vs_random"))
    args = parser.parse_args()

    from tinymyo_jax.config_files import apply_overrides
    from tinymyo_jax.evaluate.config import probe_config
    from tinymyo_jax.evaluate.probe import run_probe

    summary = []
    for benchmark in args.benchmarks:
        for normalization in args.normalizations:
            config = probe_config(benchmark, args.variant or None)
            config.data.data_dir = args.data_dir
            config.data.input_normalization = normalization
            apply_overrides(config, args.override)
            metric = config.probe.selection_metric
            runs = [("pretrained", args.checkpoint, args.seeds[0])] + [("random", "random", s) for s in args.seeds[1:]]
            for kind, init, seed in runs:
                config.init, config.seed = init, seed
                config.baselines.classic = kind == "pretrained"  # the classic pipeline has no seed
                if kind == "random":  # a random encoder of the checkpoint's architecture
                    from tinymyo_jax.evaluate.encoders import load_initial_model

                    checkpoint_config = json.loads(load_initial_model(_with(config, args.checkpoint))[1]["model_config"])
                    config.model.embed_dim = checkpoint_config["embed_dim"]
                    config.model.depth = checkpoint_config["depth"]
                    config.model.num_heads = checkpoint_config["num_heads"]
                    config.model.rope = checkpoint_config["rope"]
                start = time.perf_counter()
                workdir = args.out / f"{benchmark}_{normalization}_{kind}_seed{seed}"
                results = run_probe(config, workdir)
                methods = {results["main"]: results["details"], **results["baselines"]}
                for name, record in methods.items():
                    row = {"benchmark": benchmark, "normalization": normalization, "method": name,
                           "seed": seed if "random" in name else None, "hash": record.get("encoder", {}).get("checkpoint_hash"),
                           metric: record["metrics"][metric], "chosen": record["selection"]["chosen"],
                           "validation": record["validation"][metric]}  # fmt: skip
                    if row not in summary:
                        summary.append(row)
                        print(json.dumps(row), flush=True)
                print(f"  ({workdir}, {time.perf_counter() - start:.0f} s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))


def _with(config, init):
    copy = config.copy_and_resolve_references()
    copy.init = init
    return copy


if __name__ == "__main__":
    main()
