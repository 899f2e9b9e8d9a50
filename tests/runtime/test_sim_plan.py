"""Compiled steps (`plan`) compute exactly what the plain semantics compute, byte for byte.

Each test runs instructions on two machines with the same random memory: one through
`semantics.execute`, one through `plan.compile_body`'s steps, and compares every memory byte.
The byte-set arithmetic of the session's dataflow analysis is checked against boolean masks.
"""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DIGITAL, DYNAMIC, machine, program
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import Const, Tensor
from imcc.runtime.sim import numerics as nx
from imcc.runtime.sim import run_program
from imcc.runtime.sim.dataflow import ByteSet, overlaps
from imcc.runtime.sim.footprint import Range, footprint
from imcc.runtime.sim.plan import compile_body
from imcc.runtime.sim.semantics import execute
from test_sim_session import TINY, assert_same, reference_run

F32 = np.float32


def _twins(seed: int, mode: str = "adc"):
    """Two machines with the same random L1/L2 bytes and the same programmed arrays."""
    rng = np.random.default_rng(seed)
    ms = [machine(mode), machine(mode)]
    l1 = rng.integers(0, 256, ms[0].mem["L1"].size, dtype=np.uint8)
    l2 = rng.integers(0, 256, ms[0].mem["L2"].size, dtype=np.uint8)
    cells = {ANALOG: rng.integers(-7, 8, (32, 32)), DYNAMIC: rng.integers(-128, 128, (16, 16))}
    cells[DIGITAL] = rng.integers(-1, 2, (32, 32))
    for m in ms:
        m.mem["L1"][:], m.mem["L2"][:] = l1, l2
        for index, w in cells.items():
            m.write_cells(index, 0, 0, w.astype(np.int8))
    return ms


def _same_after(instrs, seed: int, mode: str = "adc", constant=lambda *a: False) -> None:
    """Run ``instrs`` (mnemonic, fields) both ways and compare all memory."""
    plain, compiled = _twins(seed, mode)
    ins = [Instr.make(mn, f) for mn, f in instrs]
    fps = [footprint(i, plain.target) for i in ins]
    steps, _ = compile_body(compiled, ins, fps, constant)
    with np.errstate(all="ignore"):
        for i in ins:
            execute(plain, i)
        for step in steps:
            step()
    for mem in ("L1", "L2"):
        assert np.array_equal(plain.mem[mem], compiled.mem[mem]), mem


def _mvm(array=ANALOG, rows=32, cols=32, jobs=6, src=0, dst=4096, **kw):
    fields = {
        "array": array,
        "row0": 0,
        "col0": 0,
        "rows": rows,
        "cols": cols,
        "src_mem": "L1",
        "src_addr": src,
        "seg_len": rows,
        "inner_stride": rows,
        "n_inner": jobs,
        "dst_mem": "L1",
        "dst_addr": dst,
        "dst_stride": 4 * cols,
    }
    return "xb.mvm", {**fields, **kw}


@pytest.mark.parametrize("mode", ["ideal", "adc"])
@pytest.mark.parametrize("seed", range(3))
def test_mvm_steps(mode, seed):
    rng = np.random.default_rng(seed)
    for _ in range(12):
        array = int(rng.choice([ANALOG, DYNAMIC, DIGITAL]))
        size = 16 if array == DYNAMIC else 32
        rows, cols = int(rng.integers(1, size + 1)), int(rng.integers(1, size + 1))
        segs = int(rng.integers(1, 3))
        rows -= rows % segs
        rows = max(rows, segs)
        fields = {
            "array": array,
            "rows": rows,
            "cols": cols,
            "jobs": int(rng.integers(1, 9)),
            "src_dtype": str(rng.choice(["i8", "u8"])),
            "adc_shift": int(rng.integers(0, 8)),
            "seg_count": segs,
            "seg_len": rows // segs,
            "seg_stride": int(rng.integers(40, 90)),
            "inner_stride": int(rng.integers(1, 50)),
            "n_outer": int(rng.integers(1, 3)),
            "outer_stride": 300,
            "dst_stride": 4 * cols + 4 * int(rng.integers(0, 3)),
        }
        first = _mvm(**{**fields, "acc": False})
        again = _mvm(**{**fields, "acc": True})  # the same gather: reuses the float inputs
        _same_after([first, again, again], seed, mode)


