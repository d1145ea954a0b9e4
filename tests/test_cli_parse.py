"""`review parse` through the command line: outputs, exit codes, messages."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from metareview.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
SEED = FIXTURES / "seed_aacc_2025.xml"
SAMPLE = FIXTURES / "tipplerow_pubmed_sample.xml"


def run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, ["parse", *args], input=stdin)


def test_csv_to_stdout_by_default() -> None:
    result = run(str(SEED))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert (
        frame.loc[0, "title"] == "Mentoring Program in Academic Medicine: A Systematic Review Study"
    )
    assert frame.loc[0, "pages"] == "573-578"
    assert "1 records from 1 of 1 files" in result.stderr


def test_output_by_extension_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "records.xlsx"
    result = run(str(SAMPLE), str(SEED), "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_excel(out, dtype=str)
    assert len(frame) == 8
    assert f"wrote {out}: 8 records from 2 of 2 files" in result.stderr
    assert "3 PMIDs withdrawn by DeleteCitation: 30830050, 30830053, 30830055" in result.stderr


def test_to_overrides_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "records.out"
    assert run(str(SEED), "-o", str(out), "--to", "jsonl", "-q").exit_code == 0
    assert pd.read_json(out, lines=True).loc[0, "volume"] == 11


def test_stdin_and_gz(tmp_path: Path) -> None:
    data = (FIXTURES / "tipplerow_pubmed20n0002.xml.gz").read_bytes()
    result = run("-", stdin=data)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert len(frame) == 10
    assert set(frame["source_file"]) == {"<stdin>"}
    assert frame.loc[0, "vernacular_title"].startswith("Bêta-bloquants")
    assert len(gzip.decompress(data)) > len(data)


def test_folder_glob_jobs(tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    result = run(str(FIXTURES), "-o", str(out), "--jobs", "2", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert len(pd.read_parquet(out)) == 112
    out2 = tmp_path / "metapub.csv"
    assert run(str(FIXTURES / "metapub_*.xml"), "-o", str(out2), "-q").exit_code == 0
    assert list(pd.read_csv(out2, dtype=str)["pmid"]) == ["36987902", "37167981"]


def test_malformed_xml_exit_65_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(SEED.read_bytes()[:-200])
    out = tmp_path / "out.csv"
    result = run(str(SEED), str(bad), "-o", str(out))
    assert result.exit_code == 65
    assert f"review: error: {bad}:" in result.stderr
    assert "malformed XML" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing half-written


def test_keep_going_reports_each_bad_file(tmp_path: Path) -> None:
    bad1 = tmp_path / "bad1.xml"
    bad1.write_text("<ArticleSet><Article>", encoding="utf-8")
    bad2 = tmp_path / "bad2.xml"
    bad2.write_text("not xml at all", encoding="utf-8")
    out = tmp_path / "out.csv"
    missing = tmp_path / "missing.xml"
    result = run(str(bad1), str(SEED), str(missing), str(bad2), "-o", str(out), "--keep-going")
    assert result.exit_code == 66  # the code of the first problem: inputs are listed first
    assert f"review: error: {bad1}:1:" in result.stderr
    assert f"review: error: {bad2}" in result.stderr
    assert f"review: error: {missing}: no such file" in result.stderr
    assert "3 file(s) could not be read" in result.stderr
    assert len(pd.read_csv(out)) == 1  # the good file's record


def test_refuses_existing_output_and_overwriting_input(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old", encoding="utf-8")
    result = run(str(SEED), "-o", str(out))
    assert result.exit_code == 73
    assert "use --force" in result.stderr
    assert out.read_text(encoding="utf-8") == "old"
    assert run(str(SEED), "-o", str(out), "--force").exit_code == 0
    assert out.read_text(encoding="utf-8") != "old"
    copy = tmp_path / "seed.xml"
    copy.write_bytes(SEED.read_bytes())
    result = run(str(copy), "-o", str(copy), "--to", "csv", "--force")
    assert result.exit_code == 73
    assert "also an input" in result.stderr
    assert copy.read_bytes() == SEED.read_bytes()


def test_bad_options_and_missing_files(tmp_path: Path) -> None:
    result = run(str(tmp_path / "absent.xml"))
    assert result.exit_code == 66
    assert "no such file or folder" in result.stderr
    result = run(str(SEED), "--from", "nope")
    assert result.exit_code == 64
    assert "unknown format 'nope'" in result.stderr
    result = run(str(SEED), "--max-decompressed", "lots")
    assert result.exit_code == 64
    for size in ("nan", "inf", "-inf", "infG", "0"):  # float() takes the first three
        result = run(str(SEED), "--max-decompressed", size)
        assert result.exit_code == 64, size
        assert "is not a size" in result.stderr
    result = run(str(SEED), "-o", str(tmp_path / "x.doc"))
    assert result.exit_code == 64
    assert "unknown output type" in result.stderr


def test_gzip_bomb_via_cli(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"<ArticleSet><Article><ArticleTitle>" + b" " * (4 << 20))
    result = run(str(bomb), "--max-decompressed", "1M")
    assert result.exit_code == 65
    assert "decompresses to more than 1,048,576 bytes" in result.stderr


def test_help_and_no_heavy_imports() -> None:
    result = CliRunner().invoke(cli, ["parse", "--help"])
    assert result.exit_code == 0
    assert "--keep-going" in result.output and "Examples:" in result.output
    code = (
        "import sys; from metareview.cli import cli; import metareview;"
        "heavy = [m for m in ('pandas', 'scipy', 'matplotlib', 'openpyxl') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
