"""Files written atomically get the permissions a plain open() would give (mkstemp alone: 0600)."""

from __future__ import annotations

import os
import stat

import numpy as np
from imcc.compiler.util.atomic import atomic_write_text

from imcc.tools.run import write_outputs


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        text = tmp_path / "out.mlir"
        atomic_write_text(str(text), "x")
        paths = write_outputs(str(tmp_path), {"y": np.zeros(2, np.float32)})
    finally:
        os.umask(old)
    assert _mode(text) == 0o644
    assert [_mode(p) for p in paths] == [0o644]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mlir", "y.npy"]
