"""Digits classifiers seen as lists of weight matrices, for the ternarization benchmark.

Both nets expose one interface: ``weights`` (the layers' ``[out, fan_in]`` matrices),
``layer_inputs(mats, deltas, x)`` (the calibration matrix X ``[rows, fan_in]`` feeding every layer
when the weights are replaced by ``mats``), and ``logits(mats, deltas, x)``. ``deltas`` are
per-channel output shifts from bias correction (added to a bias, or folded into the following
BatchNormalization's running mean).

* :class:`MLPNet` — a ReLU MLP trained here with scikit-learn.
* :class:`OnnxNet` — the committed digits CNN run with onnxruntime; conv inputs become im2col rows.

Dev-time only (scikit-learn, onnxruntime).
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
from imcc.compiler.precision.numerics import as_matrix, fake_quantize
from onnx import numpy_helper


class MLPNet:
    """ReLU MLP: x → relu(W₁x + b₁) → … → W_L x + b_L."""

    def __init__(self, x, y, hidden=(64, 32), seed: int = 0):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(hidden, alpha=1e-3, max_iter=400, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(x, y)
        self.weights = [w.T.astype(np.float32) for w in mlp.coefs_]
        self.biases = [b.astype(np.float32) for b in mlp.intercepts_]

    def describe(self) -> str:
        dims = [w.shape[1] for w in self.weights] + [self.weights[-1].shape[0]]
        return "ReLU MLP " + " → ".join(map(str, dims))

    def _run(self, mats, deltas, x, act_scales=None):
        ins, h = [], x
        for i, (w, b, d) in enumerate(zip(mats, self.biases, deltas)):
            if act_scales is not None:
                h = fake_quantize(h, act_scales[i])
            ins.append(h)
            h = h @ w.T + b + d
            if i + 1 < len(mats):
                h = np.maximum(h, 0)
        return ins, h

    def layer_inputs(self, mats, deltas, x):
        return self._run(mats, deltas, x)[0]

    def logits(self, mats, deltas, x, act_scales=None):
        return self._run(mats, deltas, x, act_scales)[1]


class OnnxNet:
    """An ONNX model whose Conv (group 1) and Gemm (transB=1) weights are the layers."""

    def __init__(self, path):
        self.model = onnx.load(str(path))
        g = self.model.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        consumers = {}
        for node in g.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        self.layers = []
        for node in g.node:
            if node.op_type not in ("Conv", "Gemm") or node.input[1] not in self.inits:
                continue
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv" and (
                attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1]))
            ):
                raise ValueError(f"{node.name}: only group-1, undilated convolutions are handled")
            if node.op_type == "Gemm" and (attrs.get("transB", 0) != 1 or attrs.get("transA", 0)):
                raise ValueError(f"{node.name}: only Gemm with transB=1 is handled")
            nxt = consumers.get(node.output[0], [])
            bn = nxt[0] if len(nxt) == 1 and nxt[0].op_type == "BatchNormalization" else None
            self.layers.append({"node": node, "attrs": attrs, "bn": bn})
        self.weights = [as_matrix(self.inits[ly["node"].input[1]]) for ly in self.layers]
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name

    def describe(self) -> str:
        ops = [ly["node"].op_type for ly in self.layers]
        return f"CNN ({', '.join(ops)}; {sum(w.size for w in self.weights)} weights)"

    def _overrides(self, mats, deltas) -> dict:
        out = {}
        for ly, w, d in zip(self.layers, mats, deltas):
            node = ly["node"]
            name = node.input[1]
            out[name] = np.asarray(w, np.float32).reshape(self.inits[name].shape)
            if not np.any(d):
                continue
            if len(node.input) > 2 and node.input[2]:
                out[node.input[2]] = (self.inits[node.input[2]] + d).astype(np.float32)
            elif ly["bn"] is not None:
                # BN computes (z − mean)·γ/σ + β: adding d to z is subtracting it from the mean.
                mean = ly["bn"].input[3]
                out[mean] = (self.inits[mean] - d).astype(np.float32)
            else:
                raise ValueError(f"{node.name}: no bias or BatchNormalization to correct")
        return out

    def _session(self, mats, deltas, extra_outputs=()):
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        overrides = self._overrides(mats, deltas)
        for init in model.graph.initializer:
            if init.name in overrides:
                init.CopyFrom(numpy_helper.from_array(overrides[init.name], init.name))
        for name in extra_outputs:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(model.SerializeToString(), opts, ["CPUExecutionProvider"])

    def logits(self, mats, deltas, x):
        sess = self._session(mats, deltas)
        return sess.run([self.output_name], {self.input_name: x})[0]

    def layer_inputs(self, mats, deltas, x):
        names = [ly["node"].input[0] for ly in self.layers]
        extra = [n for n in dict.fromkeys(names) if n != self.input_name]
        sess = self._session(mats, deltas, extra)
        values = dict(zip(extra, sess.run(extra, {self.input_name: x})))
        values[self.input_name] = x
        return [self._rows(ly, values[n]) for ly, n in zip(self.layers, names)]

    @staticmethod
    def _rows(layer, act):
        """The matrix X whose rows meet the flattened weight: im2col for Conv, as is for Gemm."""
        if layer["node"].op_type == "Gemm":
            return act.reshape(act.shape[0], -1)
        a = layer["attrs"]
        kh, kw = a["kernel_shape"]
        sh, sw = a.get("strides", [1, 1])
        top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
        xp = np.pad(act, ((0, 0), (0, 0), (top, bottom), (left, right)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        n, c, ho, wo = win.shape[:4]
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
