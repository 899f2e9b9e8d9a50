"""The fast path of a `Session`: instructions prepared once and run many times, bit for bit what
`sim.machine.semantics` computes.

- `plan`: each instruction as a closure over views of memory; `plan_context`: what consecutive
  steps share (scratch buffers, exact float copies, skipped stores);
- `engines`: onnxruntime kernels where they provably give the exact integers;
- `fused`: the ADC and requantization chains as one numba-compiled pass each;
- `merge`: replicated array windows as one product; `steady`: windows the body reprograms
  alike in every run (models larger than the chip), bound like constant ones;
- `dataflow`: which bytes a repeated run must put back.

The tests that hold it to the definition: ``tests/runtime/test_sim_plan.py`` (every prepared
kernel against the plain semantics on random memory, all bytes compared),
``test_sim_fastpaths.py`` (the kernels at their exactness bounds and just past them) and
``test_sim_session.py`` (whole session runs against one-shot runs).
"""
