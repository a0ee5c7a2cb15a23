"""Smoke pretraining (configs/pretrain/smoke.py) for each (rope, normalisation) variant on the same
prepared data: validation masked loss beside every baseline, as JSON lines.

    python benchmarks/smoke_variants.py --data_dir runs/demo/tfds --out runs/smoke_variants \
        --ropes reference time time_channel --normalizations minmax_channel window_scale none

Losses under different normalisations are in different units: compare each through its ratio
to the best baseline of the same run (printed as `vs_best`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="TFDS dir with the smoke mixture prepared (make demo's runs/demo/tfds)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ropes", nargs="+", default=["time", "time_channel"])
    parser.add_argument("--normalizations", nargs="+", default=["minmax_channel", "window_scale", "none"])
    parser.add_argument("--override", nargs="*", default=[], help="extra config overrides, e.g. total_steps=300")
    args = parser.parse_args()

    from tinymyo_jax.config_files import load_config
    from tinymyo_jax.train.pretrain import pretrain

    args.out.mkdir(parents=True, exist_ok=True)
    for normalization in args.normalizations:
        for rope in args.ropes:
            run = args.out / f"{rope}-{normalization}"
            shutil.rmtree(run, ignore_errors=True)
            config = load_config(str(REPO / "configs/pretrain/smoke.py"), [
                f"data.data_dir={args.data_dir}", f"model.rope={rope}", f"data.normalization={normalization}", *args.override,
            ])  # fmt: skip
            start = time.perf_counter()
            validation = pretrain(config, run)["validation"]
            baselines = {k[len("baseline_"):-len("_masked_loss")]: v for k, v in validation.items() if k.startswith("baseline_")}
            best = min(baselines, key=baselines.get)
            row = {"rope": rope, "normalization": normalization, "masked_loss": validation["masked_loss"],
                   "baselines": baselines, "best_baseline": best, "vs_best": validation["masked_loss"] / baselines[best],
                   "seconds": round(time.perf_counter() - start, 1), "overrides": args.override}  # fmt: skip
            print(json.dumps(row), flush=True)
            with open(args.out / "results.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
