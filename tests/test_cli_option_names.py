"""One meaning per option name: --from is what is read, --to what is written or printed.
The old spellings (--format, --json) still work with their old meaning, hidden from --help."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from metareview.cli import cli
from metareview.outputs import WRITERS
from metareview.sheets.screening import write_screening

DATA = Path(__file__).resolve().parents[1] / "data"
ARTICLES = DATA / "articles.xml"  # 7 PubMed records, 2 of them one article (same DOI)
SHEET = DATA / "extraction.xlsx"


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args))


def _commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    """Every command of the group, subgroups walked: ``{"screen status": command, …}``."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{path} "))
        else:
            found[path] = command
    return found


def _visible(command: click.Command) -> dict[str, click.Option]:
    return {name: p for p in command.params if isinstance(p, click.Option) and not p.hidden
            for name in p.opts}


def _help(*path: str) -> str:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_gives_from_and_to_one_meaning() -> None:
    commands = _commands()
    assert {"parse", "dedupe", "pool", "screen status", "screen compare"} <= set(commands)
    for path, command in commands.items():
        options = _visible(command)
        assert "--format" not in options and "--json" not in options, path
        if "--from" in options:  # the format of the article files read
            assert path in ("parse", "dedupe")
            assert "Read every input as this format" in (options["--from"].help or "")
        if "--to" in options:  # what is written (files) or printed (text or JSON)
            choices = list(options["--to"].type.choices)  # type: ignore[attr-defined]
            expected = list(WRITERS) if path in ("parse", "dedupe") else ["text", "json"]
            assert choices == expected, path
        text = _help(*path.split())
        assert "--format" not in text and "--json" not in text, path


@pytest.mark.parametrize("path", [("parse",), ("dedupe",), ("pool",), ("screen", "status"),
                                  ("screen", "compare")])
def test_help_lists_the_new_names_only(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert "--to" in text
    assert ("--from NAME" in text) == (path[0] in ("parse", "dedupe"))


def test_parse_from_and_its_old_name(tmp_path: Path) -> None:
    for option in ("--from", "--format"):
        out = tmp_path / f"{option.strip('-')}.jsonl"
        result = invoke("parse", str(ARTICLES), option, "medline", "-o", str(out), "-q")
        assert result.exit_code == 0, result.output
        assert len(out.read_text(encoding="utf-8").splitlines()) == 7
        wrong = invoke("parse", str(ARTICLES), option, "ris", "-q")
        assert wrong.exit_code == 65  # read as RIS, the XML holds no record
        assert "no ris records in this file — leave out --from" in wrong.output


def test_dedupe_from_to_and_the_old_format(tmp_path: Path) -> None:
    listed = invoke("dedupe", str(ARTICLES), "--to", "jsonl")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 6 and rows[0]["record_id"] == "pmid:24451147"
    out = tmp_path / "unique.txt"  # the extension says nothing: --to does
    result = invoke("dedupe", str(ARTICLES), "--from", "medline", "--to", "ris", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("TY  - ") and text.count("\nER  -") == 6
    old = invoke("dedupe", str(ARTICLES), "--format", "ris")
    assert old.exit_code == 65 and "no ris records in this file" in old.output
    bad = invoke("dedupe", str(ARTICLES), "--to", "pdf")
    assert bad.exit_code == 2 and "'pdf' is not one of" in bad.output


def test_pool_to_and_its_old_name() -> None:
    text = invoke("pool", str(SHEET))
    assert text.exit_code == 0, text.output
    assert not text.stdout.lstrip().startswith("{")
    assert invoke("pool", str(SHEET), "--to", "text").stdout == text.stdout
    printed = invoke("pool", str(SHEET), "--to", "json")
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["k"] == 14  # the 14 Pritz (1997) studies
    assert invoke("pool", str(SHEET), "--format", "json").stdout == printed.stdout
    same = invoke("pool", str(SHEET), "--format", "json", "--to", "json")
    assert same.exit_code == 0 and same.stdout == printed.stdout
    assert invoke("pool", str(SHEET), "--format", "xml").exit_code == 2


def _screened(tmp_path: Path, name: str, decisions: list[str]) -> Path:
    path = tmp_path / name
    write_screening([{"record_id": f"r{i}", "title": f"t{i}"} for i in range(len(decisions))],
                    path)
    book = load_workbook(path)
    for row, decision in enumerate(decisions, start=2):
        book.worksheets[0][f"H{row}"] = decision
    book.save(path)
    return path


def test_screen_status_and_compare_to_json_and_the_old_flag(tmp_path: Path) -> None:
    a = _screened(tmp_path, "a.xlsx", ["include", "exclude", "exclude"])
    b = _screened(tmp_path, "b.xlsx", ["include", "include", "exclude"])
    for command in (("screen", "status", str(a)), ("screen", "compare", str(a), str(b))):
        text = invoke(*command)
        assert text.exit_code == 0, text.output
        assert not text.stdout.startswith("{")
        printed = invoke(*command, "--to", "json")
        assert printed.exit_code == 0, printed.output
        data = json.loads(printed.stdout)
        assert invoke(*command, "--json").stdout == printed.stdout
        assert invoke(*command, "--json", "--to", "json").stdout == printed.stdout
    assert data["kappa"] == pytest.approx(0.4)  # compare: p_o 2/3, p_e 4/9


@pytest.mark.parametrize(("args", "said"), [
    (("parse", str(ARTICLES), "--format", "medline", "--from", "ris"),
     "--format medline and --from ris disagree (--format is the old name of --from)"),
    (("dedupe", str(ARTICLES), "--from", "ris", "--format", "medline"),
     "--format medline and --from ris disagree"),
    (("pool", str(SHEET), "--to", "text", "--format", "json"),
     "--format json and --to text disagree (--format is the old name of --to)"),
    (("screen", "status", str(SHEET), "--json", "--to", "text"),
     "--json and --to text disagree (--json is the old name of --to)"),
    (("screen", "compare", str(SHEET), str(SHEET), "--to", "text", "--json"),
     "--json and --to text disagree"),
])
def test_an_old_name_and_the_new_one_that_disagree_are_a_usage_error(
        args: tuple[str, ...], said: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert result.output.count(" — ") == 1 and "give --" in result.output
    assert "Traceback" not in result.output
