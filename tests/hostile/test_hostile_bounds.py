"""Memory and work stay bounded: XML junk outside records, absurd workbooks, --jobs,
forest plots, and SIGTERM cleans up as Ctrl-C does. Inputs are generated here."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _hostile import ROOT, error_line, example_review, review, rewrite_part

RECORD = (b"<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>A trial"
          b"</ArticleTitle></Article></MedlineCitation></PubmedArticle>")


def junk_file(path: Path, elements: int, nested: bool = False) -> Path:
    """``elements`` empty elements outside the records, then one record, gzipped."""
    body = b"<x/>" * elements
    if nested:
        body = b"<junk>" + body + b"</junk>"
    path.write_bytes(gzip.compress(b"<PubmedArticleSet>" + body + RECORD
                                   + b"</PubmedArticleSet>", 9))
    return path


def peak_rss_mb(args: list[str], limit_mb: int = 4096) -> tuple[int, float, str]:
    """Run ``review ARGS`` in a child with its address space capped at ``limit_mb``;
    return its exit status, its peak resident memory (MB) and its stderr."""
    code = ("import resource, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))\n"
            "from metareview.cli import main\n"
            "sys.argv = ['review', *sys.argv[1:]]\n"
            "try:\n    main()\nfinally:\n"
            # VmHWM: the peak of this program alone (ru_maxrss would also count the pytest
            # process it was forked from, as Linux keeps it across exec)
            "    with open('/proc/self/status') as status:\n"
            "        peak = next(int(line.split()[1]) for line in status\n"
            "                    if line.startswith('VmHWM:'))\n"
            "    print(f'PEAK {peak}', file=sys.stderr)\n")
    # one BLAS thread: each reserves address space, which the limit counts
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=120)
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    assert peak, done.stderr
    return done.returncode, int(peak[-1].split()[1]) / 1024, done.stderr


# --- XML ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True])
def test_junk_outside_records_keeps_memory_flat(tmp_path: Path, nested: bool) -> None:
    # 3 million elements (12 MB, 30 KB gzipped): about 400 MB if kept in the tree
    bomb = junk_file(tmp_path / "junk.xml.gz", 3_000_000, nested)
    code, peak, stderr = peak_rss_mb(["parse", str(bomb), "-o", str(tmp_path / "r.csv")])
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert peak < 150, f"peak RSS {peak:.0f} MB"  # was 400 MB before the pruning
    assert "A trial" in (tmp_path / "r.csv").read_text(encoding="utf-8")


def test_too_many_elements_outside_records_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import metareview.xmlsafe as xmlsafe

    monkeypatch.setattr(xmlsafe, "MAX_OUTSIDE_ELEMENTS", 100_000)
    bomb = junk_file(tmp_path / "junk.xml.gz", 300_000)
    error_line(review("parse", bomb), 65, "junk.xml.gz: more than 100,000 elements outside "
               "the records")


def test_deep_nesting_outside_records_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.xml"  # still open where a chunk of the file ends
    deep.write_bytes(b"<PubmedArticleSet>" + b"<j>" * 40 + b"<x/>" * 30_000 + b"</j>" * 40
                     + RECORD + b"</PubmedArticleSet>")
    error_line(review("parse", deep), 65, "deep.xml:1: elements nested more than 32 deep")
    deeper = tmp_path / "deeper.xml"  # whatever the chunks, libxml2 stops at 256
    deeper.write_bytes(b"<PubmedArticleSet>" + b"<j>" * 300 + b"</j>" * 300 + RECORD
                       + b"</PubmedArticleSet>")
    error_line(review("parse", deeper), 65, "deeper.xml:1:", "Excessive depth",
               "no export nests elements this deep")


def test_pruning_work_grows_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU time of 4x the junk stays well under the 16x a quadratic loop would take."""
    from metareview import xmlsafe

    def cpu(elements: int) -> float:
        data = b"<PubmedArticleSet>" + b"<x/>" * elements + RECORD + b"</PubmedArticleSet>"
        start = time.process_time()
        found = list(xmlsafe.iter_records(io.BytesIO(data), "x", frozenset({"PubmedArticle"})))
        assert len(found) == 1
        return time.process_time() - start

    cpu(20_000)  # warm up
    small, large = min(cpu(250_000) for _ in range(2)), min(cpu(1_000_000) for _ in range(2))
    assert large < 10 * max(small, 0.01), (small, large)


