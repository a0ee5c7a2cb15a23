"""Every run and data path goes through here: local folders and object-storage URLs alike.

    from tinymyo_jax import storage
    workdir = storage.path("gs://bucket/runs/tinymyo")    # or "runs/tinymyo", "~/runs/x"
    storage.write_atomic(workdir / "summary.json", text)  # readers never see half a file
    storage.read_text(workdir / "config.json")

Paths are `etils.epath.Path`s, the path type orbax, TFDS and ArrayRecord's data sources use:
`gs://`, `s3://`, `az://` URLs go to the object store (through TensorFlow's gfile when it is
installed, else fsspec's gcsfs/s3fs; `EPATH_USE_TF=false` forces fsspec), anything else is a
local path, made absolute. `pathlib.Path` and `open` on a URL would silently create a local
folder named `gs:` on every host; the rest of the package calls these functions instead
(tests/test_storage_paths.py checks that).

Object stores differ from file systems in three ways that matter here:
- no rename: one object write is atomic by itself (an object appears whole or not at all),
  so `write_atomic` writes directly there and writes-then-renames only on local disks;
- no append: `AppendLog` rewrites the whole object on each flush;
- no random access for native readers (ArrayRecord's C++ reader opens local files only):
  `local_copy` fetches a remote file once into a local cache and returns that path.
Only the main process of a job writes shared files; callers decide that (`is_main`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from typing import Iterator

from etils import epath

PathLike = str | os.PathLike
URL_SCHEMES = ("gs", "s3", "az", "hf")
# pathlib collapses "gs://bucket/x" to "gs:/bucket/x": repaired, so a URL that went through
# pathlib.Path somewhere upstream (argparse, a caller) still reaches the object store
_COLLAPSED_URL = re.compile(r"^(gs|s3|az|hf):/(?!/)")
CACHE_ENV = "TINYMYO_CACHE_DIR"


def url_text(p: PathLike) -> str:
    """The text of a path, with a URL collapsed by pathlib repaired."""
    text = os.fspath(p)
    return _COLLAPSED_URL.sub(r"\1://", text)


def is_remote(p: PathLike) -> bool:
    """True for object-storage URLs (gs://, s3://, az://, hf://)."""
    return url_text(p).startswith(tuple(f"{scheme}://" for scheme in URL_SCHEMES))


def path(p: PathLike) -> epath.Path:
    """An epath.Path for a local path (`~` expanded, made absolute) or an object-storage URL."""
    text = url_text(p)
    if is_remote(text):
        return epath.Path(text)
    return epath.Path(os.path.abspath(os.path.expanduser(text)))


# ----------------------------------------------------------------------------- queries


def exists(p: PathLike) -> bool:
    return path(p).exists()


def is_dir(p: PathLike) -> bool:
    return path(p).is_dir()


def is_file(p: PathLike) -> bool:
    return path(p).is_file()


def listdir(p: PathLike) -> list[str]:
    """Names of the entries of folder `p`, sorted."""
    return sorted(child.name for child in path(p).iterdir())


def size(p: PathLike) -> int:
    return int(path(p).stat().length)


# ----------------------------------------------------------------------------- reading


def read_text(p: PathLike) -> str:
    return path(p).read_text()


def read_bytes(p: PathLike) -> bytes:
    return path(p).read_bytes()


# ----------------------------------------------------------------------------- writing


def mkdir(p: PathLike) -> epath.Path:
    """Create folder `p` and its parents (a no-op on object stores, whose folders are prefixes
    that exist once an object is written under them)."""
    folder = path(p)
    if not is_remote(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_text(p: PathLike, text: str) -> None:
    write_bytes(p, text.encode())


def write_bytes(p: PathLike, data: bytes) -> None:
    target = path(p)
    mkdir(target.parent)
    target.write_bytes(data)


def write_atomic(p: PathLike, data: str | bytes) -> None:
    """Write `p` so that readers (other processes, a run killed mid-write) see the old content
    or the new, never part: write-then-rename locally, one object write on object stores."""
    target = path(p)
    data = data.encode() if isinstance(data, str) else data
    if is_remote(target):
        target.write_bytes(data)
        return
    mkdir(target.parent)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, target)


def remove_tree(p: PathLike) -> None:
    """Delete a folder (all objects under a prefix) or a file; absent is fine."""
    target = path(p)
    if target.is_dir():
        target.rmtree()
    elif target.exists():
        target.unlink()


def move(src: PathLike, dst: PathLike) -> None:
    """Rename `src` to `dst` (a folder or a file). Atomic on local disks; on object stores a copy
    of every object followed by their deletion, so callers that need atomicity there use
    `tinymyo_jax.replace` (write-once completion markers)."""
    source, target = path(src), path(dst)
    mkdir(target.parent)
    source.rename(target)


def copy_tree(src: PathLike, dst: PathLike) -> None:
    """Copy the folder `src` to `dst` (file by file, local or remote on either side)."""
    source, target = path(src), path(dst)
    if not source.is_dir():
        mkdir(target.parent)
        source.copy(target, overwrite=True)
        return
    for name in listdir(source):
        copy_tree(source / name, target / name)


def walk_files(p: PathLike) -> Iterator[epath.Path]:
    """Every file under folder `p`, depth first, in sorted order."""
    folder = path(p)
    for name in listdir(folder):
        child = folder / name
        if child.is_dir():
            yield from walk_files(child)
        else:
            yield child


class AppendLog:
    """A text file written line by line (metrics.jsonl), resumed runs appending to it.

    Local files are opened in append mode, line-buffered. Object stores cannot append: the
    existing object is read at start and the whole text is rewritten on each `write` (one line
    per logged step, so a few kB per write), so a run killed at any moment keeps every line
    written before.
    """

    def __init__(self, p: PathLike) -> None:
        self.path = path(p)
        self._remote = is_remote(self.path)
        if self._remote:
            self._text = io.StringIO()
            if self.path.exists():
                self._text.write(self.path.read_text())
        else:
            mkdir(self.path.parent)
            self._file = self.path.open("a")

    def write(self, text: str) -> None:
        if self._remote:
            self._text.write(text)
            self.path.write_text(self._text.getvalue())
        else:
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        if not self._remote:
            self._file.close()


# ----------------------------------------------------------------------------- local access


def cache_dir() -> str:
    """Where remote files needed as local files are kept: $TINYMYO_CACHE_DIR, else a folder in
    the system's temporary directory."""
    return os.environ.get(CACHE_ENV) or os.path.join(tempfile.gettempdir(), "tinymyo-cache")


def local_copy(p: PathLike) -> str:
    """A local file path with the content of `p`: `p` itself when local; for a URL, a copy
    fetched once into `cache_dir()` (keyed by URL and size, so a rebuilt file is fetched again;
    written to a partial name and renamed, so concurrent processes never read half a copy)."""
    source = path(p)
    if not is_remote(source):
        return os.fspath(source)
    length = size(source)
    key = hashlib.sha256(f"{source}|{length}".encode()).hexdigest()[:24]
    local = os.path.join(cache_dir(), key, source.name)
    if os.path.isfile(local) and os.path.getsize(local) == length:
        return local
    os.makedirs(os.path.dirname(local), exist_ok=True)
    partial = f"{local}.partial-{os.getpid()}"
    with source.open("rb") as remote, open(partial, "wb") as out:  # noqa: storage - the local cache
        while chunk := remote.read(8 << 20):
            out.write(chunk)
    os.replace(partial, local)
    return local
