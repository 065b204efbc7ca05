"""``python -m benchmarks``: measure tracker (and MLflow when available), print the table."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

from benchmarks import (
    cold,
    end_run,
    import_time,
    log_metric,
    memory,
    report,
    runs_per_second,
    search_large,
    search_runs,
)
from benchmarks.harness import (
    EXIT_ABORTS,
    BenchmarkError,
    Context,
    Figure,
    find_mlflow_python,
    remove_tree,
)

BENCHMARKS: dict[str, ModuleType] = {
    "import": import_time,
    "log_metric": log_metric,
    "runs": runs_per_second,
    "search": search_runs,
    "search_large": search_large,
    "end_run": end_run,
    "memory": memory,
    "cold": cold,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Performance figures of tracker, next to MLflow's when it is available.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow even if available")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    return parser.parse_args(argv)


def run_all(names: list[str], ctx: Context) -> tuple[list[Figure], dict[str, str]]:
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    for name in names:
        print(f"[{name}]", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            produced = BENCHMARKS[name].run(ctx)
            for figure in produced:
                figure.benchmark = name
            figures += produced
        except Exception as exc:  # noqa: BLE001 - report it and go on with the others
            errors[name] = str(exc) if isinstance(exc, BenchmarkError) else traceback.format_exc()
            print(f"  ! {name} failed: {errors[name]}", file=sys.stderr, flush=True)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return figures, errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    mlflow_python = find_mlflow_python(disabled=args.no_mlflow)
    info = report.machine(mlflow_python)
    print(report.machine_line(info), flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    ctx = Context(quick=args.quick, mlflow_python=mlflow_python, scratch=scratch)
    started = time.perf_counter()
    try:
        figures, errors = run_all(names, ctx)
    finally:
        if args.keep:
            print(f"Stores kept in {scratch}", file=sys.stderr)
        else:
            remove_tree(scratch)
    print()
    print(report.table(figures))
    print("\nNotes:\n" + report.notes(figures))
    missed = report.misses(figures)
    met = sum(1 for f in figures if f.passed)
    print(f"\nTargets: {met} met, {len(missed)} missed"
          + "".join(f"\n  MISSED {f.name}" for f in missed))
    if EXIT_ABORTS:
        print(f"\nWARNING: {len(EXIT_ABORTS)} worker process(es) reported their result, then "
              f"aborted (SIGABRT) while exiting:\n  " + "\n  ".join(EXIT_ABORTS))
    print(f"Total {time.perf_counter() - started:.0f} s{' (--quick)' if args.quick else ''}.")
    if args.json:
        options = {
            "quick": args.quick, "only": names, "mlflow_python": mlflow_python,
            "exit_aborts": EXIT_ABORTS,
        }
        report.write_json(args.json, info, options, figures, errors)
    for name, error in errors.items():
        print(f"\nERROR in {name}:\n{error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
