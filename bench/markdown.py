"""Render bench/results/*.json as Markdown tables (for docs/PERFORMANCE.md).

.venv/bin/python bench/run.py --markdown      # prints the tables of the last run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import fmt

ORDER = ("engine", "api", "throughput", "status", "worker_memory")


def table(result: dict[str, Any]) -> str:
    lines = [
        f"### {result['name']}",
        "",
        f"`{result['command']}` - {result['machine']['cpus']} CPUs, "
        f"load average {result['machine']['loadavg_1m']} at the start",
        "",
        "| figure | value | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for f in result["figures"]:
        baseline = fmt(f["baseline"], f["unit"]) if f["baseline"] is not None else "-"
        if f["baseline_label"]:
            baseline += f" ({f['baseline_label']})"
        ratio = fmt(f["ratio"], "x") if f["ratio"] is not None else "-"
        target = f["target"]["text"] if f["target"] else "-"
        verdict = {True: "ok", False: "**missed**", None: ""}[f["met"]]
        cells = [f["name"], fmt(f["value"], f["unit"]), baseline, ratio, target, verdict]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = [f"{f['name']}: {f['note']}" for f in result["figures"] if f["note"]]
    notes += result["notes"]
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def render(results_dir: Path) -> str:
    files = {p.stem: p for p in results_dir.glob("*.json")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    return "\n\n".join(table(json.loads(files[n].read_text())) for n in names)
