"""How fast the frontend imports big models: read + check + infer + build IR, then the ``onnx``
level's passes, each timed separately (best of N runs, in-process).

    python bench/import_speed.py                        # ResNet-50 (built in memory, seeded)
    python bench/import_speed.py models/build/minilm-l6.onnx --repeat 5

The target: ResNet-50 (25.6 M parameters, 102 MB) imports and canonicalizes in well under 3 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _resnet50_path(folder: str) -> str:
    sys.path.insert(0, REPO)
    from models.cnn.zoo import build_resnet

    path = os.path.join(folder, "resnet50.onnx")
    with open(path, "wb") as f:
        f.write(build_resnet("resnet50").SerializeToString())
    return path


def measure(path: str, repeat: int) -> list[tuple[float, float]]:
    """(import seconds, pass seconds) per run."""
    from imcc.compiler.frontend.importer import import_model
    from imcc.compiler.ir.verifier import verify
    from imcc.compiler.pipelines import pipeline_to
    from imcc.compiler.pm import PassManager, parse_pipeline

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        module = import_model(path, notes=None)
        imported = time.perf_counter()
        verify(module)
        PassManager(parse_pipeline(pipeline_to("onnx"))).run(module)
        times.append((imported - start, time.perf_counter() - imported))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", nargs="?", help="an .onnx file (default: ResNet-50 built in memory)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = args.model or _resnet50_path(folder)
        size = os.path.getsize(path)
        times = measure(path, args.repeat)
    best_import = min(t[0] for t in times)
    best_passes = min(t[1] for t in times)
    print(f"{os.path.basename(path)} ({size / 1e6:.1f} MB), best of {args.repeat}:")
    print(f"  import (read, check, infer, build IR)  {best_import:7.3f} s")
    print(f"  onnx level passes (verify included)    {best_passes:7.3f} s")
    print(f"  total                                  {best_import + best_passes:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
