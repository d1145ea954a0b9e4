"""Dedupe's candidate search finds what scoring every pair of titles finds: the same
clusters and log on every fixture file, and every planted near-duplicate of a generated
set. Records tables in CSV are read without a cell object per value."""

from __future__ import annotations

import random
import string
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rapidfuzz import fuzz, process

from metareview import dedupe as dedupe_module
from metareview.articles import read_articles
from metareview.dedupe import dedupe, read_inputs
from metareview.errors import ReviewError
from metareview.records import Article, Author, PubDate, Text
from metareview.sheets import common
from metareview.sheets.extraction import read_record_rows

FIXTURES = Path(__file__).parent / "fixtures"


def every_pair(titles: Any, blocks: Any, threshold: float) -> dict[tuple[int, int], float]:
    """The reference: every pair of distinct titles scored."""
    matrix = process.cdist(titles, titles, scorer=fuzz.ratio, score_cutoff=threshold,
                           dtype=np.float32)
    return {(int(u), int(v)): float(matrix[u, v])
            for u, v in zip(*np.nonzero(matrix), strict=True) if u < v}


def outcome(articles: list[Article], threshold: float) -> tuple[Any, Any]:
    result = dedupe(articles, threshold)
    return ([r.members for r in result.records],
            [(link.kept, link.removed, link.rule, link.score) for link in result.log])


def fixture_articles() -> list[Article]:
    found: list[Article] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
            try:
                found += read_articles([str(path)])
            except ReviewError:  # not an article file, or damaged on purpose
                continue
    return found


@pytest.mark.parametrize("threshold", [80.0, 90.0, 100.0])
def test_fixture_clusters_equal_scoring_every_pair(threshold: float,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    articles = fixture_articles()
    assert len(articles) > 1000
    fast = outcome(articles, threshold)
    monkeypatch.setattr(dedupe_module, "_candidates", every_pair)
    assert fast == outcome(articles, threshold)
    assert len(fast[0]) < len(articles)  # the fixtures do hold duplicates


def planted(n: int, seed: int) -> tuple[list[Article], list[tuple[int, int]]]:
    """``n`` articles with random titles (a small vocabulary, so words repeat across
    titles), then a near-duplicate of every fifth: typos, case, punctuation, no DOI."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10)))
                  for _ in range(600)]
    surnames = ["".join(rng.choices(string.ascii_lowercase, k=6)).capitalize()
                for _ in range(150)]
    articles = []
    for i in range(n):
        articles.append(Article(
            source_format="test", source_file="planted", record_index=i,
            titles=(Text(" ".join(rng.choices(vocabulary, k=rng.randint(5, 14)))),),
            authors=(Author(last=rng.choice(surnames), initials="A"),),
            pub_date=PubDate(rng.randint(2000, 2004)), doi=f"10.1/{i}"))
    pairs = []
    for i in range(0, n, 5):
        title = list(articles[i].title or "")
        at = rng.randrange(len(title))
        if title[at].isalpha():
            title[at] = rng.choice(string.ascii_lowercase)
        text = "".join(title)
        copy = Article(source_format="test", source_file="planted", record_index=len(articles),
                       titles=(Text(text.upper() + "." if i % 2 else text + "!"),),
                       authors=articles[i].authors, pub_date=articles[i].pub_date)
        pairs.append((i, len(articles)))
        articles.append(copy)
    return articles, pairs


def test_planted_near_duplicates_are_found_as_by_scoring_every_pair(
        monkeypatch: pytest.MonkeyPatch) -> None:
    articles, pairs = planted(1500, seed=14)

    def joined(result: Any) -> set[tuple[int, int]]:
        cluster = {key: r.cluster for r in result.records for key in r.members}
        return {(a, b) for a, b in pairs
                if cluster[f"planted#{a}"] == cluster[f"planted#{b}"]}

    fast = joined(dedupe(articles))
    monkeypatch.setattr(dedupe_module, "_candidates", every_pair)
    reference = joined(dedupe(articles))
    assert len(reference) >= 0.9 * len(pairs)  # the planted edits keep most above 90
    assert fast == reference


def test_a_csv_records_table_reads_as_the_cell_reader_reads_it(tmp_path: Path) -> None:
    text = ("title;authors;year;;\n\n"
            " A title ; Smith J;2001;;\n"
            ";;;;\n"
            "Another;  ;2002;;stray\n")
    path = tmp_path / "records.csv"
    path.write_text(text, encoding="utf-8")
    rows, _ = read_record_rows(path)
    table = common.read_table(path)
    names = [str(c.value) for c in table.header]
    assert rows == [{n: c.value for n, c in zip(names, row, strict=True) if c.value is not None}
                    for row in table.rows]
    assert rows == [{"title": "A title", "authors": "Smith J", "year": "2001"},
                    {"title": "Another", "year": "2002"}]
    assert [a.title for a in read_inputs([str(path)])] == ["A title", "Another"]


def test_an_empty_csv_records_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text("\n , \n", encoding="utf-8")
    with pytest.raises(ReviewError, match="the sheet is empty"):
        read_record_rows(path)


@pytest.mark.parametrize("undated_share", [0.1, 0.9])
def test_records_without_a_year_are_searched_with_every_year(
        undated_share: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Titles are searched year by year; a record with no year matches any year, so a
    few undated ones join every year's search and many make one search of all titles.
    Either way the clusters are those of scoring every pair."""
    from dataclasses import replace

    articles, pairs = planted(800, seed=7)
    rng = random.Random(3)
    articles = [replace(a, pub_date=PubDate()) if rng.random() < undated_share else a
                for a in articles]
    undated = {i for i, a in enumerate(articles) if a.year is None}
    assert any(a in undated and b not in undated for a, b in pairs)
    fast = outcome(articles, 90.0)
    # the reference: every pair of titles scored, all years at once
    monkeypatch.setattr(dedupe_module, "_by_year",
                        lambda titles, years, blocks, threshold: every_pair(titles, (), threshold))
    assert fast == outcome(articles, 90.0)
    clusters = {key: n for n, members in enumerate(fast[0]) for key in members}
    joined = [(a, b) for a, b in pairs if clusters[f"planted#{a}"] == clusters[f"planted#{b}"]]
    assert any((a in undated) != (b in undated) for a, b in joined)


def test_dedupe_files_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path) -> None:
    import gc

    from metareview.dedupe import dedupe_files

    path = tmp_path / "records.csv"
    path.write_text("title,year\nA trial,2001\nA trial.,2001\n", encoding="utf-8")
    assert gc.isenabled()
    result = dedupe_files([str(path)], output=str(tmp_path / "unique.csv"))
    assert result.n_removed == 1 and gc.isenabled()
    with pytest.raises(ReviewError):  # a run that fails reading too
        dedupe_files([str(path), str(tmp_path / "missing.ris")], output=str(tmp_path / "b.csv"))
    assert gc.isenabled()
    gc.disable()
    try:
        dedupe_files([str(path)], output=str(tmp_path / "again.csv"))
        assert not gc.isenabled()
    finally:
        gc.enable()
