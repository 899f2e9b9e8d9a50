"""A minimal PNG encoder: 8-bit RGB, no interlacing, one IDAT chunk, zlib at level 9.

Only the chunks a viewer needs (IHDR, IDAT, IEND) are written: no time stamp or software tag, so
the same pixels always give the same bytes with a given zlib.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB8 = (8, 2)  # bit depth 8, colour type 2 (truecolour)
_FILTER_UP = 2


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC-32 of type and data."""
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (height, width, 3) uint8 image."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) uint8 image, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    if not (0 < h < 2**31 and 0 < w < 2**31):
        raise ValueError(f"image size {w} x {h} outside 1..2^31-1")
    rows = rgb.reshape(h, w * 3)
    # filter "up" (each byte minus the one above, mod 256) turns the charts' large flat areas
    # and vertical edges into runs of zeros that deflate well; the first row is kept as it is
    filtered = rows.copy()
    filtered[1:] -= rows[:-1]
    lines = np.empty((h, 1 + w * 3), np.uint8)
    lines[:, 0] = _FILTER_UP
    lines[:, 1:] = filtered
    header = struct.pack(">IIBBBBB", w, h, *_RGB8, 0, 0, 0)
    return (
        SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(lines.tobytes(), 9))
        + chunk(b"IEND", b"")
    )