# --- workbooks ---------------------------------------------------------------------------


def test_a_sheet_spanning_the_whole_grid_is_refused_fast_and_small(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["study", "events", "total"])
    ws.append(["a", 1, 10])
    ws["XFD1048576"] = 1
    book.save(tmp_path / "far.xlsx")
    code, peak, stderr = peak_rss_mb(["pool", str(tmp_path / "far.xlsx")])
    assert code == 65, stderr
    assert "1,048,576 rows by 16,384 columns" in stderr and "Traceback" not in stderr
    assert peak < 250, f"peak RSS {peak:.0f} MB"


def test_records_workbooks_stream_and_a_false_dimension_cuts_nothing(tmp_path: Path) -> None:
    source = tmp_path / "a.ris"
    source.write_text("TY  - JOUR\nTI  - Far right title\nPY  - 2020\nER  - \n",
                      encoding="utf-8")
    assert review("parse", source, "-o", tmp_path / "r.xlsx").code == 0
    rewrite_part(tmp_path / "r.xlsx", "xl/worksheets/sheet1.xml",
                 lambda data: data.replace(b"</sheetPr>",
                                           b'</sheetPr><dimension ref="A1:B2"/>'))
    assert review("dedupe", tmp_path / "r.xlsx", "-o", tmp_path / "u.jsonl").code == 0
    assert "Far right title" in (tmp_path / "u.jsonl").read_text(encoding="utf-8")


# --- bounded work ------------------------------------------------------------------------


def test_jobs_beyond_the_cpus_are_cut_with_a_warning(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"{i}.xml").write_bytes(b"<PubmedArticleSet>" + RECORD
                                            + b"</PubmedArticleSet>")
    outcome = review("parse", tmp_path, "--jobs", "100000", "-o", tmp_path / "r.csv")
    assert outcome.code == 0, outcome.stderr
    assert "review: warning: --jobs 100000 is more than the" in outcome.stderr


def test_a_forest_plot_of_thousands_of_studies_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "many.csv"
    table.write_text("study,events,total\n" + "".join(
        f"s{i},{i % 17 + 1},40\n" for i in range(1000)), encoding="utf-8")
    outcome = review("pool", table, "--plot", tmp_path / "forest.png")
    error_line(outcome, 64, "a forest plot of 1,000 studies is not drawn")
    assert not (tmp_path / "forest.png").exists()
    assert review("pool", table).code == 0  # the pooling itself is fine


def test_review_run_goes_on_without_a_forest_plot_too_large_to_draw(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import metareview.plots as plots

    monkeypatch.setattr(plots, "MAX_FOREST_STUDIES", 5)  # the example pools 14 studies
    folder = example_review(tmp_path)
    outcome = review("run", folder)
    assert outcome.code == 0, outcome.stderr
    assert "note: forest plot not drawn: 14 studies (at most 5)" in outcome.stdout
    assert (folder / "output" / "report.html").exists()


def test_a_long_study_label_does_not_widen_the_forest_plot(tmp_path: Path) -> None:
    from metareview.plots import _cut

    assert len(_cut("x" * 30_000)) == 60
    table = tmp_path / "long.csv"
    table.write_text("study,events,total\n" + "".join(
        f"{'s' * 30_000}{i},{i + 2},20\n" for i in range(3)), encoding="utf-8")
    assert review("pool", table, "--plot", tmp_path / "f.svg").code == 0
    assert (tmp_path / "f.svg").stat().st_size < 500_000


def test_sigterm_removes_temporary_files_as_ctrl_c_does(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", "from metareview.cli import main; import sys; "
         "sys.argv = ['review', 'parse', '-', '-o', 'out.csv']; main()"],
        cwd=tmp_path, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert child.stdin is not None
    child.stdin.write(b"<PubmedArticleSet>" + RECORD)  # and no end: parse waits for more
    child.stdin.flush()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.csv.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.csv.*")), "the temporary output never appeared"
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGTERM, stderr
    assert b"Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []  # no temporary file, no partial output
