"""The last line of defence of the runtime's tools: an exception no handler expected is a bug in
imcc, reported as one ``internal error`` line with exit code 3 (the traceback only with
``IMCC_TRACEBACK=1``), never as a raw traceback; Ctrl-C exits 130, a closed pipe quietly."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from .. import allocator


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a tool's body (which reports user errors itself) and return its exit code."""
    allocator.tune()
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly, keep the traceback one env var away
        print(f"{prog}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("IMCC_TRACEBACK"):
            traceback.print_exc()
        else:
            print(
                "(this is a bug in imcc; set IMCC_TRACEBACK=1 to see the Python traceback)",
                file=sys.stderr,
            )
        return 3
