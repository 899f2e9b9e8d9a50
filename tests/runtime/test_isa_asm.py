"""Assembler, disassembler and the imcc-as / imcc-objdump tools."""

import numpy as np
import pytest
from imcc.runtime.isa.asm import AsmError, assemble, assemble_file
from imcc.runtime.isa.disasm import disassemble
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import Program
from imcc.runtime.isa.samples import random_instr, sample_calls, sample_program
from imcc.runtime.isa.table import TABLE
from imcc.runtime.tools import asm as as_tool
from imcc.runtime.tools import objdump

SOURCE = """\
# a tiny linear layer
.target hetero-cluster fingerprint=00112233445566778899aabbccddeeff
.meta producer "imcc \\"test\\""
.const w t2 "w.npy"
.const s f32 [0.5, 0.25, 1e-5]
.const k i4 [-7, 7, 0]
.tensor w const [2, 3] t2 L2 0x0
.tensor x input [1, 2] i8 L2 0x40 scale=0.1 zp=-3
.tensor y output [1, 3] i32 L1 0x100 scales=s
start:
.debug "imc.prog" "/fc/Gemm"
xb.prog array=0, row0=0, col0=0, rows=2, cols=3, fmt=t2, src_mem=L2, src_addr=w
xb.mvm array=0, row0=0, col0=0, rows=2, cols=3, src_mem=L2, src_addr=x, seg_len=2, \
inner_stride=2, n_inner=1, dst_mem=L1, dst_addr=y+4, dst_stride=12, acc=true
fill L1, y - 0x10, 16, 0xff  # positional operands
done: halt
"""


@pytest.fixture
def src_dir(tmp_path):
    np.save(tmp_path / "w.npy", np.array([[1, 0, -1], [0, 1, 1]], dtype=np.int8))
    return tmp_path


def write(dir_, text, name="prog.s"):
    path = dir_ / name
    path.write_text(text)
    return path


def test_assemble_resolves_symbols_defaults_and_consts(src_dir):
    text = SOURCE.replace("\\\n", "")
    p = assemble_file(write(src_dir, text))
    assert p.target == "hetero-cluster" and p.fingerprint.hex().startswith("0011")
    assert p.meta == {"producer": 'imcc "test"'}
    assert list(p.const("w").values()) == [1, 0, -1, 0, 1, 1]
    assert list(p.const("k").values()) == [-7, 7, 0]
    mvm = p.instrs[1]
    assert (mvm.src_addr, mvm.dst_addr, mvm.acc, mvm.seg_count, mvm.n_outer) == (
        0x40,
        0x104,
        True,
        1,
        1,
    )
    fill = p.instrs[2]
    assert (fill.dst_mem, fill.dst_addr, fill.bytes, fill.value) == ("L1", 0xF0, 16, 255)
    assert p.debug[0].onnx_node == "/fc/Gemm" and 1 not in p.debug
    assert p.tensor("y").axis == 1  # per-channel axis defaults to the last one


def test_asm_bin_disasm_asm_is_byte_identical(src_dir):
    binary = assemble_file(write(src_dir, SOURCE.replace("\\\n", ""))).to_bytes()
    text = disassemble(Program.from_bytes(binary))
    assert assemble(text).to_bytes() == binary
    assert disassemble(assemble(text)) == text


@pytest.mark.parametrize("seed", range(6))
def test_random_programs_survive_disassembly(seed):
    p = sample_program(np.random.default_rng(seed), n_instrs=40)
    binary = p.to_bytes()
    assert assemble(disassemble(Program.from_bytes(binary))).to_bytes() == binary


def test_debug_head_assembles_and_prints_back():
    p = assemble('.debug "imc.mvm" "/attn QK" head=3\nhalt\n.debug "imc.mvm" "/attn"\nhalt\n')
    assert p.debug[0].head == 3 and p.debug[1].head is None
    text = disassemble(p)
    assert '.debug "imc.mvm" "/attn QK" head=3\n' in text and '"/attn"\n' in text
    assert assemble(text).to_bytes() == p.to_bytes()


def test_every_mnemonic_prints_and_parses_back():
    rng = np.random.default_rng(3)
    calls = sample_calls(rng)
    instrs = [random_instr(rng, spec) for spec in TABLE for _ in range(5)]
    for ins in instrs:
        if ins.mnemonic == "cl.call":
            ins.fields["call"] = int(rng.integers(len(calls)))
    p = Program(instrs=instrs, calls=calls)
    assert assemble(disassemble(p)).to_bytes() == p.to_bytes()


