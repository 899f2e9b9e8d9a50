"""Atomic file writes: write to a temporary file in the same folder, then rename over the target, so
a crash or an error never leaves a half-written output behind."""

from __future__ import annotations

import os

from imcc.runtime.fileio import temp_beside


def atomic_write_bytes(path: str, data: bytes) -> None:
    fd, tmp = temp_beside(os.path.abspath(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
