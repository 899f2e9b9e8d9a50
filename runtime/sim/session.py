"""Prepared execution: load a program once, keep its weights resident, run many inferences.

    session = Session(Program.load("prog.bin"), mode="adc", seed=0)
    for x in batches:
        y = session.run({"x": x}).outputs["y"]

Making a session does, once, what every run would otherwise repeat: it validates the program
against the target, builds every instruction's footprint, creates the machine, loads the
constants and executes the program's *weight-programming prefix*; it then analyses which bytes the
rest of the program (the *body*) can leave stale and prepares each body instruction as a closure
over memory views (`plan.compile_step`). `Session.run` restores those bytes, stores the inputs
and executes the body.

**The prefix rule.** Let ``H`` be the first ``halt`` (the end of the program if none): nothing
after it ever runs. The prefix is instructions ``0 .. B`` where ``B`` is the first ``barrier``
before ``H``, provided no instruction before ``B`` reads or writes a byte of an input tensor (by
its footprint). Such instructions see only constants and each other's results, so they compute
the same thing in every run: programming arrays from packed weights, moving constants between
memories, and whatever else a compiler puts there. If there is no such barrier, or the condition
fails, the prefix is empty and every run executes the whole program (still correct, slower).

**What a run restores** (`dataflow.restore_set`): the bytes the body may write and also reads
before writing them (outputs count as read at the end), as they were after the prefix; array
windows the same way (whole arrays); plus the events, the halt flag and, in the noisy modes, the
positions of the random streams. Everything else the body either never changes or overwrites
before reading.

**The contract.** ``session.run(x)`` returns exactly what ``run_program(program, x, ...)`` with the
same target, mode, seed and drift time returns: the same outputs bit for bit and the same report
(the report covers the whole program, weight programming included, as for one run). Noisy modes
replay the same noise in every run. The cost model does not look at data except for one thing:
FAT zero skipping counts the non-zero cells of a window. Costs are therefore computed during the
first run and reused (`cached_costs`), unless the body itself writes a digital array that a
zero-skipping FAT job then reads: then every run recomputes them. ``cache=False`` recomputes
always (the tests compare both).
"""

from __future__ import annotations

import copy
import time

import numpy as np

from ..isa.table import PACKED
from ..targets import Target
from .cost.cost import cost
from .cost.report import Record, Report, build_report
from .cost.schedule import Scheduler
from .fast.dataflow import ByteSet, coalesce, restore_set, written_spaces
from .fast.plan import compile_body, generic_step, view
from .machine.machine import Machine, SimError
from .validate import RunError, check_inputs, validate

# Float overflow, NaN and division by zero are part of the ISA's float semantics, not errors.
QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}
# Restored intervals this close together are copied as one (restoring a byte is always harmless).
RESTORE_GAP = 4096


class RunResult:
    """Outputs (name -> array, in the program's output order), the report and the timeline.

    ``report`` may be given as a function that makes it: it is then made on first access (a
    `Session` reuses one report for identical runs and hands out copies only when asked).
    """

    def __init__(self, outputs, report, records=(), target: Target | None = None):
        self.outputs: dict[str, np.ndarray] = outputs
        self._report = report
        self.records: list[Record] = list(records)
        self.target = target

    @property
    def report(self) -> Report:
        """The run's `Report`."""
        if callable(self._report):
            self._report = self._report()
        return self._report

    def __repr__(self) -> str:
        return f"RunResult(outputs={sorted(self.outputs)}, target={getattr(self.target, 'name', None)!r})"


