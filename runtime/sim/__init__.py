"""The simulated chip, one sub-package per job:

- `machine`: the executable definition (state, semantics, exact numerics, noise, footprints);
- `fast`: the prepared fast path of a `Session`, checked against that definition;
- `cost`: the cost model (cycles and energy, scheduling, the run report);
- `present`: the report made visible (Perfetto trace, PNG charts).

Running programs sits here: `Session` (load once, run many inferences) in `session`, and the
one-shot `run_program` in `runner`.
"""

from .machine.machine import MODES, Machine, SimError
from .runner import run_program
from .session import RunResult, Session
from .validate import RunError

__all__ = ["MODES", "Machine", "RunError", "RunResult", "Session", "SimError", "run_program"]
