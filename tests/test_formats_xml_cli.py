"""`review parse` on JATS, Crossref, OJS, DOAJ and Europe PMC files (CliRunner)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from metareview.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_parse_jats_to_csv_on_stdout() -> None:
    code, out, _ = run("parse", str(FIXTURES / "jats/pubmed_parser_1471-2180-11-174.nxml"))
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["source_format"] == "jats"
    assert row["doi"] == "10.1186/1471-2180-11-174"
    assert row["pmcid"] == "PMC3166277"
    assert row["authors"] == "Dennehy JJ; Wang IN"


def test_parse_mixed_xml_formats_to_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    inputs = [
        FIXTURES / "crossref/elife-crossref_crossref-606.xml",
        FIXTURES / "ojs/pkp-ojs_issue_ojs31.xml",
        FIXTURES / "doaj/doaj_articlematch.xml",
        FIXTURES / "europepmc/pyeuropepmc_search_cancer_dc.xml",
    ]
    code, _, err = run("parse", *map(str, inputs), "-o", str(out), "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source_format"]] = counts.get(row["source_format"], 0) + 1
    assert counts == {"crossref": 1, "ojs": 6, "doaj": 7, "europepmc": 25}
    doaj = next(r for r in rows if r["source_format"] == "doaj" and r["record_index"] == 1)
    assert doaj["source_file"] == str(inputs[2])
    assert doaj["abstract_eng"].startswith("Indigenous theatre collectives")


def test_parse_detects_by_content_and_format_can_be_forced(tmp_path: Path) -> None:
    renamed = tmp_path / "download.txt"
    shutil.copyfile(FIXTURES / "doaj/doaj_successful.xml", renamed)
    code, out, _ = run("parse", str(renamed))
    assert code == 0 and "10.1234/100" in out
    code, out, _ = run("parse", "--from", "doaj", str(renamed))
    assert code == 0 and "10.1234/100" in out


def test_parse_unknown_xml_names_the_formats_and_writes_nothing(tmp_path: Path) -> None:
    odd = tmp_path / "odd.xml"
    odd.write_text("<catalogue><item/></catalogue>")
    out = tmp_path / "out.csv"
    code, _, err = run("parse", str(odd), "-o", str(out))
    assert code == 65
    assert "review: error:" in err and "<catalogue>" in err
    for name in ("jats", "crossref", "ojs", "doaj", "europepmc"):
        assert f" {name}," in err or f" {name} (" in err
    assert "Traceback" not in err
    assert not out.exists()
