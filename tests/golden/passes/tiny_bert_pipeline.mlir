// RUN: imcc %S/../../../models/fixtures/tiny_bert_opset14.onnx --emit=onnx --elide-resources 2>/dev/null \
// RUN:   -p 'canonicalize,fold-onnx-constants,fold-batchnorm,fuse-linear,fuse-layernorm,fuse-gelu,fuse-attention,cse,dce' \
// RUN:   | filecheck %s

// The graph-level pipeline on the torch-exported tiny BERT (dynamic sequence length): embeddings LayerNorm,
// then per layer Q/K/V projections feeding one attention, the output projection, two LayerNorms
// and a GELU feed-forward; the pooler's Gemm is a linear too.
// CHECK: "nn.layer_norm"
// CHECK-COUNT-3: "nn.linear"
// CHECK: "nn.attention"
// CHECK-SAME: {num_heads = 4, scale = 0.25}
// CHECK-SAME: (tensor<1x?x64xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>, tensor<1x1x1x?xf32>, tensor<1x1x1x?xi1>) -> tensor<1x?x64xf32>
// CHECK: "nn.linear"
// CHECK: "nn.layer_norm"
// CHECK: "nn.linear"
// CHECK: "nn.gelu"{{.*}}{approximate = "none"}
// CHECK: "nn.linear"
// CHECK: "nn.layer_norm"
// CHECK: "nn.attention"
// CHECK-NOT: "onnx.Softmax"
// CHECK-NOT: "onnx.MatMul"
// CHECK-NOT: "onnx.ReduceMean"
// CHECK-NOT: "onnx.Erf"
// CHECK: "func.return"
