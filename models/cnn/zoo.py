"""Classic model-zoo CNNs rebuilt as ONNX with seeded random weights (nothing can be downloaded).

They are importer test inputs with the shapes and op mix of the old zoo files, not trained nets:

* ``resnet50``: ResNet-50 v1 (He et al. 2016; stride in the first 1x1 of a downsampling bottleneck,
  as the original and the MXNet/Caffe2 zoo exports), 224x224, Conv + separate BatchNormalization,
  GlobalAveragePool, Flatten + Gemm, opset 9. ``resnet18`` is the basic-block sibling.
* ``squeezenet``: SqueezeNet 1.0 as converted from Caffe: opset 9, every initializer also listed
  as a graph input, fire modules (squeeze 1x1, expand 1x1 and 3x3, Concat), MaxPool with
  (0, 0, 1, 1) pads standing in for Caffe's ceil mode, Dropout, a 13x13 AveragePool, Reshape with
  a shape initializer of (0, -1), Softmax.
* ``googlenet``: BVLC GoogLeNet in the same opset 9 style, adding LRN, four-branch inception
  Concats, and Reshape to an explicit (1, 1024) before the Gemm.
* ``oldnet``: a 32x32 model with all of the old-export features above in 20-odd nodes, for fast
  tests.
* ``vgg19``: VGG-19 (Simonyan & Zisserman 2015, configuration E) for 32x32 inputs and 10 classes
  (the CIFAR variant: 16 conv 3x3 + ReLU, 5 max pools, one classifier layer): 20 M weights, more
  than the 128 arrays of the ``cluster`` target hold, so a program reprograms them.

    python -m models.cnn.zoo --model resnet50 --out models/build/resnet50.onnx
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import onnx

from .onnx_builder import GraphBuilder, save_model

DEFAULT_SEED = 0
OLD_OPSET = 9

# -- ResNet ---------------------------------------------------------------------------------------

RESNET_STAGES = {
    # name: (block kind, repeats per stage)
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
RESNET_WIDTHS = (64, 128, 256, 512)


# The last BN of a residual branch gets small gammas, as in trained ResNets (and zero-gamma init):
# the branch then refines the identity path instead of doubling its variance at every block.
BRANCH_END_GAMMA = (0.1, 0.4)


def _conv_bn(
    b: GraphBuilder,
    x: str,
    cout: int,
    kernel: int,
    name: str,
    stride=1,
    relu=True,
    gamma=(0.5, 1.5),
) -> str:
    y = b.conv(x, cout, kernel, name, stride=stride)
    y = b.batchnorm(y, f"{name}.bn", gamma)
    return b.relu(y, f"{name}.relu") if relu else y


def _shortcut(b: GraphBuilder, x: str, cout: int, stride: int, name: str) -> str:
    """Identity, or a strided 1x1 conv + BN when the block changes shape."""
    if stride == 1 and b.acts[x].shape[1] == cout:
        return x
    return _conv_bn(b, x, cout, 1, f"{name}.downsample", stride=stride, relu=False)


def _basic_block(b: GraphBuilder, x: str, width: int, stride: int, name: str) -> str:
    y = _conv_bn(b, x, width, 3, f"{name}.conv1", stride=stride)
    y = _conv_bn(b, y, width, 3, f"{name}.conv2", relu=False, gamma=BRANCH_END_GAMMA)
    y = b.add(_shortcut(b, x, width, stride, name), y, f"{name}.add")
    return b.relu(y, f"{name}.relu")


def _bottleneck_block(b: GraphBuilder, x: str, width: int, stride: int, name: str) -> str:
    # v1: the stride sits on the first 1x1 conv (v1.5 would put it on the 3x3).
    y = _conv_bn(b, x, width, 1, f"{name}.conv1", stride=stride)
    y = _conv_bn(b, y, width, 3, f"{name}.conv2")
    y = _conv_bn(b, y, 4 * width, 1, f"{name}.conv3", relu=False, gamma=BRANCH_END_GAMMA)
    y = b.add(_shortcut(b, x, 4 * width, stride, name), y, f"{name}.add")
    return b.relu(y, f"{name}.relu")


def build_resnet(
    name: str = "resnet50", seed: int = DEFAULT_SEED, resolution: int = 224, num_classes: int = 1000
) -> onnx.ModelProto:
    """ResNet-18 or ResNet-50 v1 at opset 9 with BatchNormalization nodes and Flatten + Gemm."""
    kind, repeats = RESNET_STAGES[name]
    block = _basic_block if kind == "basic" else _bottleneck_block
    b = GraphBuilder(name, OLD_OPSET, seed)
    x = b.add_input("data", (1, 3, resolution, resolution))
    x = _conv_bn(b, x, 64, 7, "conv1", stride=2)
    x = b.maxpool(x, 3, 2, "maxpool", pads=(1, 1, 1, 1))
    for stage, (width, count) in enumerate(zip(RESNET_WIDTHS, repeats), start=1):
        for i in range(count):
            stride = 2 if i == 0 and stage > 1 else 1
            x = block(b, x, width, stride, f"layer{stage}.{i}")
    x = b.global_average_pool(x, "avgpool")
    x = b.flatten(x, "flatten")
    logits = b.gemm(x, num_classes, "fc")
    return b.model([logits], doc=f"{name} v1, seeded random weights (seed {seed}).")


# -- SqueezeNet / GoogLeNet style (Caffe-converted, opset 9) --------------------------------------

CEIL_PADS = (0, 0, 1, 1)  # one extra row and column at the end: Caffe's ceil-mode pooling


def _conv_relu(
    b: GraphBuilder, x: str, cout: int, kernel: int, name: str, stride=1, pad=None
) -> str:
    y = b.conv(x, cout, kernel, name, stride=stride, pad=pad, bias=True)
    return b.relu(y, f"{name}/relu")


def _fire(b: GraphBuilder, x: str, squeeze: int, expand: int, name: str) -> str:
    s = _conv_relu(b, x, squeeze, 1, f"{name}/squeeze1x1")
    e1 = _conv_relu(b, s, expand, 1, f"{name}/expand1x1")
    e3 = _conv_relu(b, s, expand, 3, f"{name}/expand3x3")
    return b.concat([e1, e3], f"{name}/concat")


def _inception(b: GraphBuilder, x: str, widths: tuple[int, ...], name: str) -> str:
    """GoogLeNet inception: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, concatenated."""
    c1, r3, c3, r5, c5, pool_proj = widths
    a = _conv_relu(b, x, c1, 1, f"{name}/1x1")
    m = _conv_relu(b, _conv_relu(b, x, r3, 1, f"{name}/3x3_reduce"), c3, 3, f"{name}/3x3")
    n = _conv_relu(b, _conv_relu(b, x, r5, 1, f"{name}/5x5_reduce"), c5, 5, f"{name}/5x5")
    p = b.maxpool(x, 3, 1, f"{name}/pool", pads=(1, 1, 1, 1))
    p = _conv_relu(b, p, pool_proj, 1, f"{name}/pool_proj")
    return b.concat([a, m, n, p], f"{name}/output")


SQUEEZENET_FIRES = {
    # fire index: (squeeze, expand per branch); a ceil-mode max pool follows fires 4 and 8
    2: (16, 64),
    3: (16, 64),
    4: (32, 128),
    5: (32, 128),
    6: (48, 192),
    7: (48, 192),
    8: (64, 256),
    9: (64, 256),
}


def build_squeezenet(seed: int = DEFAULT_SEED) -> onnx.ModelProto:
    """SqueezeNet 1.0 (Iandola et al. 2016) at 224x224 in Caffe-converted opset 9 form."""
    b = GraphBuilder("squeezenet", OLD_OPSET, seed)
    x = b.add_input("data_0", (1, 3, 224, 224))
    x = _conv_relu(b, x, 96, 7, "conv1", stride=2, pad=0)
    x = b.maxpool(x, 3, 2, "pool1", pads=CEIL_PADS)
    for index, (squeeze, expand) in SQUEEZENET_FIRES.items():
        x = _fire(b, x, squeeze, expand, f"fire{index}")
        if index in (4, 8):
            x = b.maxpool(x, 3, 2, f"pool{index}", pads=CEIL_PADS)
    x = b.dropout(x, 0.5, "drop9")
    x = _conv_relu(b, x, 1000, 1, "conv10", pad=0)
    x = b.averagepool(x, 13, 1, "pool10")
    x = b.reshape(x, [0, -1], "flatten")
    probs = b.softmax(x, "softmaxout_1")
    return b.model([probs], initializers_as_inputs=True, doc=f"SqueezeNet 1.0, seed {seed}.")


GOOGLENET_INCEPTIONS = (
    # name, (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj); a max pool follows 3b and 4e
    ("inception_3a", (64, 96, 128, 16, 32, 32)),
    ("inception_3b", (128, 128, 192, 32, 96, 64)),
    ("inception_4a", (192, 96, 208, 16, 48, 64)),
    ("inception_4b", (160, 112, 224, 24, 64, 64)),
    ("inception_4c", (128, 128, 256, 24, 64, 64)),
    ("inception_4d", (112, 144, 288, 32, 64, 64)),
    ("inception_4e", (256, 160, 320, 32, 128, 128)),
    ("inception_5a", (256, 160, 320, 32, 128, 128)),
    ("inception_5b", (384, 192, 384, 48, 128, 128)),
)


def build_googlenet(seed: int = DEFAULT_SEED) -> onnx.ModelProto:
    """BVLC GoogLeNet (Szegedy et al. 2015) at 224x224 in Caffe-converted opset 9 form."""
    b = GraphBuilder("googlenet", OLD_OPSET, seed)
    x = b.add_input("data_0", (1, 3, 224, 224))
    x = _conv_relu(b, x, 64, 7, "conv1/7x7_s2", stride=2)
    x = b.maxpool(x, 3, 2, "pool1/3x3_s2", pads=CEIL_PADS)
    x = b.lrn(x, "pool1/norm1")
    x = _conv_relu(b, x, 64, 1, "conv2/3x3_reduce")
    x = _conv_relu(b, x, 192, 3, "conv2/3x3")
    x = b.lrn(x, "conv2/norm2")
    x = b.maxpool(x, 3, 2, "pool2/3x3_s2", pads=CEIL_PADS)
    for name, widths in GOOGLENET_INCEPTIONS:
        x = _inception(b, x, widths, name)
        if name in ("inception_3b", "inception_4e"):
            x = b.maxpool(x, 3, 2, f"pool{name[-2]}/3x3_s2", pads=CEIL_PADS)
    x = b.averagepool(x, 7, 1, "pool5/7x7_s1")
    x = b.dropout(x, 0.4, "pool5/drop_7x7_s1")
    x = b.reshape(x, [1, 1024], "OC2_DUMMY_0")
    x = b.gemm(x, 1000, "loss3/classifier")
    probs = b.softmax(x, "prob_1")
    return b.model([probs], initializers_as_inputs=True, doc=f"GoogLeNet (BVLC), seed {seed}.")


def build_oldnet(seed: int = DEFAULT_SEED) -> onnx.ModelProto:
    """A 3x32x32, 10-class opset 9 net with every old-export feature of squeezenet and googlenet."""
    b = GraphBuilder("oldnet", OLD_OPSET, seed)
    x = b.add_input("data_0", (1, 3, 32, 32))
    x = _conv_relu(b, x, 16, 5, "conv1")
    x = b.maxpool(x, 3, 2, "pool1", pads=CEIL_PADS)  # 32 -> 16
    x = b.lrn(x, "norm1")
    x = _fire(b, x, 8, 16, "fire2")
    x = _fire(b, x, 8, 16, "fire3")
    x = b.maxpool(x, 3, 2, "pool3", pads=CEIL_PADS)  # 16 -> 8
    x = _inception(b, x, (8, 8, 16, 4, 8, 8), "inception_4a")
    x = b.dropout(x, 0.5, "drop4")
    x = b.averagepool(x, 2, 2, "pool4")  # 8 -> 4
    x = _conv_relu(b, x, 10, 1, "conv5", pad=0)
    x = b.averagepool(x, 4, 1, "pool5")  # 4 -> 1
    x = b.reshape(x, [1, 10], "flatten")
    x = b.gemm(x, 10, "classifier")
    probs = b.softmax(x, "prob")
    return b.model([probs], initializers_as_inputs=True, doc=f"oldnet, seed {seed}.")


VGG19_STAGES = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def build_vgg19(seed: int = DEFAULT_SEED, resolution: int = 32) -> onnx.ModelProto:
    """VGG-19 (configuration E) for small inputs: 16 conv+ReLU, 5 max pools, one Gemm."""
    b = GraphBuilder("vgg19", 13, seed)
    x = b.add_input("input", (1, 3, resolution, resolution))
    for stage, (width, count) in enumerate(VGG19_STAGES, start=1):
        for i in range(count):
            x = _conv_relu(b, x, width, 3, f"conv{stage}_{i + 1}", pad=1)
        x = b.maxpool(x, 2, 2, f"pool{stage}")
    x = b.flatten(x, "flatten")
    logits = b.gemm(x, 10, "classifier")
    return b.model([logits], doc=f"VGG-19 for 32x32 inputs, seeded random weights (seed {seed}).")


BUILDERS: dict[str, Callable[[int], onnx.ModelProto]] = {
    "resnet18": lambda seed: build_resnet("resnet18", seed),
    "resnet50": lambda seed: build_resnet("resnet50", seed),
    "squeezenet": build_squeezenet,
    "googlenet": build_googlenet,
    "oldnet": build_oldnet,
    "vgg19": build_vgg19,
}


def main(argv: list[str] | None = None) -> int:
    """Build the model named by --model and write it to --out."""
    parser = argparse.ArgumentParser(
        prog="python -m models.cnn.zoo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, choices=sorted(BUILDERS))
    parser.add_argument("--out", type=Path, required=True, help="output .onnx path")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    model = BUILDERS[args.model](args.seed)
    try:
        size = save_model(model, args.out)
    except OSError as err:
        print(f"error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
