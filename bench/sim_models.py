"""The benchmark workloads as hand-built IMC programs, int-exact references and fp32 ONNX twins.

Each builder returns a `Workload`: the program (built with `simprog.ProgramBuilder`), its inputs,
an int-exact numpy reference of the quantized network (`sim_quant`), and the equivalent fp32 ONNX
model whose weights are the dequantized ternary (and int8 depthwise) weights. Quantization
parameters come from the float network on the benchmark input itself: activation scales from
max|a|, each array window's ADC step from its largest exact column sum (the ADC rounds but never
clips on that input). Weights and inputs are drawn from seeded generators.

- `bottleneck`: a MobileNetV2 block on `cluster`: 1×1 expand (ternary, arrays) → requant + ReLU6
  (cores) → 3×3 depthwise (dw.conv) → requant + ReLU6 → 1×1 project (ternary, arrays) → requant to
  f32 → + input (cores) → int8.
- `mlp`: ReLU MLP on `cluster`, ternary layers tiled over 256 × 256 arrays, f32 logits.
- `ffn`: BERT FFN on `bert-chip`: 768 → 3072 (ternary, 1024 × 1024 arrays) → GELU on the cores →
  int8 → 768, f32 output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sim_onnx
import sim_quant as q
from imcc.runtime.isa.program import Program
from imcc.runtime.sim.machine.numerics import gelu as runtime_gelu
from imcc.runtime.targets import load_target
from simprog import ProgramBuilder

F32 = np.float32


@dataclass
class Workload:
    """A benchmark program with everything needed to run and check it.

    ``reference(mode)`` is the expected dequantized output for mode ``ideal`` or ``adc``;
    ``dequantize(outputs)`` turns the simulator's outputs into the same float layout;
    ``ort_output(y)`` maps onnxruntime's output into that layout too.
    """

    name: str
    program: Program
    inputs: dict[str, np.ndarray]
    onnx_model: object
    ort_inputs: dict[str, np.ndarray]
    reference: Callable[[str], np.ndarray]
    dequantize: Callable[[dict], np.ndarray]
    ort_output: Callable[[np.ndarray], np.ndarray]
    macs: int


def _adc_bits(mode: str, group) -> int | None:
    if mode not in ("ideal", "adc"):
        raise ValueError(f"the reference covers modes ideal and adc, not {mode!r}")
    return None if mode == "ideal" else group.adc_bits


def _dense(rng, k: int, n: int, gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random float layer, ternarized: (t, α, bias); float weights are t·α."""
    w = rng.standard_normal((k, n)) * np.sqrt(gain / k)
    t, alpha = q.ternarize(w)
    return t, alpha, (rng.standard_normal(n) * 0.1).astype(F32)


def _analog(target):
    return next(g for g in target.arrays if g.kind == "analog")


# --- MobileNetV2 bottleneck -----------------------------------------------------------------------


