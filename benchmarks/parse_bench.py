"""Parse speed and memory of ``review parse`` on a large generated MEDLINE file.

The file is made by repeating the real PubMed records in ``tests/fixtures/pubmed/`` with
fresh PMIDs. Each reader runs in its own process (so peak RSS is its own) on the same
file, in the same run:

* ``metareview``  — ``metareview.read_articles`` (every field of the record model);
* ``CLI to CSV``  — what ``review parse FILE -o out.csv`` does: ``read_articles`` into
  ``metareview.outputs.write_articles`` (rows built, spooled, written as CSV);
* ``bare lxml``   — a minimal ``lxml.etree.iterparse`` loop pulling the same core fields;
* ``pubmed_parser`` — ``pubmed_parser.parse_medline_xml``, if it is installed.

Speeds are records per CPU second (best of ``--repeat`` runs), so other work on the
machine disturbs them less; wall time is printed too. The ratios to the bare loop and to
pubmed_parser are printed side by side with their aims.

Then ``review parse`` on ``--files`` such files (each of ``--records``) with ``--jobs 1``
and ``--jobs 2``, as commands: wall time, records per second, and the peak RSS of the
largest process (with ``--jobs 2`` the parent and each worker are separate processes).

Usage::

    python benchmarks/parse_bench.py                 # ~20 MB file, well under a minute
    python benchmarks/parse_bench.py --records 400000  # ~500 MB, the scale of a baseline file
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pubmed"
_RECORD = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
_CITATION = re.compile(rb"<MedlineCitation .*?</MedlineCitation>", re.DOTALL)
_PMID = re.compile(rb"(<PMID[^>]*>)\d+(</PMID>)")


def _templates() -> list[bytes]:
    """Every real record of the fixtures; bare legacy citations wrapped as PubmedArticle."""
    found = []
    for path in sorted(FIXTURES.glob("*.xml*")):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        records = [m.group(0) for m in _RECORD.finditer(data)]
        if not records and b"<MedlineCitationSet" in data:
            records = [
                b"<PubmedArticle>" + m.group(0) + b"</PubmedArticle>"
                for m in _CITATION.finditer(data)
            ]
        found.extend(records)
    return found


def make_file(path: Path, records: int) -> int:
    """Write ``records`` real PubmedArticle records (cycled, fresh PMIDs), gzipped like
    PubMed's baseline files; return the uncompressed size in bytes."""
    templates = _templates()
    if not templates:
        raise SystemExit(f"no <PubmedArticle> records found in {FIXTURES}")
    size = 0
    with gzip.open(path, "wb", compresslevel=3) as out:
        size += out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n')
        for i in range(records):
            pmid = str(90_000_000 + i).encode()
            size += out.write(
                _PMID.sub(rb"\g<1>" + pmid + rb"\g<2>", templates[i % len(templates)], 1) + b"\n"
            )
        size += out.write(b"</PubmedArticleSet>\n")
    return size


def run_metareview(path: str) -> int:
    from metareview import read_articles

    return sum(1 for _ in read_articles([path]))


def run_cli_csv(path: str) -> int:
    import os

    from metareview import read_articles
    from metareview.outputs import write_articles

    out = f"{path}.{os.getpid()}.csv"
    try:
        return write_articles(read_articles([path]), out)
    finally:
        os.unlink(out)


