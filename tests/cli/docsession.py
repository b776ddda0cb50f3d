"""Console sessions in the docs, run for real and compared with what they show.

A session is a fenced ```console block: ``$ command`` lines, each followed by the
output it prints (stdout and stderr as a terminal shows them, interleaved). The
whole block runs as one bash script (so ``export``, ``echo $?`` and pipes work as
written), with a marker after each command. Outputs of ``stackdock`` and ``echo``
commands are compared; other commands (``cat``, ``export``) run but show what they
show.

What differs from run to run is normalized on both sides before comparing: times,
dates, UUIDs, hex ids and token prefixes, durations, the server and emulator URLs,
the home directory, and runs of spaces (table columns widen with their values).
Integers are compared as they are: the test resets the database's sequences, so
operation and resource ids are the same on every run.

``STACKDOCK_WRITE_DOCS=1`` writes the real outputs back into the block instead of
comparing (then read the diff before committing it).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MARKER = "@@@stackdock-docs-session@@@"
WRITE = os.environ.get("STACKDOCK_WRITE_DOCS") == "1"

_NORMALIZE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"),
        "<when>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}\b"), "<time>"),
    (re.compile(r"\(\d+\.\d s\)"), "(<n> s)"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b"), "<hex>"),
    (re.compile(r"[ \t]{2,}"), "  "),
]


@dataclass
class Step:
    command: str
    expected: str  # as written in the doc
    actual: str = ""
    code: int = 0

    @property
    def compared(self) -> bool:
        return self.command.startswith(("stackdock ", "echo "))


def normalize(text: str, replacements: Mapping[str, str]) -> str:
    for real, shown in replacements.items():
        text = text.replace(real, shown)
    for pattern, token in _NORMALIZE:
        text = pattern.sub(token, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def block(doc: Path, heading: str) -> tuple[str, int, int]:
    """The first ```console block after ``heading``: its text and its span in the file."""
    text = doc.read_text()
    at = text.index(heading)
    start = text.index("```console\n", at) + len("```console\n")
    end = text.index("```", start)
    return text[start:end], start, end


def parse(session: str) -> list[Step]:
    steps: list[Step] = []
    for line in session.splitlines():
        if line.startswith("$ "):
            steps.append(Step(command=line[2:], expected=""))
        elif steps:
            steps[-1].expected += line + "\n"
    for step in steps:
        step.expected = step.expected.rstrip("\n")
    return steps


def run(
    steps: list[Step],
    *,
    cwd: Path,
    env: Mapping[str, str],
    commands: Mapping[str, str],
    timeout: float = 240,
) -> None:
    """Run every step in one bash; ``commands`` rewrites text in the commands (URLs)."""
    script = ["set +e"]
    for step in steps:
        command = step.command
        for shown, real in commands.items():
            command = command.replace(shown, real)
        script.append(f"{{ {command}\n}} 2>&1")
        script.append(f'__rc=$?; echo "{MARKER} $__rc"; (exit $__rc)')
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    chunks = proc.stdout.split(MARKER)
    assert len(chunks) == len(steps) + 1, proc.stdout + proc.stderr
    for i, step in enumerate(steps):
        text = chunks[i] if i == 0 else chunks[i].split("\n", 1)[1] if "\n" in chunks[i] else ""
        step.actual = text.rstrip("\n")
        step.code = int(chunks[i + 1].split("\n", 1)[0].strip())


def render(steps: list[Step], replacements: Mapping[str, str]) -> str:
    """The session as the doc should show it (the real outputs, URLs as the doc names them)."""
    out = []
    for step in steps:
        out.append(f"$ {step.command}")
        text = step.actual if step.compared else step.expected
        for real, shown in replacements.items():
            text = text.replace(real, shown)
        if text:
            out.append("\n".join(line.rstrip() for line in text.splitlines()))
    # a blank line before each command that had one in the doc is kept by the caller
    return "\n".join(out) + "\n"


def differences(steps: list[Step], replacements: Mapping[str, str]) -> list[str]:
    problems = []
    for step in steps:
        if not step.compared:
            continue
        want = normalize(step.expected, replacements)
        got = normalize(step.actual, replacements)
        if want != got:
            problems.append(f"$ {step.command}\n--- the doc shows:\n{want}\n--- it prints:\n{got}")
    return problems


def check_or_write(
    doc: Path, start: int, end: int, steps: list[Step], replacements: Mapping[str, str]
) -> list[str]:
    """Compare (the default) or, with STACKDOCK_WRITE_DOCS=1, write the block back."""
    if not WRITE:
        return differences(steps, replacements)
    text = doc.read_text()
    session = text[start:end]
    # keep the doc's blank lines between commands: rebuild step by step
    pieces = []
    for step, chunk in zip(steps, re.split(r"(?m)^(?=\$ )", session)[1:], strict=True):
        blank = chunk.endswith("\n\n")
        shown = render([step], replacements)
        pieces.append(shown + ("\n" if blank else ""))
    doc.write_text(text[:start] + "".join(pieces) + text[end:])
    return []
