"""The fast seeded subset of the fuzz campaign (``make fuzz`` runs 5,000 cases): every tool, on
mutated IR text, ONNX models, prog.bin files, .npy inputs and random command lines, exits 0 or
refuses with one error line — no internal error, traceback, hang, memory blow-up or leftover
output (see fuzzkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzzkit import campaign, summary  # noqa: E402

CASES = 300


def test_a_seeded_fuzz_campaign_finds_nothing():
    outcomes = campaign(list(range(CASES)), seed=7)
    assert len(outcomes) == CASES
    assert {o.kind for o in outcomes} == {"ir", "onnx", "bin", "npy", "cli"}
    findings = [o for o in outcomes if o.verdict not in ("ok", "refused")]
    assert not findings, summary(outcomes)
