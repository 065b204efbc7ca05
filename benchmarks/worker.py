"""Run one benchmark function in this (fresh) interpreter and print its result as JSON.

Usage: ``python -m benchmarks.worker benchmarks.module:function '{"kwarg": ...}'``. The last
stdout line starting with ``BENCH-RESULT `` holds the function's return value.
"""

from __future__ import annotations

import importlib
import json
import sys

from benchmarks.harness import RESULT_MARKER


def main(argv: list[str]) -> int:
    target, payload = argv[1], json.loads(argv[2])
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(**payload)
    sys.stdout.write(f"\n{RESULT_MARKER}{json.dumps(result)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
