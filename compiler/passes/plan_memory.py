"""plan-memory: every value and constant of the program gets its bytes in L1 or L2.

Values that must be in one place share one block: an accumulator and the partial sums the
``imc.mvm`` jobs add into it, a view (``imc.reshape``) and what it views. The model's inputs and
outputs live in L2, where the host puts and reads them (an output that is also an input, a
constant or another output is copied). Constants (weights to program, the requant vectors,
``onnx.Constant`` data) get the rest of L2's head. Intermediate blocks go to L1 by liveness
(first fit: a block may take the bytes of blocks that are dead by the time it is written); a
block L1 cannot hold at that moment goes to L2. ``imc-to-isa`` reads the choices from the
attributes this pass writes; nothing is left ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import memory
from ..backend.constants import op_constants
from ..backend.places import ARG_BUFFERS, CONST_BUFFER, CONST_BUFFERS, nbytes
from ..backend.target import module_target
from ..dialects import imc
from ..dialects.func import FuncOp, ReturnOp
from ..dialects.onnx import ConstantOp
from ..ir.attributes import ArrayAttr, DictAttr, IntegerAttr, StringAttr
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.core import BlockArgument, Value
from ..ir.types import RankedTensorType
from ..pm import Pass, PassFailure, register_pass
from .nonlinear_offload import is_placed

MEMORY = "imc.memory"


@register_pass
@dataclass(frozen=True)
class PlanMemoryPass(Pass):
    """Assigns L1/L2 bytes to every value (liveness-based first fit in L1, L2 for what does not
    fit and for the model's inputs, outputs and constants) and records them as ``buffers`` /
    ``imc.*`` attributes."""

    name = "plan-memory"
    summary = "Place every value and constant in L1 or L2 (liveness, first fit)"

    l1: bool = True

    def requires(self, module: ModuleOp) -> None:
        for op in module.walk():
            if not is_placed(op):
                raise PassFailure(
                    f"'{op.name}' must be lowered to the imc dialect before memory planning",
                    op.location,
                )

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        func = next(op for op in module.body.ops if isinstance(op, FuncOp))
        _copy_outputs(func)
        plan = _Plan(func)
        l2 = 0
        l2 = plan.place_fixed(plan.input_groups(), "L2", l2)
        l2 = plan.place_fixed(plan.output_groups(), "L2", l2)
        l2 = plan.place_constants(l2)
        if l2 > target.mem_size("L2"):
            raise PassFailure(
                f"the program needs more memory than the target has: its inputs, outputs and "
                f"constants take {l2} bytes, L2 has {target.mem_size('L2')}",
                func.location,
            )
        scratch = plan.scratch_groups()
        streamed = plan.streamed()
        left = [b for b in scratch if b.key in streamed]
        if self.l1:
            tiles = [b for b in scratch if b.key not in streamed]
            left += memory.first_fit(tiles, target.mem_size("L1"))
            for b in scratch:
                if b not in left:
                    b.mem = "L1"
        l2_scratch = memory.align(l2)
        rest = memory.first_fit(left, target.mem_size("L2") - l2_scratch, l2_scratch)
        if rest:
            big = max(rest, key=lambda b: b.size)
            raise PassFailure(
                f"the program needs more memory than the target has: {big.size} bytes for "
                f"{', '.join(big.names[:3])} do not fit the {target.mem_size('L2') - l2_scratch} "
                f"bytes of L2 left after its inputs, outputs and constants",
                func.location,
            )
        for b in left:
            b.mem = "L2"
        plan.record(module, l2)
        return True

    def ensures(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, imc.ImcOp) and op.unallocated():
                raise PassFailure(f"'{op.name}' was left without a buffer", op.location)


def _copy_outputs(func: FuncOp) -> None:
    """Give each returned value storage of its own: copy inputs, constants and repeats."""
    ret = func.body.terminator
    seen: set[int] = set()
    for i, v in enumerate(ret.operands):
        owner = v.owner
        own = isinstance(owner, imc.ImcOp) and imc.has_buffers(owner) and id(v) not in seen
        if isinstance(owner, imc.ReshapeOp):
            own = False  # a view: its storage belongs to what it views
        if not own:
            loc = owner.location if not isinstance(v, BlockArgument) else func.location
            copy = imc.CopyOp.create(
                [v],
                [v.type],
                {"unit": StringAttr("dma"), "buffers": imc.unallocated()},
                location=loc,
            )
            Builder.before(ret).insert(copy)
            ret.set_operand(i, copy.results[0])
            v = copy.results[0]
        seen.add(id(v))


class _Plan:
    """The blocks of one function: values grouped by shared storage, with lifetimes."""

    def __init__(self, func: FuncOp):
        self.func = func
        self.ops = list(func.body.ops)
        self.index = {id(op): i for i, op in enumerate(self.ops)}
        import networkx as nx  # here, not at import: it costs 16 MB before the compile needs it

        uf = nx.utils.UnionFind()
        values: dict[int, Value] = {}
        for arg in func.body.args:
            values[id(arg)] = arg
            uf[id(arg)]
        for op in self.ops:
            for r in op.results:
                if isinstance(r.type, RankedTensorType):
                    values[id(r)] = r
                    uf[id(r)]
            if isinstance(op, imc.MvmOp):
                uf.union(id(op.results[0]), id(op.operands[2]))
            if isinstance(op, imc.InsertOp):
                uf.union(id(op.results[0]), id(op.operands[1]))
            if isinstance(op, imc.ReshapeOp):
                uf.union(id(op.results[0]), id(op.operands[0]))
        self.values = values
        self.groups: dict[int, list[Value]] = {}
        self.root_of: dict[int, int] = {}
        for key in sorted(values, key=lambda k: self._def(values[k])):
            self.groups.setdefault(uf[key], []).append(values[key])
            self.root_of[key] = uf[key]
        self.blocks: dict[int, memory.Block] = {}
        for root, members in self.groups.items():
            start = min(self._def(v) for v in members)
            end = max(self._last_use(v) for v in members)
            size = max(nbytes(v) for v in members)
            names = [_describe(v) for v in members]
            self.blocks[root] = memory.Block(root, size, start, end, names=names)
        self.const_places: dict[int, list[tuple[str, int]]] = {}

    def _def(self, v: Value) -> int:
        return -1 if isinstance(v, BlockArgument) else self.index[id(v.owner)]

    def _last_use(self, v: Value) -> int:
        return max((self.index[id(u.operation)] for u in v.uses), default=self._def(v))

    def _kind(self, members: list[Value]) -> str:
        if any(isinstance(v, BlockArgument) for v in members):
            return "input"
        if any(isinstance(v.owner, ConstantOp) for v in members):
            return "const"
        ret = self.func.body.terminator
        if any(isinstance(u.operation, ReturnOp) for v in members for u in v.uses):
            return "output" if ret is not None else "scratch"
        return "scratch"

    def _of(self, kind: str) -> list[memory.Block]:
        return [self.blocks[r] for r, m in self.groups.items() if self._kind(m) == kind]

    def input_groups(self) -> list[memory.Block]:
        order = {id(a): i for i, a in enumerate(self.func.body.args)}
        blocks = self._of("input")
        return sorted(
            blocks, key=lambda b: min(order.get(id(v), 1 << 30) for v in self.groups[b.key])
        )

    def output_groups(self) -> list[memory.Block]:
        ret = self.func.body.terminator
        order = {id(v): i for i, v in enumerate(ret.operands)}
        blocks = self._of("output")
        return sorted(
            blocks, key=lambda b: min(order.get(id(v), 1 << 30) for v in self.groups[b.key])
        )

    def scratch_groups(self) -> list[memory.Block]:
        return self._of("scratch")

    def streamed(self) -> set[int]:
        """Blocks tiles stream from (``imc.extract``) and into (``imc.insert``): they stay in L2."""
        keys = set()
        for op in self.ops:
            if isinstance(op, imc.ExtractOp):
                keys.add(self.root_of[id(op.operands[0])])
            if isinstance(op, imc.InsertOp):
                keys.add(self.root_of[id(op.results[0])])
        return keys

    def place_fixed(self, blocks: list[memory.Block], mem: str, at: int) -> int:
        for b in blocks:
            b.mem, b.offset = mem, at
            at = memory.align(at + b.size)
        return at

    def place_constants(self, at: int) -> int:
        """onnx.Constant data (blocks of kind const) and the blobs imc ops need, in L2."""
        for b in self._of("const"):
            b.mem, b.offset = "L2", at
            at = memory.align(at + b.size)
        for op in self.ops:
            blobs = op_constants(op)
            if not blobs:
                continue
            places = []
            for blob in blobs:
                places.append(("L2", at))
                at = memory.align(at + blob.nbytes)
            self.const_places[id(op)] = places
        return at

    def record(self, module: ModuleOp, l2_fixed: int) -> None:
        def place(v: Value) -> tuple[str, int]:
            if id(v) not in self.root_of:
                return "L2", 0  # an absent (none) result: no storage, the entry only keeps count
            b = self.blocks[self.root_of[id(v)]]
            return b.mem, b.offset

        for op in self.ops:
            if imc.has_buffers(op):
                op.attributes["buffers"] = imc.buffers_attr([place(r) for r in op.results])
            if isinstance(op, ConstantOp):
                op.attributes[CONST_BUFFER] = imc.buffers_attr([place(op.results[0])])
            if id(op) in self.const_places:
                op.attributes[CONST_BUFFERS] = imc.buffers_attr(self.const_places[id(op)])
        self.func.attributes[ARG_BUFFERS] = imc.buffers_attr(
            [place(a) for a in self.func.body.args]
        )
        blocks = list(self.blocks.values())
        l1 = [b for b in blocks if b.mem == "L1"]
        l2 = [b for b in blocks if b.mem == "L2"]
        streamed = self.streamed()
        spilled = [
            b.names[0]
            for b in l2
            if self._kind(self.groups[b.key]) == "scratch" and b.key not in streamed
        ]
        tiled = sorted({op.layer for op in self.ops if isinstance(op, imc.ExtractOp)})
        module.attributes[MEMORY] = DictAttr(
            (
                ("l1_peak", IntegerAttr(memory.peak(l1))),
                ("l2_peak", IntegerAttr(max(memory.peak(l2), l2_fixed))),
                ("l2_scratch", ArrayAttr(tuple(StringAttr(n) for n in spilled))),
                ("tiled_layers", ArrayAttr(tuple(StringAttr(n) for n in tiled))),
            )
        )


def _describe(v: Value) -> str:
    if isinstance(v, BlockArgument):
        return f"argument {v.index}"
    layer = v.owner.get_attr("layer") if hasattr(v.owner, "get_attr") else None
    return f"{v.owner.name} ({layer})" if layer else v.owner.name
