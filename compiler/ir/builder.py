"""A builder that inserts new ops at an insertion point."""

from __future__ import annotations

from .core import Block, Operation


class Builder:
    """Inserts ops into ``block`` at ``index``; each insertion advances the point past the new op.

    Use the constructors: ``Builder.at_end(block)``, ``Builder.before(op)``, ``Builder.after(op)``.
    """

    def __init__(self, block: Block, index: int):
        self.block = block
        self.index = index

    @staticmethod
    def at_end(block: Block) -> Builder:
        return Builder(block, len(block.ops))

    @staticmethod
    def at_start(block: Block) -> Builder:
        return Builder(block, 0)

    @staticmethod
    def before(op: Operation) -> Builder:
        return Builder(op.parent, op.parent.index_of(op))

    @staticmethod
    def after(op: Operation) -> Builder:
        return Builder(op.parent, op.parent.index_of(op) + 1)

    def insert(self, op: Operation) -> Operation:
        """Insert ``op`` at the insertion point and return it."""
        self.block.insert(self.index, op)
        self.index += 1
        return op
