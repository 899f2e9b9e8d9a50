"""Build IMC programs by hand, for benchmarks: tensors, constants, instructions, ternary layers.

A thin layer over the runtime's public `Program` / `Instr` API (never the compiler). Operands are
passed as tensors: ``b.emit("cl.quant", src=x, dst=xq, ...)`` fills ``src_mem``/``src_addr`` (and
``src_dtype`` when the instruction has that field). Memory is handed out by bump allocators; a
scratch tensor goes to L1 when it still fits there, else to L2.

    b = ProgramBuilder("cluster")
    x = b.input("x", "i8", (64, 784))
    layer = b.ternary_layer("fc1", t, blocks)   # blocks: sim_quant.choose_blocks; one xb.prog each
    b.barrier()                                    # weights resident, inference starts
    acc = b.scratch("acc", "i32", (64, 512))
    b.matmul(layer, x, acc)                        # one xb.mvm per window, row blocks added
    program = b.build()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import Const, DebugInfo, Program, Tensor
from imcc.runtime.isa.table import BY_MNEMONIC
from imcc.runtime.targets import Target, load_target

ALIGN = 64  # bytes: every tensor starts on its own cache line


@dataclass(frozen=True)
class Window:
    """One array window holding the block ``w[k0:k1, n0:n1]`` of a layer, ADC step 2^adc_shift."""

    array: int
    k0: int
    k1: int
    n0: int
    n1: int
    adc_shift: int


@dataclass(frozen=True)
class ArrayLayer:
    """A weight matrix (K × N) split over array windows, ready for `ProgramBuilder.matmul`."""

    name: str
    k: int
    n: int
    windows: tuple[Window, ...]


class ProgramBuilder:
    """Accumulates tensors, constants and instructions for one target; `build` validates."""

    def __init__(self, target: Target | str):
        self.target = target if isinstance(target, Target) else load_target(target)
        self.program = Program(target=self.target.name, fingerprint=self.target.fingerprint_bytes)
        self._top = {"L1": 0, "L2": 0}
        self._analog = next(g for g in self.target.arrays if g.kind == "analog")
        self._next_array = self._analog.first

    # --- memory ----------------------------------------------------------------------------
    def _alloc(self, nbytes: int, mem: str | None) -> tuple[str, int]:
        if mem is None:
            fits = self._top["L1"] + nbytes <= self.target.mem_size("L1")
            mem = "L1" if fits else "L2"
        addr = self._top[mem]
        if addr + nbytes > self.target.mem_size(mem):
            raise ValueError(f"{mem} is full: {nbytes} more bytes do not fit")
        self._top[mem] = -(-(addr + nbytes) // ALIGN) * ALIGN
        return mem, addr

    def tensor(self, name, role, dtype, shape, mem=None, scale=1.0, zp=0) -> Tensor:
        """Add a tensor table entry with freshly allocated memory (L1 if it fits, for mem=None)."""
        t = Tensor(name, role, dtype, tuple(shape), "L2", 0, scale, zp)
        t.mem, t.addr = self._alloc(t.nbytes, mem)
        self.program.tensors.append(t)
        return t

    def input(self, name, dtype, shape, scale=1.0, zp=0) -> Tensor:
        """A graph input in L2 (where the host puts it)."""
        return self.tensor(name, "input", dtype, shape, "L2", scale, zp)

    def output(self, name, dtype, shape, scale=1.0, zp=0) -> Tensor:
        """A graph output in L2 (where the host reads it)."""
        return self.tensor(name, "output", dtype, shape, "L2", scale, zp)

    def scratch(self, name, dtype, shape, mem=None) -> Tensor:
        """An intermediate activation (L1 when it fits, else L2)."""
        return self.tensor(name, "scratch", dtype, shape, mem)

    def const(self, name, dtype, values, mem="L2") -> Tensor:
        """A constant tensor with its data blob (packed for t2/i4), in L2 by default."""
        values = np.asarray(values)
        self.program.consts.append(Const.from_values(name, dtype, values))
        return self.tensor(name, "const", dtype, values.shape or (1,), mem)

    # --- instructions -----------------------------------------------------------------------
    def emit(self, mnemonic: str, debug: tuple[str, str] | None = None, **fields) -> Instr:
        """Append one instruction; tensor-valued fields ``p=T`` become ``p_mem``/``p_addr``.

        ``p=(T, offset)`` addresses ``offset`` bytes into T. ``p_dtype`` is filled from the
        tensor when the instruction has that field and it was not given.
        """
        spec = BY_MNEMONIC.get(mnemonic)
        names = {f.name for f in spec.fields} if spec is not None else set()
        out = {}
        for key, value in fields.items():
            tensor, offset = value if isinstance(value, tuple) else (value, 0)
            if not isinstance(tensor, Tensor):
                out[key] = value
                continue
            out[f"{key}_mem"], out[f"{key}_addr"] = tensor.mem, tensor.addr + offset
            if f"{key}_dtype" in names and f"{key}_dtype" not in fields:
                out[f"{key}_dtype"] = tensor.dtype
        ins = Instr.make(mnemonic, out)
        if debug is not None:
            self.program.debug[len(self.program.instrs)] = DebugInfo(*debug)
        self.program.instrs.append(ins)
        return ins

    def barrier(self) -> None:
        """Wait for everything before (separates weight programming from inference)."""
        self.emit("barrier")

    def halt(self) -> None:
        """End the program."""
        self.emit("halt")

    # --- ternary layers on the analog arrays --------------------------------------------------
    def ternary_layer(self, name: str, t: np.ndarray, blocks) -> ArrayLayer:
        """Program the ternary K × N matrix ``t`` over fresh arrays, one block per array.

        ``blocks``: objects with ``k0, k1, n0, n1`` (the block of ``t``) and ``shift`` (its ADC
        step exponent), each at most one array in size.
        """
        k, n = t.shape
        g = self._analog
        windows = []
        for i, b in enumerate(blocks):
            if b.k1 - b.k0 > g.rows or b.n1 - b.n0 > g.cols:
                raise ValueError(f"{name}: block {i} exceeds a {g.rows} x {g.cols} array")
            if self._next_array >= g.first + g.count:
                raise ValueError(f"{name}: the {g.count} arrays of group {g.name} are all used")
            array, self._next_array = self._next_array, self._next_array + 1
            blob = self.const(f"{name}.w{i}", "t2", t[b.k0 : b.k1, b.n0 : b.n1])
            self.emit(
                "xb.prog",
                ("imc.program", name),
                array=array,
                row0=0,
                col0=0,
                rows=b.k1 - b.k0,
                cols=b.n1 - b.n0,
                fmt="t2",
                src=blob,
            )
            windows.append(Window(array, b.k0, b.k1, b.n0, b.n1, b.shift))
        return ArrayLayer(name, k, n, tuple(windows))

    def matmul(self, layer: ArrayLayer, x: Tensor, dst: Tensor) -> None:
        """dst (M × N, i32) = x (M × K, i8) @ layer: one xb.mvm per window, row blocks added."""
        m = x.shape[0] if len(x.shape) == 2 else x.size // layer.k
        for w in layer.windows:
            self.emit(
                "xb.mvm",
                ("imc.mvm", layer.name),
                array=w.array,
                row0=0,
                col0=0,
                rows=w.k1 - w.k0,
                cols=w.n1 - w.n0,
                src=(x, w.k0),
                seg_len=w.k1 - w.k0,
                inner_stride=layer.k,
                n_inner=m,
                dst=(dst, 4 * w.n0),
                dst_stride=4 * layer.n,
                acc=w.k0 > 0,
                adc_shift=w.adc_shift,
            )

    def build(self) -> Program:
        """The finished program (validated; ends with halt)."""
        if not self.program.instrs or self.program.instrs[-1].mnemonic != "halt":
            self.halt()
        self.program.validate()
        return self.program