def run_bare_lxml(path: str) -> int:
    """A hand-written loop pulling the same fields as metareview's record model, as plain
    strings (no whitespace normalisation, no date parsing, no record objects)."""
    import gzip

    from lxml import etree

    def text(element: etree._Element | None) -> str | None:
        return None if element is None else "".join(element.itertext())

    count = 0
    with gzip.open(path, "rb") as stream:
        for _, record in etree.iterparse(stream, tag="PubmedArticle", resolve_entities=False):
            citation = record.find("MedlineCitation")
            article = citation.find("Article")
            journal = article.find("Journal")
            row = {
                "pmid": citation.findtext("PMID"),
                "title": text(article.find("ArticleTitle")),
                "vernacular_title": text(article.find("VernacularTitle")),
                "abstract": [
                    (t.get("Label"), t.get("NlmCategory"), text(t))
                    for t in article.iterfind("Abstract/AbstractText")
                ],
                "journal": journal.findtext("Title"),
                "iso_abbrev": journal.findtext("ISOAbbreviation"),
                "issn": [(i.get("IssnType"), i.text) for i in journal.iterfind("ISSN")],
                "volume": journal.findtext("JournalIssue/Volume"),
                "issue": journal.findtext("JournalIssue/Issue"),
                "pub_date": [(d.tag, d.text) for d in journal.iterfind("JournalIssue/PubDate/*")],
                "pages": article.findtext("Pagination/MedlinePgn"),
                "elocation": [(e.get("EIdType"), e.text) for e in article.iterfind("ELocationID")],
                "authors": [
                    (
                        a.findtext("LastName"),
                        a.findtext("ForeName"),
                        a.findtext("Initials"),
                        a.findtext("CollectiveName"),
                        a.findtext("Identifier"),
                        [text(f) for f in a.iterfind("AffiliationInfo/Affiliation")],
                    )
                    for a in article.iterfind("AuthorList/Author")
                ],
                "languages": [e.text for e in article.iterfind("Language")],
                "publication_types": [
                    e.text for e in article.iterfind("PublicationTypeList/PublicationType")
                ],
                "keywords": [text(k) for k in citation.iterfind("KeywordList/Keyword")],
                "mesh": [
                    (h.findtext("DescriptorName"), [q.text for q in h.iterfind("QualifierName")])
                    for h in citation.iterfind("MeshHeadingList/MeshHeading")
                ],
                "history": [
                    (d.get("PubStatus"), d.findtext("Year"), d.findtext("Month"), d.findtext("Day"))
                    for d in record.iterfind("PubmedData/History/PubMedPubDate")
                ],
                "status": record.findtext("PubmedData/PublicationStatus"),
                "ids": [
                    (i.get("IdType"), i.text)
                    for i in record.iterfind("PubmedData/ArticleIdList/ArticleId")
                ],
            }
            count += bool(row)
            record.clear()
            while record.getprevious() is not None:
                del record.getparent()[0]
    return count


def run_pubmed_parser(path: str) -> int:
    import pubmed_parser

    return sum(1 for _ in pubmed_parser.parse_medline_xml(path))


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss
    (the fallback elsewhere) may include the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(target: Callable[[str], int], path: str, pipe: Any) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    count = target(path)
    pipe.send((count, time.perf_counter() - wall, time.process_time() - cpu, _peak_rss_mb()))


