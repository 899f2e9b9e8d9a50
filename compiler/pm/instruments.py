"""Pass instruments: observers called around every pass (IR printing, dumps, timing).

Instruments, not flags inside passes, implement ``--print-ir-before=``, ``--print-ir-after-all``,
``--dump-ir-dir`` and ``--time-passes``, so every pass gets them for free.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from ..ir.builtin import ModuleOp
from ..ir.printer import print_ir
from ..util.atomic import atomic_write_text
from .pass_base import Pass


class PassInstrument:
    """Base class; every hook is optional."""

    def before_pipeline(self, module: ModuleOp) -> None: ...

    def before_pass(self, p: Pass, module: ModuleOp) -> None: ...

    def after_pass(self, p: Pass, module: ModuleOp, changed: bool) -> None: ...

    def after_failure(self, p: Pass, module: ModuleOp) -> None: ...

    def after_pipeline(self, module: ModuleOp) -> None: ...


@dataclass
class PrintIRInstrument(PassInstrument):
    """Print the IR to a stream (stderr by default) around selected passes.

    ``before``/``after`` are sets of pass names, or ``{"*"}`` for all passes.
    """

    before: set[str] = field(default_factory=set)
    after: set[str] = field(default_factory=set)
    after_change: bool = False
    after_failure_: bool = False
    debuginfo: bool = False
    stream: TextIO | None = None

    def _emit(self, banner: str, module: ModuleOp) -> None:
        out = self.stream or sys.stderr
        out.write(f"// -----// IR Dump {banner} //----- //\n")
        out.write(print_ir(module, debuginfo=self.debuginfo, elide_resources=True))
        out.write("\n")

    @staticmethod
    def _selected(names: set[str], p: Pass) -> bool:
        return "*" in names or p.name in names

    def before_pass(self, p, module):
        if self._selected(self.before, p):
            self._emit(f"Before {p.name}", module)

    def after_pass(self, p, module, changed):
        if self._selected(self.after, p) or (self.after_change and changed):
            self._emit(f"After {p.name}", module)

    def after_failure(self, p, module):
        if self.after_failure_:
            self._emit(f"After {p.name} Failed", module)


@dataclass
class DumpDirInstrument(PassInstrument):
    """Write the module before the pipeline and after every pass to numbered files in ``directory``:
    ``00-input.mlir``, ``01-canonicalize.mlir``, ... Files are complete (resources included) so each
    one can be run or fed to ``imcc-opt``."""

    directory: str
    debuginfo: bool = True
    count: int = 0

    def _write(self, label: str, module: ModuleOp) -> None:
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"{self.count:02d}-{label}.mlir")
        atomic_write_text(path, print_ir(module, debuginfo=self.debuginfo))
        self.count += 1

    def before_pipeline(self, module):
        self._write("input", module)

    def after_pass(self, p, module, changed):
        self._write(p.name, module)


@dataclass
class TimingInstrument(PassInstrument):
    """Measure wall time per pass; ``report()`` formats the table printed by ``--time-passes``."""

    times: list[tuple[str, float]] = field(default_factory=list)
    _start: float = 0.0

    def before_pass(self, p, module):
        self._start = time.perf_counter()

    def after_pass(self, p, module, changed):
        self.times.append((p.name, time.perf_counter() - self._start))

    def after_failure(self, p, module):
        self.after_pass(p, module, False)

    def report(self) -> str:
        total = sum(t for _, t in self.times) or 1e-12
        lines = [
            "===" + "-" * 60 + "===",
            "  Pass execution timing report",
            "===" + "-" * 60 + "===",
            f"  Total: {total:.4f} s",
            "   Wall Time (s)   (%)   Name",
        ]
        for name, t in self.times:
            lines.append(f"   {t:12.4f}  {100 * t / total:5.1f}%  {name}")
        return "\n".join(lines) + "\n"

    def after_pipeline(self, module):
        pass