def test_call_table_round_trips_every_attribute_kind():
    calls = sample_calls(np.random.default_rng(5))
    p = Program(instrs=[Instr.make("cl.call", {"call": 1})], calls=calls)
    back = assemble(disassemble(p))
    assert back.to_bytes() == p.to_bytes()
    value = back.calls[1].params["value"]
    assert value.dtype == np.int64 and np.array_equal(value, calls[1].params["value"])
    assert back.calls[1].params["names"] == ["a", "bé"] and back.calls[1].layout == "nhwc"


def test_bad_call_directive_is_located():
    with pytest.raises(AsmError, match=r"<input>:1:\d+: error: bad .call JSON"):
        assemble('.call {"kernel": \n')
    with pytest.raises(AsmError, match="kernel name 'Relu' must look like"):
        assemble('.call {"kernel": "Relu", "inputs": [], "outputs": []}\nhalt\n')


def test_positional_and_keyword_operands_agree():
    a = assemble("dma L2, 0x10, L1, 32, 4, 8, 16, 64\n")
    b = assemble(
        "dma src_mem=L2, src_addr=16, dst_mem=L1, dst_addr=0x20, rows=4, row_bytes=8, "
        "src_stride=16, dst_stride=0b1000000\n"
    )
    assert a.to_bytes() == b.to_bytes()


ERRORS = [
    ("xb.mvm array=70000", 1, 14, "field 'array': value 70000 out of range 0..65535"),
    ("dma src_mem=L3", 1, 13, "expected one of L2, L1, got 'L3'"),
    ("halt\nfoo.bar 1", 2, 1, "unknown mnemonic 'foo.bar'"),
    ("fill L1, 0, 16, 300", 1, 17, "field 'value': value 300 out of range 0..255"),
    ("fill L1, 0", 1, 1, "missing field 'bytes'"),
    ("fill dst_mem=L1, 0, 4", 1, 18, "positional operand after a keyword operand"),
    ("fill L1, 0, 4, dst_mem=L2", 1, 16, "field 'dst_mem' given twice"),
    ("halt 1", 1, 6, "halt takes 0 operands"),
    ("wait ev=1.5", 1, 9, "expected an integer"),
    ("cl.exp ncores=0", 1, 15, "field 'ncores': value 0 out of range 1..15"),
    ("fill L1, nosuch+4, 4", 1, 10, "unknown tensor 'nosuch'"),
    ("dma @", 1, 5, "unexpected character '@'"),
    (".tensor x input [1,2] q8 L2 0", 1, 23, "expected one of i8, u8, i32, f32, t2, i4"),
    (".tensor x input [1,2] i8 L2 0 scale=", 1, 31, "expected scale=VALUE"),
    (".tensor x input [1,2] i8 L2 0\n.tensor x input [1] i8 L2 0", 2, 9, "declared twice"),
    (".tensor w const [2] i8 L2 0", 1, 1, "const tensor without a const blob"),
    (".const a i8 [1, 2, x]", 1, 20, "expected a decimal integer list for i8"),
    (".const a i8 [1, 200]", 1, 13, "value 200 out of range -128..127"),
    (".const a f32 [1, nan]", 1, 18, "expected a decimal number list"),
    (".const a q8 [1]", 1, 10, "expected one of"),
    (".const a i8 [1] junk", 1, 17, "unexpected 'junk'"),
    ('.const a i8 "w.npy"', 1, 13, "const files need a source file"),
    ('.debug "a" "b"', 1, 1, ".debug is not followed by an instruction"),
    ('.debug "a" "b" heads=1\nhalt', 1, 16, "unexpected 'heads' (expected head=N)"),
    ('.debug "a" "b" head=-1\nhalt', 1, 21, "head -1 out of range 0..2147483647"),
    ('.debug "a" "b" head=1 x\nhalt', 1, 23, "unexpected 'x'"),
    ('.meta k "a"\n.meta k "b"', 2, 7, "meta key 'k' given twice"),
    (".bogus 1", 1, 1, "unknown directive '.bogus'"),
    ("l:\nl: halt", 2, 1, "label 'l' defined twice"),
    (".target bad name", 1, 1, "expected .target NAME"),
    (".target a\n.target b", 2, 1, ".target already given on line 1"),
]


