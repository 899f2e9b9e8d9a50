"""Pass manager: pipeline strings, contracts, verification, instruments."""

from __future__ import annotations

import dataclasses
import io
import os

import imcc.compiler.dialects  # noqa: F401
import imcc.compiler.passes  # noqa: F401  (registers the passes)
import pytest
from imcc.compiler.ir import VerificationError, parse_module
from imcc.compiler.pm import Pass, PassFailure, PassManager, parse_pipeline, print_pipeline
from imcc.compiler.pm.instruments import DumpDirInstrument, PrintIRInstrument, TimingInstrument
from imcc.compiler.pm.pass_base import describe_passes
from imcc.compiler.pm.pipeline import PipelineError

SRC = """
"func.func"() ({
^bb0(%a: tensor<2xf32>):
  %0 = "test.add"(%a, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %1 = "test.add"(%a, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %2 = "test.add"(%0, %1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%2) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()
"""


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("cse", "cse"),
        ("canonicalize,cse{max-iter=3}", "canonicalize,cse{max-iter=3}"),
        (" cse { max-iter=1 } , dce ", "cse,dce"),
        (
            "canonicalize{max-iter=2 debug-patterns=true}",
            "canonicalize{max-iter=2 debug-patterns=true}",
        ),
        ("", ""),
    ],
)
def test_pipeline_round_trip(text, canonical):
    passes = parse_pipeline(text)
    assert print_pipeline(passes) == canonical
    assert print_pipeline(parse_pipeline(canonical)) == canonical


@pytest.mark.parametrize(
    "text, message",
    [
        ("cse,frob", "unknown pass 'frob'"),
        ("cse{max-itr=3}", "has no option 'max-itr' (options: max-iter)"),
        ("cse{max-iter=x}", "expects int, got 'x'"),
        ("cse{max-iter}", "needs a value"),
        ("cse{max-iter=0}", "max-iter must be at least 1"),
        ("cse{max-iter=1", "unbalanced '{'"),
        ("cse}", "unbalanced '}'"),
    ],
)
def test_pipeline_errors(text, message):
    with pytest.raises(PipelineError) as info:
        parse_pipeline(text)
    assert message in info.value.message
    assert info.value.render().startswith("<pipeline>:1:")


def test_every_pass_is_listed_with_summary():
    text = describe_passes()
    for name in ("canonicalize", "cse", "dce", "fold-constants"):
        assert name in text
    assert "max-iter" in text


def test_passes_report_change():
    module = parse_module(SRC)
    assert PassManager(parse_pipeline("cse")).run(module) is True
    assert PassManager(parse_pipeline("cse")).run(module) is False


@dataclasses.dataclass(frozen=True)
class _Breaker(Pass):
    name = "test-breaker"
    summary = "moves the return to the front (breaks dominance)"

    def run(self, module):
        fn = module.body.ops[0]
        ret = fn.body.ops[-1]
        fn.body.remove(ret)
        fn.body.insert(0, ret)
        return True


@dataclasses.dataclass(frozen=True)
class _Picky(Pass):
    name = "test-picky"
    summary = "requires a function named g"

    def requires(self, module):
        if module.lookup_symbol("g") is None:
            raise PassFailure("test-picky needs a function named 'g'")

    def run(self, module):
        return False


def test_verification_after_each_pass_names_the_pass():
    module = parse_module(SRC)
    with pytest.raises(VerificationError) as info:
        PassManager([_Breaker()]).run(module)
    assert "after pass 'test-breaker'" in info.value.message


def test_requires_contract():
    with pytest.raises(PassFailure, match="named 'g'"):
        PassManager([_Picky()]).run(parse_module(SRC))


def test_instruments(tmp_path):
    stream = io.StringIO()
    timing = TimingInstrument()
    pm = PassManager(
        parse_pipeline("cse,dce"),
        [
            PrintIRInstrument(before={"cse"}, after_change=True, stream=stream),
            DumpDirInstrument(str(tmp_path / "dumps")),
            timing,
        ],
    )
    pm.run(parse_module(SRC))
    out = stream.getvalue()
    assert "IR Dump Before cse" in out and "IR Dump After cse" in out
    assert "IR Dump After dce" not in out  # dce changed nothing
    assert sorted(os.listdir(tmp_path / "dumps")) == ["00-input.mlir", "01-cse.mlir", "02-dce.mlir"]
    assert [name for name, _ in timing.times] == ["cse", "dce"]
    assert "Pass execution timing report" in timing.report()


def test_print_after_failure():
    stream = io.StringIO()
    pm = PassManager([_Breaker()], [PrintIRInstrument(after_failure_=True, stream=stream)])
    with pytest.raises(VerificationError, match="is a terminator but is not the last op"):
        pm.run(parse_module(SRC))
    assert "IR Dump After test-breaker Failed" in stream.getvalue()
