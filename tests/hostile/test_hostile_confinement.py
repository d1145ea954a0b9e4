"""A review folder never writes or deletes outside itself; `review run` removes and
replaces only the files it wrote, and only while they hold what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _hostile import error_line, example_review, review, set_toml, sums
from openpyxl import load_workbook

pytestmark = pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn")


@pytest.mark.parametrize(("old", "new", "key"), [
    ('dir = "output"', 'dir = "../elsewhere"', "outputs.dir"),
    ('dir = "output"', 'dir = "/tmp"', "outputs.dir"),
    ('workbook = "extraction/extraction.xlsx"', 'workbook = "../elsewhere/x.xlsx"',
     "extraction.workbook"),
    ('full_text = "screening/full-text.xlsx"', 'full_text = "../../ft.xlsx"',
     "screening.full_text"),
    ('path = "sources/journal-site"', 'path = "../elsewhere"', "source 'journal-site'"),
])
def test_a_path_leading_out_is_refused_at_its_line(tmp_path: Path, old: str, new: str,
                                                   key: str) -> None:
    folder = example_review(tmp_path)
    set_toml(folder, old, new)
    before = sums(tmp_path)
    outcome = review("run", folder)
    error_line(outcome, 65, "review.toml: 1 problem found")
    [problem] = [line for line in outcome.stderr.splitlines() if "lies outside" in line]
    number = next(n for n, line in enumerate(
        (folder / "review.toml").read_text(encoding="utf-8").splitlines(), 1) if new in line)
    assert f"review.toml:{number}: {key}" in problem
    assert sums(tmp_path) == before  # nothing written anywhere, not even inside


def test_a_link_inside_the_folder_that_leads_out_is_refused(tmp_path: Path) -> None:
    folder = example_review(tmp_path)
    (folder / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    set_toml(folder, 'dir = "output"', 'dir = "out"')
    before = sums(tmp_path)
    outcome = review("run", folder)
    error_line(outcome, 65)
    assert "outputs.dir" in outcome.stderr and "lies outside" in outcome.stderr
    assert sums(tmp_path) == before


def test_a_source_outside_is_read_only_when_marked_read_only(tmp_path: Path) -> None:
    from metareview.config import load_config

    folder = example_review(tmp_path)
    (folder / "sources" / "journal-site").rename(tmp_path / "journal-site")
    set_toml(folder, 'path = "sources/journal-site"',
             'path = "../journal-site"\nread_only = true')
    config = load_config(folder)
    assert config.sources[1].path.resolve() == (tmp_path / "journal-site").resolve()


def test_outputs_inside_a_source_folder_are_refused(tmp_path: Path) -> None:
    folder = example_review(tmp_path)
    set_toml(folder, 'dir = "output"', 'dir = "sources/pubmed/out"')
    error_line(review("run", folder), 65)


def test_the_run_replaces_and_removes_only_what_it_wrote(tmp_path: Path) -> None:
    folder = example_review(tmp_path)
    out = folder / "output"
    assert review("run", folder).code == 0
    outside = sums(tmp_path, skip=folder)
    # a hand-edited report is detected by its content, not its existence
    (out / "report.html").write_text("<p>my edits</p>", encoding="utf-8")
    extraction = folder / "extraction" / "extraction.xlsx"
    book = load_workbook(extraction)
    book.worksheets[0]["I4"] = "ten"
    book.save(extraction)
    failed = review("run", folder)
    error_line(failed, 65, "extraction.xlsx: 1 problem found")
    assert "extraction.xlsx!I4" in failed.stderr
    assert "out of date but kept: output/report.html" in failed.stdout
    assert (out / "report.html").read_text(encoding="utf-8") == "<p>my edits</p>"
    assert not (out / "report.md").exists() and not (out / "results.json").exists()
    book.worksheets[0]["I4"] = 16
    book.save(extraction)
    refused = review("run", folder)
    error_line(refused, 73, "output/report.html: changed since `review run` wrote it")
    assert (out / "report.html").read_text(encoding="utf-8") == "<p>my edits</p>"
    (out / "report.html").unlink()
    assert review("run", folder).code == 0
    assert sums(tmp_path, skip=folder) == outside

    # an edited results.json with unchanged inputs is not taken for current
    (out / "results.json").write_text("{}", encoding="utf-8")
    error_line(review("run", folder), 73, "output/results.json")

    # a corrupt state file is rebuilt, and says so
    (out / "results.json").unlink()
    (out / ".review-state.json").write_text("{not json", encoding="utf-8")
    rebuilt = review("run", folder)
    assert rebuilt.code == 0, rebuilt.stderr
    assert "note: output/.review-state.json could not be read" in rebuilt.stdout
    assert json.loads((out / ".review-state.json").read_text(encoding="utf-8"))["files"]
    assert review("run", folder).stdout.strip().endswith("everything is up to date")
