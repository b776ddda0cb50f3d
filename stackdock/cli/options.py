"""Options several commands share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from stackdock.cli.errors import usage

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document (JSON lines with --watch) for scripts."),
]
NoWaitOption = Annotated[
    bool,
    typer.Option("--no-wait", help="Return once the operation is queued (prints its id)."),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        metavar="SECONDS",
        help="Stop waiting after this many seconds (exit 5; the operation goes on).",
        show_default=False,
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Stack file (default: stackdock.yaml in the current directory).",
        show_default=False,
    ),
]
StackNameArgument = Annotated[
    str | None,
    typer.Argument(help="Stack name (default: the only stack in the file).", show_default=False),
]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str | None, *, flag: str = "--since") -> str | None:
    """``30m``, ``2h``, ``7d``, ``1w`` (that long ago) or an ISO date/date-time -> ISO 8601."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    unit = text[-1:].lower()
    if unit in _UNITS and text[:-1].isdigit():
        moment = datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * _UNITS[unit])
        return moment.replace(microsecond=0).isoformat()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise usage(
            f"{flag}: expected a duration (30m, 2h, 7d, 1w) or an ISO date, got {text!r}.",
            fields={flag.lstrip("-"): ["expected 30m, 2h, 7d, 1w or an ISO date"]},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
