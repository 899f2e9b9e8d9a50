"""One pass of the interpreter over the calibration set, quantizing layers on the way.

:func:`run_streams` evaluates the main function op by op on every calibration chunk in two
streams: ``ref`` (the module as it was when the run started) and ``q`` (the module as the pass
rewrites it). When it reaches an op the pass wants, it hands the op's inputs in both streams to
the pass's callback, which may replace the op by new ops; the ``q`` stream continues through
them. So a pass that quantizes layers in program order sees each layer's real input under the
quantization of all layers before it (``q``) next to the float input (``ref``), and one
interpreter run calibrates the whole model. Where nothing was quantized upstream both streams
hold the same arrays and are computed once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..interp import quant_ops  # noqa: F401  (the q stream runs the quant ops passes create)
from ..interp.interpreter import Interpreter, arg_names, main_function
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.ops import Terminator
from .calibration import Calibration, batches

Chunks = list  # one array (or None) per calibration chunk

#: (op, ref inputs, q inputs, run) -> replacement ops (the last one's result replaces the op's
#: result) or None to keep the op. Inputs: per operand, its chunks (ref may be None).
LayerCallback = Callable[[Operation, list, list, "StreamRun"], "list[Operation] | None"]


@dataclass
class StreamRun:
    """What a run produced: outputs per stream (per result, its chunks) and the chunk sizes."""

    valid: list[int]
    ref_outputs: list[Chunks] | None = None
    q_outputs: list[Chunks] | None = None

    def samples(self, chunks: Chunks) -> np.ndarray:
        """Concatenate chunks of a batch-leading tensor, dropping wrap-around padding."""
        parts = []
        for a, n in zip(chunks, self.valid):
            parts.append(a[:n] if a.ndim and a.shape[0] >= n else a)
        return np.concatenate(parts, axis=0)

    def outputs(self, stream: str = "q") -> list[np.ndarray]:
        """The model outputs of a stream, one array per output with N samples."""
        chunks = self.q_outputs if stream == "q" else self.ref_outputs
        return [self.samples(c) for c in chunks]


class ChunkInterpreter(Interpreter):
    """The interpreter evaluating single ops for a run cut into ``chunk_count`` chunks."""

    def __init__(self, module: ModuleOp, chunk_count: int):
        super().__init__(module, check_types=True)
        self.chunk_count = chunk_count


def run_streams(
    module: ModuleOp,
    cal: Calibration,
    wants: Callable[[Operation], bool] = lambda op: False,
    callback: LayerCallback | None = None,
    ref: bool = True,
) -> StreamRun:
    """Run the main function over ``cal``; call ``callback`` at every op ``wants`` selects."""
    func = main_function(module)
    chunks, valid = batches(module, cal)
    interp = ChunkInterpreter(module, len(chunks))
    run = StreamRun(valid)
    env: dict[int, tuple[Chunks | None, Chunks]] = {}
    for arg, name in zip(func.body.args, arg_names(func)):
        q = [c[name] for c in chunks]
        env[id(arg)] = (q if ref else None, q)
    done: set[int] = set()
    for op in _pending_ops(func.body.ops):
        if op.has_trait(Terminator):
            run.ref_outputs = [env[id(v)][0] for v in op.operands] if ref else None
            run.q_outputs = [env[id(v)][1] for v in op.operands]
            break
        operands = op.operands  # read before a callback erases the op (which clears them)
        ins = [env[id(v)] for v in operands]
        new_ops, ref_outs = None, None
        wanted = callback is not None and wants(op)
        if wanted:
            # The old op's ref outputs are needed before the callback may erase it.
            ref_outs = _per_chunk(interp, op, [i[0] for i in ins]) if ref else None
            new_ops = callback(op, [i[0] for i in ins], [i[1] for i in ins], run)
        if new_ops:
            outs = _evaluate_new(interp, new_ops, env, ref_outs or [None] * len(op.results))
            done.update(id(o) for o in new_ops)
        else:
            outs = _evaluate(interp, op, ins, ref_outs)
        for result, out in zip((new_ops[-1] if new_ops else op).results, outs):
            env[id(result)] = out
        done.add(id(op))
        _free(env, operands if not new_ops else _all_operands(new_ops, operands), done)
    return run


def _pending_ops(ops: list[Operation]):
    """The ops of a block as it was when the run started, each released once the run moved
    past it: a layer the callback replaces, and the weight constant it erases with it, are then
    no longer kept alive by the run."""
    pending = deque(ops)
    while pending:
        yield pending.popleft()


def _evaluate(interp: Interpreter, op: Operation, ins: list, ref_outs=None) -> list[tuple]:
    """Outputs per result as (ref chunks, q chunks); shared when the inputs are shared.
    ``ref_outs`` are the ref outputs when already computed."""
    shared = all(i[0] is i[1] for i in ins)
    if shared and ref_outs is not None:
        return [(c, c) for c in ref_outs]
    q = _per_chunk(interp, op, [i[1] for i in ins])
    if any(i[0] is None for i in ins):
        return [(None, c) for c in q]
    if shared:
        return [(c, c) for c in q]
    r = ref_outs if ref_outs is not None else _per_chunk(interp, op, [i[0] for i in ins])
    return list(zip(r, q))


def _per_chunk(interp: ChunkInterpreter, op: Operation, inputs: list) -> list[Chunks]:
    """Evaluate ``op`` chunk by chunk; returns per result its list of chunks. An op without
    operands (a constant) is evaluated once and shared by every chunk."""
    count = interp.chunk_count
    if not inputs:
        values = interp.evaluate(op, [])
        return [[v] * count for v in values]
    per_chunk = [interp.evaluate(op, [inp[c] for inp in inputs]) for c in range(count)]
    return [list(values) for values in zip(*per_chunk)]


def _evaluate_new(interp, new_ops: list[Operation], env: dict, ref_outs: list) -> list[tuple]:
    """Run replacement ops on the q stream; their last op's results keep the old ref values."""
    local: dict[int, Chunks] = {}
    outs: list[Chunks] = []
    for op in new_ops:
        inputs = [_lookup(interp, v, local, env) for v in op.operands]
        outs = _per_chunk(interp, op, inputs)
        for result, out in zip(op.results, outs):
            local[id(result)] = out
    return [(r, q) for r, q in zip(ref_outs, outs)]


def _lookup(interp, v: Value, local: dict, env: dict) -> Chunks:
    """A q-stream value for a replacement op; operand-free producers the pass inserted next to
    it (a ``none`` value) are evaluated on the spot."""
    if id(v) in local:
        return local[id(v)]
    if id(v) in env:
        return env[id(v)][1]
    owner = v.owner
    if isinstance(owner, Operation) and not owner.operands:
        local[id(v)] = [interp.evaluate(owner, [])[v.index]] * interp.chunk_count
        return local[id(v)]
    raise KeyError(f"value of {owner} is not available to the replacement ops")


def _all_operands(new_ops: list[Operation], old_operands) -> list[Value]:
    """The replaced op's operands (read before it was erased) and its replacements'."""
    values = list(old_operands)
    for op in new_ops:
        values.extend(op.operands)
    return values


def _free(env: dict, values, done: set[int]) -> None:
    """Drop values every user of which has run (keeps memory to the live tensors)."""
    for v in values:
        if id(v) in env and all(id(u) in done for u in v.users()):
            del env[id(v)]
