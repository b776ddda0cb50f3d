"""Run one benchmark function in this (fresh) interpreter.

``python -m bench.child bench.engine:suite /tmp/kwargs.json /tmp/out.json``
calls ``bench.engine.suite(**kwargs)`` with the keyword arguments read from the
JSON file and writes its JSON-able result to the last argument. Only
functions of ``bench.*`` modules may be named.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m bench.child MODULE:FUNCTION KWARGS_PATH OUT_PATH", file=sys.stderr)
        return 2
    target, kwargs_path, out = argv
    module_name, _, func_name = target.partition(":")
    if not module_name.startswith("bench.") or not func_name:
        print(f"not a bench function: {target!r}", file=sys.stderr)
        return 2
    func = getattr(importlib.import_module(module_name), func_name)
    result = func(**json.loads(Path(kwargs_path).read_text()))
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
