"""PRISMA 2020 counts, the PRISMA2020 CSV layout, the flow diagram and `review prisma`.

Golden values come from the fixtures' own text: the PRISMA2020 package's template
(verbatim) and that template with its `n` column filled in (tests/fixtures/prisma).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview import prisma
from metareview.cli import cli
from metareview.errors import (
    InputError,
    MissingInputError,
    OptionError,
    OutputError,
    ReviewWarning,
)
from metareview.prisma import FullText, NamedCount, PrismaCounts
from metareview.prisma_diagram import render, save

FIXTURES = Path(__file__).parent / "fixtures" / "prisma"
TEMPLATE = FIXTURES / "PRISMA2020-template.csv"
FILLED = FIXTURES / "filled.csv"


@pytest.fixture
def counts() -> PrismaCounts:
    return prisma.read_csv(FILLED)


def fixture_n(key: str) -> str:
    """The `n` cell of a row of the filled fixture, as written there."""
    with FILLED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["data"] == key:
                return row["n"]
    raise KeyError(key)


def edit_csv(text: str, key: str, column: str, value: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index(column)
    for row in rows:
        if row[0] == key:
            row[col] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def svg_texts(data: bytes) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", data.decode())


# -- the CSV layout ------------------------------------------------------------------


def test_blank_template_is_the_packages_template_byte_for_byte() -> None:
    assert prisma.template_csv() == TEMPLATE.read_text(encoding="utf-8")


def test_read_filled_fixture(counts: PrismaCounts) -> None:
    assert counts.database_results == int(fixture_n("database_results")) == 1100
    assert counts.database_specific_results == (
        NamedCount("PubMed", 412),
        NamedCount("Embase", 538),
        NamedCount("CENTRAL", 150),
    )
    assert counts.register_specific_results == (NamedCount("ClinicalTrials.gov", 45),)
    assert counts.records_screened == int(fixture_n("records_screened"))
    assert counts.dbr_excluded == (
        NamedCount("Wrong population", 31),
        NamedCount("Wrong outcome", 18),
        NamedCount("Wrong study design", 9),
    )
    assert counts.other_excluded == (NamedCount("Not a primary study", 5),)
    assert (counts.new_studies, counts.new_reports) == (19, 23)
    assert counts.has_other_methods
    assert counts.labels == ()
    assert counts.check() is counts


def test_csv_round_trip_is_exact(counts: PrismaCounts, tmp_path: Path) -> None:
    assert prisma.to_csv(counts) == FILLED.read_text(encoding="utf-8")
    out = prisma.write_csv(counts, tmp_path / "again.csv")
    assert prisma.read_csv(out) == counts


def test_to_dict_gives_breakdowns_as_mappings(counts: PrismaCounts) -> None:
    data = counts.to_dict()
    assert data["database_specific_results"] == {"PubMed": 412, "Embase": 538, "CENTRAL": 150}
    assert data["dbr_excluded"]["Wrong outcome"] == 18
    assert data["records_excluded"] == 741


def test_placeholders_and_bare_numbers() -> None:
    text = FILLED.read_text(encoding="utf-8")
    text = edit_csv(text, "database_specific_results", "n", "Database 1, xxx; Database 2, xxx")
    text = edit_csv(text, "dbr_excluded", "n", "58")
    text = edit_csv(text, "database_results", "n", "1,100")
    counts = prisma.read_csv("x.csv", text).check()
    assert counts.database_specific_results == ()
    assert counts.database_results == 1100
    assert counts.dbr_excluded == (NamedCount("", 58),)
    assert prisma.read_csv("y.csv", prisma.to_csv(counts)) == counts


def test_reason_counts_with_thousands_and_labels_with_commas() -> None:
    text = edit_csv(FILLED.read_text(encoding="utf-8"), "database_specific_results", "n",
                    "PubMed, 1,000; Embase, e.g. via Ovid, 100")  # fmt: skip
    counts = prisma.read_csv("c.csv", text)
    assert counts.database_specific_results == (
        NamedCount("PubMed", 1000),
        NamedCount("Embase, e.g. via Ovid", 100),
    )
    assert counts.check() is counts


def test_older_template_without_specific_rows_reads() -> None:
    lines = FILLED.read_text(encoding="utf-8").splitlines(keepends=True)
    old = "".join(line for line in lines if "_specific_results" not in line)
    counts = prisma.read_csv("old.csv", old).check()
    assert counts.database_results == 1100
    assert counts.database_specific_results == ()


def test_translated_box_texts_are_kept_and_drawn() -> None:
    text = edit_csv(FILLED.read_text(encoding="utf-8"), "records_screened", "boxtext",
                    "Registros triados")  # fmt: skip
    counts = prisma.read_csv("pt.csv", text)
    assert counts.labels == (("records_screened", "Registros triados"),)
    assert prisma.to_csv(counts) == text
    assert "Registros triados" in svg_texts(render(counts, "svg"))


@pytest.mark.parametrize(
    ("key", "column", "value", "where", "what"),
    [
        ("records_screened", "n", "82three", ":17", "not a count"),
        ("records_screened", "n", "12.5", ":17", "not a count"),
        ("records_screened", "n", "NA", ":17", "records_screened has no count"),
        ("dbr_excluded", "n", "Wrong population 31", ":24", "is not 'label, n'"),
        ("previous_studies", "n", "four", ":3", "previous_studies is 'four', not a count"),
        ("total_studies", "n", "18", ":29",
         "total_studies (18) differs from previous_studies + new_studies (19)"),
    ],
)
def test_bad_cells_are_located(key: str, column: str, value: str, where: str, what: str) -> None:
    text = edit_csv(FILLED.read_text(encoding="utf-8"), key, column, value)
    with pytest.raises(InputError) as info:
        prisma.read_csv("counts.csv", text)
    assert info.value.location == f"counts.csv{where}"
    assert what in info.value.message


def test_missing_rows_columns_and_duplicates(tmp_path: Path) -> None:
    text = FILLED.read_text(encoding="utf-8")
    without = "".join(line for line in text.splitlines(True) if not line.startswith("dbr_assessed"))
    with pytest.raises(InputError, match="no row for dbr_assessed"):
        prisma.read_csv("c.csv", without)
    with pytest.raises(InputError, match=r"no column\(s\) n in the header"):
        prisma.read_csv("c.csv", text.replace(",url,n\n", ",url,count\n", 1))
    twice = text + text.splitlines(True)[16]
    with pytest.raises(InputError, match=r"records_screened is given twice \(line 17"):
        prisma.read_csv("c.csv", twice)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(edit_csv(text, "dbr_excluded", "n", "Población, 58").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        prisma.read_csv(latin)
    with pytest.raises(MissingInputError):
        prisma.read_csv(tmp_path / "no-such.csv")


def test_unknown_rows_warn() -> None:
    text = FILLED.read_text(encoding="utf-8") + "total_studies_ma,node23,box17,x,x,x,x.html,12\n"
    with pytest.warns(ReviewWarning, match="total_studies_ma"):
        counts = prisma.read_csv("c.csv", text)
    assert counts == prisma.read_csv(FILLED)


def test_labels_with_separators_cannot_be_written(counts: PrismaCounts) -> None:
    bad = replace(counts, dbr_excluded=(NamedCount("Wrong population, adults", 58),))
    with pytest.raises(InputError, match="comma or semicolon"):
        prisma.to_csv(bad)


# -- the identities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "left", "right"),
    [
        ({"records_screened": 820}, 823, 820),
        ({"duplicates": 300}, 833, 823),
        ({"excluded_automatic": 5}, 818, 823),
        ({"records_excluded": 740}, 83, 82),
        ({"dbr_notretrieved_reports": 5}, 77, 78),
        ({"dbr_assessed": 80}, 78, 80),
        ({"other_notretrieved_reports": 2}, 7, 8),
        ({"new_reports": 24}, 23, 24),
        ({"dbr_excluded": (NamedCount("Wrong population", 30),)}, 51, 23),
        ({"database_results": 1101}, 1101, 1100),
        ({"register_specific_results": (NamedCount("ICTRP", 40),)}, 45, 40),
        ({"new_studies": 24}, 24, 23),
    ],
)
def test_each_mismatch_names_both_numbers(
    counts: PrismaCounts, change: dict[str, object], left: int, right: int
) -> None:
    with pytest.raises(InputError) as info:
        replace(counts, **change).check(location="counts.csv")  # type: ignore[arg-type]
    message = info.value.message
    assert re.search(rf"= {left:,}\b", message), message
    assert re.search(rf"= {right:,}\b", message), message
    assert info.value.location == "counts.csv"


def test_blank_template_fails_check() -> None:
    with pytest.raises(InputError, match="every count is 0"):
        prisma.read_csv(TEMPLATE).check()


@pytest.mark.parametrize("value", [-1, 2.5, True, "3"])
def test_counts_must_be_whole_non_negative(value: object) -> None:
    with pytest.raises(InputError, match="not a count"):
        PrismaCounts(
            database_results=10,
            records_screened=value,  # type: ignore[arg-type]
            records_excluded=0,
            dbr_sought_reports=0,
            dbr_notretrieved_reports=0,
            dbr_assessed=0,
            new_studies=0,
            new_reports=0,
        )


# -- from the pipeline ---------------------------------------------------------------


def test_from_pipeline() -> None:
    counts = PrismaCounts.from_pipeline(
        identified={"pubmed": 30, "journal-site": 12},
        registers={"ctgov": 3},
        duplicates=5,
        excluded_other=1,
        screening=["include"] * 6 + ["maybe"] * 2 + ["exclude"] * 30 + ["Exclude "],
        full_text=[
            FullText(retrieved=False),
            FullText(True, "include"),
            FullText(True, "include"),
            FullText(True, "include"),
            FullText(True, "exclude", "wrong outcome"),
            FullText(True, "exclude", "wrong outcome"),
            FullText(True, "exclude", "wrong population"),
            FullText(True, "include"),
        ],
        studies=3,
    )
    assert counts.database_results == 42
    assert counts.database_specific_results == (NamedCount("pubmed", 30),
                                                NamedCount("journal-site", 12))  # fmt: skip
    assert counts.register_results == 3
    assert counts.records_screened == 39
    assert counts.records_excluded == 31
    assert counts.dbr_sought_reports == 8
    assert counts.dbr_notretrieved_reports == 1
    assert counts.dbr_assessed == 7
    assert counts.dbr_excluded == (NamedCount("wrong outcome", 2),
                                   NamedCount("wrong population", 1))  # fmt: skip
    assert (counts.new_studies, counts.new_reports) == (3, 4)


@pytest.mark.parametrize(
    ("screening", "full_text", "message"),
    [
        (["include", None], [FullText(True, "include")], "1 record(s) without a screening"),
        (["include", "perhaps"], [FullText(True, "include")], "unknown screening decision"),
        (["include", "include"], [FullText(True, "include")], "outcome = 1, but"),
        (["include"], [FullText(None, "include")], "without a retrieved yes/no"),  # type: ignore[arg-type]
        (["include"], [FullText(True, "exclude")], "decide include, or exclude with a reason"),
        (["include"], [FullText(True, None)], "decide include, or exclude with a reason"),
    ],
)
def test_from_pipeline_refuses_unfinished_screening(
    screening: list[str | None], full_text: list[FullText], message: str
) -> None:
    with pytest.raises(InputError) as info:
        PrismaCounts.from_pipeline(
            identified={"pubmed": len(screening)},
            duplicates=0,
            screening=screening,
            full_text=full_text,
        )
    assert message in str(info.value)


# -- the diagram ---------------------------------------------------------------------


def test_svg_holds_every_box_text(counts: PrismaCounts) -> None:
    texts = svg_texts(render(counts, "svg"))
    joined = " ".join(texts)
    for expected in (
        "Identification of new studies via databases and registers",
        "Identification of new studies via other methods",
        "Identification",
        "Screening",
        "Included",
        "Databases (n = 1,100)",
        "PubMed (n = 412)",
        "ClinicalTrials.gov (n = 45)",
        "Records screened",
        "(n = 823)",
        "Records excluded",
        "(n = 741)",
        "Reports sought for retrieval",
        "Reports not retrieved",
        "Reports assessed for eligibility",
        "Wrong population (n = 31)",
        "Wrong study design (n = 9)",
        "Citation searching (n = 22)",
        "Not a primary study (n = 5)",
        "Studies included in review",
        "(n = 19)",
        "Reports of included studies",
        "(n = 23)",
    ):
        assert expected in texts or expected in joined, expected


def test_other_methods_column_only_when_used(counts: PrismaCounts) -> None:
    plain = replace(
        counts,
        website_results=0,
        organisation_results=0,
        citations_results=0,
        other_sought_reports=0,
        other_notretrieved_reports=0,
        other_assessed=0,
        other_excluded=(),
        new_reports=20,
    )
    texts = svg_texts(render(plain, "svg"))
    assert "Identification of new studies via other methods" not in texts
    assert "Identification of new studies via databases and registers" in texts


def test_long_texts_wrap_inside_their_box(counts: PrismaCounts) -> None:
    long_reason = "Population outside the scope of the question: children under eighteen years"
    wordy = replace(counts, dbr_excluded=(NamedCount(long_reason, 27), *counts.dbr_excluded[1:]))
    wordy = replace(wordy, new_reports=27)
    texts = svg_texts(render(wordy, "svg"))
    assert long_reason not in texts  # wrapped onto several lines...
    assert long_reason in " ".join(texts)  # ...with no word lost
    # the wrapped box is taller, so the whole figure grows
    assert _svg_height(render(wordy, "svg")) > _svg_height(render(counts, "svg"))


def _svg_height(data: bytes) -> float:
    match = re.search(rb'height="([\d.]+)pt"', data)
    assert match
    return float(match.group(1))


def test_formats_are_real_and_reproducible(counts: PrismaCounts) -> None:
    png, pdf, svg = (render(counts, fmt) for fmt in ("png", "pdf", "svg"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5_000
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert render(counts, "svg") == svg
    assert render(counts, "pdf") == pdf


def test_save_writes_every_format(counts: PrismaCounts, tmp_path: Path) -> None:
    names = [tmp_path / f"flow.{ext}" for ext in ("svg", "png", "pdf", "csv")]
    assert save(counts, names) == names
    assert all(p.stat().st_size > 1000 for p in names)
    assert prisma.read_csv(names[3]) == counts
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in names)


def test_save_writes_nothing_when_counts_or_paths_are_bad(
    counts: PrismaCounts, tmp_path: Path
) -> None:
    with pytest.raises(InputError):
        save(replace(counts, new_reports=99), [tmp_path / "a.svg", tmp_path / "b.png"])
    with pytest.raises(OptionError, match="unknown output type"):
        save(counts, [tmp_path / "a.svg", tmp_path / "b.jpeg"])
    (tmp_path / "b.png").write_bytes(b"keep")
    with pytest.raises(OutputError, match="exists"):
        save(counts, [tmp_path / "a.svg", tmp_path / "b.png"])
    assert [p.name for p in tmp_path.iterdir()] == ["b.png"]
    assert (tmp_path / "b.png").read_bytes() == b"keep"


# -- the command ---------------------------------------------------------------------


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_check() -> None:
    code, out, _ = run("prisma", str(FILLED), "--check")
    assert code == 0
    assert "counts add up" in out
    assert "1,145 records identified" in out and "19 studies (23 reports) included" in out


def test_cli_draws_every_format_and_the_csv(tmp_path: Path) -> None:
    outs = [str(tmp_path / f"flow.{ext}") for ext in ("svg", "png", "pdf", "csv")]
    code, out, err = run("prisma", str(FILLED), *(x for o in outs for x in ("-o", o)))
    assert code == 0, err
    assert out.splitlines() == [f"wrote {o}" for o in outs]
    assert Path(outs[3]).read_text(encoding="utf-8") == FILLED.read_text(encoding="utf-8")
    assert "Reports excluded:" in svg_texts(Path(outs[0]).read_bytes())


def test_cli_reads_stdin(tmp_path: Path) -> None:
    out = tmp_path / "flow.svg"
    code, _, err = run("prisma", "-", "-o", str(out), stdin=FILLED.read_text(encoding="utf-8"))
    assert code == 0, err
    assert out.stat().st_size > 1000


def test_cli_mismatch_is_an_error_naming_both_numbers(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(edit_csv(FILLED.read_text(encoding="utf-8"), "records_excluded", "n", "700"))
    out = tmp_path / "flow.svg"
    code, _, err = run("prisma", str(bad), "-o", str(out), "-o", str(tmp_path / "flow.png"))
    assert code == 65
    assert err.startswith(f"review: error: {bad}: ")
    assert "(823 − 700) = 123, but reports sought for retrieval = 82" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_cli_bad_cell_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(edit_csv(FILLED.read_text(encoding="utf-8"), "dbr_assessed", "n", "seventy"))
    code, _, err = run("prisma", str(bad), "--check")
    assert code == 65
    assert f"{bad}:23: dbr_assessed is 'seventy', not a count" in err


def test_cli_template(tmp_path: Path) -> None:
    out = tmp_path / "counts.csv"
    code, _, _ = run("prisma", "--template", "-o", str(out))
    assert code == 0
    assert out.read_text(encoding="utf-8") == TEMPLATE.read_text(encoding="utf-8")
    code, _, err = run("prisma", str(out), "--check")
    assert code == 65 and "every count is 0" in err


@pytest.mark.parametrize(
    "args",
    [
        ["prisma"],
        ["prisma", str(FILLED)],
        ["prisma", str(FILLED), "--check", "-o", "x.svg"],
        ["prisma", "--template"],
        ["prisma", "--template", "-o", "x.svg"],
    ],
)
def test_cli_option_errors(args: list[str]) -> None:
    code, out, err = run(*args)
    assert code == 64
    assert err.startswith("review: error: ")
    assert out == ""


def test_cli_output_problems(tmp_path: Path) -> None:
    code, _, err = run("prisma", str(FILLED), "-o", str(FILLED), "--force")
    assert code == 73 and "the output is also an input" in err
    existing = tmp_path / "flow.svg"
    existing.write_text("mine")
    code, _, err = run("prisma", str(FILLED), "-o", str(tmp_path / "a.pdf"), "-o", str(existing))
    assert code == 73 and "use --force" in err
    assert existing.read_text() == "mine"
    assert not (tmp_path / "a.pdf").exists()
    code, _, _ = run("prisma", str(FILLED), "-o", str(existing), "--force")
    assert code == 0 and existing.read_bytes().lstrip().startswith(b"<?xml")


def test_cli_missing_input(tmp_path: Path) -> None:
    code, _, err = run("prisma", str(tmp_path / "none.csv"), "--check")
    assert code == 66
    assert "cannot read the file" in err


def test_help_has_examples() -> None:
    code, out, _ = run("prisma", "--help")
    assert code == 0
    assert "review prisma counts.csv -o flow.svg -o flow.png" in out


def test_a_utf16_counts_file_reads_like_utf8(tmp_path: Path) -> None:
    # Excel's "Unicode text" and some Windows tools save CSV as UTF-16 with a BOM
    source = FIXTURES / "filled.csv"
    utf16 = tmp_path / "counts16.csv"
    utf16.write_bytes(source.read_text(encoding="utf-8").encode("utf-16"))
    assert prisma.read_csv(utf16) == prisma.read_csv(source)
