"""Which JAX platforms the command line uses when the user did not say: no TPU noise on a CPU host.

The package depends on libtpu (for TPU hosts), and JAX tries every installed backend when
`JAX_PLATFORMS` is unset: on a host with no TPU, libtpu's initialisation prints five lines of
`E0000 ... TPU_WORKER_HOSTNAMES` errors on every command. So, before JAX is imported, the
command line sets `JAX_PLATFORMS=cpu` when, and only when:

  - the user set no `JAX_PLATFORMS` (nor `JAX_FORCE_TPU_INIT`, nor TPU_* topology variables),
  - no TPU chip is attached (no Google PCI device; what JAX itself checks), and
  - no GPU device node exists (/dev/nvidia*, /dev/kfd, /dev/dri/renderD*): a GPU host keeps
    JAX's own choice, so an installed CUDA/ROCm plugin is still found.

Anything else keeps JAX's default (TPU first where there is one). `JAX_PLATFORMS=tpu` (or any
value) always wins: set it to ask for a TPU explicitly.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

_GOOGLE_PCI_VENDOR = "0x1ae0"  # every Cloud TPU chip (v2..v6) is a Google PCI device
_GPU_DEVICE_NODES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd")
# a TPU runtime asked for by the environment, even without a PCI chip visible here
_TPU_REQUEST_VARIABLES = ("JAX_FORCE_TPU_INIT", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_HOSTNAMES", "TPU_LIBRARY_PATH", "TPU_NAME")


def tpu_attached(pci_root: str = "/sys/bus/pci/devices") -> bool:
    """True when a Google (TPU) PCI device is attached to this host."""
    for vendor in glob.glob(os.path.join(pci_root, "*", "vendor")):
        try:
            if Path(vendor).read_text().strip() == _GOOGLE_PCI_VENDOR:
                return True
        except OSError:
            continue
    return False


def gpu_attached(device_nodes: tuple[str, ...] = _GPU_DEVICE_NODES) -> bool:
    """True when an NVIDIA or AMD GPU device node exists."""
    return any(os.path.exists(node) for node in device_nodes)


def default_platforms(environ: dict[str, str] | None = None, *, tpu: bool | None = None, gpu: bool | None = None) -> str | None:
    """The JAX_PLATFORMS value to set for this host, or None to leave JAX's default."""
    environ = os.environ if environ is None else environ
    if "JAX_PLATFORMS" in environ or "JAX_PLATFORM_NAME" in environ or any(name in environ for name in _TPU_REQUEST_VARIABLES):
        return None
    tpu = tpu_attached() if tpu is None else tpu
    gpu = gpu_attached() if gpu is None else gpu
    return None if tpu or gpu else "cpu"


def quiet_cpu_host() -> None:
    """Set JAX_PLATFORMS=cpu on a host with no accelerator, before JAX is imported."""
    platforms = default_platforms()
    if platforms is not None:
        os.environ["JAX_PLATFORMS"] = platforms
