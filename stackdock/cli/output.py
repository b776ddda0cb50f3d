"""Everything the CLI prints: rich on a terminal, plain lines otherwise, JSON for scripts.

- On a terminal (stdout is a TTY): colours, tables, progress bars.
- Not a terminal: plain text, one record per line, columns padded with spaces
  (nothing wraps or truncates), no colour codes.
- ``--json``: exactly one JSON document on stdout (or JSON lines while
  watching); messages meant for people go to stderr.

Errors always go to stderr (and, with ``--json``, also as one JSON document on
stdout).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stackdock.cli.errors import CliError

STATUS_STYLES = {
    "succeeded": "green",
    "provisioned": "green",
    "ok": "green",
    "success": "green",
    "started": "cyan",
    "running": "cyan",
    "queued": "yellow",
    "provisioning": "yellow",
    "deprovisioning": "yellow",
    "failed": "red",
    "denied": "red",
    "error": "red",
    "cancelled": "magenta",
    "rolled_back": "magenta",
    "skipped": "dim",
}

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")

Column = tuple[str, str]  # (key in the row, header)


def cell(value: Any) -> str:
    """A value as table text: None -> "-", bools yes/no, a list of plain values as
    ``a, b``, a mapping of plain values as ``k=v, k=v``, anything deeper as compact JSON."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple) and all(_scalar(v) for v in value):
        return ", ".join(cell(v) for v in value) if value else "-"
    if isinstance(value, dict) and all(_scalar(v) for v in value.values()):
        return ", ".join(f"{k}={cell(v)}" for k, v in sorted(value.items())) if value else "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def short_time(value: Any) -> str:
    """``2025-11-24T05:02:11.123456Z`` -> ``2025-11-24 05:02:11``."""
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        return cell(value)
    return f"{value[:10]} {value[11:19]}"


def dig(row: Mapping[str, Any], key: str) -> Any:
    """``row["a"]["b"]`` for ``key="a.b"`` (None when missing)."""
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class Output:
    """Where and how one command prints. ``tty=None`` asks stdout."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        tty: bool | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json_mode = json_mode
        self._stdout = stdout
        self._stderr = stderr
        self.tty = self._isatty(self.stdout) if tty is None else tty
        self.err_tty = self._isatty(self.stderr) if tty is None else tty

    @property
    def stdout(self) -> TextIO:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    @staticmethod
    def _isatty(stream: TextIO) -> bool:
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):
            return False

    def console(self, *, stderr: bool = False) -> Console:
        """A rich console on stdout (or stderr): coloured only on a terminal."""
        tty = self.err_tty if stderr else self.tty
        return Console(
            file=self.stderr if stderr else self.stdout,
            force_terminal=tty,
            no_color=not tty,
            highlight=False,
            soft_wrap=not tty,
        )

    # --- text ----------------------------------------------------------------------------
    def print(self, text: str = "", *, style: str | None = None) -> None:
        """A line for people on stdout (stderr in JSON mode, so stdout stays one document)."""
        if self.json_mode:
            self.note(text)
            return
        if self.tty:
            self.console().print(escape(text), style=style)
        else:
            print(text, file=self.stdout, flush=True)

    def note(self, text: str, *, style: str | None = None) -> None:
        """A message on stderr (progress, hints, warnings)."""
        if self.err_tty:
            self.console(stderr=True).print(escape(text), style=style)
        else:
            print(text, file=self.stderr, flush=True)

    def warn(self, text: str) -> None:
        self.note(f"Warning: {text}", style="yellow")

    def status_word(self, status: str) -> str:
        """A status, coloured on a terminal (rich markup; plain text otherwise)."""
        if not self.tty:
            return status
        style = STATUS_STYLES.get(status, "")
        return f"[{style}]{escape(status)}[/]" if style else escape(status)

    # --- data ----------------------------------------------------------------------------
    def json(self, document: Any) -> None:
        print(
            json.dumps(document, indent=2, default=str, sort_keys=False),
            file=self.stdout,
            flush=True,
        )

    def json_line(self, document: Any) -> None:
        print(
            json.dumps(document, default=str, separators=(",", ":")), file=self.stdout, flush=True
        )

    def table(
        self,
        columns: Sequence[Column],
        rows: Iterable[Mapping[str, Any]],
        *,
        title: str | None = None,
        status_key: str | None = "status",
        empty: str = "Nothing found.",
    ) -> None:
        rows = list(rows)
        if not rows:
            self.print(empty)
            return
        texts = [[self._cell(key, row) for key, _ in columns] for row in rows]
        if self.tty:
            table = Table(title=title, header_style="bold", title_justify="left")
            for _, header in columns:
                table.add_column(header, overflow="fold")
            status_index = next((i for i, (k, _) in enumerate(columns) if k == status_key), None)
            for line in texts:
                styled = [escape(t) for t in line]
                if status_index is not None:
                    styled[status_index] = self.status_word(line[status_index])
                table.add_row(*styled)
            self.console().print(table)
            return
        headers = [header.upper() for _, header in columns]
        widths = [max(len(h), *(len(t[i]) for t in texts)) for i, h in enumerate(headers)]
        if title:
            print(title, file=self.stdout)
        for line in [headers, *texts]:
            print(
                "  ".join(t.ljust(w) for t, w in zip(line, widths, strict=True)).rstrip(),
                file=self.stdout,
            )
        self.stdout.flush()

    @staticmethod
    def _cell(key: str, row: Mapping[str, Any]) -> str:
        value = dig(row, key)
        if key.endswith("_at") or key in ("at", "since"):
            return short_time(value)
        return cell(value)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """``label: value`` lines (a record's details)."""
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            text = short_time(value) if isinstance(value, str) else cell(value)
            if self.tty:
                self.console().print(f"[bold]{escape(label.ljust(width))}[/]  {escape(text)}")
            else:
                print(f"{label.ljust(width)}  {text}", file=self.stdout)
        self.stdout.flush()

    # --- errors --------------------------------------------------------------------------
    def error(self, exc: CliError) -> None:
        """The error on stderr (``Error: ...``, then each field's problems and a hint)."""
        lines = [f"Error: {exc.message}"]
        for path, messages in exc.fields.items():
            for message in messages:
                if len(exc.fields) == 1 and len(messages) == 1 and message in exc.message:
                    continue  # the message already says it
                lines.append(f"  {path}: {message}")
        if exc.hint:
            lines.append(exc.hint)
        for i, line in enumerate(lines):
            self.note(line, style="red" if i == 0 else None)
        if self.json_mode:
            self.json_line(exc.as_json())  # one line: valid as a document and as JSON lines
