#!/usr/bin/env bash
# One process on this machine (all its local devices).
#   launch/local.sh [--dry-run] -- tinymyo pretrain --config configs/pretrain/smoke.py --workdir runs/smoke
set -euo pipefail
usage() { sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "local.sh: unknown option $1 (put the command after --)" >&2; usage 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "local.sh: no command given after --" >&2; usage 2; }
if [[ $dry_run == 1 ]]; then printf '%q ' "$@"; echo; exit 0; fi
exec "$@"
