# A tiny conv net for the `cluster` target, written by hand:
#
#   x (8x8x3 int8, HWC) -> pad -> 3x3 conv, 8 channels (xb.mvm with an im2col gather, int4 weights)
#   -> requant + ReLU -> 3x3 depthwise conv (dw.conv on the depthwise unit) -> requant + ReLU
#   -> 8x8 global average pool (cl.pool) -> fully connected 8 -> 4 (ternary, xb.mvm)
#   -> requant to f32 -> + bias (cl.eltwise, row broadcast) -> softmax -> y
#
# Run: imcc-as convnet.s -o convnet.bin && imcc-run convnet.bin --input x=x.npy --output-dir out

.target cluster
.meta producer "hand-written example"

.const wc i4 "wc.npy"
.const sc f32 "sc.npy"
.const bc f32 "bc.npy"
.const wd i8 "wd.npy"
.const sd f32 "sd.npy"
.const wf t2 "wf.npy"
.const sf f32 "sf.npy"
.const bias f32 "bias.npy"

.tensor x    input  [8, 8, 3] i8 L2 0x0000
.tensor wc   const  [27, 8] i4   L2 0x0100
.tensor sc   const  [8] f32      L2 0x0200
.tensor bc   const  [8] f32      L2 0x0220
.tensor wd   const  [3, 3, 8] i8 L2 0x0240
.tensor sd   const  [8] f32      L2 0x0290
.tensor wf   const  [8, 4] t2    L2 0x02b0
.tensor sf   const  [4] f32      L2 0x02c0
.tensor bias const  [4] f32      L2 0x02d0
.tensor y    output [1, 4] f32   L2 0x0300

.tensor xp   scratch [10, 10, 3] i8 L1 0x0000
.tensor c1   scratch [8, 8, 8] i32  L1 0x0200
.tensor a1   scratch [8, 8, 8] i8   L1 0x0a00
.tensor d1   scratch [8, 8, 8] i32  L1 0x0c00
.tensor a2   scratch [8, 8, 8] i8   L1 0x1400
.tensor g    scratch [1, 1, 8] i8   L1 0x1600
.tensor f1   scratch [1, 4] i32     L1 0x1610
.tensor z    scratch [1, 4] f32     L1 0x1620
.tensor p    scratch [1, 4] f32     L1 0x1630

.debug "imc.program" "conv"
xb.prog array=0, row0=0, col0=0, rows=27, cols=8, fmt=i4, src_mem=L2, src_addr=wc
.debug "imc.program" "fc"
xb.prog array=1, row0=0, col0=0, rows=8, cols=4, fmt=t2, src_mem=L2, src_addr=wf

# zero padding: fill the 10x10x3 buffer with the zero point, then copy the 8 image rows inside
.debug "imc.pad" "conv"
fill dst_mem=L1, dst_addr=xp, bytes=300, value=0
.debug "imc.pad" "conv"
dma src_mem=L2, src_addr=x, dst_mem=L1, dst_addr=xp+33, rows=8, row_bytes=24, src_stride=24, dst_stride=30

# the conv: job (i, j) reads 3 segments (kernel rows) of 3x3 bytes, 30 bytes (one padded row) apart
.debug "imc.mvm" "conv"
xb.mvm array=0, row0=0, col0=0, rows=27, cols=8, src_mem=L1, src_addr=xp, seg_count=3, seg_len=9, seg_stride=30, inner_stride=3, outer_stride=30, n_inner=8, n_outer=8, dst_mem=L1, dst_addr=c1, dst_stride=32, adc_shift=5
.debug "imc.requant" "conv"
cl.requant src_mem=L1, src_addr=c1, src_dtype=i32, dst_mem=L1, dst_addr=a1, dst_dtype=i8, rows=64, channels=8, scale_mem=L2, scale_addr=sc, has_bias=true, bias_mem=L2, bias_addr=bc, lo=0, hi=127

.debug "imc.dwconv" "dwconv"
dw.conv src_mem=L1, src_addr=a1, wgt_mem=L2, wgt_addr=wd, dst_mem=L1, dst_addr=d1, h=8, w=8, c=8, kh=3, kw=3, pad_t=1, pad_l=1, pad_b=1, pad_r=1
.debug "imc.requant" "dwconv"
cl.requant src_mem=L1, src_addr=d1, src_dtype=i32, dst_mem=L1, dst_addr=a2, dst_dtype=i8, rows=64, channels=8, scale_mem=L2, scale_addr=sd, bias_mem=L2, bias_addr=sd, lo=0, hi=100

.debug "onnx.GlobalAveragePool" "pool"
cl.pool op=avg, dtype=i8, src_mem=L1, src_addr=a2, dst_mem=L1, dst_addr=g, h=8, w=8, c=8, kh=8, kw=8

.debug "imc.mvm" "fc"
xb.mvm array=1, row0=0, col0=0, rows=8, cols=4, src_mem=L1, src_addr=g, seg_len=8, inner_stride=8, n_inner=1, dst_mem=L1, dst_addr=f1, dst_stride=16, adc_shift=3
.debug "imc.requant" "fc"
cl.requant ncores=1, src_mem=L1, src_addr=f1, src_dtype=i32, dst_mem=L1, dst_addr=z, dst_dtype=f32, rows=1, channels=4, scale_mem=L2, scale_addr=sf, bias_mem=L2, bias_addr=sf
.debug "onnx.Add" "fc"
cl.eltwise ncores=1, op=add, dtype=f32, src_mem=L1, src_addr=z, src2_mem=L2, src2_addr=bias, dst_mem=L1, dst_addr=z, rows=1, n=4, bcast=true

.debug "onnx.Softmax" "softmax"
cl.softmax ncores=1, src_mem=L1, src_addr=z, dst_mem=L1, dst_addr=p, rows=1, n=4
.debug "dma" "output"
dma src_mem=L1, src_addr=p, dst_mem=L2, dst_addr=y, rows=1, row_bytes=16, src_stride=16, dst_stride=16
halt
