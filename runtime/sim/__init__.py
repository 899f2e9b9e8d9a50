"""The simulated chip: machine state, instruction semantics, exact numerics and the cost model."""

from .machine import MODES, Machine, SimError
from .runner import RunError, RunResult, run_program
from .session import Session

__all__ = ["MODES", "Machine", "RunError", "RunResult", "Session", "SimError", "run_program"]
