"""Output files: temporary files for atomic writes, created beside the target with the permissions
a plain ``open()`` would give (``mkstemp`` alone makes them 0600), and the file names of model
outputs, the same for every tool."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike) -> tuple[int, str]:
    """Open a temporary file in ``path``'s folder; return ``(fd, temp path)``. The caller writes it
    and then ``os.replace``s it onto ``path`` (or unlinks it on failure)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())
    return fd, tmp


def output_file_names(names: list[str]) -> list[str]:
    """Safe, unique file names (``<name>.npy``) for output names that may hold '/' or ':'."""
    used: set[str] = set()
    files = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip(".") or "output"
        candidate, n = base, 1
        while candidate in used:
            candidate = f"{base}_{n}"
            n += 1
        used.add(candidate)
        files.append(candidate + ".npy")
    return files
