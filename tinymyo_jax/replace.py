"""Replace-on-success: build a folder beside its target, swap it in only when it is complete.

    with replace_on_success(out_dir) as staging:
        write_everything_into(staging)        # raise -> staging removed, out_dir untouched

Every command that overwrites a user's folder (`prep --overwrite`, `import-torch --force`, the
demo's stages) goes through this, so a failed, interrupted or SIGKILLed rebuild never costs the
old result. The staging folder is a hidden sibling (`.<name>.staging-<pid>`), on the same file
system, so the swap is a rename: `renameat2(RENAME_EXCHANGE)` on Linux exchanges the two folders
in one atomic step; elsewhere two renames leave, for an instant, the old folder under
`.<name>.previous` (`recover` puts it back). Leftovers of killed runs are removed by
`remove_stale` before the next build.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def staging_path(target: Path) -> Path:
    return target.parent / f".{target.name}.staging-{os.getpid()}"


def previous_path(target: Path) -> Path:
    return target.parent / f".{target.name}.previous"


def remove_stale(target: Path) -> None:
    """Delete staging folders that killed runs left beside `target`; restore an old `target`
    that a kill between the two renames of the fallback swap left aside."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    recover(target)
    for stale in sorted(target.parent.glob(f".{target.name}.staging-*")):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue  # another live run's folder
        shutil.rmtree(stale, ignore_errors=True)


def recover(target: Path) -> None:
    """Put back `target` from `.<name>.previous` when a swap was cut between its two renames."""
    previous = previous_path(target)
    if previous.exists() and not target.exists():
        previous.rename(target)
    elif previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the call is unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    return False  # EINVAL/ENOSYS (file system or kernel without it): use the two renames


def swap_in(staging: Path, target: Path) -> None:
    """Make `staging` the new `target`; the old `target` (if any) is deleted afterwards."""
    staging, target = Path(staging), Path(target)
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the old content
        return
    previous = previous_path(target)
    shutil.rmtree(previous, ignore_errors=True)
    target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous)


@contextlib.contextmanager
def replace_on_success(target: Path | str) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on normal exit it replaces `target`.

    On an exception (or KeyboardInterrupt) the staging folder is removed and `target` is left
    exactly as it was. `target`'s parent is created if needed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    staging = staging_path(target)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # staging is a sibling on the same file system: no bytes copied
    except OSError:
        shutil.copy2(source, target)


@contextlib.contextmanager
def replace_owned_on_success(target: Path | str, owned: Callable[[str], bool]) -> Iterator[Path]:
    """`replace_on_success` for a folder the user may share with us: the entries of `target`
    that `owned(name)` does not claim are carried into the staging folder (hard links where
    possible), so replacing our files never deletes the user's."""
    target = Path(target)
    with replace_on_success(target) as staging:
        names = sorted(p.name for p in target.iterdir()) if target.is_dir() else []
        for name in names:
            if owned(name):
                continue
            source = target / name
            if source.is_symlink():
                os.symlink(os.readlink(source), staging / name)
            elif source.is_dir():
                shutil.copytree(source, staging / name, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(str(source), str(staging / name))
        yield staging