class Session:
    """A program loaded on a simulated machine with its weights programmed, ready to `run`.

    ``target`` (Target, preset name or .toml path; default the binary's own), ``mode``, ``seed``,
    ``drift_time`` and ``overrides`` mean what they mean for `run_program`. ``progress(done,
    total)`` reports the weight programming. ``cache=False`` recomputes costs and the schedule in
    every run. ``reusable=False`` makes a session for a single run (what `run_program` uses): it
    skips what only later runs need (the restore analysis and snapshots). ``footprints``: the
    program's, when the caller has validated it already for ``target`` (a `Target`). Raises
    `RunError` like `run_program`.

    Attributes: ``prefix_len`` (instructions run once, at creation), ``prefix_records`` (their
    cost records), ``restore_bytes`` (memory bytes put back before each run), ``dynamic_costs``
    and ``cached_costs`` (see the module docstring), ``machine``.
    """

    def __init__(
        self,
        program,
        target=None,
        mode: str = "adc",
        seed: int = 0,
        drift_time: float | None = None,
        overrides=None,
        *,
        progress=None,
        cache: bool = True,
        reusable: bool = True,
        footprints=None,
    ):
        if footprints is None or not isinstance(target, Target):
            target, footprints = validate(program, target, overrides, mode, drift_time, seed)
        self.program, self.target, self.footprints = program, target, footprints
        self.mode, self.seed, self.drift_time = mode, seed, drift_time
        instrs = program.instrs
        self.end = executed_length(program)
        self.prefix_len = prefix_length(program, footprints)
        m = self.machine = Machine(target, mode, seed, drift_time)
        m.calls = program.calls
        self._ins_views = [(t, _tensor_view(m, t)) for t in program.tensors if t.role == "input"]
        self._out_views = [(t, _tensor_view(m, t)) for t in program.tensors if t.role == "output"]
        self._loads = _load_constants(m, program, self._ins_views)
        pools = {"cores": target.cores.count, "dma": target.dma.count}
        sched = Scheduler(target.chip.issue_cycles, pools)
        self.prefix_records: list[Record] = []
        ticker = _Ticker(progress, len(instrs))
        prefix = [generic_step(m, instrs[i]) for i in range(self.prefix_len)]
        self._costed(0, prefix, sched, self.prefix_records, ticker)
        self._sched = sched  # as the prefix left it; each costed run works on a copy

        body = footprints[self.prefix_len : self.end]
        tensors = [(t.mem, t.addr, t.addr + t.nbytes) for t, _ in self._ins_views]
        outputs = [(t.mem, t.addr, t.addr + t.nbytes) for t, _ in self._out_views]
        self.reusable, self._runs = reusable, 0
        self._snapshot(restore_set(body, tensors, outputs) if reusable else {})
        written = written_spaces(body)
        for space, lo, hi in tensors:
            written.setdefault(space, ByteSet()).add(lo, hi)  # rewritten by every run
        self.dynamic_costs = _dynamic_costs(target, instrs[self.prefix_len : self.end], written)
        self.cached_costs = cache and not self.dynamic_costs
        self._steps, self._ctx = compile_body(
            m,
            instrs[self.prefix_len : self.end],
            body,
            lambda space, lo, hi: _untouched(written, space, lo, hi),
            passes=2 if reusable else 1,
            # Only the outputs are read after the body, so intermediates that just the next step
            # reads (from its exact float copy) need not be stored.
            live_out=outputs,
        )
        self._records: list[Record] | None = None  # the body's, once known not to change
        self._report_data: dict | None = None

    # --- running ------------------------------------------------------------------------------
    def run(self, inputs=None, progress=None) -> RunResult:
        """Run the body on ``inputs`` (dict by name, or a sequence in program input order).

        ``progress(done, total)`` is called every few tenths of a second on long runs.
        """
        values = check_inputs(self.program, inputs)
        if self._runs and not self.reusable:
            raise RunError("this session was made for one run (reusable=False)")
        self._runs += 1
        self._reset()
        for t, dst, piece in self._loads:
            if t is None:
                dst[:] = piece
            else:
                np.copyto(dst, values[t.name].reshape(dst.shape))
        ticker = _Ticker(progress, len(self.program.instrs))
        if self._records is None:
            body: list[Record] = []
            sched = copy.deepcopy(self._sched) if self.reusable else self._sched
            with np.errstate(**QUIET):
                self._costed(self.prefix_len, self._steps, sched, body, ticker)
            records = self.prefix_records + body
            report = build_report(
                self.target, self.program, records, self.machine, self.seed, self.drift_time
            )
            if self.cached_costs and self.reusable:
                self._records, self._report_data = body, copy.deepcopy(report.data)
        else:
            with np.errstate(**QUIET):
                self._fast(ticker)
            records = self.prefix_records + self._records
            data = self._report_data
            report = lambda: Report(copy.deepcopy(data))  # noqa: E731 - made on first access
        ticker.done(len(records))
        outputs = {t.name: src.copy() for t, src in self._out_views}
        return RunResult(outputs, report, records, self.target)

    def _fast(self, ticker) -> None:
        """Execute the body's steps, nothing else: costs and timing are known."""
        done = self.prefix_len  # instructions finished, for progress and error messages
        try:
            for step in self._steps:
                step()
                done += 1
                if ticker.fn is not None:
                    ticker.tick(done)
        except SimError as err:
            self._fail(done, err)

    def _costed(self, first: int, steps, sched: Scheduler, records: list, ticker) -> None:
        """Execute ``steps`` (instructions ``first ..``) with the cost model and the scheduler."""
        instrs, fps, target, m = self.program.instrs, self.footprints, self.target, self.machine
        for k, step in enumerate(steps, start=first):
            ins, fp = instrs[k], fps[k]
            try:
                work = cost(ins, target, m)
                slot = sched.place(k, ins.mnemonic, ins.fields, fp, work.cycles, work.servers)
                step()
            except SimError as err:
                self._fail(k, err)
            records.append(Record(slot, ins.mnemonic, fp, work))
            ticker.tick(k + 1)

    def _fail(self, index: int, err: SimError):
        raise RunError(
            f"instruction {index} ({self.program.instrs[index].mnemonic}): {err}"
        ) from None

    # --- state between runs ---------------------------------------------------------------------
    def _snapshot(self, restore: dict[str, list[tuple[int, int]]]) -> None:
        """Keep what `_reset` puts back: the state right after the prefix, where runs can touch it."""
        m = self.machine
        self._mem0 = []
        self._arrays0 = []
        for space, intervals in restore.items():
            if space in m.mem:
                for lo, hi in coalesce(intervals, RESTORE_GAP):
                    region = m.region(space, lo, hi - lo)
                    self._mem0.append((region, region.copy()))
            else:  # array cells "A<index>": the whole array goes back
                arr = m.array(int(space[1:]))
                copies = [None if a is None else a.copy() for a in (arr.cells, arr.weights)]
                self._arrays0.append((arr, *copies))
        self.restore_bytes = sum(saved.nbytes for _, saved in self._mem0)
        self._events0 = frozenset(m.events)
        self._device0 = m.device.state() if m.device.active else None

    def _reset(self) -> None:
        m = self.machine
        self._ctx.gathered = None
        m.halted = False
        m.events.clear()
        m.events.update(self._events0)
        for region, saved in self._mem0:
            region[:] = saved
        for arr, cells, weights in self._arrays0:
            arr.cells = _put_back(arr.cells, cells)
            arr.weights = _put_back(arr.weights, weights)
            arr.written()
        if self._device0 is not None:
            m.device.restore(self._device0)


