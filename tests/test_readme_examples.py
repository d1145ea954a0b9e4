"""Every ```console block of README.md runs as printed.

A block's `$ ` lines are commands (a line ending in `\\` goes on on the next line); the lines
up to the next command are what it prints, stdout and stderr as a terminal shows them. A line
`...` or `…` alone stands for any number of lines. Commands run in a temporary folder holding
copies of `data/`, `docs/examples/` and the files under `tests/fixtures/` the block names, so
the README's relative paths work and nothing is written into the clone. `review` runs in this
process (click's CliRunner); `echo $?`, `head -N FILE` and `grep -E RE FILE` are emulated.

An HTML comment right before a block says how to run it:

- `<!-- not-run: why -->` — the block is not run (the test only checks the reason is given);
- `<!-- setup: STEP; STEP -->` — run the steps in the fresh folder first;
- `<!-- then: STEP; STEP -->` — go on in the folder of the block before, after the steps.

A step is `copy SRC DST`, `remove PATH…`, `cell BOOK!CELL VALUE` (a reviewer typing into a
workbook) or `replace FILE OLD NEW` (one edit of a text file). Output is compared exactly; the
one thing normalised is the temporary folder's path, which the README shows as /tmp/walk.
Every console block must run or be marked, and a `$ ` command line outside a console block
fails, so a new example is tested from the start.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli

ROOT = Path(__file__).parent.parent
COPIED = ("data", "docs/examples")
# The README writes the folder the commands run in as /tmp/walk.
SHOWN_FOLDER = "/tmp/walk"
MARKER = re.compile(r"<!--\s*(not-run|setup|then):(.*?)-->", re.S)


@dataclass(frozen=True)
class Block:
    line: int        # README line of the opening fence
    kind: str        # "run", "not-run", "setup" or "then"
    detail: str      # the reason, or the steps
    commands: tuple[tuple[str, str], ...]   # (command, expected output)


def _marker_before(lines: list[str], fence: int) -> tuple[str, str]:
    index = fence - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index >= 0 and lines[index].rstrip().endswith("-->"):
        start = index
        while start > 0 and "<!--" not in lines[start]:
            start -= 1
        found = MARKER.fullmatch("\n".join(lines[start:index + 1]).strip())
        if found:
            return found.group(1), " ".join(found.group(2).split())
    return "run", ""


def _commands(body: list[str]) -> tuple[tuple[str, str], ...]:
    commands: list[tuple[str, list[str]]] = []
    continued = False
    for line in body:
        if continued:
            command, output = commands[-1]
            commands[-1] = (command[:-1] + " " + line.strip(), output)
        elif line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
        else:
            raise AssertionError(f"console block starts with output, not a command: {line!r}")
        continued = commands[-1][0].endswith("\\")
    return tuple((command, "".join(f"{line}\n" for line in output))
                 for command, output in commands)


def readme_blocks() -> list[Block]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if lines[index].startswith("```"):
            end = lines.index("```", index + 1)
            if lines[index] == "```console":
                kind, detail = _marker_before(lines, index)
                blocks.append(Block(index + 1, kind, detail, _commands(lines[index + 1:end])))
            index = end
        index += 1
    return blocks


def _chains() -> list[list[Block]]:
    """Runnable blocks, a `then:` block joined to the block before it."""
    chains: list[list[Block]] = []
    for block in readme_blocks():
        if block.kind == "then":
            assert chains and chains[-1], f"README.md:{block.line}: `then:` follows no run block"
            chains[-1].append(block)
        elif block.kind == "not-run":
            chains.append([])
        else:
            chains.append([block])
    return [chain for chain in chains if chain]


def _expected_pattern(expected: str) -> re.Pattern[str]:
    parts = ["(?:[^\n]*\n)*?" if line.strip() in ("...", "…") else re.escape(line + "\n")
             for line in expected.splitlines()]
    return re.compile("".join(parts))


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def _fixture_files(block: Block) -> Iterator[str]:
    words = shlex.split(block.detail.replace(";", " "))
    for command, _ in block.commands:
        words += shlex.split(command, comments=True)
    for word in words:
        if word.startswith("tests/fixtures/") and (ROOT / word).exists():
            yield word


class Shell:
    """The folder a chain runs in, and the commands the README uses there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.status = 0
        for name in COPIED:  # without what `review run data/example-review` leaves (git-ignored)
            shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("output"))

    def review(self, args: list[str]) -> str:
        result = CliRunner().invoke(cli, args, prog_name="review")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.status = result.exit_code
        return result.output

    def run(self, command: str) -> str:
        args = shlex.split(command, comments=True)
        if args[0] == "review":
            return self.review(args[1:])
        status, self.status = self.status, 0  # as in a shell, the commands below succeed
        if args == ["echo", "$?"]:
            return f"{status}\n"
        if args[0] == "head" and len(args) == 3 and re.fullmatch(r"-\d+", args[1]):
            lines = (self.folder / args[2]).read_text(encoding="utf-8").splitlines()
            return "".join(f"{line}\n" for line in lines[:int(args[1][1:])])
        if args[:2] == ["grep", "-E"] and len(args) == 4:
            lines = (self.folder / args[3]).read_text(encoding="utf-8").splitlines()
            return "".join(f"{line}\n" for line in lines if re.search(args[2], line))
        raise AssertionError(f"{command!r}: not a command this test runs; emulate it in "
                             "Shell.run or mark the block <!-- not-run: why -->")

    def step(self, step: str) -> None:
        verb, *args = shlex.split(step)
        if verb == "copy" and len(args) == 2:
            _copy(self.folder / args[0], self.folder / args[1])
        elif verb == "remove" and args:
            for name in args:
                path = self.folder / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        elif verb == "cell" and len(args) == 2:
            from openpyxl import load_workbook

            book, cell = args[0].split("!")
            workbook = load_workbook(self.folder / book)
            workbook.active[cell] = args[1]
            workbook.save(self.folder / book)
        elif verb == "replace" and len(args) == 3:
            path = self.folder / args[0]
            text = path.read_text(encoding="utf-8")
            assert text.count(args[1]) == 1, f"{step!r}: {args[1]!r} is not in {args[0]} once"
            path.write_text(text.replace(args[1], args[2]), encoding="utf-8")
        else:
            raise AssertionError(f"unknown set-up step {step!r}")


