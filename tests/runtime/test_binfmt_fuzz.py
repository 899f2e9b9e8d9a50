"""Seeded fuzzing of the prog.bin reader: every mutant loads cleanly or raises BinaryFormatError.

Most mutants are re-sealed (checksum recomputed) so that they get past the checksum and exercise
the section parsers and validators. A mutant that loads must re-serialize to the same bytes, since
the format is canonical.
"""

import signal
import struct
import time

import numpy as np
import pytest
from imcc.runtime.isa.binfmt import HEADER, SECTION, SECTION_KINDS, TABLE_END, reseal
from imcc.runtime.isa.errors import BinaryFormatError
from imcc.runtime.isa.program import Program
from imcc.runtime.isa.samples import sample_program

CASES_PER_KIND = 1000
INTERESTING_U32 = (0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def _bases():
    rng = np.random.default_rng(1234)
    return [sample_program(rng, n_instrs=n).to_bytes() for n in (0, 5, 30)]


def _bit_flips(rng, raw):
    out = bytearray(raw)
    for _ in range(rng.integers(1, 5)):
        pos = int(rng.integers(len(out)))
        out[pos] ^= 1 << int(rng.integers(8))
    return bytes(out)


def _truncate(rng, raw):
    cut = raw[: int(rng.integers(len(raw)))]
    if len(cut) >= HEADER.size and rng.integers(2):  # also fix the size field, to go deeper
        cut = cut[:16] + struct.pack("<I", len(cut)) + cut[20:]
    return cut


def _splice(rng, raw, other):
    a = int(rng.integers(len(raw)))
    b = min(len(raw), a + int(rng.integers(1, 64)))
    if rng.integers(2):
        filler = rng.integers(0, 256, size=int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
    else:
        c = int(rng.integers(len(other)))
        filler = other[c : c + int(rng.integers(1, 64))]
    out = raw[:a] + filler + raw[b:]
    if len(out) >= HEADER.size and rng.integers(2):
        out = out[:16] + struct.pack("<I", len(out)) + out[20:]
    return out


def _header_field(rng, raw):
    """Overwrite one header or section-table integer with an interesting or random value."""
    slots = [(4, "<H"), (6, "<H"), (8, "<I"), (12, "<I"), (16, "<I"), (20, "<I")]
    for i in range(len(SECTION_KINDS)):
        base = HEADER.size + i * SECTION.size
        slots += [(base + 4 * k, "<I") for k in range(4)]
    offset, fmt = slots[int(rng.integers(len(slots)))]
    if rng.integers(3):
        old = struct.unpack_from(fmt, raw, offset)[0]
        value = old + int(rng.integers(-9, 10))
    else:
        value = INTERESTING_U32[int(rng.integers(len(INTERESTING_U32)))]
    value &= 0xFFFF if fmt == "<H" else 0xFFFFFFFF
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _section_bytes(rng, raw):
    """Overwrite a few bytes inside the sections with interesting little-endian integers."""
    out = bytearray(raw)
    for _ in range(rng.integers(1, 4)):
        pos = int(rng.integers(TABLE_END, len(out) - 36))
        value = INTERESTING_U32[int(rng.integers(len(INTERESTING_U32)))]
        struct.pack_into("<I", out, pos, value)
    return bytes(out)


MUTATORS = {
    "bit_flips_raw": lambda rng, raw, other: _bit_flips(rng, raw),
    "bit_flips_sealed": lambda rng, raw, other: reseal(_bit_flips(rng, raw)),
    "truncate": lambda rng, raw, other: reseal(_truncate(rng, raw)),
    "splice": lambda rng, raw, other: reseal(_splice(rng, raw, other)),
    "header_field": lambda rng, raw, other: reseal(_header_field(rng, raw)),
    "section_bytes": lambda rng, raw, other: reseal(_section_bytes(rng, raw)),
}


@pytest.fixture
def deadline():
    """Fail (rather than hang) if a case loops: the whole test gets 60 s of wall time."""

    def expire(*_):
        raise TimeoutError("fuzz test exceeded 60 s: a reader loop is unbounded")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", list(MUTATORS))
def test_mutants_load_or_raise_binary_format_error(kind, deadline):
    rng = np.random.default_rng(sum(map(ord, kind)))
    bases = _bases()
    loaded = rejected = 0
    slowest = 0.0
    for case in range(CASES_PER_KIND):
        raw, other = bases[case % 3], bases[(case + 1) % 3]
        mutant = MUTATORS[kind](rng, raw, other)
        start = time.perf_counter()
        try:
            program = Program.from_bytes(mutant)
        except BinaryFormatError as e:
            assert str(e), "error messages must not be empty"
            rejected += 1
        else:
            assert program.to_bytes() == mutant, f"case {case}: accepted a non-canonical binary"
            loaded += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert rejected > CASES_PER_KIND // 2, (kind, loaded, rejected)
    assert slowest < 1.0
