"""Checks shared by the tests of "nothing lost, nothing silently wrong" (issue 14)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder` (hidden ones too): equal digests
    before and after a command mean it left the folder byte-identical."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def one_line_error(capsys) -> str:
    """The command's stderr, asserted to be one line and no traceback (how a user mistake reads)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err
