"""Every command and subcommand answers ``--help`` with its usage and exit code 0."""

from __future__ import annotations

import pytest
from typer.core import TyperGroup
from typer.main import get_command

from baseguard.cli.main import app
from tests.cli_runner import invoke_baseguard


def command_paths() -> list[list[str]]:
    """The argument prefix of every leaf command, read from the app (new ones are covered)."""
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, [*prefix, name])
        else:
            paths.append(prefix)

    walk(get_command(app), [])
    return paths


def test_the_walk_finds_commands_and_subcommands() -> None:
    paths = command_paths()
    assert ["analyze"] in paths
    assert ["catalog", "approve"] in paths
    assert ["report", "compliance"] in paths


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    result = invoke_baseguard(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
