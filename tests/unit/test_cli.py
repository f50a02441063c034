"""The CLI front door: command discovery, lazy loading, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from satrec import cli


def test_every_command_module_registers_a_command_named_after_it():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)
    assert {m.replace("_", "-") for m in cli._command_modules()} == names
    assert {"convert", "verify", "inspect"} <= names


def test_running_one_command_imports_only_that_command_module():
    code = ("import sys\nfrom satrec import cli\n"
            "cli.build_parser(cli._requested_module(['convert', 'a', 'b']))\n"
            "print(sorted(m for m in sys.modules if m.startswith('satrec.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['satrec.commands.convert']"


@pytest.mark.parametrize(("argv", "expected"), [
    (["convert", "src", "dst"], "convert"),
    (["train-local", "x"], "train_local"),
    (["--help"], None),
    (["no-such-command"], None),
])
def test_requested_module_maps_command_names_to_modules(argv, expected):
    assert cli._requested_module(argv) == expected


def test_unknown_command_is_a_fatal_usage_error_not_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == cli.EXIT_FATAL
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == cli.EXIT_FATAL
    assert "COMMAND" in capsys.readouterr().err
