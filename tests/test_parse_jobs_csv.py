"""`review parse --jobs 2` to CSV: the workers write the CSV lines under the columns of
every file, the parent copies them; the bytes are those of `--jobs 1`, formula-like text
escaped or (with --raw-csv) not, whatever columns each file adds."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE_RIS = """TY  - JOUR
T1  - =HYPERLINK("http://example.org","click")
AU  - '+Doe, Jane
KW  - -minus first
AB  - @abstract that a spreadsheet would run
PY  - 2020
ER  -
"""


@pytest.mark.parametrize("raw", [False, True])
def test_jobs_2_csv_bytes_equal_jobs_1(tmp_path: Path, raw: bool) -> None:
    first, last = tmp_path / "first.ris", tmp_path / "last.ris"
    for hostile in (first, last):
        hostile.write_text(HOSTILE_RIS, encoding="utf-8")
    inputs = [str(first), str(FIXTURES / "pubmed" / "tipplerow_pubmed_sample.xml"),
              str(FIXTURES / "pubmed" / "seed_aacc_2025.xml"), str(last)]
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.csv"
        args = ["parse", *inputs, "-o", str(out), "--jobs", jobs, *(["--raw-csv"] * raw)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[1] == outputs[0]
    text = outputs[0].decode("utf-8")
    assert ('=HYPERLINK' in text) and (("'=HYPERLINK" in text) != raw)
    assert text.count("@abstract") == 2  # the first and the last file
