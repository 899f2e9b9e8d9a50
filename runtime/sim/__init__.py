"""The simulated chip: machine state, instruction semantics, exact numerics and the cost model."""

from .machine import MODES, Machine, SimError
from .runner import RunError, RunResult, run_program

__all__ = ["MODES", "Machine", "RunError", "RunResult", "SimError", "run_program"]
