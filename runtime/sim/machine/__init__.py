"""The simulated chip's executable definition: what the machine is and what each instruction does.

- `machine`: the state (memories, arrays, events) as one explicit object;
- `semantics`: one function per mnemonic, ``(machine, fields) -> None``;
- `numerics`: the exact arithmetic of every kernel (the compiler's interpreter calls it too);
- `noise`: the analog non-idealities of the ``noisy`` and ``drift`` modes;
- `footprint`: what each instruction touches (its unit, the bytes it reads and writes) and the
  static checks of a program against its target.

The rest of `sim` is measured against this package: the fast path (`sim.fast`) must leave the same
bytes as `semantics`, and the cost model (`sim.cost`) prices the footprints.
"""
