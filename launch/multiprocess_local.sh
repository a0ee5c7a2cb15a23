#!/usr/bin/env bash
# N JAX processes on this machine, joined over localhost with CPU collectives: how we test
# multi-host code without a cluster. Each process gets TINYMYO_COORDINATOR/NUM_PROCESSES/
# PROCESS_ID (read by tinymyo_jax.train.pretrain) and its own CPU devices.
#   launch/multiprocess_local.sh -n 2 [--devices-per-process 1] [--port 12355] [--deadline SECONDS]
#       [--log-dir DIR] [--dry-run] -- tinymyo pretrain --config ... --workdir ...
# --deadline kills every process with SIGKILL after SECONDS (after jax.distributed.initialize
# JAX catches SIGTERM for preemption handling, so SIGTERM would not stop a hung job).
# Measured here: more than one device per process with several steps in flight hung; the
# trainer syncs every step, and 1 device per process is the tested layout.
set -euo pipefail
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
num=2; devices=1; port=12355; deadline=""; log_dir=""; dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--num-processes) num="$2"; shift 2 ;;
    --devices-per-process) devices="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --deadline) deadline="$2"; shift 2 ;;
    --log-dir) log_dir="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "multiprocess_local.sh: unknown option $1 (put the command after --)" >&2; usage 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "multiprocess_local.sh: no command given after --" >&2; usage 2; }
[[ "$num" =~ ^[1-9][0-9]*$ ]] || { echo "multiprocess_local.sh: -n must be a positive integer" >&2; exit 2; }
[[ -n "$log_dir" ]] && mkdir -p "$log_dir"
pids=()
for ((i = 0; i < num; i++)); do
  env_vars=(JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES="$devices" TINYMYO_COORDINATOR="localhost:$port"
            TINYMYO_NUM_PROCESSES="$num" TINYMYO_PROCESS_ID="$i")
  cmd=(env "${env_vars[@]}")
  [[ -n "$deadline" ]] && cmd+=(timeout -s KILL "$deadline")
  cmd+=("$@")
  if [[ $dry_run == 1 ]]; then
    printf '%q ' "${cmd[@]}"; [[ -n "$log_dir" ]] && printf '> %q 2>&1' "$log_dir/process_$i.log"; echo " &"
    continue
  fi
  if [[ -n "$log_dir" ]]; then "${cmd[@]}" >"$log_dir/process_$i.log" 2>&1 & else "${cmd[@]}" & fi
  pids+=($!)
done
[[ $dry_run == 1 ]] && { echo wait; exit 0; }
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
