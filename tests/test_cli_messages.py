"""What the user reads: each message is one `<what> — <how to fix>`, never two instructions
glued together, and withdrawn PMIDs are listed once however often they are withdrawn."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.articles import Withdrawn, read_articles
from metareview.cli import cli
from metareview.errors import InputError, ReviewError, ReviewWarning, ValidationError
from metareview.records import Deletion

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "pubmed" / "tipplerow_pubmed_sample.xml"
EXAMPLE = ROOT / "data" / "example-review"
WITHDRAWN = ("30830050", "30830053", "30830055")  # the sample's one DeleteCitation entry

# punctuation before the separator, two marks in a row, a doubled full stop, a space before
# a mark, or a question glued to an instruction ("is this X? use Y")
GLUED = re.compile(r"[.,;:!?] —|[,;:] *[,;:]|\w\.\.(?!\.)| [,;.:](?:\s|$)|\?\s+\w")


def _copies(tmp_path: Path) -> list[Path]:
    """The sample twice; the second copy withdraws its PMIDs twice more and one more."""
    text = SAMPLE.read_text(encoding="utf-8")
    start, end = text.index("  <DeleteCitation>"), text.index("</PubmedArticleSet>")
    block = text[start:end]
    more = block.replace("</DeleteCitation>",
                         '  <PMID Version="1">30830056</PMID>\n  </DeleteCitation>')
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    first.write_text(text, encoding="utf-8")
    second.write_text(text[:end] + block + more + text[end:], encoding="utf-8")
    return [first, second]


def _listed_once(text: str, pmids: tuple[str, ...]) -> None:
    for pmid in pmids:
        assert text.count(pmid) == 1, (pmid, text)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_parse_lists_each_withdrawn_pmid_once(tmp_path: Path, jobs: str) -> None:
    files = [str(p) for p in _copies(tmp_path)]
    result = CliRunner().invoke(cli, ["parse", *files, "-o", str(tmp_path / "r.csv"),
                                      "--jobs", jobs])
    assert result.exit_code == 0, result.output
    assert ("4 PMIDs withdrawn by DeleteCitation: 30830050, 30830053, 30830055, 30830056"
            in result.stderr)
    _listed_once(result.stderr, (*WITHDRAWN, "30830056"))


def test_dedupe_and_sheet_warn_once_for_all_their_inputs(tmp_path: Path) -> None:
    files = [str(p) for p in _copies(tmp_path)]
    for args in (["dedupe", *files, "-o", str(tmp_path / "u.csv")],
                 ["sheet", *files, "-o", str(tmp_path / "s.xlsx")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        warned = [line for line in result.stderr.splitlines() if "withdrawn" in line]
        assert warned == ["review: warning: 4 PMID(s) withdrawn by DeleteCitation entries "
                          "(30830050, 30830053, 30830055, 30830056); they are not articles "
                          "and are not in the output"], args


def test_read_articles_warns_once_naming_each_pmid_once(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(read_articles(_copies(tmp_path)))) == 14
    said = [str(w.message) for w in caught if issubclass(w.category, ReviewWarning)]
    assert len(said) == 1 and said[0].startswith("4 PMID(s) withdrawn")
    _listed_once(said[0], (*WITHDRAWN, "30830056"))


def test_withdrawn_shows_five_then_an_ellipsis() -> None:
    withdrawn = Withdrawn()
    for pmid in ["1", "2", "1", "3", "4", "5", "6", "2"]:
        withdrawn.add(Deletion(pmid, "x.xml"))
    assert len(withdrawn) == 6
    assert withdrawn.shown() == "1, 2, 3, 4, 5, …"


def test_an_error_is_one_what_and_one_how() -> None:
    # a message quoted with its full stop (metafor's words) loses it before the hint
    assert str(ReviewError("Stopped because k = 1.", hint="add studies")) == (
        "Stopped because k = 1 — add studies")
    assert str(ReviewError("wait...", "f.csv", "go on")) == "f.csv: wait... — go on"
    assert str(ReviewError("Stopped because k = 1.")) == "Stopped because k = 1."
    error = InputError("no report yet", "review.toml", "fill them in", details=["a!H2  x"])
    assert str(error) == "review.toml: no report yet — fill them in\n  a!H2  x"
    problems = [InputError("events is 'x', not a number", "s.xlsx!B3", "enter a number")]
    assert str(ValidationError(problems, "s.xlsx")) == (
        "s.xlsx: 1 problem found — fix every cell listed below and run again\n"
        "  s.xlsx!B3: events is 'x', not a number — enter a number")


def _bad_runs(tmp_path: Path) -> list[list[str]]:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n", encoding="utf-8")
    empty = tmp_path / "empty.ris"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.xml"
    broken.write_text("<PubmedArticleSet><PubmedArticle>", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("study,events,total\nA,3,10\nB,x,10\nC,12,5\nD,\"3,5\",10\n", encoding="utf-8")
    one = tmp_path / "one.csv"
    one.write_text("study,events,total\nA,3,10\n", encoding="utf-8")
    tab = tmp_path / "savedrecs.txt"
    tab.write_text("PT,AU,TI\nJ,Doe J,A title\n", encoding="utf-8")
    review = tmp_path / "review"
    shutil.copytree(EXAMPLE, review, ignore=shutil.ignore_patterns("output", "screening"))
    sample = str(SAMPLE)
    return [
        ["parse", str(tmp_path / "absent.xml")],
        ["parse", str(junk)],
        ["parse", str(empty)],
        ["parse", str(broken)],
        ["parse", sample, "--from", "nope"],
        ["parse", sample, "--from", "ris"],
        ["parse", str(tab), "--from", "wos-tabdelim"],
        ["parse", str(junk), sample, "--keep-going", "-o", str(tmp_path / "k.csv")],
        ["parse", sample, "--format", "medline", "--from", "ris"],
        ["pool", str(bad)],
        ["pool", str(one), "--leave-one-out"],
        ["pool", str(one), "--bubble", str(tmp_path / "b.png")],
        ["pool", str(one), "--mods", "year +"],
        ["pool", str(one), "--xlim", "3"],
        ["sheet", "-o", str(tmp_path / "x.csv")],
        ["dedupe", sample, "--log", "-"],
        ["prisma"],
        ["report", str(review)],
        ["screen", "status", str(tmp_path / "absent.xlsx")],
    ]


def test_bad_input_messages_are_not_glued_together(tmp_path: Path) -> None:
    seen = 0
    for args in _bad_runs(tmp_path):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output, args
        lines = [line for line in result.output.splitlines()
                 if line.startswith(("review: error:", "review: warning:", "Error:", "  "))]
        assert lines, (args, result.output)
        for line in lines:
            seen += 1
            assert line.count(" — ") <= 1, (args, line)
            assert not GLUED.search(line), (args, line)
    assert seen > 20


def test_review_run_warns_once_for_all_sources(tmp_path: Path) -> None:
    review = tmp_path / "review"
    shutil.copytree(EXAMPLE, review, ignore=shutil.ignore_patterns("output", "screening"))
    shutil.copytree(review / "sources" / "pubmed", review / "sources" / "pubmed-again")
    toml = review / "review.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[dedupe]", '[[sources]]\nlabel = "pubmed-again"\ndatabase = "PubMed"\n'
                    'path = "sources/pubmed-again"\n\n[dedupe]'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(review)])
    assert result.exit_code == 0, result.output
    assert "read 9 records from pubmed-again" in result.output
    warned = [line for line in result.stderr.splitlines() if "withdrawn" in line]
    assert len(warned) == 1 and warned[0].startswith("review: warning: 3 PMID(s) withdrawn")
    _listed_once(warned[0], WITHDRAWN)
