"""The ISA table and its generated encoder/decoder: identity, range checks, canonical decoding."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.isa.encoding import Instr, decode, decode_all, encode, encode_all
from imcc.runtime.isa.errors import BinaryFormatError, FieldError
from imcc.runtime.isa.samples import random_instr
from imcc.runtime.isa.table import BY_MNEMONIC, TABLE, WORD_BITS

IDS = [s.mnemonic for s in TABLE]


def field_values(f):
    """Hypothesis strategy for every value field ``f`` accepts."""
    if f.is_int:
        return st.integers(f.min, f.max)
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "f32":
        return st.floats(width=32, allow_nan=False)
    return st.sampled_from(f.choices)


def f32_bits(x):
    return struct.pack("<f", x)


@pytest.mark.parametrize("spec", TABLE, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_encode_decode_identity(spec, data):
    fields = {f.name: data.draw(field_values(f), label=f.name) for f in spec.fields}
    ins = Instr.make(spec.mnemonic, fields)
    raw = encode(ins)
    assert len(raw) == spec.nwords * 4
    assert raw[0] == spec.opcode
    back, size = decode(raw)
    assert size == len(raw)
    assert back.mnemonic == spec.mnemonic
    for f in spec.fields:
        got, want = back.fields[f.name], fields[f.name]
        if f.kind == "f32":
            assert f32_bits(got) == f32_bits(want), f.name  # keeps -0.0 and infinities exact
        else:
            assert got == want and type(got) is type(want), f.name
    assert encode(back) == raw


@pytest.mark.parametrize("spec", TABLE, ids=IDS)
def test_field_layout_fits_and_is_documented(spec):
    assert spec.nbits <= spec.nwords * WORD_BITS < spec.nbits + WORD_BITS
    for f in spec.fields:
        assert f.doc, f"{spec.mnemonic}.{f.name} has no doc"
        if f.kind == "addr":  # objdump and check_memory pair every address with its space
            assert spec.field(f.name[: -len("addr")] + "mem").kind == "mem"
        if f.default is not None:
            Instr.make(spec.mnemonic, {g.name: _some_value(g) for g in spec.fields})
    assert spec.summary and spec.semantics.endswith(".")


def _some_value(f):
    if f.default is not None:
        return f.default
    if f.is_int:
        return f.min
    return 0.5 if f.kind == "f32" else f.choices[0] if f.choices else False


@pytest.mark.parametrize(
    "spec", [s for s in TABLE if s.fields], ids=[s.mnemonic for s in TABLE if s.fields]
)
def test_out_of_range_values_name_the_field(spec):
    base = {f.name: _some_value(f) for f in spec.fields}
    for f in spec.fields:
        if f.is_int:
            bad_values = [f.max + 1, f.min - 1, "7", 1.5, True]
        elif f.kind == "bool":
            bad_values = [2, "yes"]
        elif f.kind == "f32":
            bad_values = [float("nan"), 1e39, "1.0"]
        else:
            bad_values = ["nope", 0]
        for bad in bad_values:
            with pytest.raises(FieldError, match=f"{spec.mnemonic}: field '{f.name}'"):
                Instr.make(spec.mnemonic, {**base, f.name: bad})


def test_missing_unknown_and_defaults():
    with pytest.raises(FieldError, match="missing field 'ev'"):
        Instr.make("wait")
    with pytest.raises(FieldError, match="unknown field 'bogus'"):
        Instr.make("halt", bogus=1)
    with pytest.raises(FieldError, match="unknown mnemonic"):
        Instr.make("xb.nope")
    ins = Instr.make("fill", dst_mem="L1", dst_addr=8, bytes=4)
    assert ins.value == 0 and ins.dst_mem == "L1"
    assert (
        Instr.make("cl.exp", src_mem="L2", src_addr=0, dst_mem="L2", dst_addr=0, count=1).ncores
        == 8
    )
    assert Instr.make("wait", ev=np.int64(3)).ev == 3  # numpy integers are accepted


def test_known_encoding_of_fill():
    ins = Instr.make("fill", dst_mem="L1", dst_addr=0x12345678, bytes=0x10, value=0xAB)
    word = 0x11 | 1 << 8 | 0x12345678 << 10 | 0x10 << 42 | 0xAB << 74
    assert encode(ins) == word.to_bytes(12, "little")


def test_decoder_rejects_non_canonical_and_unknown_words():
    with pytest.raises(BinaryFormatError, match="unknown opcode 0xff"):
        decode(bytes([0xFF, 0, 0, 0]))
    with pytest.raises(BinaryFormatError, match="padding"):
        decode((1 << 31).to_bytes(4, "little"))  # halt with a stray bit
    bad_mem = 0x11 | 3 << 8  # fill with memory space code 3
    with pytest.raises(BinaryFormatError, match="dst_mem"):
        decode(bad_mem.to_bytes(12, "little"))
    zero_cores = BY_MNEMONIC["cl.exp"].opcode  # ncores field left 0, below its minimum of 1
    with pytest.raises(BinaryFormatError, match="ncores"):
        decode(zero_cores.to_bytes(16, "little"))
    with pytest.raises(BinaryFormatError, match="truncated"):
        decode(encode(Instr.make("fill", dst_mem="L2", dst_addr=0, bytes=1))[:8])
    with pytest.raises(BinaryFormatError, match=r"instruction 1 \(word 1\)"):
        decode_all(encode(Instr.make("halt")) + bytes([0xEE, 0, 0, 0]))


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from([s.opcode for s in TABLE]), rest=st.binary(min_size=47, max_size=47))
def test_any_decodable_word_re_encodes_identically(op, rest):
    raw = bytes([op]) + rest
    spec = next(s for s in TABLE if s.opcode == op)
    raw = raw[: spec.nwords * 4]
    try:
        ins, _ = decode(raw)
    except BinaryFormatError:
        return
    assert encode(ins) == raw


def test_streams_round_trip():
    rng = np.random.default_rng(7)
    instrs = [random_instr(rng) for _ in range(200)]
    raw = encode_all(instrs)
    back = decode_all(raw)
    assert [i.mnemonic for i in back] == [i.mnemonic for i in instrs]
    assert encode_all(back) == raw
