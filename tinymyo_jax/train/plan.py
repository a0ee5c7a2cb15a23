"""A pre-flight plan for a TPU slice: compile the real train step for a topology this host lacks.

JAX compiles for a TPU topology on a CPU-only host when `libtpu` is installed
(`jax.experimental.topologies.get_topology_desc` gives compile-only devices). We build the
trainer's own step (`pretrain.sharded_train_step`: same mesh, shardings, donation and
micro-batching), lower it for abstract state and batch, compile it with XLA's TPU compiler, and
read what the compiler decided: per-chip memory (`memory_analysis`), FLOPs and HBM traffic
(`cost_analysis`) and the collectives in the partitioned HLO.

GPU targets are not offered: jax 0.10.2 compiles for a GPU without one only through the CUDA
PJRT plugin (`jax-cuda12-plugin`, `get_topology_desc(platform="cuda", target_config=...)`) and a
GpuTargetConfig text describing the exact GPU; neither ships with libtpu (see docs/launch.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from importlib import metadata
from typing import Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from tinymyo_jax.errors import UserError
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.checkpointing import abstract_with_shardings
from tinymyo_jax.train.config import micro_batch_count
from tinymyo_jax.train.loop import initial_health
from tinymyo_jax.train.metrics import PEAK_FLOPS_BY_KIND
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.pretrain import model_config_from, sharded_train_step
from tinymyo_jax.train.step import init_state

GiB = 2**30


@dataclasses.dataclass(frozen=True)
class ChipSpec:
    """Per-chip data-sheet numbers of a TPU generation (Google Cloud TPU system architecture pages)."""

    device_kind: str  # what libtpu reports as device_kind
    hbm_bytes: int
    hbm_bandwidth: float  # bytes/s
    peak_flops: float  # dense bf16 FLOP/s, from train/metrics.py's table
    chip_config_name: str | None = None


TPU_CHIPS = {
    # v4 exposes one device per chip ("megacore") on Cloud TPU VMs; libtpu's default is per core.
    "v4": ChipSpec("TPU v4", 32 * GiB, 1200e9, PEAK_FLOPS_BY_KIND["TPU v4"], chip_config_name="megacore"),
    "v5e": ChipSpec("TPU v5 lite", 16 * GiB, 819e9, PEAK_FLOPS_BY_KIND["TPU v5e"]),
    "v5p": ChipSpec("TPU v5", 95 * GiB, 2765e9, PEAK_FLOPS_BY_KIND["TPU v5p"]),
    "v6e": ChipSpec("TPU v6 lite", 32 * GiB, 1640e9, PEAK_FLOPS_BY_KIND["TPU v6"]),
}
_TOPOLOGY = re.compile(r"^(?P<gen>v\d+[a-z]?):(?P<dims>\d+(?:x\d+){1,2})$")
# libtpu's default chips per host is 2x2x1; a slice smaller than a host must say so.
_HOST_BOUNDS = (2, 2, 1)


def parse_topology(text: str) -> tuple[str, tuple[int, ...]]:
    """'v5e:4x4' -> ('v5e', (4, 4))."""
    match = _TOPOLOGY.match(text.strip())
    if not match or match["gen"] not in TPU_CHIPS:
        raise UserError(f"--topology {text!r}: expected GENERATION:AxB[xC] with GENERATION one of "
                        f"{', '.join(TPU_CHIPS)} (e.g. v5e:4x4, v4:2x2x2)")
    dims = tuple(int(d) for d in match["dims"].split("x"))
    if min(dims) < 1:
        raise UserError(f"--topology {text!r}: every dimension must be at least 1")
    return match["gen"], dims


def libtpu_version() -> str | None:
    """The installed libtpu's version, or None when it is not installed."""
    try:
        return metadata.version("libtpu")
    except metadata.PackageNotFoundError:
        return None


