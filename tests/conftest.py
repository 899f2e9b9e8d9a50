"""pytest plugin: run lit-style golden tests (``// RUN:`` lines) found in ``tests/**/*.mlir``.

Each file whose text contains ``RUN:`` lines becomes one pytest item. The RUN lines are run by bash
with ``pipefail``; substitutions: ``%s`` (the file), ``%S`` (its folder), ``%t`` (a fresh temporary
path), and the tool names ``imcc``, ``imcc-opt``, ``imcc-run``, ``filecheck`` become the current
Python's modules, so the tests use the code under test whatever the PATH. ``not CMD`` succeeds when
CMD fails (as in lit).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = {
    "imcc-opt": "imcc.compiler.tools.opt",
    "imcc": "imcc.compiler.tools.driver",
    "imcc-run": "imcc.tools.run",
    "imcc-as": "imcc.runtime.tools.asm",
    "imcc-objdump": "imcc.runtime.tools.objdump",
    "filecheck": "filecheck",
}
_TOOL_RE = re.compile(
    r"(?<![\w./-])("
    + "|".join(re.escape(t) for t in sorted(TOOLS, key=len, reverse=True))
    + r")(?![\w.-])"
)
# Shared helper modules of several test folders (``tests/_*.py``) import as top-level modules.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

_PRELUDE = 'set -o pipefail\nnot() { if "$@"; then return 1; else return 0; fi; }\n'


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".mlir" and "RUN:" in file_path.read_text(encoding="utf-8"):
        return GoldenFile.from_parent(parent, path=file_path)
    return None


class GoldenFile(pytest.File):
    def collect(self):
        yield GoldenItem.from_parent(self, name=self.path.name)


class GoldenItem(pytest.Item):
    def runtest(self):
        text = self.path.read_text(encoding="utf-8")
        commands = _run_lines(text)
        tmp = self.config._tmp_path_factory.mktemp("golden") / "t"
        py = shlex.quote(sys.executable)
        for cmd in commands:
            cmd = cmd.replace("%s", shlex.quote(str(self.path)))
            cmd = cmd.replace("%S", shlex.quote(str(self.path.parent)))
            cmd = cmd.replace("%t", shlex.quote(str(tmp)))
            cmd = _TOOL_RE.sub(lambda m: f"{py} -m {TOOLS[m.group(1)]}", cmd)
            proc = subprocess.run(
                ["bash", "-c", _PRELUDE + cmd], capture_output=True, text=True, timeout=300
            )
            if proc.returncode != 0:
                raise GoldenFailure(cmd, proc)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, GoldenFailure):
            f = excinfo.value
            return (
                f"RUN failed (exit {f.proc.returncode}): {f.cmd}\n"
                f"--- stdout ---\n{f.proc.stdout[-4000:]}\n--- stderr ---\n{f.proc.stderr[-4000:]}"
            )
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"golden: {self.name}"


class GoldenFailure(Exception):
    def __init__(self, cmd, proc):
        super().__init__(cmd)
        self.cmd = cmd
        self.proc = proc


def _run_lines(text: str) -> list[str]:
    """RUN lines; a trailing backslash continues a command on the next RUN line."""
    commands, current = [], ""
    for line in text.splitlines():
        m = re.search(r"RUN:(.*)$", line)
        if not m:
            continue
        part = m.group(1).strip()
        if part.endswith("\\"):
            current += part[:-1] + " "
            continue
        commands.append(current + part)
        current = ""
    return commands
