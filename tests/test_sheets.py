"""The extraction workbook: writing, reading back, and every validation error with its cell."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import InputError, OptionError, ReviewWarning, ValidationError
from metareview.sheets.extraction import (
    SheetPlan,
    extraction_columns,
    read_extraction,
    write_extraction,
)

REFERENCE = Path(__file__).parent / "reference" / "data"
DATA = Path(__file__).parents[1] / "data"


def pritz_rows() -> list[dict[str, str]]:
    with (REFERENCE / "pritz1997.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def make_book(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """A plain workbook as a reviewer might type it: header in row 1, studies below."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def good_rows() -> list[list[object]]:
    return [["Alpha 2001", 3, 10, "yes"], ["Beta 2002", 5, 20, "yes"], ["Gamma 2003", 7, 9, "yes"]]


HEADER = ["study", "events", "total", "include"]


def problems(path: Path, **options: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        read_extraction(path, **options)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


# --- writing ---------------------------------------------------------------------------------


def test_written_workbook_has_columns_validation_and_helper_sheets(tmp_path: Path) -> None:
    rows = ({"pmid": "123", "first_author": "Smith J", "year": 2001, "title": "A trial"},
            {"doi": "10.1/X", "first_author": "Smith J", "year": 2001, "title": "Another"})
    path = tmp_path / "x.xlsx"
    write_extraction(SheetPlan("binary", rows, ("country",), ("pubmed.xml",)), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["extraction", "codebook", "about"]
    ws = book["extraction"]
    header = [c.value for c in ws[1]]
    assert header == ["record_id", "first_author", "year", "title", "doi", "pmid", "study",
                      "include", "events_1", "total_1", "events_2", "total_2", "subgroup",
                      "country", "notes"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert [ws.cell(r, 1).value for r in (2, 3)] == ["pmid:123", "doi:10.1/x"]
    # duplicate "Smith J 2001" labels get a/b as in a reference list, so the sheet validates
    assert [ws.cell(r, 7).value for r in (2, 3)] == ["Smith J 2001a", "Smith J 2001b"]
    assert ws.cell(2, 1).fill.fgColor.rgb.endswith("E7E6E6")  # grey, prefilled
    kinds = {(dv.type, str(dv.sqref)) for dv in ws.data_validations.dataValidation}
    assert ("list", "H2:H503") in kinds
    assert ("whole", "I2:I503") in kinds
    codebook = {r[0]: r[1] for r in book["codebook"].iter_rows(min_row=2, values_only=True)}
    assert set(codebook) == set(header)
    about = [r for r in book["about"].iter_rows(min_row=2, values_only=True)]
    assert ("source", "pubmed.xml") in about
    assert any(k == "tool" and str(v).startswith("metareview") for k, v in about)


def test_formula_like_record_text_is_stored_as_text(tmp_path: Path) -> None:
    title = '=HYPERLINK("http://example.invalid","click")'
    rows = ({"pmid": "1", "first_author": "@Smith", "year": 2001, "title": title},
            {"pmid": "2", "first_author": "Jones", "year": 2002, "title": "-5 mg: a trial"})
    path = tmp_path / "x.xlsx"
    write_extraction(SheetPlan("binary", rows), path)
    ws = openpyxl.load_workbook(path)["extraction"]
    for ref, value in (("D2", title), ("B2", "@Smith"), ("D3", "-5 mg: a trial")):
        assert ws[ref].value == value and ws[ref].data_type == "s", ref
        assert ws[ref].quotePrefix, ref  # stays text even after the cell is edited
    assert ws["C2"].value == 2001 and not ws["C2"].quotePrefix
    assert ws["D2"].font.color.rgb.endswith("595959")  # still grey, prefilled


@pytest.mark.parametrize("design,data", [
    ("proportion", ["events", "total"]),
    ("continuous", ["mean_1", "sd_1", "n_1", "mean_2", "sd_2", "n_2"]),
    ("generic", ["yi", "vi", "sei"]),
])
def test_columns_per_design(design: str, data: list[str]) -> None:
    columns = extraction_columns(design, ["setting"])
    assert columns[8:8 + len(data)] == data
    assert columns[-2:] == ["setting", "notes"]


def test_field_clashing_with_a_column_is_refused() -> None:
    with pytest.raises(OptionError, match="clashes"):
        extraction_columns("proportion", ["Events"])


def test_sample_workbook_is_what_review_sheet_writes(tmp_path: Path) -> None:
    """data/extraction.xlsx: the Pritz (1997) counts in the exact layout of `review sheet`."""
    rows = tuple({"record_id": f"dat.pritz1997#{i}", "first_author": r["study"],
                  "study": r["study"], "events": int(r["xi"]), "total": int(r["ni"])}
                 for i, r in enumerate(pritz_rows(), 1))
    fresh = tmp_path / "fresh.xlsx"
    write_extraction(SheetPlan("proportion", rows, (), (
        "metafor dat.pritz1997 (Zhou, Brizendine & Pritz 1999; Pritz 1997)",)), fresh)
    sample, made = openpyxl.load_workbook(DATA / "extraction.xlsx"), openpyxl.load_workbook(fresh)
    assert sample.sheetnames == made.sheetnames
    for name in sample.sheetnames:
        ours = [r for r in sample[name].iter_rows(values_only=True) if r[0] != "tool"]
        theirs = [r for r in made[name].iter_rows(values_only=True) if r[0] != "tool"]
        assert ours == theirs
    table = read_extraction(DATA / "extraction.xlsx")
    assert table.values["events"] == tuple(float(r["xi"]) for r in pritz_rows())
    assert table.values["total"] == tuple(float(r["ni"]) for r in pritz_rows())


# --- reading ---------------------------------------------------------------------------------


def test_reads_back_a_filled_in_workbook(tmp_path: Path) -> None:
    table = read_extraction(make_book(tmp_path / "b.xlsx", HEADER, good_rows()))
    assert table.design == "proportion"
    assert table.studies == ("Alpha 2001", "Beta 2002", "Gamma 2003")
    assert table.values == {"events": (3.0, 5.0, 7.0), "total": (10.0, 20.0, 9.0)}
    assert table.rows == (2, 3, 4)


def test_excluded_rows_are_skipped_and_counted_even_when_incomplete(tmp_path: Path) -> None:
    rows = [*good_rows(), ["Delta 2004", "n/a", None, "no"], ["Eps 2005", 1, 2, "NO"]]
    table = read_extraction(make_book(tmp_path / "b.xlsx", HEADER, rows))
    assert table.k == 3
    assert table.excluded == 2


def test_headers_match_ignoring_case_and_spaces_and_metafor_aliases(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", [" Study ", "XI", "n i", "Sub group"],
                     [["A", 1, 4, "x"], ["B", 2, 5, "y"]])
    table = read_extraction(path)
    assert table.values == {"events": (1.0, 2.0), "total": (4.0, 5.0)}
    assert table.column("subgroup") == ("x", "y")


def test_binary_design_from_metafor_cells_ai_bi_ci_di() -> None:
    table = read_extraction(REFERENCE / "bcg.csv")
    assert table.design == "binary"
    assert table.values["total_1"][0] == 4 + 119
    assert table.values["total_2"][0] == 11 + 128


def test_continuous_and_generic_designs(tmp_path: Path) -> None:
    table = read_extraction(REFERENCE / "normand1999.csv")
    assert table.design == "continuous"
    assert table.values["n_1"][0] == 155
    path = make_book(tmp_path / "g.xlsx", ["study", "yi", "sei", "vi"],
                     [["A", 0.1, 0.2, None], ["B", 0.3, "NA", 0.04]])
    generic = read_extraction(path)
    assert generic.design == "generic"
    assert generic.values["sei"][0] == 0.2
    assert generic.values["vi"][1] == 0.04


def test_design_option_overrides_inference(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, good_rows())
    with pytest.raises(InputError, match="no column 'yi'"):
        read_extraction(path, design="generic")


def test_unknown_columns_give_a_clear_error(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", ["study", "n", "x"], [["A", 1, 2]])
    with pytest.raises(InputError, match="cannot tell the design"):
        read_extraction(path)


def test_missing_total_column_is_named(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", ["study", "events"], [["A", 1]])
    with pytest.raises(InputError, match="no column 'total'") as info:
        read_extraction(path)
    assert info.value.location == "b.xlsx!A1"


def test_helper_sheets_are_ignored_even_when_first(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "codebook"
    book.active.append(["column", "meaning"])
    data = book.create_sheet("mydata")
    for row in [HEADER, *good_rows()]:
        data.append(row)
    book.save(tmp_path / "b.xlsx")
    assert read_extraction(tmp_path / "b.xlsx").k == 3
    assert read_extraction(tmp_path / "b.xlsx", sheet="MyData").k == 3
    with pytest.raises(InputError, match="no sheet named 'other'"):
        read_extraction(tmp_path / "b.xlsx", sheet="other")


def test_csv_with_semicolons_and_cell_references(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("study;events;total\nA;1;4\nB;9;5\n", encoding="utf-8")
    assert problems(path) == ["s.csv!B3: events is 9 but total is 5 — "
                              "events cannot exceed total; check both cells"]


def test_old_xls_and_non_utf8_csv_are_refused_with_a_way_out(tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InputError, match=r"old-style \.xls") as info:
        read_extraction(xls)
    assert "save it as .xlsx" in str(info.value)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("study,events,total\nM\xfcller,1,2\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_extraction(latin)


def test_csv_bytes_from_stdin() -> None:
    data = (REFERENCE / "pritz1997.csv").read_bytes()
    table = read_extraction("-", data=data, name="<stdin>")
    assert table.k == 14
    assert table.source == "<stdin>"


# --- every validation error, with its cell ----------------------------------------------------


@pytest.mark.parametrize("cell,value,expected", [
    ("B3", "twelve", "b.xlsx!B3: events is 'twelve', not a number"),
    ("B3", -2, "b.xlsx!B3: events is -2; it cannot be negative"),
    ("C3", 20.5, "b.xlsx!C3: total is 20.5; counts must be whole numbers"),
    ("B4", 12, "b.xlsx!B4: events is 12 but total is 9"),
    ("C2", None, "b.xlsx!C2: total is empty"),
    ("C2", "NA", "b.xlsx!C2: total is 'NA' (missing)"),
    ("B2", "-", "b.xlsx!B2: events is '-' (missing)"),
    ("A3", "alpha 2001", "b.xlsx!A3: study 'alpha 2001' is also in A2"),
    ("A3", None, "b.xlsx!A3: study is empty"),
    ("D2", "maybe", "b.xlsx!D2: include is 'maybe'"),
    ("C4", 0, "b.xlsx!C4: total is 0"),
    ("B2", dt.datetime(2024, 3, 1), "b.xlsx!B2: events is a date or time"),
    ("B2", True, "b.xlsx!B2: events is TRUE, not a number"),
    ("B2", "3,5", "b.xlsx!B2: events is '3,5', not a number — write it without commas"),
    ("E3", "stray", "b.xlsx!E3: has a value but its column has no header"),
])
def test_each_bad_cell_is_reported_with_its_reference(tmp_path: Path, cell: str, value: object,
                                                      expected: str) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, good_rows())
    book = openpyxl.load_workbook(path)
    book.active[cell] = value
    book.save(path)
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_formula_without_saved_value(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, good_rows())
    book = openpyxl.load_workbook(path)
    book.active["C3"] = "=B3*4"  # openpyxl stores no cached result, as if never opened in Excel
    book.save(path)
    [found] = problems(path)
    assert found.startswith("b.xlsx!C3: holds a formula whose result was never saved")
    assert "open the file in Excel or LibreOffice" in found


def test_merged_cells_in_the_data_area(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, good_rows())
    book = openpyxl.load_workbook(path)
    book.active.merge_cells("B3:C3")
    book.save(path)
    found = problems(path)
    assert found[0].startswith("b.xlsx!B3: cells B3:C3 are merged")


def test_hidden_rows_warn_but_are_read(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, good_rows())
    book = openpyxl.load_workbook(path)
    book.active.row_dimensions[3].hidden = True
    book.save(path)
    with pytest.warns(ReviewWarning, match="row 3 hidden"):
        table = read_extraction(path)
    assert table.k == 3


def test_optional_columns_treat_na_as_missing(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", [*HEADER, "notes", "country"],
                     [[*r, "NA", "-"] for r in good_rows()])
    table = read_extraction(path)
    assert table.column("notes") == (None, None, None)
    assert table.column("country") == (None, None, None)


def test_required_extra_column_for_by(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", [*HEADER, "subgroup"],
                     [[*r, g] for r, g in zip(good_rows(), ["a", None, "b"], strict=True)])
    [found] = problems(path, required=["subgroup"])
    assert found.startswith("b.xlsx!E3: subgroup is empty")


def test_every_problem_reported_in_one_pass_sorted_by_cell(tmp_path: Path) -> None:
    rows = [["A", "x", 10, "yes"], ["B", 12, 10, "yes"], ["A", 1.5, None, "perhaps"]]
    path = make_book(tmp_path / "b.xlsx", HEADER, rows)
    found = problems(path)
    refs = [re.match(r"b\.xlsx!([A-Z]+\d+)", p).group(1) for p in found]  # type: ignore[union-attr]
    assert refs == ["B2", "B3", "A4", "B4", "C4", "D4"]


def test_validation_error_through_the_cli_exits_65(tmp_path: Path) -> None:
    path = make_book(tmp_path / "b.xlsx", HEADER, [["A", 12, 10, "yes"]])
    result = CliRunner().invoke(cli, ["pool", str(path)])
    assert result.exit_code == 65
    assert "b.xlsx!B2: events is 12 but total is 10" in result.output
    assert "Traceback" not in result.output


# --- LibreOffice-style files -----------------------------------------------------------------


def _as_other_program(path: Path, out: Path) -> None:
    """Rewrite an openpyxl xlsx the way Excel and LibreOffice store it: text in a shared-string
    table (one with rich-text runs), one cell still an inline string, and a formula whose
    cached result is saved."""
    strings: list[str] = []

    def shared(match: re.Match[str]) -> str:
        ref, text = match.group(1), match.group(2)
        if ref == "A4":  # keep one inline string
            return match.group(0)
        strings.append(text)
        return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'

    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename).decode("utf-8")
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(r'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>',
                              shared, data)
                old = '<c r="C4" t="n"><v>9</v></c>'
                assert old in data
                data = data.replace(old, '<c r="C4"><f>B4+2</f><v>9</v></c>')
            elif item.filename == "[Content_Types].xml":
                data = data.replace("</Types>", (
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace("</Relationships>", (
                    '<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/sharedStrings" '
                    'Target="sharedStrings.xml"/></Relationships>'))
            dst.writestr(item, data)
        items = []
        for text in strings:
            if text == "Beta 2002":  # rich text: two runs, as after formatting part of a cell
                items.append("<si><r><rPr><b/></rPr><t>Beta</t></r><r><t xml:space=\"preserve\">"
                             " 2002</t></r></si>")
            else:
                items.append(f"<si><t>{text}</t></si>")
        dst.writestr("xl/sharedStrings.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(items)}" uniqueCount="{len(items)}">' + "".join(items) + "</sst>"))


def test_other_programs_xlsx_shared_and_inline_strings_dates_cached_formulas(
        tmp_path: Path) -> None:
    base = make_book(tmp_path / "base.xlsx", [*HEADER, "visit"],
                     [[*r, dt.date(2020, 1, 2)] for r in good_rows()])
    plain = read_extraction(base)
    other = tmp_path / "other.xlsx"
    _as_other_program(base, other)
    with zipfile.ZipFile(other) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert 't="s"' in sheet and 't="inlineStr"' in sheet and "<f>B4+2</f><v>9</v>" in sheet
    table = read_extraction(other)
    assert table.studies == plain.studies == ("Alpha 2001", "Beta 2002", "Gamma 2003")
    assert table.values == plain.values
    assert table.column("visit") == (dt.datetime(2020, 1, 2),) * 3


# --- review sheet ----------------------------------------------------------------------------


def test_review_sheet_from_a_records_csv(tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    records.write_text("source_file,record_index,pmid,doi,title,first_author,year\n"
                       "pubmed.xml,0,111,,First study,Ng A,2019\n"
                       "pubmed.xml,1,,10.5/ABC,Second study,Ode B,2020\n", encoding="utf-8")
    out = tmp_path / "extraction.xlsx"
    result = CliRunner().invoke(cli, ["sheet", str(records), "-o", str(out), "--field", "country"])
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(out)["extraction"]
    assert [c.value for c in ws[2]][:8] == ["pmid:111", "Ng A", 2019, "First study", None,
                                            "111", "Ng A 2019", "yes"]
    assert [c.value for c in ws[1]][-2:] == ["country", "notes"]
    about = dict(openpyxl.load_workbook(out)["about"].iter_rows(min_row=2, values_only=True))
    assert about["source"] == "pubmed.xml"
    # an unfilled sheet is refused cell by cell
    pooled = CliRunner().invoke(cli, ["pool", str(out)])
    assert pooled.exit_code == 65
    assert "extraction.xlsx!I2: events is empty" in pooled.output


def test_review_sheet_blank_and_refusals(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "blank.xlsx"
    assert runner.invoke(cli, ["sheet", "--design", "generic", "-o", str(out)]).exit_code == 0
    assert [c.value for c in openpyxl.load_workbook(out).active[1]][8:11] == ["yi", "vi", "sei"]
    again = runner.invoke(cli, ["sheet", "-o", str(out)])
    assert again.exit_code == 73
    assert "use --force" in again.output
    wrong = runner.invoke(cli, ["sheet", "-o", str(tmp_path / "x.csv")])
    assert wrong.exit_code == 64
    assert not (tmp_path / "x.csv").exists()


def test_review_sheet_from_a_folder_of_article_xml(tmp_path: Path) -> None:
    folder = tmp_path / "xml"
    folder.mkdir()
    shutil.copy(Path(__file__).parent / "fixtures" / "sheets" / "metapub_36987902.xml", folder)
    out = tmp_path / "e.xlsx"
    result = CliRunner().invoke(cli, ["sheet", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 study, proportion design" in result.output
    row = [c.value for c in openpyxl.load_workbook(out).active[2]]
    assert row[0] == "pmid:36987902"
    assert row[5] == "36987902"  # the PMID from the XML


def test_review_sheet_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["sheet", "--help"])
    assert "review sheet records.csv -o extraction.xlsx" in result.output
    assert "events_1, total_1, events_2, total_2" in result.output


def test_copy_of_sample_is_independent(tmp_path: Path) -> None:
    copy = tmp_path / "copy.xlsx"
    shutil.copy(DATA / "extraction.xlsx", copy)
    assert read_extraction(copy).k == 14


def test_review_sheet_from_jsonl_records(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text('{"pmid": "5", "title": "T", "first_author": "Li X", "year": 2018.0, '
                       '"source_file": "a.xml"}\n', encoding="utf-8")
    out = tmp_path / "e.xlsx"
    result = CliRunner().invoke(cli, ["sheet", str(records), "-o", str(out),
                                      "--design", "continuous"])
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(out).active
    assert [c.value for c in ws[2]][:3] == ["pmid:5", "Li X", 2018]
    assert ws.cell(1, 9).value == "mean_1"


def test_unique_label_takes_the_next_free_letter() -> None:
    from metareview.sheets.extraction import unique_label

    assert unique_label("Smith 2010", {"jones 2011"}) == "Smith 2010"
    assert unique_label("Smith 2010", {"smith 2010"}) == "Smith 2010b"
    assert unique_label("Smith 2010", {"smith 2010", "smith 2010b"}) == "Smith 2010c"
    taken = {"x"} | {f"x{chr(c)}" for c in range(ord("b"), ord("z") + 1)}
    assert unique_label("X", taken) == "Xaa"  # after z, as in long reference lists
