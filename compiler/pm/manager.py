"""The pass manager: runs passes in order with contracts, verification and instruments."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError
from ..ir.verifier import verify
from ..util.memory import reclaim
from .instruments import PassInstrument
from .pass_base import Pass, PassFailure
from .pipeline import print_pipeline


@dataclass
class PassManager:
    """Runs ``passes`` over a module. The IR is verified after every pass that reports a change
    unless ``verify_each`` is off (a pass that changed nothing left the IR as the last
    verification saw it); a pass that breaks the IR is named in the error."""

    passes: list[Pass] = field(default_factory=list)
    instruments: list[PassInstrument] = field(default_factory=list)
    verify_each: bool = True

    def add(self, p: Pass) -> PassManager:
        self.passes.append(p)
        return self

    def pipeline(self) -> str:
        return print_pipeline(self.passes)

    def run(self, module: ModuleOp) -> bool:
        """Run every pass; return whether any changed the module. Raises IRError on failure."""
        for ins in self.instruments:
            ins.before_pipeline(module)
        changed_any = False
        for p in self.passes:
            for ins in self.instruments:
                ins.before_pass(p, module)
            try:
                p.requires(module)
                changed = bool(p.run(module))
                p.ensures(module)
                if self.verify_each and changed:
                    verify(module)
            except IRError as exc:
                for ins in self.instruments:
                    ins.after_failure(p, module)
                if isinstance(exc, PassFailure):
                    raise
                raise type(exc)(
                    f"{exc.message} [after pass '{p.name}']", exc.loc, exc.source
                ) from None
            changed_any |= changed
            if changed:
                reclaim()  # what the pass erased and freed (see util/memory.py)
            for ins in self.instruments:
                ins.after_pass(p, module, changed)
        for ins in self.instruments:
            ins.after_pipeline(module)
        return changed_any
