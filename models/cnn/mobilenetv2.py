"""MobileNetV2 and its bottleneck blocks as ONNX, with seeded random weights (no torch, no download).

The full network is the standard one of Sandler et al. 2018 (Table 2): 224x224x3 input, width 1.0,
a 3x3 stride-2 stem of 32 channels, seventeen inverted residual blocks, a 1x1 head of 1280 channels,
global average pooling and a 1000-way Gemm. Every convolution is followed by its own
BatchNormalization node (nothing folded, as in zoo exports); ReLU6 is Clip(0, 6).

A bottleneck block is one inverted residual block with a residual Add: 1x1 expand (x6) + BN + ReLU6,
3x3 depthwise + BN + ReLU6, 1x1 linear project + BN, plus the input. ``BLOCKS`` names every residual
block shape that occurs in the network; the default ``b2`` is stage 2's second block (24 channels at
56x56, expanded to 144): the highest-resolution residual bottleneck of MobileNetV2-224.

    python -m models.cnn.mobilenetv2 --out models/build/mobilenetv2.onnx
    python -m models.cnn.mobilenetv2 --block b2 --out models/build/mbv2_bottleneck.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import onnx

from .onnx_builder import GraphBuilder, save_model

DEFAULT_SEED = 0
DEFAULT_OPSET = 13

# (expansion t, output channels c, repeats n, stride of the first repeat s), Sandler et al. Table 2.
STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

# Residual bottleneck shapes in MobileNetV2-224: name -> (channels, height = width). Stage k's
# repeats after the first keep their shape and add the input back.
BLOCKS = {
    "b2": (24, 56),
    "b3": (32, 28),
    "b4": (64, 14),
    "b5": (96, 14),
    "b6": (160, 7),
}
BLOCK_EXPANSION = 6


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor``, never more than 10 % below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(
    b: GraphBuilder, x: str, cout: int, kernel: int, name: str, stride=1, group=1, act=True
) -> str:
    """Conv (no bias) + BatchNormalization, then ReLU6 unless ``act`` is false (linear bottleneck)."""
    y = b.conv(x, cout, kernel, f"{name}.conv", stride=stride, group=group)
    y = b.batchnorm(y, f"{name}.bn")
    return b.relu6(y, f"{name}.relu6") if act else y


def inverted_residual(
    b: GraphBuilder, x: str, cout: int, expand: int, stride: int, name: str
) -> str:
    """One MobileNetV2 block; expansion 1 skips the 1x1 expand, as the first block of the net does."""
    cin = b.acts[x].shape[1]
    hidden = cin * expand
    y = conv_bn(b, x, hidden, 1, f"{name}.expand") if expand != 1 else x
    y = conv_bn(b, y, hidden, 3, f"{name}.dw", stride=stride, group=hidden)
    y = conv_bn(b, y, cout, 1, f"{name}.project", act=False)
    if stride == 1 and cin == cout:
        y = b.add(x, y, f"{name}.add")
    return y


def build_mobilenetv2(
    seed: int = DEFAULT_SEED,
    opset: int = DEFAULT_OPSET,
    resolution: int = 224,
    width: float = 1.0,
    num_classes: int = 1000,
    batch: int | str = 1,
) -> onnx.ModelProto:
    """The MobileNetV2 classifier; ``width``/``resolution`` other than 1.0/224 give small variants."""
    b = GraphBuilder("mobilenetv2", opset, seed)
    x = b.add_input("input", (batch, 3, resolution, resolution))
    x = conv_bn(b, x, make_divisible(32 * width), 3, "stem", stride=2)
    index = 1
    for expand, channels, repeats, stride in STAGES:
        cout = make_divisible(channels * width)
        for r in range(repeats):
            x = inverted_residual(b, x, cout, expand, stride if r == 0 else 1, f"block{index}")
            index += 1
    x = conv_bn(b, x, make_divisible(1280 * max(1.0, width)), 1, "head")
    x = b.global_average_pool(x, "pool")
    x = b.flatten(x, "flatten")
    logits = b.gemm(x, num_classes, "logits")
    doc = f"MobileNetV2 width {width} at {resolution}x{resolution}, seeded random weights (seed {seed})."
    return b.model([logits], doc=doc)


def build_bottleneck(
    block: str = "b2", seed: int = DEFAULT_SEED, opset: int = DEFAULT_OPSET, batch: int | str = 1
) -> onnx.ModelProto:
    """One residual bottleneck of MobileNetV2-224 (see ``BLOCKS``), input and output N x C x H x W."""
    channels, size = BLOCKS[block]
    b = GraphBuilder(f"mobilenetv2_bottleneck_{block}", opset, seed)
    x = b.add_input("input", (batch, channels, size, size))
    y = inverted_residual(b, x, channels, BLOCK_EXPANSION, 1, "bottleneck")
    doc = (
        f"MobileNetV2 bottleneck {block}: {channels}x{size}x{size}, 1x1 expand to "
        f"{channels * BLOCK_EXPANSION}, 3x3 depthwise, 1x1 project, residual Add; seed {seed}."
    )
    return b.model([y], doc=doc)


def main(argv: list[str] | None = None) -> int:
    """Build MobileNetV2 (or one bottleneck with --block) and write it to --out."""
    parser = argparse.ArgumentParser(
        prog="python -m models.cnn.mobilenetv2", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="output .onnx path")
    parser.add_argument("--block", choices=sorted(BLOCKS), help="build only this bottleneck block")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, choices=range(9, 22), metavar="9..21"
    )
    args = parser.parse_args(argv)
    if args.block:
        model = build_bottleneck(args.block, args.seed, args.opset)
    else:
        model = build_mobilenetv2(args.seed, args.opset)
    try:
        size = save_model(model, args.out)
    except OSError as err:
        print(f"error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
