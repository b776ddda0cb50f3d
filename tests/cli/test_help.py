"""Every command's --help, generated from the app: words a person reads, no internals.

No internal ids (an OpenAPI operationId such as ``listProvisioningOperations``), no
type names of the argument parser (``<bool>`` on a flag, ``<int range>``,
``list[str]``), and every option says what it is for.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from stackdock.cli.main import app

INTERNAL = re.compile(r"<bool>|range>|list\[|\([a-z]+[A-Z][A-Za-z]*\)")


def _commands(group, path=()):
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


COMMANDS = list(_commands(get_command(app)))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "stackdock")
def test_help_has_no_internal_names_and_every_option_is_explained(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert not INTERNAL.search(text), INTERNAL.search(text).group(0)
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        if isinstance(param, typer.core.TyperOption) and not param.hidden:
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"


def test_version_and_help_are_plain_flags():
    text = CliRunner().invoke(app, ["--help"]).output
    assert re.search(r"^\s+--version\s+Show the version\.", text, re.M), text
    assert re.search(r"^\s+-h, --help\s+Show this message and exit\.", text, re.M), text
