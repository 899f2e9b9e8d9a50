"""The bundled digits CNNs and the CNN generators: valid ONNX, runnable, reproducible. No torch."""

from __future__ import annotations

import collections
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # models/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from models.cnn import mobilenetv2, zoo  # noqa: E402
from models.cnn.digits_data import load_split, split_fingerprint, split_indices  # noqa: E402

DIGITS = ROOT / "models" / "digits"
METRICS = json.loads((DIGITS / "metrics.json").read_text())
DIGITS_MODELS = sorted(METRICS["models"])


def session(model) -> ort.InferenceSession:
    """An onnxruntime CPU session; warnings about initializers listed as inputs are silenced."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def op_counts(model: onnx.ModelProto) -> collections.Counter:
    """Op type -> number of nodes."""
    return collections.Counter(node.op_type for node in model.graph.node)


def attr(node: onnx.NodeProto, name: str):
    """The value of a node's attribute."""
    return onnx.helper.get_attribute_value(next(a for a in node.attribute if a.name == name))


def trainable_params(model: onnx.ModelProto) -> int:
    """Element count of the initializers a framework would train (no BN running stats or constants)."""
    skip = ("running_mean", "running_var", ".shape", ".min", ".max", ".ratio")
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if not t.name.endswith(skip))


# -- the digits split -----------------------------------------------------------------------------


def test_split_is_fixed_disjoint_and_stratified():
    split = load_split()
    assert (len(split.y_train), len(split.y_calib), len(split.y_test)) == (
        METRICS["split"]["train"],
        METRICS["split"]["calib"],
        METRICS["split"]["test"],
    )
    assert split_fingerprint(split) == METRICS["split"]["fingerprint"]
    everything = np.concatenate([split.idx_train, split.idx_calib, split.idx_test])
    assert np.array_equal(np.sort(everything), np.arange(1797))
    assert np.all(np.bincount(split.y_test, minlength=10) >= 35)
    assert split.x_test.dtype == np.float32 and split.x_test.shape[1:] == (1, 8, 8)
    assert 0.0 <= split.x_test.min() and split.x_test.max() <= 1.0


def test_split_depends_on_seed_only():
    labels = np.repeat(np.arange(10), 20)
    first, again, other = (
        split_indices(labels, 1),
        split_indices(labels, 1),
        split_indices(labels, 2),
    )
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[2], other[2])
    assert [len(p) for p in first] == [140, 20, 40]


# -- the committed digits models ------------------------------------------------------------------


