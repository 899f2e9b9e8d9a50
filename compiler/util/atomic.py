"""Output files for the compiler's tools and passes, by the runtime's one rule
(``imcc.runtime.fileio``): regular files replaced atomically, links followed, devices and FIFOs
written through, directories and missing folders refused."""

from __future__ import annotations

from imcc.runtime.fileio import write_file


def atomic_write_bytes(path: str, data: bytes) -> None:
    write_file(path, data)


def atomic_write_text(path: str, text: str) -> None:
    write_file(path, text.encode("utf-8"))
