"""The cluster cores' kernel library: numpy kernels the simulated RISC-V cores run.

``onnx`` holds one kernel per supported ONNX op type (the cores are general purpose: any op the
frontend accepts can run there); ``nn`` the fused graph ops (linear, layer norm, GELU,
attention). The compiler's reference interpreter calls the same functions, so a program that runs
an op on the cores and the interpreter running the IR it came from agree bit for bit.
"""