def bottleneck(h: int = 56, w: int = 56, c: int = 24, expand: int = 6, seed: int = 0) -> Workload:
    """One MobileNetV2 inverted-residual block (stride 1) on an h × w × c int8 HWC input."""
    rng = np.random.default_rng(seed)
    target = load_target("cluster")
    g = _analog(target)
    ce = c * expand
    t1, a1, b1 = _dense(rng, c, ce, 2.0)
    wd = rng.standard_normal((3, 3, ce)) / 3
    sdw = (np.abs(wd).max(axis=(0, 1)) / 127).astype(F32)
    wdq = np.rint(wd / sdw).astype(np.int8)
    bd = (rng.standard_normal(ce) * 0.1).astype(F32)
    t3, a3, b3 = _dense(rng, ce, c, 1.0)

    # the float network (what the ONNX twin computes), for the activation scales
    xf = rng.standard_normal((h * w, c)).astype(F32)
    sx = q.scale_for(xf)
    xq = q.quant(xf, sx).astype(np.int8)
    x = xq.astype(F32) * sx
    hf = np.clip(x @ (t1 * a1) + b1, 0, 6)
    sh = sd = F32(6 / 127)  # ReLU6 outputs span 0..6
    df = np.clip(_dw_float(hf.reshape(h, w, ce), wdq * sdw) + bd, 0, 6).reshape(h * w, ce)
    yf = x + (df @ (t3 * a3) + b3)
    sy = q.scale_for(yf)

    # requant constants (float32, shared by program and reference)
    r1 = (sx * a1 / sh).astype(F32), (b1 / sh).astype(F32)
    rd = (sh * sdw / sd).astype(F32), (bd / sd).astype(F32)
    r3 = (sd * a3).astype(F32), b3
    rx = np.full(c, sx, F32)

    def front(bits):
        """Expand, ReLU6, depthwise, ReLU6: the int8 input of the projection."""
        hq = q.requant(q.matmul(xq, t1, blk1, bits), *r1, lo=0, hi=127)
        acc2 = q.dwconv3x3(hq.reshape(h, w, ce), wdq).reshape(h * w, ce)
        return q.requant(acc2, *rd, lo=0, hi=127)

    def forward(bits):
        p = q.requant(q.matmul(front(bits), t3, blk3, bits), *r3, to_int=False)
        return q.quant(p + q.requant(xq, rx, to_int=False), sy)

    blk1 = q.choose_blocks(xq, t1, g.rows, g.cols, g.adc_bits)
    blk3 = q.choose_blocks(front(None), t3, g.rows, g.cols, g.adc_bits)

    consts = {"s1": r1[0], "b1": r1[1], "sd": rd[0], "bd": rd[1], "s3": r3[0], "b3": r3[1]}
    consts["sx"] = rx
    shapes = (h, w, c, ce)
    program = _bottleneck_program(target, shapes, sx, sy, consts, wdq, (t1, blk1), (t3, blk3))

    model = sim_onnx.bottleneck(h, w, c, t1 * a1, b1, wdq * sdw, bd, t3 * a3, b3)
    nchw = x.reshape(1, h, w, c).transpose(0, 3, 1, 2)
    return Workload(
        name=f"mobilenetv2-bottleneck {h}x{w}x{c} t={expand}",
        program=program,
        inputs={"x": xq.reshape(1, h, w, c)},
        onnx_model=model,
        ort_inputs={"x": np.ascontiguousarray(nchw)},
        reference=lambda mode: forward(_adc_bits(mode, g)).reshape(1, h, w, c) * sy,
        dequantize=lambda out: out["y"].astype(F32) * sy,
        ort_output=lambda yo: yo.transpose(0, 2, 3, 1),
        macs=h * w * (2 * c * ce + 9 * ce),
    )


def _bottleneck_program(target, shapes, sx, sy, consts, wdq, expand, project) -> Program:
    """The bottleneck as an IMC program: weights programmed, then one instruction per step."""
    h, w, c, ce = shapes
    n = h * w
    b = ProgramBuilder(target)
    xin = b.input("x", "i8", (1, h, w, c), scale=float(sx))
    y = b.output("y", "i8", (1, h, w, c), scale=float(sy))
    k = {name: b.const(name, "f32", v) for name, v in consts.items()}
    wdt = b.const("wd", "i8", wdq)
    l1 = b.ternary_layer("expand", *expand)
    l3 = b.ternary_layer("project", *project)
    b.barrier()
    acc1, hq = b.scratch("acc1", "i32", (n, ce)), b.scratch("h", "i8", (n, ce))
    acc2, dq = b.scratch("acc2", "i32", (n, ce)), b.scratch("d", "i8", (n, ce))
    acc3, p = b.scratch("acc3", "i32", (n, c)), b.scratch("p", "f32", (n, c))
    xs = b.scratch("xs", "f32", (n, c))
    b.matmul(l1, xin, acc1)
    _requant(b, "expand", acc1, hq, k["s1"], k["b1"], lo=0, hi=127)  # + ReLU6
    pads = {"pad_t": 1, "pad_l": 1, "pad_b": 1, "pad_r": 1}
    hwc = {"h": h, "w": w, "c": ce, "kh": 3, "kw": 3}
    b.emit("dw.conv", ("imc.dwconv", "depthwise"), src=hq, wgt=wdt, dst=acc2, **hwc, **pads)
    _requant(b, "depthwise", acc2, dq, k["sd"], k["bd"], lo=0, hi=127)
    b.matmul(l3, dq, acc3)
    _requant(b, "project", acc3, p, k["s3"], k["b3"])  # to f32, for the residual add
    _requant(b, "residual", xin, xs, k["sx"], None)  # the input, dequantized
    b.emit(
        "cl.eltwise",
        ("onnx.Add", "residual"),
        **{"op": "add", "dtype": "f32", "src": p, "src2": xs, "dst": p, "rows": n, "n": c},
    )
    b.emit("cl.quant", ("onnx.QuantizeLinear", "residual"), src=p, dst=y, count=n * c, scale=sy)
    return b.build()