def _normalised(output: str, folder: Path) -> str:
    return output.replace(str(folder), SHOWN_FOLDER)


def test_every_console_block_runs_or_says_why_not() -> None:
    for block in readme_blocks():
        assert block.commands, f"README.md:{block.line}: a console block without a command"
        if block.kind == "not-run":
            assert block.detail, f"README.md:{block.line}: not-run needs a reason"


def test_commands_are_shown_only_in_console_blocks() -> None:
    fence = ""
    for number, line in enumerate((ROOT / "README.md").read_text(encoding="utf-8").splitlines(),
                                  start=1):
        if line.startswith("```"):
            fence = "" if fence else line
        assert not (fence and fence != "```console" and line.startswith("$ ")), (
            f"README.md:{number}: a command outside a ```console block is never run")


@pytest.mark.parametrize("chain", _chains(), ids=lambda chain: f"line{chain[0].line}")
def test_readme_console_block_runs_as_shown(chain: list[Block], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shell = Shell(tmp_path)
    for block in chain:
        for name in _fixture_files(block):
            _copy(ROOT / name, tmp_path / name)
        for step in filter(None, (s.strip() for s in block.detail.split(";"))):
            shell.step(step)
        for command, expected in block.commands:
            output = _normalised(shell.run(command), tmp_path)
            if not _expected_pattern(expected).fullmatch(output):
                pytest.fail(f"README.md:{block.line}: `$ {command}` printed\n{output}\n"
                            f"but the README shows\n{expected}", pytrace=False)
            if shell.status and "review: error:" not in expected:
                pytest.fail(f"README.md:{block.line}: `$ {command}` exited with "
                            f"{shell.status} but the README shows no error", pytrace=False)
