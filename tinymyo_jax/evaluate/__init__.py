"""Downstream evaluation: linear probes, fine-tuning and their baselines, from configs.

Entry points: `probe.run_probe(config, workdir)`, `finetune.finetune(config, workdir)`, both
returning the results dict they write to WORKDIR/results.json; `report.format_table(results)`.
Configs: `config.probe_config(benchmark, arg)`, `config.finetune_config(benchmark, arg)`.
"""
