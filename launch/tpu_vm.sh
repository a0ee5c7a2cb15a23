#!/usr/bin/env bash
# Run a command on every worker of a Cloud TPU VM (pod slice) at once, via the gcloud CLI.
# JAX finds the other workers itself on TPU VMs: the command runs with TINYMYO_DISTRIBUTED=auto.
#   launch/tpu_vm.sh --tpu NAME --zone ZONE [--project P] [--repo-dir ~/tinymyo-jax] [--dry-run] \
#       -- tinymyo pretrain --config configs/pretrain/tinymyo.py --workdir gs://bucket/runs/tinymyo
# The repository must be present (same path) on every worker, with `make venv` done there.
set -euo pipefail
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
tpu=""; zone=""; project=""; repo_dir="~/tinymyo-jax"; dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tpu) tpu="$2"; shift 2 ;;
    --zone) zone="$2"; shift 2 ;;
    --project) project="$2"; shift 2 ;;
    --repo-dir) repo_dir="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "tpu_vm.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
[[ -n "$tpu" && -n "$zone" ]] || { echo "tpu_vm.sh: --tpu and --zone are required" >&2; usage 2; }
[[ $# -gt 0 ]] || { echo "tpu_vm.sh: no command given after --" >&2; usage 2; }
remote="cd $repo_dir && TINYMYO_DISTRIBUTED=auto .venv/bin/$(printf '%q ' "$@")"
cmd=(gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command "$remote")
[[ -n "$project" ]] && cmd+=(--project "$project")
if [[ $dry_run == 1 ]]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
exec "${cmd[@]}"