@pytest.mark.parametrize("start", [2**31 - 5, -(2**31) + 5])
def test_mvm_accumulation_saturates_when_it_can(start):
    # dst holds values near the int32 limits that the analysis knows nothing about: saturate
    ms = _twins(0, "ideal")
    for m in ms:
        m.store("L1", 8192, np.full((6, 32), start, np.int32), "i32")
        m.store("L1", 0, np.full((6, 32), -100 if start < 0 else 100, np.int8), "i8")
    ins = Instr.make(*_mvm(dst=8192, acc=True))
    steps, _ = compile_body(ms[1], [ins], [footprint(ins, TINY)], lambda *a: False)
    execute(ms[0], ins)
    steps[0]()
    got = ms[1].load("L1", 8192, "i32", (6, 32))
    assert np.array_equal(got, ms[0].load("L1", 8192, "i32", (6, 32)))
    assert (got == (2**31 - 1 if start > 0 else -(2**31))).any()


def test_a_repeated_gather_is_read_again_after_its_bytes_change():
    fill = ("fill", {"dst_mem": "L1", "dst_addr": 0, "bytes": 64, "value": 5})
    _same_after([_mvm(), fill, _mvm(acc=True)], 1)
    # an mvm whose output overwrites its own input: the next one must gather again
    _same_after([_mvm(dst=0, jobs=2), _mvm(dst=0, jobs=2, acc=True)], 2)


def test_a_fallback_step_does_not_leave_stale_gathered_inputs():
    # array 1 is never written: its step takes the plain semantics, and the next step, with the
    # same gather, must not take the inputs gathered before the fill for its own
    write = {
        "array": DYNAMIC,
        "row0": 0,
        "col0": 0,
        "rows": 1,
        "cols": 4,
        "src_mem": "L1",
        "src_addr": 1024,
        "src_stride": 4,
    }
    fill = {"dst_mem": "L1", "dst_addr": 0, "bytes": 8, "value": 1}
    small = {"rows": 16, "cols": 16, "jobs": 2}
    prog = program(
        [
            ("xb.write", write),
            _mvm(array=DYNAMIC, dst=256, **small),
            ("fill", fill),
            _mvm(array=ANALOG + 1, dst=512, **small),
            _mvm(array=DYNAMIC, dst=768, **small),
        ],
        [
            Tensor("x", "input", "i8", (64,), "L1", 0),
            Tensor("w", "const", "i8", (4,), "L1", 1024),
            Tensor("y", "output", "i32", (2, 16), "L1", 768),
        ],
        [Const.from_values("w", "i8", [1, 2, 3, 4])],
    )
    x = {"x": np.full(64, 3, np.int8)}
    assert_same(run_program(prog, x, TINY, "ideal"), reference_run(prog, x, TINY, "ideal"))


@pytest.mark.parametrize("dst_dtype", ["i8", "u8", "i32", "f32"])
def test_requant_steps(dst_dtype):
    rng = np.random.default_rng(3)
    for k in range(8):
        rows, ch = int(rng.integers(1, 40)), int(rng.integers(1, 20))
        fields = {
            "src_mem": "L1",
            "src_addr": 64,
            "src_dtype": str(rng.choice(["i8", "u8", "i32"])),
            "dst_mem": "L1",
            "dst_addr": 64 if k % 3 == 0 else 8192,
            "dst_dtype": dst_dtype,
            "rows": rows,
            "channels": ch,
            "scale_mem": "L2",
            "scale_addr": 4 * k,
            "has_bias": bool(k % 2),
            "bias_mem": "L2",
            "bias_addr": 400 + 4 * k,
            "zp": 0 if dst_dtype == "f32" else int(rng.integers(-5, 5)),
            "lo": float(rng.choice([-np.inf, -20.0, 0.0])),
            "hi": float(rng.choice([np.inf, 90.0])),
        }
        # random L2 bytes as constants: NaN, infinities and subnormals among them
        _same_after([("cl.requant", fields)], k, constant=lambda *a: True)
        _same_after([("cl.requant", fields)], k)


def test_quant_and_eltwise_steps():
    for k in range(6):
        quant = {
            "src_mem": "L2",
            "src_addr": 4 * k,
            "dst_mem": "L1",
            "dst_addr": 100 + k,
            "dst_dtype": "u8" if k % 2 else "i8",
            "count": 700,
            "scale": 0.5,
            "zp": k - 3,
        }
        add = {
            "op": ["add", "sub", "mul", "max", "min"][k % 5],
            "dtype": "f32",
            "bcast": bool(k % 2),
            "src_mem": "L2",
            "src_addr": 0,
            "src2_mem": "L2",
            "src2_addr": 4000 + 4 * k,
            "dst_mem": "L2",
            "dst_addr": 0 if k < 3 else 12000,
            "rows": 9,
            "n": 70,
        }
        _same_after([("cl.quant", quant), ("cl.eltwise", add)], k)