def _dw_float(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Float 3 × 3 depthwise conv with zero padding (HWC)."""
    h, wd, _ = x.shape
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    return sum(xp[i : i + h, j : j + wd] * w[i, j] for i in range(3) for j in range(3))


def _requant(b, layer, src, dst, scale, bias, lo=None, hi=None) -> None:
    rows, channels = (src.size // dst.shape[-1], dst.shape[-1])
    fields = {"has_bias": bias is not None, "bias": bias if bias is not None else scale}
    if lo is not None:
        fields.update(lo=lo, hi=hi)
    b.emit(
        "cl.requant",
        ("imc.requant", layer),
        src=src,
        dst=dst,
        rows=rows,
        channels=channels,
        scale=scale,
        **fields,
    )


# --- MLP ------------------------------------------------------------------------------------------


def mlp(batch: int = 64, dims=(784, 512, 512, 10), seed: int = 0) -> Workload:
    """A ReLU MLP with ternary layers on `cluster`: f32 input, int8 hidden activations, f32 out."""
    rng = np.random.default_rng(seed)
    target = load_target("cluster")
    g = _analog(target)
    layers = [_dense(rng, k, n, 2.0) for k, n in zip(dims[:-1], dims[1:])]
    xf = rng.random((batch, dims[0])).astype(F32)

    scales = [q.scale_for(xf)]
    a = xf
    for i, (t, alpha, bias) in enumerate(layers):
        a = a @ (t * alpha) + bias
        if i < len(layers) - 1:
            a = np.maximum(a, 0)
            scales.append(q.scale_for(a))
    rq = []
    for i, (_, alpha, bias) in enumerate(layers):
        last = i == len(layers) - 1
        out = F32(1) if last else scales[i + 1]
        rq.append(((scales[i] * alpha / out).astype(F32), (bias / out).astype(F32)))

    def forward(bits, blks):
        a = q.quant(xf, scales[0])
        for i, (t, _, _) in enumerate(layers):
            last = i == len(layers) - 1
            acc = q.matmul(a, t, blks[i], bits)
            bounds = {"to_int": False} if last else {"lo": 0, "hi": 127}
            a = q.requant(acc, *rq[i], **bounds)
        return a

    blks = []
    a = q.quant(xf, scales[0])
    for i, (t, _, _) in enumerate(layers):
        blks.append(q.choose_blocks(a, t, g.rows, g.cols, g.adc_bits))
        a = q.requant(q.matmul(a, t, blks[i], None), *rq[i], lo=0, hi=127)

    b = ProgramBuilder(target)
    x = b.input("x", "f32", (batch, dims[0]))
    y = b.output("y", "f32", (batch, dims[-1]))
    arrays = [b.ternary_layer(f"fc{i + 1}", t, blks[i]) for i, (t, _, _) in enumerate(layers)]
    rqt = [
        (b.const(f"s{i + 1}", "f32", s), b.const(f"b{i + 1}", "f32", o))
        for i, (s, o) in enumerate(rq)
    ]
    b.barrier()
    a = b.scratch("xq", "i8", (batch, dims[0]))
    b.emit(
        "cl.quant", ("onnx.QuantizeLinear", "input"), src=x, dst=a, count=x.size, scale=scales[0]
    )
    for i, layer in enumerate(arrays):
        last = i == len(arrays) - 1
        acc = b.scratch(f"acc{i + 1}", "i32", (batch, layer.n))
        b.matmul(layer, a, acc)
        nxt = y if last else b.scratch(f"a{i + 1}", "i8", (batch, layer.n))
        _requant(b, layer.name, acc, nxt, *rqt[i], **({} if last else {"lo": 0, "hi": 127}))
        a = nxt
    program = b.build()
    float_ws = [(t * alpha, bias) for t, alpha, bias in layers]
    return Workload(
        name=f"mlp {'-'.join(map(str, dims))} batch {batch}",
        program=program,
        inputs={"x": xf},
        onnx_model=sim_onnx.mlp(dims, float_ws),
        ort_inputs={"x": xf},
        reference=lambda mode: forward(_adc_bits(mode, g), blks),
        dequantize=lambda out: out["y"],
        ort_output=lambda yo: yo,
        macs=batch * sum(k * n for k, n in zip(dims[:-1], dims[1:])),
    )


# --- BERT FFN -------------------------------------------------------------------------------------


def ffn(seq: int = 128, d: int = 768, dff: int = 3072, seed: int = 0) -> Workload:
    """A BERT feed-forward block on `bert-chip`: d → dff (GELU on the cores) → d, f32 in/out."""
    rng = np.random.default_rng(seed)
    target = load_target("bert-chip")
    g = _analog(target)
    t1, a1, b1 = _dense(rng, d, dff, 1.0)
    t2, a2, b2 = _dense(rng, dff, d, 1.0)
    xf = rng.standard_normal((seq, d)).astype(F32)
    sx = q.scale_for(xf)
    hf = runtime_gelu((xf @ (t1 * a1) + b1).astype(F32))
    sh = q.scale_for(hf)
    r1 = (sx * a1).astype(F32), b1
    r2 = (sh * a2).astype(F32), b2

    def up(bits):
        """First layer, GELU, quantization: the int8 input of the second layer."""
        z = q.requant(q.matmul(q.quant(xf, sx), t1, blk1, bits), *r1, to_int=False)
        return q.quant(runtime_gelu(z), sh)

    def forward(bits):
        return q.requant(q.matmul(up(bits), t2, blk2, bits), *r2, to_int=False)

    blk1 = q.choose_blocks(q.quant(xf, sx), t1, g.rows, g.cols, g.adc_bits)
    blk2 = q.choose_blocks(up(None), t2, g.rows, g.cols, g.adc_bits)

    b = ProgramBuilder(target)
    x = b.input("x", "f32", (seq, d))
    y = b.output("y", "f32", (seq, d))
    l1 = b.ternary_layer("ffn.up", t1, blk1)
    l2 = b.ternary_layer("ffn.down", t2, blk2)
    s1, o1 = b.const("s1", "f32", r1[0]), b.const("b1", "f32", r1[1])
    s2, o2 = b.const("s2", "f32", r2[0]), b.const("b2", "f32", r2[1])
    b.barrier()
    xq = b.scratch("xq", "i8", (seq, d))
    acc1 = b.scratch("acc1", "i32", (seq, dff))
    z = b.scratch("z", "f32", (seq, dff))
    hq = b.scratch("hq", "i8", (seq, dff))
    acc2 = b.scratch("acc2", "i32", (seq, d))
    b.emit("cl.quant", ("onnx.QuantizeLinear", "input"), src=x, dst=xq, count=seq * d, scale=sx)
    b.matmul(l1, xq, acc1)
    _requant(b, "ffn.up", acc1, z, s1, o1)
    b.emit("cl.gelu", ("onnx.Gelu", "gelu"), src=z, dst=z, count=seq * dff)
    b.emit("cl.quant", ("onnx.QuantizeLinear", "gelu"), src=z, dst=hq, count=seq * dff, scale=sh)
    b.matmul(l2, hq, acc2)
    _requant(b, "ffn.down", acc2, y, s2, o2)
    program = b.build()
    return Workload(
        name=f"bert-ffn seq {seq} {d}-{dff}-{d}",
        program=program,
        inputs={"x": xf},
        onnx_model=sim_onnx.ffn(d, dff, t1 * a1, b1, t2 * a2, b2),
        ort_inputs={"x": xf},
        reference=lambda mode: forward(_adc_bits(mode, g)),
        dequantize=lambda out: out["y"],
        ort_output=lambda yo: yo,
        macs=2 * seq * d * dff,
    )


WORKLOADS = {"bottleneck": bottleneck, "mlp": mlp, "ffn": ffn}
