"""What each instruction touches: its unit, the byte ranges it reads and writes, static checks.

One function per instruction shape computes a `Footprint` from the decoded fields and the target.
The same footprints serve two purposes: `check_program` validates a whole program against its
target before anything executes (every range inside its memory, array windows inside arrays, units
present, ncores available), and the cost model's scoreboard orders instructions by the ranges they
share. Array cells count as memory too: space ``A<index>``, one byte per cell, row-major.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...isa.packing import packed_nbytes
from ...isa.table import BY_MNEMONIC, DTYPES
from ...kernels import library
from .numerics import out_size


class CheckError(Exception):
    """An instruction cannot run on this target (message names the field and the limit)."""


@dataclass(frozen=True)
class Range:
    """Bytes ``lo .. hi`` (exclusive) of ``space``; ``nbytes`` are really touched (≤ hi - lo).

    A range made of rows records ``width`` (bytes per row) and ``stride`` (bytes between row
    starts) when its rows leave gaps, so the session's dataflow analysis knows exactly which
    bytes it writes; 0 means the bytes touched are not described more precisely than the hull.
    """

    space: str
    lo: int
    hi: int
    nbytes: int
    width: int = 0
    stride: int = 0


@dataclass
class Footprint:
    """The unit an instruction runs on and the ranges it reads and writes."""

    unit: str
    reads: list[Range] = field(default_factory=list)
    writes: list[Range] = field(default_factory=list)


def _size(dtype: str) -> int:
    return DTYPES[dtype].bits // 8


def dense(mem: str, addr: int, nbytes: int) -> Range:
    """A contiguous range."""
    return Range(mem, addr, addr + nbytes, nbytes)


def strided(mem: str, addr: int, rows: int, width: int, stride: int, write=False) -> Range:
    """``rows`` rows of ``width`` bytes, ``stride`` apart; written rows must not overlap."""
    if rows == 0 or width == 0:
        return Range(mem, addr, addr, 0)
    if write and rows > 1 and stride < width:
        raise CheckError(f"row stride {stride} is smaller than a row of {width} bytes")
    hi = addr + (rows - 1) * stride + width
    if rows > 1 and stride > width:
        return Range(mem, addr, hi, rows * width, width, stride)
    return Range(mem, addr, hi, rows * width)


def _cells(t, f) -> Range:
    """The window of an array as a range of its cell space."""
    array = f["array"]
    if not 0 <= array < t.n_arrays:
        raise CheckError(f"array {array} does not exist (target has {t.n_arrays})")
    g = t.group_of(array)
    if f["row0"] + f["rows"] > g.rows or f["col0"] + f["cols"] > g.cols:
        raise CheckError(
            f"window rows {f['row0']}..{f['row0'] + f['rows']} cols {f['col0']}..{f['col0'] + f['cols']}"
            f" exceeds array {array} ({g.rows} x {g.cols})"
        )
    lo = f["row0"] * g.cols + f["col0"]
    hi = (f["row0"] + max(f["rows"], 1) - 1) * g.cols + f["col0"] + f["cols"]
    if f["rows"] > 1 and 0 < f["cols"] < g.cols:  # a window narrower than the array: gaps
        return Range(f"A{array}", lo, hi, f["rows"] * f["cols"], f["cols"], g.cols)
    return Range(f"A{array}", lo, hi, f["rows"] * f["cols"])


def _no_overlap(a: Range, b: Range, what: str) -> None:
    if a.space == b.space and a.lo < b.hi and b.lo < a.hi and a.nbytes and b.nbytes:
        raise CheckError(f"{what}: source and destination overlap")


def _cores(t, f) -> str:
    if f["ncores"] > t.cores.count:
        raise CheckError(f"ncores={f['ncores']} but the target has {t.cores.count} cores")
    return "cores"


# --- per instruction shape --------------------------------------------------------------------


def _control(t, f) -> Footprint:
    return Footprint("control")


def _dma(t, f) -> Footprint:
    src = strided(f["src_mem"], f["src_addr"], f["rows"], f["row_bytes"], f["src_stride"])
    dst = strided(f["dst_mem"], f["dst_addr"], f["rows"], f["row_bytes"], f["dst_stride"], True)
    _no_overlap(src, dst, "dma")
    return Footprint("dma", [src], [dst])


def _fill(t, f) -> Footprint:
    return Footprint("dma", [], [dense(f["dst_mem"], f["dst_addr"], f["bytes"])])


def _prog(t, f) -> Footprint:
    cells = _cells(t, f)
    src = dense(f["src_mem"], f["src_addr"], packed_nbytes(f["fmt"], f["rows"] * f["cols"]))
    return Footprint(f"array{f['array']}", [src], [cells])


def _write(t, f) -> Footprint:
    cells = _cells(t, f)
    if t.group_of(f["array"]).kind != "dynamic":
        raise CheckError(f"xb.write needs a dynamic array; array {f['array']} is not one")
    src = strided(f["src_mem"], f["src_addr"], f["rows"], f["cols"], f["src_stride"])
    return Footprint(f"array{f['array']}", [src], [cells])


def mvm_jobs(f) -> int:
    """Number of input vectors an xb.mvm processes."""
    return f["n_batch"] * f["n_outer"] * f["n_inner"]


def _mvm(t, f) -> Footprint:
    cells = _cells(t, f)
    if f["seg_count"] * f["seg_len"] != f["rows"]:
        raise CheckError(
            f"seg_count·seg_len = {f['seg_count'] * f['seg_len']} must equal rows = {f['rows']}"
        )
    g = t.group_of(f["array"])
    if g.kind != "digital" and f["adc_shift"] + g.adc_bits > 32:
        raise CheckError(f"adc_shift={f['adc_shift']} with {g.adc_bits}-bit ADC overflows int32")
    lo = f["src_addr"]
    hi = (
        lo
        + (f["n_batch"] - 1) * f["batch_stride"]
        + (f["n_outer"] - 1) * f["outer_stride"]
        + (f["n_inner"] - 1) * f["inner_stride"]
        + (f["seg_count"] - 1) * f["seg_stride"]
        + f["seg_len"]
    )
    jobs = mvm_jobs(f)
    src = Range(f["src_mem"], lo, hi, jobs * f["rows"])
    dst = strided(f["dst_mem"], f["dst_addr"], jobs, 4 * f["cols"], f["dst_stride"], True)
    reads = [src, cells] + ([dst] if f["acc"] else [])
    return Footprint(f"array{f['array']}", reads, [dst])


def _rowwise(unit):
    def fp(t, f) -> Footprint:
        n = f["rows"] * f["n"] * 4
        reads = [dense(f["src_mem"], f["src_addr"], n)]
        if "gamma_mem" in f:
            reads += [dense(f[p + "_mem"], f[p + "_addr"], 4 * f["n"]) for p in ("gamma", "beta")]
        return Footprint(unit(t, f), reads, [dense(f["dst_mem"], f["dst_addr"], n)])

    return fp


def _count(unit):
    def fp(t, f) -> Footprint:
        n = 4 * f["count"]
        src, dst = dense(f["src_mem"], f["src_addr"], n), dense(f["dst_mem"], f["dst_addr"], n)
        return Footprint(unit(t, f), [src], [dst])

    return fp


def _nl(t, f) -> str:
    if t.nlunit is None:
        raise CheckError(f"target '{t.name}' has no nonlinear unit")
    return "nl"


def _periphery_unit(t, f) -> str:
    """The cores for a ``cl.*`` periphery job (it has ``ncores``), else the nonlinear unit."""
    return _cores(t, f) if "ncores" in f else _nl(t, f)


def _requant(t, f) -> Footprint:
    n = f["rows"] * f["channels"]
    wide = f["planes"] * f["channels"]
    if f["dst_dtype"] == "f32" and f["zp"] != 0:
        raise CheckError("zp must be 0 for an f32 destination")
    reads = [
        dense(f["src_mem"], f["src_addr"], f["rows"] * wide * _size(f["src_dtype"])),
        dense(f["scale_mem"], f["scale_addr"], 4 * wide),
    ]
    if f["has_bias"]:
        reads.append(dense(f["bias_mem"], f["bias_addr"], 4 * f["channels"]))
    if f["has_offset"]:
        reads.append(dense(f["offset_mem"], f["offset_addr"], 4 * wide))
    if f["has_row_scale"]:
        reads.append(dense(f["row_scale_mem"], f["row_scale_addr"], 4 * f["rows"]))
    dst = dense(f["dst_mem"], f["dst_addr"], n * _size(f["dst_dtype"]))
    return Footprint(_periphery_unit(t, f), reads, [dst])


def _quant(t, f) -> Footprint:
    src = dense(f["src_mem"], f["src_addr"], 4 * f["count"])
    return Footprint(_periphery_unit(t, f), [src], [dense(f["dst_mem"], f["dst_addr"], f["count"])])


def _dquant(t, f) -> Footprint:
    n = f["rows"] * f["n"]
    src = dense(f["src_mem"], f["src_addr"], 4 * n)
    writes = [
        dense(f["dst_mem"], f["dst_addr"], n),
        dense(f["scale_mem"], f["scale_addr"], 4 * f["rows"]),
    ]
    return Footprint(_periphery_unit(t, f), [src], writes)


def _call(t, f, calls) -> Footprint:
    if f["call"] >= len(calls):
        raise CheckError(f"call {f['call']} is not in the call table ({len(calls)} entries)")
    c = calls[f["call"]]
    if not library.has_kernel(c.kernel):
        raise CheckError(f"call {f['call']}: the cores' library has no kernel '{c.kernel}'")
    reads = [dense(op.mem, op.addr, op.nbytes) for op in c.inputs if op is not None]
    writes = [dense(op.mem, op.addr, op.nbytes) for op in c.outputs if op is not None]
    for i, a in enumerate(writes):
        for b in writes[i + 1 :]:
            _no_overlap(a, b, f"call {f['call']} outputs")
    return Footprint(_cores(t, f), reads, writes)


def _eltwise(t, f) -> Footprint:
    n = 4 * f["rows"] * f["n"]
    b = dense(f["src2_mem"], f["src2_addr"], 4 * f["n"] if f["bcast"] else n)
    reads = [dense(f["src_mem"], f["src_addr"], n), b]
    return Footprint(_periphery_unit(t, f), reads, [dense(f["dst_mem"], f["dst_addr"], n)])


def out_hw(f) -> tuple[int, int]:
    """(oh, ow) of a windowed HWC instruction; CheckError when empty."""
    dh, dw = f.get("dil_h", 1), f.get("dil_w", 1)
    oh = out_size(f["h"], f["kh"], f["stride_h"], f["pad_t"], f["pad_b"], dh)
    ow = out_size(f["w"], f["kw"], f["stride_w"], f["pad_l"], f["pad_r"], dw)
    if oh < 1 or ow < 1:
        raise CheckError(f"the {f['kh']}x{f['kw']} window does not fit the padded input")
    return oh, ow


def _pool(t, f) -> Footprint:
    oh, ow = out_hw(f)
    size = _size(f["dtype"])
    src = dense(f["src_mem"], f["src_addr"], f["h"] * f["w"] * f["c"] * size)
    dst = dense(f["dst_mem"], f["dst_addr"], oh * ow * f["c"] * size)
    return Footprint(_cores(t, f), [src], [dst])


def _dwconv_unit(t, f) -> str:
    if "ncores" in f:
        return _cores(t, f)
    if t.dwunit is None:
        raise CheckError(f"target '{t.name}' has no depthwise unit")
    return "dw"


def _dwconv(t, f) -> Footprint:
    oh, ow = out_hw(f)
    src = dense(f["src_mem"], f["src_addr"], f["h"] * f["w"] * f["c"])
    wgt = dense(f["wgt_mem"], f["wgt_addr"], f["kh"] * f["kw"] * f["c"])
    dst = dense(f["dst_mem"], f["dst_addr"], 4 * oh * ow * f["c"])
    return Footprint(_dwconv_unit(t, f), [src, wgt], [dst])


def _matmul(t, f) -> Footprint:
    size = _size(f["dtype"])
    a = strided(f["a_mem"], f["a_addr"], f["m"], f["k"] * size, f["a_stride"])
    b_rows, b_cols = (f["n"], f["k"]) if f["trans_b"] else (f["k"], f["n"])
    b = strided(f["b_mem"], f["b_addr"], b_rows, b_cols * size, f["b_stride"])
    dst = strided(f["dst_mem"], f["dst_addr"], f["m"], 4 * f["n"], f["dst_stride"], True)
    return Footprint(_cores(t, f), [a, b], [dst])


def _transpose(t, f) -> Footprint:
    n = f["rows"] * f["cols"] * _size(f["dtype"])
    src, dst = dense(f["src_mem"], f["src_addr"], n), dense(f["dst_mem"], f["dst_addr"], n)
    _no_overlap(src, dst, "cl.transpose")
    return Footprint(_cores(t, f), [src], [dst])


def _copy(t, f) -> Footprint:
    src = dense(f["src_mem"], f["src_addr"], f["bytes"])
    dst = dense(f["dst_mem"], f["dst_addr"], f["bytes"])
    _no_overlap(src, dst, "cl.copy")
    return Footprint(_cores(t, f), [src], [dst])


def _gather(t, f) -> Footprint:
    table = dense(f["table_mem"], f["table_addr"], f["n_rows"] * f["row_bytes"])
    table = Range(table.space, table.lo, table.hi, f["count"] * f["row_bytes"])
    idx = dense(f["idx_mem"], f["idx_addr"], 4 * f["count"])
    dst = dense(f["dst_mem"], f["dst_addr"], f["count"] * f["row_bytes"])
    return Footprint(_cores(t, f), [table, idx], [dst])


FOOTPRINTS = {
    "halt": _control,
    "barrier": _control,
    "wait": _control,
    "signal": _control,
    "dma": _dma,
    "fill": _fill,
    "xb.prog": _prog,
    "xb.write": _write,
    "xb.mvm": _mvm,
    "cl.softmax": _rowwise(_cores),
    "cl.layernorm": _rowwise(_cores),
    "cl.gelu": _count(_cores),
    "cl.sigmoid": _count(_cores),
    "cl.tanh": _count(_cores),
    "cl.exp": _count(_cores),
    "cl.requant": _requant,
    "cl.quant": _quant,
    "cl.dquant": _dquant,
    "cl.call": None,  # needs the call table: see `footprint`
    "cl.eltwise": _eltwise,
    "cl.pool": _pool,
    "cl.dwconv": _dwconv,
    "cl.matmul": _matmul,
    "cl.transpose": _transpose,
    "cl.copy": _copy,
    "cl.gather": _gather,
    "dw.conv": _dwconv,
    "nl.requant": _requant,
    "nl.quant": _quant,
    "nl.dquant": _dquant,
    "nl.eltwise": _eltwise,
    "nl.softmax": _rowwise(_nl),
    "nl.layernorm": _rowwise(_nl),
    "nl.gelu": _count(_nl),
    "nl.sigmoid": _count(_nl),
    "nl.tanh": _count(_nl),
    "nl.exp": _count(_nl),
}

_missing = sorted(set(BY_MNEMONIC) - set(FOOTPRINTS))
if _missing:  # the table grew: every instruction needs a footprint before it can run
    raise ImportError(f"no footprint for {', '.join(_missing)}")


def footprint(ins, target, calls=()) -> Footprint:
    """The footprint of one decoded instruction; CheckError if it cannot run on ``target``.

    ``calls`` is the program's call table (``cl.call`` reads and writes what its entry names).
    """
    if ins.mnemonic == "cl.call":
        fp = _call(target, ins.fields, calls)
    else:
        fp = FOOTPRINTS[ins.mnemonic](target, ins.fields)
    for r in fp.reads + fp.writes:
        if r.space in ("L2", "L1") and r.hi > target.mem_size(r.space):
            verb = "writes" if r in fp.writes else "reads"
            raise CheckError(
                f"{verb} bytes {r.lo}..{r.hi} outside {r.space} ({target.mem_size(r.space)} bytes)"
            )
    return fp


def check_program(program, target) -> list[Footprint]:
    """Footprints of every instruction; CheckError naming the first one that cannot run."""
    out = []
    for i, ins in enumerate(program.instrs):
        try:
            out.append(footprint(ins, target, program.calls))
        except CheckError as err:
            raise CheckError(f"instruction {i} ({ins.mnemonic}): {err}") from None
    return out