@pytest.mark.parametrize("name", DIGITS_MODELS)
def test_digits_model_reproduces_recorded_accuracy(name):
    entry = METRICS["models"][name]
    path = DIGITS / entry["file"]
    data = path.read_bytes()
    assert len(data) < 500_000
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], "model changed without metrics.json"
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)

    split = load_split()
    sess = session(path)
    logits = sess.run(None, {"input": split.x_test})[0]
    correct = int(np.sum(np.argmax(logits, axis=1) == split.y_test))
    assert correct == entry["test_correct"]
    assert len(split.y_test) == entry["test_total"]
    assert correct / len(split.y_test) == pytest.approx(entry["fp32_test_accuracy"], abs=1e-6)
    assert correct / len(split.y_test) >= 0.95

    # Dynamic batch: one image at a time gives the same logits as the whole test set at once.
    single = sess.run(None, {"input": split.x_test[:3][1:2]})[0]
    np.testing.assert_allclose(single, logits[1:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", DIGITS_MODELS)
def test_digits_model_keeps_batchnorm_nodes(name):
    model = onnx.load(str(DIGITS / METRICS["models"][name]["file"]))
    counts = op_counts(model)
    assert counts["BatchNormalization"] == counts["Conv"] > 0
    assert dict(sorted(counts.items())) == METRICS["models"][name]["ops"]
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value


def test_digits_mbv2_has_inverted_residual_blocks():
    model = onnx.load(str(DIGITS / "digits_mbv2.onnx"))
    inits = {t.name: t for t in model.graph.initializer}
    depthwise = [
        n
        for n in model.graph.node
        if n.op_type == "Conv" and attr(n, "group") == inits[n.input[1]].dims[0] > 1
    ]
    counts = op_counts(model)
    assert len(depthwise) == 5 and counts["Add"] == 3 and counts["Clip"] >= 10


# -- generators -----------------------------------------------------------------------------------

GENERATED = {
    # name: (CLI main, argv, output shape, trainable parameters or None)
    "mobilenetv2": (mobilenetv2.main, [], (1, 1000), 3_504_872),
    "bottleneck_b2": (mobilenetv2.main, ["--block", "b2"], (1, 24, 56, 56), None),
    "mobilenetv2_opset9": (mobilenetv2.main, ["--opset", "9"], (1, 1000), 3_504_872),
    "resnet50": (zoo.main, ["--model", "resnet50"], (1, 1000), 25_557_032),
    "resnet18": (zoo.main, ["--model", "resnet18"], (1, 1000), 11_689_512),
    "squeezenet": (zoo.main, ["--model", "squeezenet"], (1, 1000), 1_248_424),
    "googlenet": (zoo.main, ["--model", "googlenet"], (1, 1000), 6_998_552),
    "oldnet": (zoo.main, ["--model", "oldnet"], (1, 10), None),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Every generated model, written once through its command-line entry point."""
    out = tmp_path_factory.mktemp("cnn")
    paths = {}
    for name, (main, argv, _, _) in GENERATED.items():
        paths[name] = out / f"{name}.onnx"
        assert main([*argv, "--out", str(paths[name])]) == 0
    return paths


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_model_is_valid_and_runs(built, name):
    _, _, out_shape, params = GENERATED[name]
    path = built[name]
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    if params is not None:  # the counts of the reference architectures (torchvision / BVLC)
        assert trainable_params(model) == params
    sess = session(path)
    inp = sess.get_inputs()[0]
    x = np.random.RandomState(7).standard_normal(inp.shape).astype(np.float32)
    y = sess.run(None, {inp.name: x})[0]
    assert y.shape == out_shape
    assert np.all(np.isfinite(y))
    assert 0.01 < float(np.std(y)) < 100.0  # neither dead nor exploding activations


def test_resnet50_layout(built):
    model = onnx.load(str(built["resnet50"]))
    counts = op_counts(model)
    assert model.opset_import[0].version == 9
    assert counts["Conv"] == counts["BatchNormalization"] == 53
    assert (counts["Add"], counts["Flatten"], counts["Gemm"]) == (16, 1, 1)
    # v1: the downsampling stride sits on the first 1x1 conv of the block
    conv1 = next(n for n in model.graph.node if n.name == "layer2.0.conv1")
    assert attr(conv1, "strides") == [2, 2] and attr(conv1, "kernel_shape") == [1, 1]


def test_mobilenetv2_blocks_and_relu6_forms(built):
    new = onnx.load(str(built["mobilenetv2"]))
    old = onnx.load(str(built["mobilenetv2_opset9"]))
    assert op_counts(new)["Add"] == 10 and op_counts(new)["BatchNormalization"] == 52
    assert all(len(n.input) == 3 for n in new.graph.node if n.op_type == "Clip")
    assert all(
        len(n.input) == 1 and len(n.attribute) == 2 for n in old.graph.node if n.op_type == "Clip"
    )
    block = onnx.load(str(built["bottleneck_b2"]))
    assert [n.op_type for n in block.graph.node] == (
        ["Conv", "BatchNormalization", "Clip"] * 2 + ["Conv", "BatchNormalization", "Add"]
    )
    dw = block.graph.node[3]
    assert attr(dw, "group") == 144


@pytest.mark.parametrize("name", ["oldnet", "squeezenet", "googlenet"])
def test_old_opset_export_features(built, name):
    model = onnx.load(str(built[name]))
    graph = model.graph
    assert model.opset_import[0].version == 9 and model.ir_version <= 4
    inputs = {i.name for i in graph.input}
    assert {t.name for t in graph.initializer} <= inputs  # initializers also listed as inputs
    counts = op_counts(model)
    for op in ("Dropout", "MaxPool", "Concat", "AveragePool", "Reshape", "Softmax"):
        assert counts[op] > 0, op
    reshape = next(n for n in graph.node if n.op_type == "Reshape")
    shape = next(t for t in graph.initializer if t.name == reshape.input[1])
    assert numpy_helper.to_array(shape).dtype == np.int64
    ceil_pads = [
        n for n in graph.node if n.op_type == "MaxPool" and attr(n, "pads") == [0, 0, 1, 1]
    ]
    assert ceil_pads, "no Caffe ceil-mode MaxPool pads"
    if name != "squeezenet":
        assert counts["LRN"] > 0


@pytest.mark.parametrize(
    "build",
    [
        lambda seed: mobilenetv2.build_mobilenetv2(seed),
        lambda seed: mobilenetv2.build_bottleneck("b3", seed),
        lambda seed: zoo.build_oldnet(seed),
        lambda seed: zoo.build_squeezenet(seed),
    ],
    ids=["mobilenetv2", "bottleneck_b3", "oldnet", "squeezenet"],
)
def test_generators_are_deterministic(build):
    first = build(0).SerializeToString()
    assert build(0).SerializeToString() == first
    assert build(1).SerializeToString() != first


def test_resnet50_bytes_are_reproducible(built):
    assert zoo.build_resnet("resnet50", 0).SerializeToString() == built["resnet50"].read_bytes()


@pytest.mark.parametrize("block", sorted(mobilenetv2.BLOCKS))
def test_every_bottleneck_preset_runs(block):
    model = mobilenetv2.build_bottleneck(block)
    onnx.checker.check_model(model, full_check=True)
    channels, size = mobilenetv2.BLOCKS[block]
    x = np.random.RandomState(3).standard_normal((1, channels, size, size)).astype(np.float32)
    y = session(model).run(None, {"input": x})[0]
    assert y.shape == x.shape and np.all(np.isfinite(y))


def test_cli_reports_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert zoo.main(["--model", "oldnet", "--out", str(blocker / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write") and "\n" not in err
