"""The README's two set-up commands are the ones .ci/run runs: a virtual environment, so they
work where the system Python refuses pip (PEP 668)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Set up\n.*?```console\n(.*?)```", readme, re.S)
    assert block is not None
    return [line.removeprefix("$ ").strip() for line in block.group(1).splitlines()
            if line.strip()]


def test_readme_has_two_setup_commands_in_a_virtual_environment() -> None:
    main, tests = setup_commands()
    for command in (main, tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install ")
    assert main.endswith(".venv/bin/review pool data/extraction.xlsx")
    assert tests.endswith(".venv/bin/pytest")
    assert (ROOT / "data" / "extraction.xlsx").exists()


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup_commands()[1] in ci