def topology_devices(text: str) -> list:
    """Compile-only TPU devices of a topology, from libtpu on this (CPU) host."""
    if libtpu_version() is None:
        raise UserError("tinymyo plan needs libtpu to compile for TPUs: pip install 'tinymyo-jax[tpu-plan]'")
    generation, dims = parse_topology(text)
    # Another process on this host (any jax program looking for TPUs) may hold libtpu's
    # lockfile; a compile-only client needs no exclusive chip. No GCE metadata server here.
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")
    from jax.experimental import topologies

    chip = TPU_CHIPS[generation]
    kwargs = {}
    padded = dims + (1,) * (3 - len(dims))
    if any(d % h for d, h in zip(padded, _HOST_BOUNDS)):
        kwargs["chips_per_host_bounds"] = tuple(min(d, h) for d, h in zip(padded, _HOST_BOUNDS))
    if chip.chip_config_name:
        kwargs["chip_config_name"] = chip.chip_config_name
    try:
        devices = list(topologies.get_topology_desc(text.strip(), "tpu", **kwargs).devices)
    except Exception as err:  # libtpu's own words say what it rejects
        raise UserError(f"--topology {text!r}: libtpu rejected it: {str(err).splitlines()[0]}") from err
    if len(devices) != math.prod(dims):
        raise UserError(f"--topology {text!r}: libtpu gave {len(devices)} devices for {math.prod(dims)} chips")
    return devices


# ----------------------------------------------------------------------------- one compile


@dataclasses.dataclass
class Compiled:
    """What one ahead-of-time compile of the train step says, per chip."""

    micro_batch_size: int  # 0: the whole global batch at once
    fsdp: int
    compute_dtype: str
    fits: bool
    used_bytes: int  # everything resident during the step (XLA's own count when it refused)
    hbm_limit: int  # XLA's usable HBM when it said so, else the data sheet's
    compile_s: float
    memory: dict[str, int] = dataclasses.field(default_factory=dict)
    flops_per_step: float = 0.0
    bytes_per_step: float = 0.0
    collectives: list[dict] = dataclasses.field(default_factory=list)
    error: str = ""

    def change(self, base: ml_collections.ConfigDict) -> str:
        """The --config overrides that turn `base` into this candidate."""
        parts = []
        if self.micro_batch_size != base.micro_batch_size:
            parts.append(f"--config.micro_batch_size={self.micro_batch_size}")
        if self.fsdp != base.mesh.fsdp:
            parts.append(f"--config.mesh.fsdp={self.fsdp}")
        if self.compute_dtype != base.compute_dtype:
            parts.append(f"--config.compute_dtype={self.compute_dtype}")
        return " ".join(parts) or "(as configured)"


# XLA:TPU says it in one of two ways: after buffer assignment (everything resident) or, earlier,
# when the temporaries alone exceed the chip.
_OOM = (re.compile(r"Used ([\d.]+)\s*([KMGT]?)i?B? of ([\d.]+)\s*([KMGT]?)i?B? hbm"),
        re.compile(r"HLO temporaries \(([\d.]+)\s*([KMGT]?)i?B?\) exceeds available HBM \(([\d.]+)\s*([KMGT]?)i?B?\)"))
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_hbm_oom(message: str) -> tuple[int, int] | None:
    """(used, limit) bytes from XLA's HBM refusal, or None when the message is not one."""
    match = _OOM[0].search(message) or _OOM[1].search(message)
    if not match:
        return None
    return int(float(match[1]) * _UNITS[match[2]]), int(float(match[3]) * _UNITS[match[4]])


def state_bytes_per_device(abstract_state, state_sharding) -> dict[str, int]:
    """Bytes of params and optimizer state that one device holds under the shardings."""
    def nbytes(tree, shardings) -> int:
        sizes = jax.tree.map(lambda leaf, sh: math.prod(sh.shard_shape(leaf.shape)) * np.dtype(leaf.dtype).itemsize,
                             tree, shardings)
        return int(sum(jax.tree.leaves(sizes)))

    return {"parameters": nbytes(abstract_state["params"], state_sharding["params"]),
            "optimizer": nbytes(abstract_state["opt_state"], state_sharding["opt_state"])}