@pytest.mark.parametrize("seed", range(3))
def test_dwconv_steps(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(nx, "_DW_BLOCK", int(rng.choice([1, 40, 500])))  # many blocks
    for _ in range(6):
        h, w, c = (int(v) for v in rng.integers(1, 12, 3))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        f = {
            "src_mem": "L1",
            "src_addr": 0,
            "wgt_mem": "L2",
            "wgt_addr": 0,
            "dst_mem": "L1",
            "dst_addr": 2048,
            "h": h,
            "w": w,
            "c": c,
            "kh": kh,
            "kw": kw,
            "stride_h": int(rng.integers(1, 3)),
            "stride_w": int(rng.integers(1, 3)),
            "dil_h": int(rng.integers(1, 3)),
            "dil_w": 1,
            "pad_t": int(rng.integers(0, 3)),
            "pad_l": 1,
            "pad_b": int(rng.integers(0, 2)),
            "pad_r": 0,
            "pad_value": int(rng.integers(-128, 128)),
        }
        try:
            footprint(Instr.make("dw.conv", f), TINY)
        except Exception:
            continue
        _same_after([("dw.conv", f)], seed, constant=lambda *a: True)
        _same_after([("dw.conv", f)], seed)


def test_gelu_dma_and_copy_steps():
    gelu = {"src_mem": "L2", "src_addr": 0, "dst_mem": "L2", "dst_addr": 0, "count": 5000}
    dma = {
        "src_mem": "L1",
        "src_addr": 0,
        "dst_mem": "L2",
        "dst_addr": 30000,
        "rows": 7,
        "row_bytes": 33,
        "src_stride": 40,
        "dst_stride": 50,
    }
    cp = {"src_mem": "L2", "src_addr": 30000, "dst_mem": "L1", "dst_addr": 5000, "bytes": 999}
    _same_after(
        [
            ("cl.gelu", gelu),
            ("nl.gelu", {**gelu, "dst_addr": 40000}),
            ("dma", dma),
            ("cl.copy", cp),
        ],
        4,
    )


# --- the byte sets of the dataflow analysis ----------------------------------------------------


def test_byte_sets_match_boolean_masks():
    rng = np.random.default_rng(5)
    for _ in range(200):
        a, b, mask_a, mask_b = ByteSet(), ByteSet(), np.zeros(200, bool), np.zeros(200, bool)
        for s, mask in ((a, mask_a), (b, mask_b)):
            for _ in range(int(rng.integers(0, 6))):
                lo = rng.integers(0, 200, 3)
                hi = lo + rng.integers(0, 30, 3)
                s.add(lo, np.minimum(hi, 200))
                for x, y in zip(lo, np.minimum(hi, 200)):
                    mask[x:y] = True
        assert _mask(a).tolist() == mask_a.tolist()
        both = a.intersect(b)
        assert _mask(both).tolist() == (mask_a & mask_b).tolist()
        lo, hi = sorted(rng.integers(0, 200, 2))
        gaps = np.zeros(200, bool)
        for x, y in zip(*a.minus(lo, hi)):
            gaps[x:y] = True
        want = np.zeros(200, bool)
        want[lo:hi] = True
        assert gaps.tolist() == (want & ~mask_a).tolist()


def _mask(s: ByteSet) -> np.ndarray:
    out = np.zeros(200, bool)
    for lo, hi in s.intervals():
        out[lo:hi] = True
    return out


def test_strided_ranges_overlap_only_where_their_rows_do():
    left = Range("L1", 0, 7 * 64 + 16, 8 * 16, 16, 64)  # 8 rows of 16 bytes, 64 apart
    right = Range("L1", 16, 16 + 7 * 64 + 16, 8 * 16, 16, 64)  # the next 16 bytes of each row
    assert not overlaps(left, right)
    assert not overlaps(left, Range("L1", 20, 24, 4))  # inside the hull, between rows
    assert overlaps(left, Range("L1", 60, 70, 10))  # touches row 1
    assert overlaps(left, Range("L1", 10, 20, 10)) and not overlaps(left, Range("L2", 0, 9, 9))
