"""The machine description, the results table, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure

COLUMNS = ("benchmark", "tracker", "MLflow", "speed-up", "target", "result")

# -- machine ------------------------------------------------------------------------------------


def _proc_field(path: str, name: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _ram_gib() -> float | None:
    total = _proc_field("/proc/meminfo", "MemTotal")  # "24567892 kB"
    return int(total.split()[0]) / 1024**2 if total else None


def mlflow_versions(python: str | None) -> dict[str, str] | None:
    """MLflow's version and Python version as seen by the interpreter that measures MLflow."""
    if python is None:
        return None
    code = (
        "import importlib.metadata as m, platform, sys; "
        "print(m.version('mlflow'), platform.python_version(), sys.prefix)"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) < 3:
        return {"python_executable": python}
    return {"mlflow": parts[0], "python": parts[1], "prefix": parts[2], "python_executable": python}


def machine(mlflow_python: str | None) -> dict[str, Any]:
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pyarrow": _version("pyarrow"),
        "duckdb": _version("duckdb"),
        "pandas": _version("pandas"),
        "load_average": os.getloadavg(),
        "mlflow": mlflow_versions(mlflow_python),
    }


def machine_line(info: dict[str, Any]) -> str:
    ram = f"{info['ram_gib']:.1f} GiB RAM" if info["ram_gib"] else "RAM unknown"
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    line = (
        f"Machine: {info['cpu']}, {info['cores']} cores, {ram}, {info['os']}; "
        f"Python {info['python']}, pyarrow {info['pyarrow']}, duckdb {info['duckdb']}, "
        f"pandas {info['pandas']}; load average at start {load}"
    )
    ml = info["mlflow"]
    if ml is None:
        return line + "\nMLflow: not installed (see benchmarks/README.md)"
    return line + (
        f"\nMLflow: {ml.get('mlflow', '?')} on Python {ml.get('python', '?')} "
        f"({ml['python_executable']}), sqlite backend in a temp folder"
    )


# -- table --------------------------------------------------------------------------------------


def format_value(value: float | str | None, kind: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "rate":
        return f"{value:,.1f} runs/s" if value < 100 else f"{value:,.0f} runs/s"
    if kind == "memory":
        return f"{value:,.0f} MB"
    if value < 1e-3:
        return f"{value * 1e6:.2f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def format_target(figure: Figure) -> str:
    target = figure.target
    if target is None:
        return "—"
    if figure.higher_is_better:
        return f"≥ {format_value(target, figure.kind)}"
    if figure.kind == "memory":
        return f"≤ {format_value(target, figure.kind)}"
    if target >= 0.1:
        return f"≤ {target:g} s"
    return f"≤ {target * 1e3:g} ms" if target >= 1e-3 else f"≤ {target * 1e6:g} µs"


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def row(figure: Figure) -> tuple[str, ...]:
    passed = figure.passed
    result = "—" if passed is None else ("PASS" if passed else "FAIL")
    return (
        figure.name,
        format_value(figure.ours, figure.kind),
        format_value(figure.theirs, figure.kind),
        format_ratio(figure.ratio),
        format_target(figure),
        result,
    )


def table(figures: list[Figure]) -> str:
    rows = [COLUMNS, *(row(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for i, cells in enumerate(rows):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        lines.append("  ".join([first, *rest]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(figures: list[Figure]) -> str:
    return "\n".join(f"  {f.name}: {f.note}" for f in figures if f.note)


def misses(figures: list[Figure]) -> list[Figure]:
    return [f for f in figures if f.passed is False]


# -- JSON ---------------------------------------------------------------------------------------


def write_json(path: Path, info: dict[str, Any], options: dict[str, Any],
               figures: list[Figure], errors: dict[str, str]) -> None:
    results = []
    for f in figures:
        item = asdict(f)
        item.update(ratio=f.ratio, passed=f.passed, unit={"rate": "runs/s", "memory": "MB"}.get(f.kind, "s"))
        results.append(item)
    payload = {"machine": info, "options": options, "results": results, "errors": errors}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