def compile_train_step(config: ml_collections.ConfigDict, devices: list, channels: int, samples: int,
                       chip: ChipSpec) -> Compiled:
    """Compile the trainer's step for `devices` (abstract state and batch); never raises on HBM OOM."""
    mesh = mesh_lib.make_mesh(config.mesh.fsdp, devices)
    model_config = model_config_from(config)
    # shapes only: nothing is initialised on this host
    graphdef, params = nnx.split(nnx.eval_shape(lambda: TinyMyo(model_config, rngs=nnx.Rngs(params=config.seed))))
    params = nnx.to_pure_dict(params)
    optimizer = make_optimizer(config)
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), params)
    state_sharding = mesh_lib.state_shardings(abstract_state, mesh, config.mesh.fsdp_min_params)
    step = sharded_train_step(config, mesh, graphdef, model_config, optimizer, learning_rate_schedule(config),
                              state_sharding)
    data_sharding = mesh_lib.batch_sharding(mesh)
    b = config.global_batch_size
    # the dtypes prepared windows are stored in (window_record.py): float16 EMG, bool mask
    batch = {"emg": jax.ShapeDtypeStruct((b, channels, samples), jnp.float16, sharding=data_sharding),
             "channel_mask": jax.ShapeDtypeStruct((b, channels), jnp.bool_, sharding=data_sharding)}
    result = Compiled(config.micro_batch_size, config.mesh.fsdp, config.compute_dtype, False, 0, chip.hbm_bytes, 0.0)
    start = time.perf_counter()
    try:
        compiled = step.lower(abstract_with_shardings(abstract_state, state_sharding), batch,
                              jax.eval_shape(initial_health)).compile()
    except Exception as err:  # XLA's HBM refusal is a JaxRuntimeError RESOURCE_EXHAUSTED
        result.compile_s = time.perf_counter() - start
        message = str(err)
        oom = parse_hbm_oom(message)
        if oom is None and "Ran out of memory" not in message:
            raise
        result.used_bytes, result.hbm_limit = oom or (0, chip.hbm_bytes)
        result.error = "HBM out of memory"
        return result
    result.compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    result.memory = {
        **state_bytes_per_device(abstract_state, state_sharding),
        "arguments": memory.argument_size_in_bytes,
        "outputs": memory.output_size_in_bytes,
        "aliased": memory.alias_size_in_bytes,
        "temporaries": memory.temp_size_in_bytes,
        "code": memory.generated_code_size_in_bytes,
    }
    result.used_bytes = (memory.argument_size_in_bytes + memory.output_size_in_bytes - memory.alias_size_in_bytes
                         + memory.temp_size_in_bytes + memory.generated_code_size_in_bytes)
    result.fits = result.used_bytes <= result.hbm_limit
    if not result.fits:
        result.error = "over the data sheet's HBM"
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    # XLA's cost analysis counts a while loop's body once: the micro-batch scan runs it k times.
    # What lies outside the loop (loss totals, AdamW) is element-wise and small beside it.
    loops = b // config.micro_batch_size if config.micro_batch_size else 1
    result.flops_per_step = float(cost.get("flops", 0.0)) * loops
    result.bytes_per_step = float(cost.get("bytes accessed", 0.0)) * loops
    result.collectives = collectives(compiled.as_text(), loops)
    return result


# ----------------------------------------------------------------------------- collectives

_COLLECTIVE = re.compile(
    r"^\s*(?:ROOT\s+)?%?\S+\s*=\s*(?P<type>.+?)\s(?P<op>all-reduce|all-gather|reduce-scatter|all-to-all|"
    r"collective-permute)(?P<start>-start)?\(")
_ARRAY = re.compile(r"\b(pred|s8|u8|s16|u16|s32|u32|s64|u64|f16|bf16|f32|f64)\[([\d,]*)\]")
_ITEMSIZE = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4,
             "s64": 8, "u64": 8, "f64": 8}
