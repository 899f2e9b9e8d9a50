"""prog.bin: round trips, canonical bytes, validation messages, packing, atomic save."""

import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.isa.binfmt import HEADER, SECTION, TABLE_END, reseal
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.errors import BinaryFormatError, ProgramError
from imcc.runtime.isa.packing import check_packed, pack, packed_nbytes, unpack
from imcc.runtime.isa.program import Const, DebugInfo, Program, Tensor, fingerprint_of
from imcc.runtime.isa.samples import sample_program


@pytest.fixture
def program():
    return sample_program(np.random.default_rng(0), n_instrs=20)


def test_round_trip_is_exact_and_canonical(program):
    raw = program.to_bytes()
    back = Program.from_bytes(raw)
    assert back.to_bytes() == raw
    assert back.target == "hetero-cluster" and back.fingerprint == fingerprint_of("sample target")
    assert back.meta == program.meta and back.debug == program.debug
    assert [t.name for t in back.tensors] == [t.name for t in program.tensors]
    for a, b in zip(back.consts, program.consts):
        assert (a.name, a.dtype, a.count, a.raw) == (b.name, b.dtype, b.count, b.raw)
    assert [i.mnemonic for i in back.instrs] == [i.mnemonic for i in program.instrs]
    assert Program().to_bytes() == Program.from_bytes(Program().to_bytes()).to_bytes()


def test_same_program_gives_same_bytes():
    a = sample_program(np.random.default_rng(5)).to_bytes()
    b = sample_program(np.random.default_rng(5)).to_bytes()
    assert a == b


def test_save_is_atomic_and_load_validates(program, tmp_path):
    path = tmp_path / "prog.bin"
    path.write_bytes(b"old")
    program.save(path)
    assert Program.load(path).to_bytes() == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["prog.bin"]
    bad = Program(instrs=[Instr("wait", {"ev": 999})])
    with pytest.raises(ProgramError, match="instruction 0: wait: field 'ev'"):
        bad.save(path)
    assert Program.load(path).to_bytes() == program.to_bytes()  # old file untouched
    assert [p.name for p in tmp_path.iterdir()] == ["prog.bin"]


def _with(program, **changes):
    fields = dict(vars(program))
    fields.update(changes)
    return Program(**fields)


def test_validation_messages(program):
    t = program.tensors
    cases = [
        (dict(target="bad name!"), "target name"),
        (dict(fingerprint=b"short"), "fingerprint must be 16 bytes"),
        (dict(tensors=t + [Tensor("x", "input", "i8", (1,), "L2", 0)]), "tensor x: defined twice"),
        (dict(tensors=[Tensor("z", "weird", "i8", (1,), "L2", 0)]), "role 'weird'"),
        (dict(tensors=[Tensor("z", "input", "i8", (1,), "L3", 0)]), "memory 'L3'"),
        (dict(tensors=[Tensor("z", "input", "i8", (1,) * 9, "L2", 0)]), "needs ≤ 8 dims"),
        (dict(tensors=[Tensor("z", "input", "i32", (4,), "L2", 2**32 - 8)]), "exceed 32-bit"),
        (dict(tensors=[Tensor("9z", "input", "i8", (1,), "L2", 0)]), "tensor name '9z'"),
        (dict(tensors=[Tensor("z", "const", "i8", (1,), "L2", 0)]), "without a const blob"),
        (dict(tensors=[Tensor("c2_i8", "const", "i8", (99,), "L2", 0)]), "tensor needs 99"),
        (dict(tensors=[Tensor("c2_i8", "input", "i8", (1,), "L2", 0)]), "cannot have constant"),
        (dict(tensors=[Tensor("z", "input", "i8", (2, 3), "L2", 0, scales="scales")]), "scales"),
        (dict(tensors=[Tensor("z", "input", "i8", (2,), "L2", 0, axis=1)]), "axis given"),
        (dict(consts=program.consts + [program.consts[0]]), "defined twice"),
        (dict(consts=[Const("a", "t2", 4, b"\x02")]), "invalid t2 code"),
        (dict(consts=[Const("a", "i4", 1, b"\x10")]), "padding bits"),
        (dict(consts=[Const("a", "i8", 3, b"\x00")]), "needs 3"),
        (dict(debug={999: DebugInfo("a", "b")}), "no such instruction"),
        (dict(meta={"bad key": "v"}), "meta key"),
    ]
    for change, message in cases:
        with pytest.raises(ProgramError, match=re.escape(message)):
            _with(program, **change).to_bytes()


def test_scalars_and_empty_tensors_round_trip(program):
    tensors = [
        Tensor("s", "input", "f32", (), "L2", 0),
        Tensor("e", "output", "i64", (0, 3), "L2", 64),
    ]
    back = Program.from_bytes(_with(program, tensors=tensors, consts=[]).to_bytes())
    assert [t.shape for t in back.tensors] == [(), (0, 3)] and back.tensors[0].nbytes == 4


def test_check_memory(program):
    program = _with(program, instrs=[], debug={})
    program.check_memory({"L2": 1 << 20, "L1": 1 << 16})
    with pytest.raises(ProgramError, match="tensor y: .* outside L1"):
        program.check_memory({"L2": 1 << 20, "L1": 0x104})
    p = Program(instrs=[Instr.make("fill", dst_mem="L1", dst_addr=0x800, bytes=4)])
    with pytest.raises(
        ProgramError, match=r"instruction 0 \(fill\): dst_addr=2048 lies outside L1"
    ):
        p.check_memory({"L2": 1 << 20, "L1": 0x800})


def _corrupt(raw, offset, fmt, value, seal=True):
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, value)
    return reseal(bytes(out)) if seal else bytes(out)