@pytest.mark.parametrize("text,line,col,message", ERRORS, ids=[e[3][:30] for e in ERRORS])
def test_errors_point_at_line_and_column(text, line, col, message):
    with pytest.raises(AsmError) as info:
        assemble(text + "\n", path="t.s")
    e = info.value
    first, source, caret = str(e).split("\n")
    assert message in e.message
    assert first.startswith(f"t.s:{line}:{col}: error: ")
    assert source == text.splitlines()[line - 1]
    assert caret == " " * (col - 1) + "^"


def test_const_files_must_stay_in_the_source_folder(tmp_path):
    inner = tmp_path / "src"
    inner.mkdir()
    np.save(tmp_path / "outside.npy", np.zeros(3, dtype=np.int8))
    np.save(inner / "obj.npy", np.array([None, 1], dtype=object))
    for rel, msg in [
        ("../outside.npy", "lies outside"),
        (str(tmp_path / "outside.npy"), "lies outside"),
        ("missing.npy", "cannot load"),
        ("obj.npy", "cannot load"),
    ]:
        path = write(inner, f'.const a i8 "{rel}"\n')
        with pytest.raises(AsmError, match=msg):
            assemble_file(path)


def test_imcc_as_cli(src_dir, capsys):
    src = write(src_dir, SOURCE.replace("\\\n", ""))
    out = src_dir / "prog.bin"
    assert as_tool.main([str(src), "-o", str(out)]) == 0
    assert Program.load(out).to_bytes() == out.read_bytes()
    assert sorted(p.name for p in src_dir.iterdir()) == ["prog.bin", "prog.s", "w.npy"]

    bad = write(src_dir, "halt\nxb.mvm array=-1\n", "bad.s")
    assert as_tool.main([str(bad), "-o", str(src_dir / "bad.bin")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:2:14: error: ") and "Traceback" not in err
    assert not (src_dir / "bad.bin").exists()
    assert as_tool.main([str(src_dir / "missing.s")]) == 1
    assert "error:" in capsys.readouterr().err
    assert as_tool.main([]) == 2
    assert as_tool.main([str(src), "--bogus"]) == 2


def test_imcc_objdump_cli(src_dir, capsys):
    binary = src_dir / "prog.bin"
    assemble_file(write(src_dir, SOURCE.replace("\\\n", ""))).save(binary)
    capsys.readouterr()
    assert objdump.main([str(binary)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "hetero-cluster",
        "Sections:",
        "Tensors:",
        "Consts:",
        "Disassembly:",
        "imc.prog </fc/Gemm>",
        "src=x; dst=y+4",
    ):
        assert expected in out
    assert objdump.main([str(binary), "--asm"]) == 0
    assert assemble_file(write(src_dir, capsys.readouterr().out, "back.s")).to_bytes() == (
        binary.read_bytes()
    )
    (src_dir / "junk.bin").write_bytes(b"IMCC" + bytes(200))
    assert objdump.main([str(src_dir / "junk.bin")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err
    assert objdump.main([]) == 2


MORE_ERRORS = [
    ("fill dst_mem=", 1, 6, "missing value for 'dst_mem'"),
    ("fill bogus=1", 1, 6, "fill has no field 'bogus'"),
    ("fill L1,, 0", 1, 1, "empty operand"),
    ("fill L1, 0 1, 4", 1, 12, "unexpected '1'"),
]


@pytest.mark.parametrize("text,line,col,message", MORE_ERRORS, ids=[e[3] for e in MORE_ERRORS])
def test_operand_syntax_errors(text, line, col, message):
    test_errors_point_at_line_and_column(text, line, col, message)


def test_mangled_sources_fail_cleanly(src_dir):
    """Seeded mutations of a valid source either assemble or raise AsmError, never anything else."""
    rng = np.random.default_rng(11)
    base = SOURCE.replace("\\\n", "")
    alphabet = list('=,[]:+-#"x0123456789. \tLIabc_') + ["\n", "0x", "inf", "L1", "f32", "y+"]
    outcomes = {"ok": 0, "error": 0}
    for _ in range(600):
        text = list(base)
        for _ in range(rng.integers(1, 4)):
            pos = int(rng.integers(len(text)))
            action = rng.integers(3)
            if action == 0:
                del text[pos : pos + int(rng.integers(1, 6))]
            elif action == 1:
                text.insert(pos, alphabet[rng.integers(len(alphabet))])
            else:
                text[pos] = alphabet[rng.integers(len(alphabet))]
        try:
            assemble("".join(text), path="m.s", base_dir=src_dir)
            outcomes["ok"] += 1
        except AsmError as e:
            assert str(e).startswith("m.s:")
            outcomes["error"] += 1
    assert outcomes["ok"] > 20 and outcomes["error"] > 100