_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?(?P<name>[\w.\-]+)\s.*\{\s*$")
_WHILE_BODY = re.compile(r"\bwhile\(.*\bbody=%?(?P<body>[\w.\-]+)")


def collectives(hlo_text: str, loop_trips: int = 1) -> list[dict]:
    """Collective ops of a compiled (partitioned) HLO module: kind, count and result bytes per
    step, with ops inside while-loop bodies (the micro-batch scan) counted `loop_trips` times."""
    bodies = set(_WHILE_BODY.findall(hlo_text))
    totals: dict[str, dict] = {}
    computation = ""
    for line in hlo_text.splitlines():
        if line and not line[0].isspace():
            header = _COMPUTATION.match(line)
            if header:
                computation = header["name"]
            continue
        match = _COLLECTIVE.match(line)
        if not match:
            continue
        sizes = [math.prod(int(d) for d in dims.split(",") if d) * _ITEMSIZE[dtype]
                 for dtype, dims in _ARRAY.findall(match["type"])]
        # "-start" forms return (operands, results[, context]): the largest array is the payload
        payload = max(sizes) if match["start"] and sizes else sum(sizes)
        trips = loop_trips if computation in bodies else 1
        row = totals.setdefault(match["op"], {"op": match["op"], "count": 0, "bytes": 0, "in_loop": 0})
        row["count"] += trips
        row["bytes"] += payload * trips
        row["in_loop"] += trips if computation in bodies else 0
    return sorted(totals.values(), key=lambda r: -r["bytes"])


# ----------------------------------------------------------------------------- finding a fit


def _with(config: ml_collections.ConfigDict, **changes) -> ml_collections.ConfigDict:
    candidate = ml_collections.ConfigDict(config.to_dict())
    for key, value in changes.items():
        if key == "fsdp":
            candidate.mesh.fsdp = value
        else:
            candidate[key] = value
    return candidate


def candidate_configs(config: ml_collections.ConfigDict, refused: Compiled, devices: int) -> Iterator[ml_collections.ConfigDict]:
    """Changes to try, in order: halve the micro-batch, then FSDP over every chip, then bf16.

    Memory is fixed (state, code) plus a part that grows with the micro-batch, so a micro-batch
    1/2^k as large needs at least used/2^k: halvings fewer than log2(used/limit) cannot fit and
    are skipped without compiling."""
    micro = config.micro_batch_size or config.global_batch_size
    skip = max(0, math.ceil(math.log2(refused.used_bytes / refused.hbm_limit)) - 1) if refused.used_bytes else 0
    halvings = 0
    while micro % 2 == 0 and (micro // 2) % devices == 0:
        micro //= 2
        halvings += 1
        if halvings > skip:
            yield _with(config, micro_batch_size=micro)
    if devices > 1 and config.mesh.fsdp != devices:
        yield _with(config, fsdp=devices)
    if config.compute_dtype != "bfloat16":
        yield _with(config, compute_dtype="bfloat16")


@dataclasses.dataclass
class Plan:
    topology: str
    chip: ChipSpec
    devices: int
    config: ml_collections.ConfigDict
    channels: int
    samples: int
    attempts: list[Compiled]
    analytic_flops_per_step: float  # per chip

    @property
    def first(self) -> Compiled:
        return self.attempts[0]

    @property
    def fit(self) -> Compiled | None:
        return next((a for a in self.attempts if a.fits), None)


def make_plan(config: ml_collections.ConfigDict, topology: str, channels: int = 16, samples: int = 1000,
              progress=None) -> Plan:
    """Compile the recipe for the topology; if it does not fit, compile the candidate changes
    until one fits (`progress(message)` is told before each compile)."""
    generation, _ = parse_topology(topology)
    chip = TPU_CHIPS[generation]
    model_config = model_config_from(config)
    if samples % model_config.patch_size:
        raise UserError(f"--samples {samples} is not a multiple of the patch size {model_config.patch_size}")
    devices = topology_devices(topology)
    n = len(devices)
    if config.global_batch_size % n:
        raise UserError(f"global_batch_size {config.global_batch_size} must be divisible by the {n} chips of {topology}")
    micro = config.global_batch_size // micro_batch_count(config)
    if micro % n:
        raise UserError(f"micro_batch_size {micro} must be divisible by the {n} chips")
    if config.mesh.fsdp < 1 or n % config.mesh.fsdp:
        raise UserError(f"mesh.fsdp={config.mesh.fsdp} must divide the {n} chips of {topology}")
    analytic = 3 * forward_flops(model_config, channels, samples)["total"] * config.global_batch_size / n
    say = progress or (lambda message: None)
    say(f"compiling the train step for {topology} ({n} x {chip.device_kind})")
    attempts = [compile_train_step(config, devices, channels, samples, chip)]
    if not attempts[0].fits:
        for candidate in candidate_configs(config, attempts[0], n):
            say(f"does not fit; compiling with {Compiled(candidate.micro_batch_size, candidate.mesh.fsdp, candidate.compute_dtype, False, 0, 0, 0).change(config)}")
            attempts.append(compile_train_step(candidate, devices, channels, samples, chip))
            if attempts[-1].fits:
                break
    return Plan(topology, chip, n, config, channels, samples, attempts, analytic)


# ----------------------------------------------------------------------------- report


def _gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB / 4 else f"{n / 2**20:.1f} MiB"


def _recipe(attempt: Compiled, config: ml_collections.ConfigDict) -> str:
    micro = attempt.micro_batch_size
    return (f"micro-batch {micro} x {config.global_batch_size // micro}" if micro else "whole batch") + \
        f", fsdp {attempt.fsdp}, {attempt.compute_dtype}"


def format_attempts(plan: Plan) -> str:
    """One line per compile: the change, per-chip memory against HBM, verdict."""
    lines = [f"{'change':<44} {'recipe':<38} {'per-chip memory':>16} {'verdict':>10}"]
    for attempt in plan.attempts:
        verdict = "fits" if attempt.fits else attempt.error
        lines.append(f"{attempt.change(plan.config):<44} {_recipe(attempt, plan.config):<38} "
                     f"{_gib(attempt.used_bytes) + ' / ' + _gib(attempt.hbm_limit):>16}  {verdict}")
    return "\n".join(lines)


def format_plan(plan: Plan, attempt: Compiled, peak_fraction: float) -> str:
    """The plan of one compiled recipe: memory, FLOPs, collectives and implied step time, per chip."""
    chip, config = plan.chip, plan.config
    m = attempt.memory
    batch_bytes = m["arguments"] - m["parameters"] - m["optimizer"]
    lines = [
        f"topology   {plan.topology}: {plan.devices} x {chip.device_kind}, {_gib(chip.hbm_bytes)} HBM and "
        f"{chip.peak_flops / 1e12:.0f} TFLOP/s dense bf16 per chip (data sheet)",
        f"recipe     global batch {config.global_batch_size}, {_recipe(attempt, config)}, "
        f"mesh data={plan.devices // attempt.fsdp} fsdp={attempt.fsdp}, windows {plan.channels} x {plan.samples}",
        f"compiled   in {attempt.compile_s:.0f} s by libtpu {libtpu_version()} (XLA memory and cost analysis)",
        "",
        "per-chip memory",
        f"  parameters (fp32 master)      {_gib(m['parameters']):>12}",
        f"  optimizer state (AdamW)       {_gib(m['optimizer']):>12}",
        f"  batch and step counter        {_gib(batch_bytes):>12}",
        f"  activations (temporaries)     {_gib(m['temporaries']):>12}",
        f"  generated code                {_gib(m['code']):>12}",
        f"  outputs not aliased to inputs {_gib(m['outputs'] - m['aliased']):>12}",
        f"  total                         {_gib(attempt.used_bytes):>12} of {_gib(chip.hbm_bytes)} HBM: "
        f"headroom {_gib(chip.hbm_bytes - attempt.used_bytes)} ({1 - attempt.used_bytes / chip.hbm_bytes:.0%})",
        "",
        "FLOPs per step per chip",
        f"  compiled (cost analysis)      {attempt.flops_per_step / 1e12:>9.3f} TFLOP",
        f"  analytic (3 x forward matmuls){plan.analytic_flops_per_step / 1e12:>9.3f} TFLOP   "
        f"compiled / analytic = {attempt.flops_per_step / plan.analytic_flops_per_step:.3f}",
        f"  HBM traffic (cost analysis)   {attempt.bytes_per_step / 1e9:>9.1f} GB",
        "",
        "collectives per step per chip (result bytes; in the micro-batch loop: counted per trip)",
    ]
    if not attempt.collectives:
        lines.append("  none")
    for row in attempt.collectives:
        loop = f", {row['in_loop']} in the loop" if row["in_loop"] else ""
        lines.append(f"  {row['op']:<20} {row['count']:>5} ops{loop:<20} {_gib(row['bytes']):>12}")
    compute_s = attempt.flops_per_step / chip.peak_flops
    traffic_s = attempt.bytes_per_step / chip.hbm_bandwidth
    step_s = attempt.flops_per_step / (peak_fraction * chip.peak_flops)
    lines += [
        "",
        "step time",
        f"  at {peak_fraction:.0%} of peak bf16           {step_s * 1e3:>9.1f} ms  "
        f"-> {config.global_batch_size / step_s:,.0f} windows/s for the slice",
        f"  bound by FLOPs (100% of peak) {compute_s * 1e3:>9.1f} ms",
        f"  bound by HBM traffic          {traffic_s * 1e3:>9.1f} ms  "
        f"(at {chip.hbm_bandwidth / 1e9:.0f} GB/s; the larger bound is the floor)",
    ]
    return "\n".join(lines)
