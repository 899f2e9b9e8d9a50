"""Output files, written by one rule for every tool and the Python API, and the file names of model
outputs.

The rule (:func:`write_file`, :func:`write_files`):

- a regular file, or a name that does not exist yet, is replaced atomically: the data goes to a
  temporary file beside it (with the permissions a plain ``open()`` would give) and is renamed
  over it, so a failure never leaves a half-written file;
- a symbolic link is followed: its target is written by this same rule and the link stays;
- a device or a FIFO is written through (opened and written, never replaced or unlinked); a FIFO
  that nobody reads is refused rather than waited for;
- an empty path, a directory, or a path whose folder does not exist is refused.

Refusals raise :class:`OutputPathError` (an ``OSError``) naming the path and the reason.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from . import budget


class OutputPathError(OSError):
    """An output path that cannot, or must not, be written (the message names it)."""


def _target(path: str | os.PathLike) -> tuple[str, bool]:
    """(the path to write, whether to write through it instead of replacing it)."""
    text = os.fspath(path)
    if not text:
        raise OutputPathError("the output path is empty")
    real = os.path.realpath(text) if os.path.islink(text) else os.path.abspath(text)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise OutputPathError(f"cannot write {text}: {err.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputPathError(f"cannot write {text}: it is a directory")
    if mode is None or stat.S_ISREG(mode):
        folder = os.path.dirname(real)
        if not os.path.isdir(folder):
            raise OutputPathError(f"cannot write {text}: folder {folder} does not exist")
        return real, False
    return real, True


def _write_through(path: str, shown: str, data: bytes) -> None:
    """Write into an existing device or FIFO without replacing it."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise OutputPathError(f"cannot write {shown}: a FIFO nobody reads") from None
        raise OutputPathError(f"cannot write {shown}: {err.strerror}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as err:
        raise OutputPathError(f"cannot write {shown}: {err.strerror}") from None
    finally:
        os.close(fd)


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` by the module's rule."""
    write_files({path: data})


def write_files(files: Mapping[str | os.PathLike, bytes]) -> None:
    """Write several files all or nothing: every regular file goes to a temporary file first and
    is renamed into place only when all are written; devices and FIFOs are written through
    last. Raises `OutputPathError` before writing anything when a path is refused."""
    plan = [(os.fspath(p), *_target(p), data) for p, data in files.items()]
    temps: list[tuple[str, str]] = []
    shown = ""
    try:
        for name, real, through, data in plan:
            if through:
                continue
            shown = name
            fd, tmp = temp_beside(real)
            temps.append((tmp, real))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except OSError as err:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise OutputPathError(f"cannot write {shown}: {err.strerror or err}") from None
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, real in temps:
        os.replace(tmp, real)
    for shown, real, through, data in plan:
        if through:
            _write_through(real, shown, data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike) -> tuple[int, str]:
    """Open a temporary file in ``path``'s folder (permissions as ``open()`` would give them);
    return ``(fd, temp path)``."""
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


# --- inputs --------------------------------------------------------------------------------------


class InputPathError(OSError):
    """An input path that is not a readable regular file within the size limit (names it)."""


def input_limit() -> int:
    """Bytes any one input file (or array it declares) may take: the budget's limit."""
    try:
        return budget.limit()
    except budget.BudgetError as exc:
        raise InputPathError(str(exc)) from None


def _size_text(n: int) -> str:
    return f"{n:,} bytes"


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file ``path``. Devices, FIFOs and folders are refused without
    blocking or reading; so is a file larger than `input_limit`."""
    text = os.fspath(path)
    try:
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputPathError(f"{text}: cannot read: no such file") from None
    except OSError as err:
        raise InputPathError(f"{text}: cannot read: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputPathError(f"{text}: is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputPathError(f"{text}: not a regular file (a device, FIFO or socket)")
        limit = input_limit()
        if info.st_size > limit:
            raise InputPathError(
                f"{text}: {_size_text(info.st_size)}, more than the input limit of "
                f"{_size_text(limit)} ({budget.ENV} raises it)"
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError as err:
        if isinstance(err, InputPathError):
            raise
        raise InputPathError(f"{text}: cannot read: {err.strerror or err}") from None
    finally:
        os.close(fd)


def load_npy(data: bytes, where: str):
    """The array of a ``.npy`` file's bytes, its header checked against the bytes there are
    (a header may not declare more data than the file holds); nothing is unpickled."""
    import io

    import numpy as np
    from numpy.lib import format as npy

    f = io.BytesIO(data)
    try:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npy.read_array_header_2_0(f)
    except Exception as err:  # numpy's header parser raises ValueError, SyntaxError, TokenError…
        raise ValueError(f"{where}: not a .npy array ({type(err).__name__}: {err})") from None
    count = 1
    for d in shape:
        count *= int(d)
    declared = count * dtype.itemsize
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects (would need pickle)")
    if declared > len(data) - f.tell():
        raise ValueError(
            f"{where}: the header declares {_size_text(declared)} of data, the file holds "
            f"{_size_text(len(data) - f.tell())}"
        )
    f.seek(0)
    try:
        return np.load(f, allow_pickle=False)
    except Exception as err:  # a body that does not match its checked header
        raise ValueError(f"{where}: not a .npy array ({type(err).__name__}: {err})") from None