def executed_length(program) -> int:
    """How many instructions ever run: up to and including the first ``halt``."""
    halts = (i + 1 for i, ins in enumerate(program.instrs) if ins.mnemonic == "halt")
    return next(halts, len(program.instrs))


def prefix_length(program, footprints) -> int:
    """How many instructions form the weight-programming prefix (see the module docstring)."""
    end = executed_length(program)
    barrier = next((i for i in range(end) if program.instrs[i].mnemonic == "barrier"), None)
    if barrier is None:
        return 0
    inputs = [(t.mem, t.addr, t.addr + t.nbytes) for t in program.tensors if t.role == "input"]
    for fp in footprints[:barrier]:
        for r in fp.reads + fp.writes:
            if any(r.space == s and r.lo < hi and lo < r.hi for s, lo, hi in inputs):
                return 0
    return barrier + 1


# --- helpers ------------------------------------------------------------------------------------


def _tensor_view(m: Machine, t):
    if t.dtype in PACKED:
        return None  # storage-only: `check_inputs` refuses such an input before it is used
    return view(m, t.mem, t.addr, t.dtype, t.shape)


def _load_constants(m: Machine, program, inputs) -> list:
    """Store every constant tensor; return what each run stores, in tensor table order.

    A one-shot run stores constants and inputs in table order, so where they overlap the later
    one wins. A run of a session stores the inputs again and, in the same order, the pieces of
    constants that lie inside an input: (tensor, view) for an input, (None, view, bytes) for a
    piece. (The prefix never touches input bytes, so those pieces hold nothing else.)
    """
    loads = []
    spans = [(t.mem, t.addr, t.addr + t.nbytes) for t, _ in inputs]
    views = {id(t): v for t, v in inputs}
    for t in program.tensors:
        if t.role == "input":
            loads.append((t, views[id(t)], None))
        elif t.role == "const":
            raw = np.frombuffer(program.const(t.name).raw, dtype=np.uint8)
            region = m.region(t.mem, t.addr, raw.size)
            region[:] = raw
            for mem, lo, hi in spans:
                a, b = max(lo, t.addr), min(hi, t.addr + raw.size)
                if mem == t.mem and a < b:
                    loads.append(
                        (None, region[a - t.addr : b - t.addr], raw[a - t.addr : b - t.addr])
                    )
    return loads


def _untouched(written: dict, space: str, lo: int, hi: int) -> bool:
    """Whether no run writes any byte of ``[lo, hi)`` of ``space``."""
    bytes_ = written.get(space)
    if bytes_ is None or hi <= lo:
        return True
    gaps_lo, gaps_hi = bytes_.minus(lo, hi)
    return int((gaps_hi - gaps_lo).sum()) == hi - lo


def _dynamic_costs(target: Target, body, written: dict) -> bool:
    """Whether a body instruction's cost depends on what the body itself computes.

    Only FAT zero skipping reads the machine (a window's non-zero cells); it is static unless
    the body writes that array.
    """
    for ins in body:
        if ins.mnemonic != "xb.mvm":
            continue
        g = target.group_of(ins.fields["array"])
        if g.kind == "digital" and g.addition == "fat" and f"A{ins.fields['array']}" in written:
            return True
    return False


def _put_back(current, saved):
    if saved is None:
        return None
    if current is None or current.shape != saved.shape:
        return saved.copy()
    current[...] = saved
    return current


class _Ticker:
    """Calls ``fn(done, total)`` at most every 0.2 s, and once at the end."""

    def __init__(self, fn, total: int):
        self.fn, self.total, self.last = fn, total, time.monotonic()

    def tick(self, done: int) -> None:
        if self.fn is not None and time.monotonic() - self.last > 0.2:
            self.fn(done, self.total)
            self.last = time.monotonic()

    def done(self, done: int) -> None:
        if self.fn is not None:
            self.fn(done, self.total)
