# One ternary layer with 80 % zero weights on the `fat` target (digital bit-serial arrays).
#
# The same binary runs with FAT's adder (1 cycle per added bit, zero weights skipped) and with the
# ParaPIM baseline (2 cycles per bit, every weight added):
#
#   imcc-as fat_layer.s -o fat_layer.bin
#   imcc-run fat_layer.bin --input x=x.npy --report
#   imcc-run fat_layer.bin --input x=x.npy --report --set arrays.fat.addition=parapim

.target fat
.meta producer "hand-written example"

.const w t2 "w.npy"

.tensor x   input  [256, 64] i8 L2 0x0000
.tensor w   const  [64, 64] t2  L2 0x4000
.tensor y   output [256, 64] i32 L2 0x8000

.debug "imc.program" "layer"
xb.prog array=0, row0=0, col0=0, rows=64, cols=64, fmt=t2, src_mem=L2, src_addr=w
# 256 input vectors, one per memory column (lane); digital arrays are exact: no ADC
.debug "imc.mvm" "layer"
xb.mvm array=0, row0=0, col0=0, rows=64, cols=64, src_mem=L2, src_addr=x, seg_len=64, inner_stride=64, n_inner=256, dst_mem=L2, dst_addr=y, dst_stride=256
halt