def measure(target: Callable[[str], int], path: Path) -> tuple[int, float, float, float]:
    """``(records, wall seconds, CPU seconds, peak RSS MB)`` of one run in a fresh process."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_child, args=(target, str(path), child)
    )
    process.start()
    result = parent.recv()
    process.join()
    return result  # type: ignore[no-any-return]


def run_command(argv: list[str]) -> tuple[float, float]:
    """``(wall seconds, peak RSS MB of the largest process)`` of a command."""
    import subprocess

    wall = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def compare_jobs(paths: list[Path], records: int, repeat: int) -> None:
    """``review parse`` of all ``paths`` to CSV with --jobs 1 and --jobs 2, each run in a
    fresh process, the two alternating ``repeat`` times: best wall time of each, and the
    median of the rounds' speed-ups; peak RSS is the largest process's. Each round also
    runs two separate ``--jobs 1`` commands at once, on half the files each: the speed-up
    this machine gives a second process of this work, the ceiling for --jobs 2."""
    import os
    import subprocess

    code = "from metareview.cli import main; main()"
    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    separate: list[float] = []
    for _ in range(repeat):
        for jobs in (1, 2):
            out = paths[0].parent / f"jobs{jobs}.csv"
            argv = [sys.executable, "-c", code, "parse", *map(str, paths), "-o", str(out),
                    "-q", "--force", "--jobs", str(jobs)]
            # a fresh child per run: ru_maxrss of RUSAGE_CHILDREN is the largest so far
            parent, child = multiprocessing.Pipe()
            process = multiprocessing.get_context("spawn").Process(
                target=_command_child, args=(argv, child))
            process.start()
            runs[jobs].append(parent.recv())
            process.join()
            os.unlink(out)
        halves = [paths[: len(paths) // 2], paths[len(paths) // 2:]]
        wall = time.perf_counter()
        commands = [subprocess.Popen([sys.executable, "-c", code, "parse", *map(str, half),
                                      "-o", str(paths[0].parent / f"half{i}.csv"), "-q",
                                      "--force"]) for i, half in enumerate(halves)]
        if any(c.wait() for c in commands):
            raise SystemExit("review parse failed")
        separate.append(time.perf_counter() - wall)
    for jobs in (1, 2):
        wall, peak = min(runs[jobs])
        print(f"review parse {len(paths)} files --jobs {jobs}   {wall:7.2f} s wall"
              f"  {records / wall:>8,.0f} records/s  peak RSS {peak:5.0f} MB (largest process)")
    best = min(runs[1])[0] / min(runs[2])[0]
    paired = statistics.median(a[0] / b[0] for a, b in zip(runs[1], runs[2], strict=True))
    memory = max(r[1] for r in runs[2]) / max(r[1] for r in runs[1])
    ceiling = statistics.median(a[0] / b for a, b in zip(runs[1], separate, strict=True))
    print(f"--jobs 2 speed / --jobs 1 speed: best {best:.2f}, median of rounds {paired:.2f}"
          f" (aim >= 1.8); two separate processes: {ceiling:.2f} (median of rounds);"
          f" largest process --jobs 2 / --jobs 1: {memory:.2f} (aim <= 2 for the whole run)")


def _command_child(argv: list[str], pipe: Any) -> None:
    pipe.send(run_command(argv))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000, help="records in the file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader (best is kept)")
    parser.add_argument("--files", type=int, default=4, help="files for the --jobs comparison")
    args = parser.parse_args()
    readers: dict[str, Callable[[str], int]] = {
        "metareview": run_metareview,
        "CLI to CSV": run_cli_csv,
        "bare lxml": run_bare_lxml,
    }
    try:
        import pubmed_parser  # noqa: F401

        readers["pubmed_parser"] = run_pubmed_parser
    except ImportError:
        print("pubmed_parser is not installed: `pip install pubmed-parser` to compare")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "medline.xml.gz"
        size = make_file(path, args.records)
        print(
            f"file: {args.records:,} records, {size / 1e6:.0f} MB; python {sys.version.split()[0]}"
        )
        runs: dict[str, list[tuple[int, float, float, float]]] = {name: [] for name in readers}
        for _ in range(args.repeat):  # alternate, so drifting load hits every reader alike
            for name, target in readers.items():
                runs[name].append(measure(target, path))
        results = {}
        for name in readers:
            count, wall, cpu, peak = min(runs[name], key=lambda r: r[2])
            results[name] = cpu
            print(
                f"{name:14} {count:>9,} records  {wall:7.2f} s wall  {cpu:7.2f} s CPU"
                f"  {count / cpu:>8,.0f} records/s  peak RSS {peak:5.0f} MB"
            )
        def ratio(slow: str, fast: str) -> str:
            """Best-of ratio and the median of the rounds' ratios (each round runs every
            reader back to back, so a slow spell of the machine hits both sides)."""
            paired = statistics.median(a[2] / b[2] for a, b in
                                       zip(runs[slow], runs[fast], strict=True))
            return f"{results[slow] / results[fast]:.2f} (median of rounds {paired:.2f})"

        print(f"speed ratios: metareview / bare lxml {ratio('bare lxml', 'metareview')}"
              f" (aim >= 0.8); CLI to CSV / bare lxml {ratio('bare lxml', 'CLI to CSV')}"
              " (aim >= 0.7)", end="")
        if "pubmed_parser" in results:
            print(f"; metareview / pubmed_parser {ratio('pubmed_parser', 'metareview')}"
                  " (aim >= 2)", end="")
        print()
        if args.files > 1:
            paths = [path]
            for n in range(1, args.files):
                paths.append(Path(tmp) / f"medline-{n}.xml.gz")
                make_file(paths[-1], args.records)
            compare_jobs(paths, args.records * args.files, args.repeat)


if __name__ == "__main__":
    main()
