"""A small ONNX graph builder for CNN generators: seeded weights, believable BatchNorm statistics.

Generated networks have no training data behind them, yet their activations should look like a
trained net's: finite, of order one at every layer, with BatchNormalization doing real work. So the
builder tracks an estimate of every activation's per-channel mean and variance (inputs are taken as
standard normal) and propagates it through each layer it emits:

* Conv / Gemm with known weights: mean and variance follow exactly for independent inputs.
* ReLU / Clip(0, 6): the moments of a rectified normal (the upper clip is ignored).
* Add, Concat: sums of independent terms, and stacking.
* MaxPool: the max of k*k independent normals (neighbours are correlated, so this overshoots).
* average pooling, LRN, Dropout: taken as moment-preserving.

BatchNormalization then gets running statistics close to, but deliberately not equal to, the estimate
(a little noise on the mean, a log-normal factor on the variance) and random gamma / beta: the
statistics are non-trivial yet keep the following layers in range, which a plain N(0, 1) choice
would not (activations would grow or shrink geometrically over fifty layers).

Every random number comes from one ``numpy.random.RandomState`` (its stream is frozen across numpy
releases) drawn in emission order, and all estimates use elementwise numpy without BLAS, so the same
seed gives byte-identical models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from imcc.runtime.fileio import temp_beside
from onnx import TensorProto, helper, numpy_helper

BN_EPSILON = 1e-5
PRODUCER = "imcc-models"

# Max of k*k independent standard normals: (mean, variance), for a k x k max pool's moments.
# Neighbouring activations are correlated, so the variance is kept rather than shrunk to these.
MAX_OF_NORMALS = {2: (1.0294, 0.4917), 3: (1.4850, 0.3574)}


@dataclass(frozen=True)
class Act:
    """An activation: its shape (batch first, channels second) and per-channel moment estimates."""

    shape: tuple
    mean: np.ndarray
    var: np.ndarray


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): enough for moment estimates, no scipy."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-x * x))


def relu_moments(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of max(0, X) for X ~ N(mean, var), per channel."""
    std = np.sqrt(np.maximum(var, 1e-12))
    a = mean / std
    cdf = 0.5 * (1.0 + _erf(a / np.sqrt(2.0)))
    pdf = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)
    m1 = mean * cdf + std * pdf
    m2 = (mean * mean + var) * cdf + mean * std * pdf
    return m1, np.maximum(m2 - m1 * m1, 1e-12)