def test_reader_messages(program):
    raw = program.to_bytes()
    sec = HEADER.size
    cases = [
        (raw[:50], "file too short"),
        (b"ELF!" + raw[4:], "bad magic"),
        (
            _corrupt(raw, 4, "<H", 3),
            r"unsupported format version 3\.1 \(this reader reads 2\.0 to 2\.1",
        ),
        (_corrupt(raw, 4, "<H", 1), r"unsupported format version 1\.1"),
        (_corrupt(raw, 6, "<H", 2), r"unsupported format version 2\.2"),
        (raw[:-1], "header says"),
        (_corrupt(raw, 200, "<B", raw[200] ^ 1, seal=False), "checksum mismatch"),
        (_corrupt(raw, 8, "<I", 1), "unknown header flags"),
        (_corrupt(raw, 12, "<I", 4), "expected 6 sections"),
        (_corrupt(raw, 40 + 31, "<B", 65), "target name"),
        (_corrupt(raw, sec, "<I", 2), "kind 2, expected 1"),
        (_corrupt(raw, sec + 4, "<I", TABLE_END + 4), "out of place"),
        (_corrupt(raw, sec + 12, "<I", 10**6), "cannot fit"),
        (_corrupt(raw, sec + 12, "<I", 3), "table says 3"),
        (_corrupt(raw, TABLE_END, "<B", 0xFF), "unknown opcode 0xff"),
        (123, "expected bytes"),
    ]
    for data, message in cases:
        with pytest.raises(BinaryFormatError, match=message):
            Program.from_bytes(data)


def test_string_and_record_defects_are_reported(program):
    raw = program.to_bytes()
    _, const_off, _, _ = SECTION.unpack_from(raw, HEADER.size + SECTION.size)
    with pytest.raises(BinaryFormatError, match="const 0 name"):
        Program.from_bytes(_corrupt(raw, const_off, "<H", 60000))
    with pytest.raises(BinaryFormatError, match="not valid UTF-8"):
        Program.from_bytes(_corrupt(raw, const_off + 2, "<B", 0xFF))
    with pytest.raises(BinaryFormatError, match="unknown dtype code 99"):
        Program.from_bytes(_corrupt(raw, const_off + 2 + len("c0_t2"), "<B", 99))


def _minor(raw: bytes) -> int:
    return struct.unpack_from("<H", raw, 6)[0]


def test_debug_heads_are_format_2_1_and_programs_without_them_stay_2_0(program):
    raw = program.to_bytes()
    assert _minor(raw) == 1 and any(d.head is not None for d in program.debug.values())
    assert Program.from_bytes(raw).debug == program.debug
    # without heads: format 2.0, whose debug records are the ones 2.0 writers wrote
    plain = {i: DebugInfo(d.ir_op, d.onnx_node) for i, d in program.debug.items()}
    old = _with(program, debug=plain).to_bytes()
    assert _minor(old) == 0 and Program.from_bytes(old).to_bytes() == old
    _, off, size, count = SECTION.unpack_from(old, HEADER.size + 3 * SECTION.size)
    records = b"".join(
        struct.pack("<I", i) + _s(d.ir_op) + _s(d.onnx_node) for i, d in sorted(plain.items())
    )
    assert old[off : off + size] == records and count == len(plain)


def _s(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<H", len(data)) + data


def test_debug_head_defects_are_reported(program):
    with pytest.raises(ProgramError, match="debug entry 3: head -1 must be None or 0..2147483647"):
        _with(program, debug={3: DebugInfo("a", "b", -1)}).to_bytes()
    # a 2.1 file must name a head (else it is written as 2.0)
    empty = Program().to_bytes()
    with pytest.raises(BinaryFormatError, match="format 2.1 but no debug entry names a head"):
        Program.from_bytes(_corrupt(empty, 6, "<H", 1))
    one = _with(program, debug={0: DebugInfo("a", "b", 7)}).to_bytes()
    _, off, _, _ = SECTION.unpack_from(one, HEADER.size + 3 * SECTION.size)
    head_at = off + 4 + 2 + 1 + 2 + 1
    assert struct.unpack_from("<i", one, head_at)[0] == 7
    with pytest.raises(BinaryFormatError, match="head -2 is neither -1"):
        Program.from_bytes(_corrupt(one, head_at, "<i", -2))
    back = Program.from_bytes(_corrupt(one, head_at, "<i", 0))
    assert back.debug[0] == DebugInfo("a", "b", 0)


@pytest.mark.parametrize("dtype", ["t2", "i4", "i8", "u8", "i32", "f32"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pack_unpack_identity(dtype, data):
    lo, hi = {"t2": (-1, 1), "i4": (-7, 7), "i8": (-128, 127), "u8": (0, 255)}.get(
        dtype, (-(2**31), 2**31 - 1)
    )
    elems = st.floats(width=32, allow_nan=False) if dtype == "f32" else st.integers(lo, hi)
    values = np.array(
        data.draw(st.lists(elems, max_size=50)), dtype=np.float32 if dtype == "f32" else np.int64
    )
    raw = pack(dtype, values)
    assert len(raw) == packed_nbytes(dtype, values.size)
    assert check_packed(dtype, raw, values.size) is None
    np.testing.assert_array_equal(unpack(dtype, raw, values.size), values)


def test_packing_layout_and_rejections():
    assert pack("t2", [1, -1, 0, 1, -1]) == bytes([0b01_00_11_01, 0b11])
    assert pack("i4", [-7, 7, 3]) == bytes([0x79, 0x03])
    for dtype, values in [
        ("t2", [2]),
        ("i4", [-8]),
        ("u8", [-1]),
        ("i8", [0.5]),
        ("f32", [np.nan]),
    ]:
        with pytest.raises(ValueError):
            pack(dtype, values)
    assert "invalid i4 code" in check_packed("i4", b"\x08", 1)
