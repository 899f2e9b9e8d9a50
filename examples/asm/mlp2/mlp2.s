# A 2-layer MLP (16 -> 32 -> 10, softmax) for the `cluster` target, written by hand.
#
#   x (f32, L2) --dma--> L1 --cl.quant--> int8 --xb.mvm array 0 (ternary W1)--> int32
#   --cl.requant + ReLU--> int8 --xb.mvm array 1 (int4 W2)--> int32 --cl.requant--> f32 logits
#   --cl.softmax--> probabilities --dma--> y (L2)
#
# Run: imcc-as mlp2.s -o mlp2.bin && imcc-run mlp2.bin --input x=x.npy --output-dir out

.target cluster
.meta producer "hand-written example"

.const w1 t2 "w1.npy"
.const w2 i4 "w2.npy"
.const s1 f32 "s1.npy"
.const b1 f32 "b1.npy"
.const s2 f32 "s2.npy"
.const b2 f32 "b2.npy"

# L2: graph input/output and constants
.tensor x      input  [4, 16] f32 L2 0x0000
.tensor w1     const  [16, 32] t2 L2 0x0100
.tensor w2     const  [32, 10] i4 L2 0x0200
.tensor s1     const  [32] f32 L2 0x0300
.tensor b1     const  [32] f32 L2 0x0380
.tensor s2     const  [10] f32 L2 0x0400
.tensor b2     const  [10] f32 L2 0x0440
.tensor y      output [4, 10] f32 L2 0x0500
# L1: activations
.tensor xf     scratch [4, 16] f32 L1 0x0000
.tensor xq     scratch [4, 16] i8  L1 0x0100 scale=0.05
.tensor acc1   scratch [4, 32] i32 L1 0x0200
.tensor h      scratch [4, 32] i8  L1 0x0400
.tensor acc2   scratch [4, 10] i32 L1 0x0500
.tensor logits scratch [4, 10] f32 L1 0x0600
.tensor prob   scratch [4, 10] f32 L1 0x0700

# Weights are programmed once; the arrays keep them.
.debug "imc.program" "fc1"
xb.prog array=0, row0=0, col0=0, rows=16, cols=32, fmt=t2, src_mem=L2, src_addr=w1
.debug "imc.program" "fc2"
xb.prog array=1, row0=0, col0=0, rows=32, cols=10, fmt=i4, src_mem=L2, src_addr=w2

.debug "dma" "input"
dma src_mem=L2, src_addr=x, dst_mem=L1, dst_addr=xf, rows=1, row_bytes=256, src_stride=256, dst_stride=256
.debug "onnx.QuantizeLinear" "quant_in"
cl.quant src_mem=L1, src_addr=xf, dst_mem=L1, dst_addr=xq, dst_dtype=i8, count=64, scale=0.05

# fc1: 4 input vectors of 16 bytes, 32 column sums each; ADC step 2^4
.debug "imc.mvm" "fc1"
xb.mvm array=0, row0=0, col0=0, rows=16, cols=32, src_mem=L1, src_addr=xq, seg_len=16, inner_stride=16, n_inner=4, dst_mem=L1, dst_addr=acc1, dst_stride=128, adc_shift=4
.debug "imc.requant" "fc1"
cl.requant src_mem=L1, src_addr=acc1, src_dtype=i32, dst_mem=L1, dst_addr=h, dst_dtype=i8, rows=4, channels=32, scale_mem=L2, scale_addr=s1, has_bias=true, bias_mem=L2, bias_addr=b1, lo=0, hi=127

.debug "imc.mvm" "fc2"
xb.mvm array=1, row0=0, col0=0, rows=32, cols=10, src_mem=L1, src_addr=h, seg_len=32, inner_stride=32, n_inner=4, dst_mem=L1, dst_addr=acc2, dst_stride=40, adc_shift=6
.debug "imc.requant" "fc2"
cl.requant src_mem=L1, src_addr=acc2, src_dtype=i32, dst_mem=L1, dst_addr=logits, dst_dtype=f32, rows=4, channels=10, scale_mem=L2, scale_addr=s2, has_bias=true, bias_mem=L2, bias_addr=b2

.debug "onnx.Softmax" "softmax"
cl.softmax src_mem=L1, src_addr=logits, dst_mem=L1, dst_addr=prob, rows=4, n=10
.debug "dma" "output"
dma src_mem=L1, src_addr=prob, dst_mem=L2, dst_addr=y, rows=1, row_bytes=160, src_stride=160, dst_stride=160
halt