def _pool_out(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode)."""
    return (size + pad_begin + pad_end - kernel) // stride + 1


class GraphBuilder:
    """Accumulates the nodes and initializers of one NCHW float32 graph; methods return tensor names.

    Node names equal their output tensor names, and parameter tensors are named ``<node>.<role>``,
    so the caller's layer names ("layer1.0.conv1", "fire2/squeeze1x1") show up as in a zoo model.
    """

    def __init__(self, name: str, opset: int, seed: int):
        self.name = name
        self.opset = opset
        self.rng = np.random.RandomState(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.acts: dict[str, Act] = {}
        self._shared: dict[str, str] = {}

    # -- bookkeeping --------------------------------------------------------------------------

    def _emit(self, op: str, inputs: list[str], out: str, act: Act, **attrs) -> str:
        if out in self.acts:
            raise ValueError(f"duplicate tensor name {out!r}")
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.acts[out] = act
        return out

    def param(self, name: str, value: np.ndarray) -> str:
        """Add an initializer holding ``value`` and return its name."""
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def shared_param(self, name: str, value: np.ndarray) -> str:
        """Like ``param`` but added once and reused by every later call with the same name."""
        if name not in self._shared:
            self._shared[name] = self.param(name, value)
        return self._shared[name]

    def he_normal(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        """He-initialised float32 weights: N(0, 2 / fan_in)."""
        return (self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def add_input(self, name: str, shape: tuple) -> str:
        """Declare a float32 graph input whose values are taken as standard normal."""
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.acts[name] = Act(tuple(shape), np.zeros(shape[1]), np.ones(shape[1]))
        return name

    # -- layers -------------------------------------------------------------------------------

    def conv(
        self,
        x: str,
        cout: int,
        kernel: int,
        name: str,
        stride: int = 1,
        pad: int | None = None,
        group: int = 1,
        bias: bool = False,
    ) -> str:
        """Conv with a square kernel, symmetric padding (default kernel // 2) and He weights."""
        a = self.acts[x]
        n, cin, h, w = a.shape
        pad = kernel // 2 if pad is None else pad
        weight = self.he_normal(
            (cout, cin // group, kernel, kernel), cin // group * kernel * kernel
        )
        inputs = [x, self.param(f"{name}.weight", weight)]
        bias_value = np.zeros(cout, np.float32)
        if bias:
            bias_value = (self.rng.standard_normal(cout) * 0.01).astype(np.float32)
            inputs.append(self.param(f"{name}.bias", bias_value))
        # Per output channel: sum over its input channels of (sum of taps) * input moment.
        w64 = weight.astype(np.float64).reshape(group, cout // group, cin // group, -1)
        mean_in = a.mean.reshape(group, 1, cin // group)
        var_in = a.var.reshape(group, 1, cin // group)
        mean = (w64.sum(axis=3) * mean_in).sum(axis=2).reshape(cout) + bias_value
        var = ((w64 * w64).sum(axis=3) * var_in).sum(axis=2).reshape(cout)
        ho, wo = (_pool_out(s, kernel, stride, pad, pad) for s in (h, w))
        act = Act((n, cout, ho, wo), mean, var)
        return self._emit(
            "Conv",
            inputs,
            name,
            act,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            dilations=[1, 1],
            group=group,
        )

    def batchnorm(self, x: str, name: str, gamma_range: tuple[float, float] = (0.5, 1.5)) -> str:
        """BatchNormalization with random gamma/beta and running stats near the activation estimate."""
        a = self.acts[x]
        c = a.shape[1]
        gamma = self.rng.uniform(*gamma_range, c)
        beta = self.rng.normal(0.0, 0.2, c)
        running_mean = a.mean + 0.1 * np.sqrt(a.var) * self.rng.standard_normal(c)
        running_var = a.var * np.exp(self.rng.normal(0.0, 0.2, c))
        stats = [gamma, beta, running_mean, running_var]
        roles = ["weight", "bias", "running_mean", "running_var"]
        inputs = [x] + [
            self.param(f"{name}.{r}", v.astype(np.float32)) for r, v in zip(roles, stats)
        ]
        scale = gamma / np.sqrt(running_var + BN_EPSILON)
        act = Act(a.shape, beta + scale * (a.mean - running_mean), scale * scale * a.var)
        attrs = {"epsilon": BN_EPSILON, "momentum": 0.9}
        return self._emit("BatchNormalization", inputs, name, act, **attrs)

    def relu(self, x: str, name: str) -> str:
        """ReLU."""
        a = self.acts[x]
        return self._emit("Relu", [x], name, Act(a.shape, *relu_moments(a.mean, a.var)))

    def relu6(self, x: str, name: str) -> str:
        """ReLU6 as Clip(0, 6): attributes before opset 11, shared scalar initializers from 11 on."""
        a = self.acts[x]
        act = Act(a.shape, *relu_moments(a.mean, a.var))
        if self.opset < 11:
            return self._emit("Clip", [x], name, act, min=0.0, max=6.0)
        lo = self.shared_param("relu6.min", np.array(0.0, np.float32))
        hi = self.shared_param("relu6.max", np.array(6.0, np.float32))
        return self._emit("Clip", [x, lo, hi], name, act)

    def _pool(self, op: str, x: str, kernel: int, stride: int, pads: tuple, name: str) -> str:
        a = self.acts[x]
        n, c, h, w = a.shape
        top, left, bottom, right = pads
        shape = (
            n,
            c,
            _pool_out(h, kernel, stride, top, bottom),
            _pool_out(w, kernel, stride, left, right),
        )
        mean, var = a.mean, a.var
        if op == "MaxPool" and kernel in MAX_OF_NORMALS:
            mean = mean + MAX_OF_NORMALS[kernel][0] * np.sqrt(var)
        return self._emit(
            op,
            [x],
            name,
            Act(shape, mean, var),
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[top, left, bottom, right],
        )

    def maxpool(self, x: str, kernel: int, stride: int, name: str, pads=(0, 0, 0, 0)) -> str:
        """MaxPool; ``pads`` is (top, left, bottom, right), e.g. (0, 0, 1, 1) for Caffe's ceil mode."""
        return self._pool("MaxPool", x, kernel, stride, pads, name)

    def averagepool(self, x: str, kernel: int, stride: int, name: str, pads=(0, 0, 0, 0)) -> str:
        """AveragePool (count_include_pad left at its default, 0)."""
        return self._pool("AveragePool", x, kernel, stride, pads, name)

    def global_average_pool(self, x: str, name: str) -> str:
        """GlobalAveragePool to N x C x 1 x 1."""
        a = self.acts[x]
        act = Act((a.shape[0], a.shape[1], 1, 1), a.mean, a.var)
        return self._emit("GlobalAveragePool", [x], name, act)

    def lrn(self, x: str, name: str, size: int = 5) -> str:
        """Local response normalisation with the AlexNet/GoogLeNet constants."""
        a = self.acts[x]
        attrs = {"size": size, "alpha": 1e-4, "beta": 0.75, "bias": 1.0}
        return self._emit("LRN", [x], name, a, **attrs)

    def dropout(self, x: str, ratio: float, name: str) -> str:
        """Dropout (identity at inference); the ratio is an attribute before opset 12, an input after."""
        a = self.acts[x]
        if self.opset < 12:
            return self._emit("Dropout", [x], name, a, ratio=ratio)
        r = self.param(f"{name}.ratio", np.array(ratio, np.float32))
        return self._emit("Dropout", [x, r], name, a)

    def add(self, x: str, y: str, name: str) -> str:
        """Elementwise Add of two same-shaped activations (a residual connection)."""
        a, b = self.acts[x], self.acts[y]
        if a.shape != b.shape:
            raise ValueError(f"{name}: Add of shapes {a.shape} and {b.shape}")
        return self._emit("Add", [x, y], name, Act(a.shape, a.mean + b.mean, a.var + b.var))

    def concat(self, xs: list[str], name: str) -> str:
        """Concat along channels."""
        acts = [self.acts[x] for x in xs]
        shape = list(acts[0].shape)
        shape[1] = sum(a.shape[1] for a in acts)
        mean = np.concatenate([a.mean for a in acts])
        var = np.concatenate([a.var for a in acts])
        return self._emit("Concat", list(xs), name, Act(tuple(shape), mean, var), axis=1)

    def _flat(self, a: Act, shape: tuple) -> Act:
        # Spatial positions repeat each channel's moments in C-major order, as NCHW flattening does.
        spatial = int(np.prod(a.shape[2:], dtype=np.int64))
        return Act(shape, np.repeat(a.mean, spatial), np.repeat(a.var, spatial))

    def flatten(self, x: str, name: str) -> str:
        """Flatten to N x (C*H*W)."""
        a = self.acts[x]
        features = int(np.prod(a.shape[1:], dtype=np.int64))
        return self._emit("Flatten", [x], name, self._flat(a, (a.shape[0], features)), axis=1)

    def reshape(self, x: str, shape: list[int], name: str) -> str:
        """Reshape to 2-D ``shape`` given as an int64 initializer (0 copies a dim, -1 is inferred)."""
        a = self.acts[x]
        features = int(np.prod(a.shape[1:], dtype=np.int64))
        target = self.param(f"{name}.shape", np.array(shape, np.int64))
        return self._emit("Reshape", [x, target], name, self._flat(a, (a.shape[0], features)))

    def gemm(self, x: str, nout: int, name: str) -> str:
        """Fully connected layer as Gemm(x, W^T, b) with W stored out x in, like exported Linear."""
        a = self.acts[x]
        nin = a.shape[1]
        weight = self.he_normal((nout, nin), nin)
        bias = (self.rng.standard_normal(nout) * 0.01).astype(np.float32)
        w64 = weight.astype(np.float64)
        act = Act(
            (a.shape[0], nout), (w64 * a.mean).sum(axis=1) + bias, (w64 * w64 * a.var).sum(axis=1)
        )
        inputs = [x, self.param(f"{name}.weight", weight), self.param(f"{name}.bias", bias)]
        return self._emit("Gemm", inputs, name, act, alpha=1.0, beta=1.0, transB=1)

    def softmax(self, x: str, name: str) -> str:
        """Softmax over the last axis of a 2-D tensor."""
        a = self.acts[x]
        return self._emit("Softmax", [x], name, a, axis=1)

    # -- output -------------------------------------------------------------------------------

    def model(
        self, outputs: list[str], initializers_as_inputs: bool = False, doc: str = ""
    ) -> onnx.ModelProto:
        """The finished model; old-exporter style lists every initializer as a graph input too."""
        outs = [
            helper.make_tensor_value_info(o, TensorProto.FLOAT, list(self.acts[o].shape))
            for o in outputs
        ]
        inputs = list(self.inputs)
        if initializers_as_inputs:
            inputs += [
                helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                for t in self.initializers
            ]
        graph = helper.make_graph(self.nodes, self.name, inputs, outs, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        return helper.make_model(
            graph,
            opset_imports=opsets,
            ir_version=helper.find_min_ir_version_for(opsets),
            producer_name=PRODUCER,
            doc_string=doc,
        )


def save_model(model: onnx.ModelProto, path: Path) -> int:
    """Write ``model`` to ``path`` atomically (temporary file + os.replace); returns the byte count."""
    data = model.SerializeToString()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(data)
