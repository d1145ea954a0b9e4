"""Finding duplicate records across and within sources.

Three rules, applied in this order, link two records:

1. ``doi``: the same normalised DOI (case, ``https://doi.org/`` / ``doi:`` prefixes and
   trailing punctuation ignored);
2. ``pmid``: the same PubMed id;
3. ``title``: normalised titles (case, punctuation, diacritics, HTML/XML markup and
   whitespace ignored) whose :func:`rapidfuzz.fuzz.ratio` is at least the threshold, in the
   same publication year, with matching first-author surnames, the same numbers, Roman
   numerals and single letters in the title (so "Part 1" never merges with "Part 2", nor
   "hepatitis B" with "hepatitis C"), and no conflicting DOI, PMID, volume or first page.

Linked records form clusters (union-find). Each cluster keeps its most complete record,
filled in with the ids of the others, and remembers every record and source file it
stands for. Identical normalised titles are matched exactly and scored once; a distinct
title is only scored against candidates of its publication year: titles holding one of
its three rarest words (rarest among that year's titles), and titles of the same first
author (blocking). So the cost grows little faster than the number of records (see
``benchmarks/dedupe_bench.py``), and a pair that reaches the threshold is still found
when its titles share a rare word or an author.

A reviewer can override the result in the duplicates log: ``not duplicate`` (or
``keep separate``) in the ``override`` column keeps the two records of that row apart on
the next run; ``duplicate`` merges a pair the rules missed.
"""

from __future__ import annotations

import gc
import hashlib
import html
import io
import re
import sys
import unicodedata
import warnings
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from .errors import InputError, MissingInputError, OptionError, ReviewWarning
from .formats._plaintext import strip_doi
from .numtext import number
from .outputs import WRITERS, Table
from .records import Abstract, Article, Author, Journal, PubDate, Section, Text

DEFAULT_THRESHOLD = 90.0

LOG_COLUMNS = (
    "cluster",
    "kept",
    "removed",
    "matched",
    "rule",
    "score",
    "kept_title",
    "removed_title",
    "override",
)

# What a reviewer may type in the log's override column (case and spaces ignored).
_SEPARATE = frozenset({"not duplicate", "keep separate", "separate", "distinct", "no"})
_MERGE = frozenset({"duplicate", "merge", "yes"})

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # a tag, not "IQ < 70 and age > 5"
_ROMAN = re.compile(r"x{0,3}(ix|iv|v?i{0,3})")
_NON_WORD = re.compile(r"[\W_]+")
_APOSTROPHE = re.compile(r"['\u2019\u2018`]")


# --- normalisation -------------------------------------------------------------------


def normalise_doi(doi: str | None) -> str | None:
    """Lower-case DOI without resolver prefix, URL escapes or trailing punctuation.

    ``None`` when the text is not a DOI (does not start with ``10.``).
    """
    if not doi:
        return None
    text = (strip_doi(unquote(doi)) or "").rstrip(".,;").strip().lower()
    return text if text.startswith("10.") and "/" in text else None


def normalise_pmid(pmid: str | None) -> str | None:
    """PubMed id as digits without leading zeros; ``None`` when it is not one."""
    if not pmid:
        return None
    text = pmid.strip().removeprefix("PMID:").strip().lstrip("0")
    return text if text.isdecimal() else None


def normalise_text(text: str | None) -> str:
    """Text reduced to lower-case words: markup, entities, diacritics and punctuation go."""
    if not text:
        return ""
    if text.isascii() and text.isalpha():  # one plain word, e.g. a surname
        return text.lower()
    if "&" in text or "<" in text:
        text = html.unescape(_TAG.sub(" ", html.unescape(text)))
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    text = _APOSTROPHE.sub("", text.casefold())  # "parkinson's" -> "parkinsons", no lone "s"
    return " ".join(_NON_WORD.sub(" ", text).split())


def first_author_surname(article: Article) -> str:
    """Normalised surname (or group name) of the first author; empty when unknown."""
    if not article.authors:
        return ""
    first = article.authors[0]
    return normalise_text(first.last or first.collective)


def record_key(article: Article) -> str:
    """Where a record came from: ``source_file#record_index`` (the index as ``review parse``
    writes it). The duplicates log names records by this key."""
    return f"{article.source_file}#{article.record_index}"


def record_id(article: Article) -> str:
    """A stable id for a unique record: ``pmid:…``, else ``doi:…``, else a short hash of the
    normalised title, year and first-author surname (``rec:…``)."""
    return _record_id(normalise_pmid(article.pmid), normalise_doi(article.doi),
                      normalise_text(article.title), article.year, first_author_surname(article))


def _record_id(pmid: str | None, doi: str | None, title: str, year: int | None,
               surname: str) -> str:
    """:func:`record_id` from the normalised ids, title and first-author surname."""
    if pmid:
        return f"pmid:{pmid}"
    if doi:
        return f"doi:{doi}"
    basis = "|".join((title, str(year), surname))
    return "rec:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:10]


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """A reviewer's decision on a pair of records, read from the ``override`` column."""

    kept: str
    removed: str
    merge: bool  # True: the pair is one article; False: keep the two apart
    text: str  # as the reviewer wrote it, carried into the next log
    location: str | None = None


@dataclass(frozen=True)
class DuplicateLink:
    """One row of the duplicates log: ``removed`` was merged into ``kept`` (or, with
    ``cluster`` ``None``, a reviewer's override carried to the next run that removed
    nothing here: a pair kept apart).

    ``matched`` is the record the rule actually linked ``removed`` to; ``score`` is the
    fuzzy title score (0-100) for the ``title`` rule, ``None`` for exact rules.
    """

    cluster: int | None
    kept: str
    removed: str
    matched: str
    rule: str
    score: float | None
    kept_title: str | None
    removed_title: str | None
    override: str | None = None

    def to_row(self, structured: bool = False) -> dict[str, Any]:
        """One scalar per column, whether ``structured`` (JSON lines) or not."""
        return {
            "cluster": self.cluster,
            "kept": self.kept,
            "removed": self.removed,
            "matched": self.matched,
            "rule": self.rule,
            "score": None if self.score is None else round(self.score, 1),
            "kept_title": self.kept_title,
            "removed_title": self.removed_title,
            "override": self.override,
        }


@dataclass(frozen=True)
class UniqueRecord:
    """A record after deduplication: the kept article (with ids merged in from its
    duplicates), every record it stands for (kept first) and the source files they came from."""

    id: str
    article: Article
    cluster: int
    members: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def n_duplicates(self) -> int:
        return len(self.members) - 1

    def to_row(self, structured: bool = False) -> dict[str, Any]:
        """The article's row (:meth:`Article.to_row`, flat or ``structured``) with
        ``record_id`` first and the merge columns at the end."""
        return {
            "record_id": self.id,
            **self.article.to_row(structured),
            "found_in": "; ".join(self.sources),
            "duplicates": self.n_duplicates,
            "merged_records": "; ".join(self.members[1:]) or None,
        }


@dataclass(frozen=True)
class DedupeResult:
    """Unique records in input order of their kept record, and the duplicates log."""

    records: tuple[UniqueRecord, ...]
    log: tuple[DuplicateLink, ...]
    n_input: int
    threshold: float

    @property
    def n_removed(self) -> int:
        return self.n_input - len(self.records)

    def rule_counts(self) -> dict[str, int]:
        """How many records each rule removed (``reviewer`` for merges by override)."""
        counts: dict[str, int] = defaultdict(int)
        for link in self.log:
            if link.cluster is not None:
                counts[link.rule] += 1
        return dict(counts)

    def summary(self) -> str:
        """One line: records read, unique, removed, and by which rule."""
        rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(self.rule_counts().items()))
        return (f"{self.n_input:,} records read, {len(self.records):,} unique, "
                f"{self.n_removed:,} duplicates removed" + (f" ({rules})" if rules else ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_input": self.n_input,
            "n_unique": len(self.records),
            "n_removed": self.n_removed,
            "threshold": self.threshold,
            "rules": self.rule_counts(),
            "records": [r.to_row() for r in self.records],
            "log": [link.to_row() for link in self.log],
        }


# --- the algorithm -------------------------------------------------------------------


class _Clusters:
    """Union-find over record indices that refuses unions joining a kept-apart pair.

    ``facts`` are per-record values (DOI, PMID, volume, first page) that one article
    cannot have two of: a ``strict`` union (a fuzzy match) is refused when the two
    clusters both give a fact and share no value for it, so matches that are each
    plausible cannot chain two different articles together.
    """

    def __init__(
        self, facts: Sequence[tuple[str | None, ...]], apart: Iterable[tuple[int, int]]
    ):
        self.parent = list(range(len(facts)))
        # a cluster of one is its record alone: only larger ones are stored
        self.facts = facts
        self.joined: dict[int, list[int]] = {}
        self.merged: dict[int, list[set[str]]] = {}
        self.apart: dict[int, set[int]] = defaultdict(set)
        for a, b in apart:
            self.apart[a].add(b)
            self.apart[b].add(a)

    def members(self, root: int) -> list[int]:
        return self.joined.get(root) or [root]

    def _facts(self, root: int) -> list[set[str]]:
        return self.merged.get(root) or [{v} if v else set() for v in self.facts[root]]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, strict: bool) -> bool:
        """Join the clusters of ``a`` and ``b``; ``False`` if they are one already, must
        stay apart, or (``strict``) conflict in a fact."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        into, joining = self.members(ra), self.members(rb)
        if len(into) < len(joining):
            ra, rb, into, joining = rb, ra, joining, into
        if any(self.find(p) == ra for m in joining for p in self.apart.get(m, ())):
            return False
        facts, more = self._facts(ra), self._facts(rb)
        if strict and any(x and y and x.isdisjoint(y) for x, y in zip(facts, more, strict=True)):
            return False
        self.parent[rb] = ra
        into.extend(joining)
        self.joined[ra] = into
        self.joined.pop(rb, None)
        for x, y in zip(facts, more, strict=True):
            x.update(y)
        self.merged[ra] = facts
        self.merged.pop(rb, None)
        return True


@dataclass(frozen=True)
class _Edge:
    a: int
    b: int
    rule: str
    score: float | None = None


def _exact_edges(keys: Sequence[str | None], rule: str) -> Iterator[_Edge]:
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            yield _Edge(first[key], i, rule)
        else:
            first[key] = i


def _markers(title: str) -> frozenset[str]:
    """Tokens that tell otherwise alike titles apart: numbers, Roman numerals and single
    letters ("part 1" / "part 2", "part ii" / "part iii", "hepatitis b" / "hepatitis c")."""
    return frozenset(
        t for t in title.split()
        if t.isdecimal() or (len(t) == 1 and t != "a") or _ROMAN.fullmatch(t)
    )


def _digits(text: str | None) -> str:
    if not text:
        return ""
    if text.isdecimal():
        return text.lstrip("0")
    return "".join(c for c in text or "" if c.isdecimal()).lstrip("0")


def _title_edges(articles: Sequence[Article], threshold: float,
                 titles: Sequence[str] | None = None,
                 surnames: Sequence[str] | None = None) -> Iterator[_Edge]:
    """Fuzzy title matches in the same publication year (records without a year match
    any year) whose first authors and title numbers agree.

    Identical normalised titles are found exactly (score 100) and scored once; distinct
    titles are only scored against candidates of their year (:func:`_by_year`), not
    against every title of their year, so the cost grows far slower than the square of
    the record count. ``titles`` and ``surnames`` are the records' normalised titles and
    first-author surnames when known already.
    """
    from rapidfuzz import fuzz

    titles = titles if titles is not None else [normalise_text(a.title) for a in articles]
    if surnames is None:
        surnames = [first_author_surname(a) for a in articles]
    years = [a.year for a in articles]
    same_title: dict[str, list[int]] = defaultdict(list)
    for i, title in enumerate(titles):
        if title:
            same_title[title].append(i)
    distinct = list(same_title)

    def compatible(i: int, j: int) -> bool:
        if years[i] is not None and years[j] is not None and years[i] != years[j]:
            return False
        if _markers(titles[i]) != _markers(titles[j]):
            return False
        if surnames[i] and surnames[j]:
            # "van der Berg" and "Berg" are one surname written two ways
            same_last_word = surnames[i].split()[-1] == surnames[j].split()[-1]
            return same_last_word or bool(fuzz.ratio(surnames[i], surnames[j]) >= 80)
        return True

    found: list[_Edge] = []
    for members in same_title.values():
        if len(members) > 1:
            found += [_Edge(i, j, "title", 100.0) for n, i in enumerate(members)
                      for j in members[n + 1:] if compatible(i, j)]
    by_author: dict[tuple[str, int | None], set[int]] = defaultdict(set)
    ids = {title: u for u, title in enumerate(distinct)}
    for i, title in enumerate(titles):
        if title and surnames[i]:
            by_author[surnames[i], years[i]].add(ids[title])
    title_years = [years[m[0]] if len(m) == 1 or len({years[i] for i in m}) == 1 else None
                   for m in same_title.values()]
    for (u, v), score in _by_year(distinct, title_years, by_author, threshold).items():
        found += [_Edge(min(i, j), max(i, j), "title", score)
                  for i in same_title[distinct[u]] for j in same_title[distinct[v]]
                  if compatible(i, j)]
    yield from sorted(found, key=lambda e: (-(e.score or 0.0), e.a, e.b))


def _by_year(titles: Sequence[str], years: Sequence[int | None],
             blocks: Mapping[tuple[str, int | None], Collection[int]],
             threshold: float) -> dict[tuple[int, int], float]:
    """:func:`_candidates` of ``titles`` year by year: titles of different years never
    match, so each year's titles (``years``: a title's one year, ``None`` when some
    record of it has none or they differ) are searched on their own, with the titles of
    no one year in every search. ``blocks`` are keyed by first author and year. One
    search of all titles instead when that is cheaper (most titles of no one year)."""
    dated: dict[int, list[int]] = defaultdict(list)
    undated: list[int] = []
    for u, year in enumerate(years):
        (undated if year is None else dated[year]).append(u)
    groups = [sorted(members + undated) for members in dated.values()]
    if not groups or sum(len(g) ** 2 for g in groups) >= len(titles) ** 2:
        return _candidates(titles, blocks.values(), threshold)
    blocks_of: dict[int | None, list[Collection[int]]] = defaultdict(list)
    for (_, year), block in blocks.items():
        if len(block) > 1:
            blocks_of[year].append(block)
    scores: dict[tuple[int, int], float] = {}
    for n, (year, members) in enumerate(zip(dated, groups, strict=True)):
        local = {u: k for k, u in enumerate(members)}
        these = [*blocks_of[year], *(blocks_of[None] if n == 0 else ())]
        these = [[local[u] for u in block] for block in these]
        for (a, b), score in _candidates([titles[u] for u in members], these,
                                         threshold).items():
            scores[members[a], members[b]] = score
    return scores


_RARE = 3  # a title's rarest words, one of which a near-duplicate must contain


def _candidates(titles: Sequence[str], blocks: Iterable[Iterable[int]],
                threshold: float) -> dict[tuple[int, int], float]:
    """Pairs ``(u, v)`` (u < v) of distinct ``titles`` whose :func:`rapidfuzz.fuzz.ratio`
    reaches ``threshold``, with the score.

    A pair is scored when one title holds one of the other's ``_RARE`` rarest words (a
    near-duplicate keeps most words, and words rare in the set link few titles), or when
    both are in one of ``blocks`` (the titles of one first author and year). The pairs
    are scored in batches by rapidfuzz's ``cpdist`` on every core.
    """
    import numpy as np

    words = [set(title.split()) for title in titles]
    vocabulary = sorted(set().union(*words))  # alphabetical: ties in rarity go by word
    number = {word: k for k, word in enumerate(vocabulary)}
    sizes = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    tokens = np.fromiter((number[w] for these in words for w in these), dtype=np.int64,
                         count=int(sizes.sum()))
    del words, number
    owner = np.repeat(np.arange(len(titles)), sizes)  # the title of each token
    holders = np.bincount(tokens, minlength=len(vocabulary))  # titles holding each word
    rank = np.empty(len(vocabulary), dtype=np.int64)  # rarest first, then alphabetically
    rank[np.lexsort((np.arange(len(vocabulary)), holders))] = np.arange(len(vocabulary))
    # each title's _RARE rarest words: its tokens by rank, the first few of each title
    by_rank = np.lexsort((rank[tokens], owner))
    place = np.arange(len(tokens)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    asked = by_rank[place < _RARE]
    # the holders of every word, word by word (``start[w]`` onwards), and the blocks after
    held = owner[np.lexsort((owner, tokens))]
    start = np.cumsum(holders) - holders
    groups = [np.asarray(sorted(block), dtype=np.int64) for block in blocks]
    groups = [group for group in groups if len(group) > 1]
    block_sizes = np.array([len(group) for group in groups], dtype=np.int64)
    block_starts = len(held) + np.cumsum(block_sizes) - block_sizes
    offered = np.concatenate([held, *groups])
    # Each query (a title) is paired with its choices (a word's holders, or its block's
    # titles); the pairs are made by numpy, ``_BATCH`` at a time.
    asking = np.concatenate([owner[asked], *groups])
    begin = np.concatenate([start[tokens[asked]],
                            np.repeat(block_starts, block_sizes)])
    work = np.concatenate([holders[tokens[asked]], np.repeat(block_sizes, block_sizes)])
    wanted = work > 1
    asking, begin, work = asking[wanted], begin[wanted], work[wanted]
    scores: dict[tuple[int, int], float] = {}
    text = np.empty(len(titles), dtype=object)
    text[:] = titles
    lengths = np.fromiter(map(len, titles), dtype=np.int64, count=len(titles))
    ends = np.cumsum(work)
    low = 0
    while low < len(asking):
        high = max(low + 1, int(np.searchsorted(ends, ends[low] - work[low] + _BATCH, "right")))
        counts = work[low:high]
        first = np.repeat(asking[low:high], counts)
        offset = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
        second = offered[np.repeat(begin[low:high], counts) + offset]
        _score(text, lengths, first, second, threshold, scores)
        low = high
    return scores


_BATCH = 1 << 20  # title pairs scored at once


def _score(text: Any, lengths: Any, first: Any, second: Any, threshold: float,
           scores: dict[tuple[int, int], float]) -> None:
    """Score the pairs ``first[k]``, ``second[k]`` (arrays of title numbers into ``text``,
    an array of the titles, and ``lengths``, theirs), each pair once, into ``scores``
    where they reach ``threshold``."""
    import numpy as np
    from rapidfuzz import fuzz, process

    a, b = lengths[first], lengths[second]
    # fuzz.ratio is 200 * common / (a + b) at most, so a pair of far apart lengths cannot
    # reach the threshold: dropped before any scoring (a hair of slack for rounding)
    near = (200 * np.minimum(a, b) >= (threshold - 1e-6) * (a + b)) & (first != second)
    first, second = first[near], second[near]
    n = len(text)
    pairs = np.sort(np.minimum(first, second) * n + np.maximum(first, second))
    keep = np.ones(len(pairs), dtype=bool)  # each pair once (np.unique is slower)
    keep[1:] = pairs[1:] != pairs[:-1]
    us, vs = np.divmod(pairs[keep], n)
    found = process.cpdist(text[us], text[vs], scorer=fuzz.ratio, score_cutoff=threshold,
                           dtype=np.float32, workers=-1)
    for k in np.flatnonzero(found):
        scores[int(us[k]), int(vs[k])] = float(found[k])


def _completeness(article: Article) -> tuple[int, int]:
    row = article.to_row()
    filled = sum(
        1
        for key, value in row.items()
        if key not in ("source_format", "source_file", "record_index")
        and value not in (None, "")
    )
    return filled, len(article.abstract or "")


def _merge_ids(kept: Article, others: Sequence[Article]) -> Article:
    """The kept article with ids it lacks taken from its duplicates (first one given wins)."""
    changes: dict[str, Any] = {}
    for name in ("pmid", "doi", "pmcid", "publisher_id", "url"):
        if getattr(kept, name) is None:
            value = next((getattr(o, name) for o in others if getattr(o, name)), None)
            if value is not None:
                changes[name] = value
    return replace(kept, **changes) if changes else kept


def dedupe(
    articles: Sequence[Article],
    threshold: float = DEFAULT_THRESHOLD,
    overrides: Sequence[Override] = (),
) -> DedupeResult:
    """Find duplicate records and keep one per article.

    Parameters
    ----------
    articles
        Records from any number of sources, in the order they were read.
    threshold
        Smallest fuzzy title score (0-100, :func:`rapidfuzz.fuzz.ratio` on normalised
        titles) for the ``title`` rule; 100 accepts only identical normalised titles.
    overrides
        Reviewer decisions from a previous duplicates log (:func:`read_overrides`).

    Returns
    -------
    DedupeResult
        Unique records in input order and one log row per removed record, plus one row
        per pair kept apart by an override.
    """
    if not 0 <= threshold <= 100:
        raise OptionError(
            f"threshold {threshold:g} is outside 0-100", hint="use e.g. --threshold 90"
        )
    # The same record read twice (an export and a records table made from it) keeps
    # distinct names in the log: "file#3", then "file#3 (2)".
    used: set[str] = set()
    keys = [_unique(record_key(a), used, " ({})") for a in articles]
    index = {key: i for i, key in enumerate(keys)}
    known = [o for o in overrides if _known(o, index)]
    apart = [(index[o.kept], index[o.removed]) for o in known if not o.merge]

    dois = [normalise_doi(a.doi) for a in articles]
    pmids = [normalise_pmid(a.pmid) for a in articles]
    titles = [normalise_text(a.title) for a in articles]
    surnames = [first_author_surname(a) for a in articles]
    facts = [
        (doi, pmid, _digits(a.volume), _digits(a.first_page or a.elocation))
        for doi, pmid, a in zip(dois, pmids, articles, strict=True)
    ]
    edges = [
        *_exact_edges(dois, "doi"),
        *_exact_edges(pmids, "pmid"),
        *_title_edges(articles, threshold, titles, surnames),
        *(_Edge(index[o.kept], index[o.removed], "reviewer") for o in known if o.merge),
    ]
    clusters = _Clusters(facts, apart)
    tree: dict[int, list[_Edge]] = defaultdict(list)  # the edges that joined clusters
    for edge in edges:
        if clusters.union(edge.a, edge.b, strict=edge.rule == "title"):
            tree[edge.a].append(edge)
            tree[edge.b].append(edge)

    roots = sorted(
        {clusters.find(i) for i in range(len(articles))}, key=lambda r: min(clusters.members(r))
    )
    records: list[UniqueRecord] = []
    log: list[DuplicateLink] = []
    used_ids: set[str] = set()
    row_of: dict[str, int] = {}  # the log row of each removed record
    override_text = {(o.kept, o.removed): o.text for o in known}
    for cluster, root in enumerate(roots, start=1):
        members = sorted(clusters.members(root))
        kept = members[0] if len(members) == 1 else max(
            members, key=lambda i: (*_completeness(articles[i]), -i)
        )
        others = [i for i in members if i != kept]
        if others:
            article = _merge_ids(articles[kept], [articles[i] for i in others])
            rid = record_id(article)
        else:  # its normalised ids and title are known already
            article = articles[kept]
            rid = _record_id(pmids[kept], dois[kept], titles[kept], article.year,
                             surnames[kept])
        rid = _unique(rid, used_ids, "-{}")
        sources = tuple(dict.fromkeys(articles[i].source_file for i in [kept, *others]))
        records.append(
            UniqueRecord(rid, article, cluster, tuple(keys[i] for i in [kept, *others]), sources)
        )
        for i, matched, edge in _walk(tree, kept):
            # the reviewer may have named the pair the other way round
            text = override_text.pop((keys[kept], keys[i]), None)
            text = text or override_text.pop((keys[i], keys[kept]), None)
            row_of[keys[i]] = len(log)
            log.append(
                DuplicateLink(
                    cluster,
                    keys[kept],
                    keys[i],
                    keys[matched],
                    edge.rule,
                    edge.score,
                    articles[kept].title,
                    articles[i].title,
                    text,
                )
            )
    # Overrides not attached to a merged row stay in the log so the next run sees them:
    # a merge of two records that were both removed goes on the row of one of them.
    for o in known:
        text = override_text.pop((o.kept, o.removed), None)
        if text is None:
            continue
        free = [row_of[k] for k in (o.removed, o.kept)
                if k in row_of and log[row_of[k]].override is None]
        if o.merge and free and clusters.find(index[o.kept]) == clusters.find(index[o.removed]):
            log[free[0]] = replace(log[free[0]], override=text)
        else:
            a, b = index[o.kept], index[o.removed]
            log.append(
                DuplicateLink(
                    None,
                    o.kept,
                    o.removed,
                    o.kept,
                    "reviewer",
                    None,
                    articles[a].title,
                    articles[b].title,
                    o.text,
                )
            )
    return DedupeResult(tuple(records), tuple(log), len(articles), float(threshold))


def _walk(tree: dict[int, list[_Edge]], start: int) -> Iterator[tuple[int, int, _Edge]]:
    """Each record of a cluster reached from ``start``, with the record and the edge that
    led to it: one log row per removed record, naming the rule that really joined it."""
    if start not in tree:  # a record alone
        return
    seen = {start}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for edge in tree.get(here, ()):
            there = edge.b if edge.a == here else edge.a
            if there not in seen:
                seen.add(there)
                queue.append(there)
                yield there, here, edge


def _known(override: Override, index: dict[str, int]) -> bool:
    missing = [k for k in (override.kept, override.removed) if k not in index]
    if missing:
        warnings.warn(
            f"{override.location or 'override'}: record {missing[0]} is not among the inputs; "
            "override ignored",
            ReviewWarning,
            stacklevel=3,
        )
        return False
    return True


def _unique(name: str, used: set[str], suffix: str) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = name + suffix.format(n)
    used.add(candidate)
    return candidate


# --- records tables (the output of `review parse` or `review dedupe`) -------------------

_SCALARS = ("source_database", "pmid", "doi", "pmcid", "publisher_id", "url",
            "vernacular_title", "volume", "issue", "elocation", "publication_status")
_LISTS = ("languages", "keywords", "mesh_terms", "publication_types")
_JOURNAL = {"journal": "title", "journal_abbrev": "iso_abbrev", "issn_print": "issn_print",
            "issn_electronic": "issn_electronic", "issn": "issn", "publisher": "publisher"}
# Columns Article.to_row derives from others, or that a dedupe run adds.
_DERIVED = frozenset({"first_author", "year", "pub_date", "record_id", "found_in",
                      "duplicates", "merged_records"})
# Columns every row is rebuilt from (or derived), none of them kept in extra.
_USED = _DERIVED | {"source_format", "source_file", "record_index", "title", "authors",
                    "abstract", "pages", "pub_date_raw", *_SCALARS, *_LISTS, *_JOURNAL}


def read_inputs(paths: Sequence[str], format: str | None = None) -> list[Article]:
    """Articles from the inputs :func:`read_sources` reads; a records table's rows are
    rebuilt as articles (:func:`article_from_row`)."""
    articles: list[Article] = []
    for name, rows, found in read_sources(paths, format):
        if rows is None:
            articles.extend(found)
        else:
            articles.extend(article_from_row(row, name, i) for i, row in enumerate(rows))
    return articles


def read_sources(
    paths: Sequence[str | Path], format: str | None = None, stdin: BinaryIO | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]] | None, list[Article]]]:
    """Each input as ``(name, rows, articles)``, in order.

    ``paths`` are files, folders, glob patterns (:func:`metareview.articles.expand_paths`)
    or ``-`` for ``stdin`` (default: the process's standard input). A records table
    (CSV/JSONL/XLSX written by ``review parse`` or ``review dedupe``, told by
    :func:`is_records_table`) gives its ``rows`` as written and no articles; an article
    file (any format :mod:`metareview.articles` reads) gives ``rows`` None and its
    articles. A forced ``format`` reads every input as articles of that format.
    """
    from .articles import STDIN, STDIN_NAME, Withdrawn, expand_paths, read_articles
    from .formats import detect
    from .sheets.extraction import read_record_rows

    withdrawn = Withdrawn()  # one warning for all inputs, each PMID once
    for path in expand_paths(paths):
        if format is not None:
            yield path, None, list(read_articles(path, format, on_deletion=withdrawn.add))
            continue
        data = (stdin or sys.stdin.buffer).read() if path == STDIN else None
        name = STDIN_NAME if path == STDIN else path
        if is_records_table(Path(path) if data is None else data):
            yield name, read_record_rows(name, data=data)[0], []
        elif data is None:
            yield name, None, list(read_articles(path, on_deletion=withdrawn.add))
        else:  # stdin is read already: detect its format from the bytes
            stream = io.BufferedReader(io.BytesIO(data))
            found: list[Article] = []
            for item in detect(stream, name).read(stream, name):
                if isinstance(item, Article):
                    found.append(item)
                else:
                    withdrawn.add(item)
            yield name, None, found
    withdrawn.warn()


def is_records_table(source: Path | bytes) -> bool:
    """Whether a file (or content already read) is a records table, told from content: a
    zip (xlsx), JSON lines, or a CSV header naming a title column."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            source = handle.read(4096)
    head = source[:4096].removeprefix(b"\xef\xbb\xbf")
    if head.startswith((b"PK\x03\x04", b"{")):
        return True
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    cells = {c.strip().strip('"') for c in first.replace(";", ",").replace("\t", ",").split(",")}
    return "title" in cells


def article_from_row(row: Mapping[str, Any], source: str, line: int) -> Article:
    """An :class:`Article` rebuilt from a row of a records table (:meth:`Article.to_row`).

    Authors come back whole from the list of objects JSON lines give
    (:meth:`~metareview.records.Author.to_dict`), or from their ``Last FM`` display form;
    columns with no place in the model (``affiliations`` and ``orcids`` beside display
    forms, anything a reviewer added) are kept in ``extra`` so no text is lost.
    ``source``/``line`` are used when the row has no ``source_file``/``record_index`` of
    its own.
    """
    structured = isinstance(row.get("authors"), list)
    values: dict[str, str] = {}
    for name, value in row.items():
        if type(value) is str:  # most cells: no call for them
            text: str | None = value.strip()
        else:
            text = None if name == "authors" and structured else _plain(value)
        if text:
            values[str(name)] = text
    used = set(_USED)
    fields: dict[str, Any] = {name: values[name] for name in _SCALARS if name in values}
    if structured:
        authors = _structured_authors(row["authors"], f"{source}:{line + 1}")
        if values.get("orcids") == "; ".join(a.orcid for a in authors if a.orcid):
            used.add("orcids")
        # the affiliations column is the authors' then the record's (Article.all_affiliations)
        own = "; ".join(dict.fromkeys(aff for a in authors for aff in a.affiliations))
        column = values.get("affiliations", "")
        if column == own or not own or column.startswith(own + "; "):
            rest = column.removeprefix(own).removeprefix("; ")
            fields["affiliations"] = (rest,) if rest else ()
            used.add("affiliations")
    else:
        authors = tuple(_author(a) for a in values.get("authors", "").split(";") if a.strip())
    for name in _LISTS:
        if name in values:
            fields[name] = tuple(p.strip() for p in values[name].split(";") if p.strip())
    journal = {attr: values[col] for col, attr in _JOURNAL.items() if col in values}
    titles = [Text(values["title"])] if "title" in values else []
    abstracts = [Abstract((Section(values["abstract"]),))] if "abstract" in values else []
    history = []
    for name, value in values.items():
        if name in _USED:
            continue
        if name.startswith("title_"):
            titles.append(Text(value, name.removeprefix("title_")))
        elif name.startswith("abstract_"):
            abstracts.append(Abstract((Section(value),), name.removeprefix("abstract_")))
        elif name.startswith("date_"):
            history.append((name.removeprefix("date_"), _date(value, None)))
        else:
            continue
        used.add(name)
    first, _, last = values.get("pages", "").partition("-")
    index = values.get("record_index", "")
    return Article(
        source_format=values.get("source_format", "records-table"),
        source_file=values.get("source_file", source),
        record_index=int(value) if (value := number(index)) is not None else line,
        titles=tuple(titles),
        abstracts=tuple(abstracts),
        journal=Journal(**journal),
        first_page=first or None if last else None,
        last_page=last or None,
        pages=None if last else values.get("pages"),
        pub_date=_date(values.get("pub_date") or values.get("year"), values.get("pub_date_raw")),
        history=tuple(history),
        authors=authors,
        # an extra_<tag> column written from extra comes back as that tag, not extra_extra_…
        extra=tuple([(k.removeprefix("extra_"), v) for k, v in values.items() if k not in used]),
        **fields,
    )


def _plain(value: Any) -> str | None:
    if type(value) is str:  # the common case first
        return value.strip() or None
    if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _date(iso: str | None, raw: str | None) -> PubDate:
    """A date from ``YYYY[-MM[-DD]]``; text that is no such date ("in press") is kept as
    the raw date (unless a raw date is given) so it is not lost."""
    parts: list[int | None] = [int(p) for p in (iso or "").split("-")[:3] if p.isdecimal()]
    if iso and not parts and raw is None:
        raw = iso
    parts += [None] * (3 - len(parts))
    return PubDate(parts[0], parts[1], parts[2], raw)


def _structured_authors(items: list[Any], where: str) -> tuple[Author, ...]:
    """Authors from the JSON lines form: objects (:meth:`Author.from_dict`), or a
    display text (``Last FM``) standing in for one; empty ones are left out."""
    authors = []
    for n, item in enumerate(items, 1):
        try:
            if isinstance(item, str):
                author = _author(item) if item.strip() else Author()
            elif isinstance(item, dict):
                author = Author.from_dict(item)
            else:
                raise ValueError(f"{item!r} is not an author object")
        except ValueError as exc:
            raise InputError(f"author {n}: {exc}", where,
                             'give each author as {"family": …, "given": …} (names as '
                             'text, affiliations as a list of texts), or authors as one '
                             '"Last FM; …" text') from None
        if author != Author():
            authors.append(author)
    return tuple(authors)


def _author(display: str) -> Author:
    """``Last FM`` back to surname and initials; anything else is a group name."""
    words = display.split()
    if len(words) >= 2 and words[-1].isalpha() and words[-1].isupper() and len(words[-1]) <= 4:
        return Author(last=" ".join(words[:-1]), initials=words[-1])
    if len(words) == 1:
        return Author(last=words[0])
    return Author(collective=display.strip())


# --- the duplicates log as a file ----------------------------------------------------


def read_overrides(path: str | Path) -> tuple[Override, ...]:
    """Reviewer decisions from a duplicates log in any format ``--log`` writes (CSV, XLSX,
    JSON lines, Parquet); rows with an empty ``override`` are ignored. Columns are matched
    case-insensitively; others are ignored."""
    source = Path(path)
    header, rows = _log_table(source)
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    need = [c for c in ("kept", "removed", "override") if c not in columns]
    if need:
        raise InputError(
            f"the duplicates log has no {', '.join(need)} column",
            str(source),
            "give the log written by `review dedupe --log` (columns kept, removed, override)",
        )
    overrides = []
    for values, where in rows:
        text = _plain(values[columns["override"]]) or ""
        if not text:
            continue
        location = where[columns["override"]]
        decision = " ".join(text.lower().replace("-", " ").replace("_", " ").split())
        if decision not in _SEPARATE | _MERGE:
            raise InputError(
                f"unknown override {text!r}",
                location,
                "write 'not duplicate' (keep the two records apart) or 'duplicate' "
                "(merge them), or leave the cell empty",
            )
        kept = _plain(values[columns["kept"]])
        removed = _plain(values[columns["removed"]])
        if not kept or not removed:
            raise InputError(
                "an override needs both the kept and the removed record",
                location,
                "fill in both record keys (source_file#record_index)",
            )
        overrides.append(Override(kept, removed, decision in _MERGE, text, location))
    return tuple(overrides)


def _log_table(source: Path) -> tuple[list[str], list[tuple[list[Any], list[str]]]]:
    """The header and rows of a duplicates log, each row as its values and their
    locations: CSV and XLSX by the sheets' table reader (``log.xlsx!I3``), JSON lines
    (``log.jsonl:3``) and Parquet (``log.parquet:row 3``) as the outputs write them."""
    from .sheets.common import read_table
    from .sheets.extraction import read_record_rows

    try:
        data = source.read_bytes()
    except OSError as exc:
        raise MissingInputError(
            f"cannot read the duplicates log ({exc.strerror})",
            str(source),
            "give the log written by an earlier `review dedupe --log`",
        ) from None
    if data.startswith(b"PAR1") or data.lstrip()[:1] == b"{":
        if data.startswith(b"PAR1"):
            records, mark = _parquet_rows(data, source), ":row "
        else:
            records, mark = read_record_rows(source, data=data)[0], ":"
        header = list(dict.fromkeys(k for r in records for k in r))
        return header, [([r.get(k) for k in header], [f"{source}{mark}{n}"] * len(header))
                        for n, r in enumerate(records, start=1)]
    table = read_table(source, data=data, name=str(source))
    return ([str(c.value or "") for c in table.header],
            [([c.value for c in row], [table.where(c.ref) for c in row]) for row in table.rows])


def _parquet_rows(data: bytes, source: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is optional
        raise InputError("reading Parquet needs pyarrow", str(source),
                         "pip install 'metareview[parquet]', or give the log as CSV") from None
    try:
        return list(pq.read_table(io.BytesIO(data)).to_pylist())
    except Exception as exc:  # pyarrow raises many kinds for a damaged file
        raise InputError(f"not a readable Parquet file ({exc})", str(source),
                         "give the log as `review dedupe --log` wrote it") from None


def rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ()) -> str:
    """CSV text of ``rows`` by the outputs' CSV writer: ``columns`` first, then every
    other key in order of first use."""
    buffer = io.BytesIO()
    WRITERS["csv"].write(Table(rows, columns), buffer, "csv")
    return buffer.getvalue().decode("utf-8")


def dedupe_files(
    inputs: Sequence[str],
    *,
    output: str | None,
    to: str | None = None,
    log_path: str | None = None,
    threshold: float = 90.0,
    overrides: str | None = None,
    format: str | None = None,
    force: bool = False,
    raw_csv: bool = False,
) -> DedupeResult:
    """What ``review dedupe`` does: read ``inputs``, apply the reviewer's ``overrides`` log,
    and write the unique records to ``output`` and the log to ``log_path`` (``None`` or
    ``-``: stdout; the type follows the extension, or ``to`` for the unique records, as in
    :func:`metareview.outputs.writer_for`). Every output is checked before any reading: an
    unknown type, an existing file without ``force``, or an input as output.
    ``raw_csv``: CSV text as it is, formula-like text not quoted
    (:mod:`metareview.csvtext`)."""
    from .errors import OptionError
    from .fileio import check_output
    from .outputs import write_articles, write_rows, writer_for

    sources = [*inputs, *([overrides] if overrides else [])]
    unique_writer = writer_for(output, to)
    if log_path is not None:
        writer_for(log_path)
    if output in (None, "-") and log_path == "-":
        raise OptionError("the unique records and the log cannot both go to stdout",
                          hint="give -o FILE or --log FILE")
    for path in (output, log_path):
        if path and path != "-":
            check_output(path, sources, force)
    decisions = read_overrides(overrides) if overrides else ()
    with _collector_paused():
        result = dedupe(read_inputs(list(inputs), format), threshold, decisions)
        if unique_writer.table:
            write_rows(result.records, output, to=to, inputs=sources, force=force,
                       raw_csv=raw_csv)
        else:
            write_articles((r.article for r in result.records), output, to=to,
                           inputs=sources, force=force)
        if log_path:
            write_rows(log_rows(result), log_path, columns=LOG_COLUMNS,
                       inputs=sources, force=force, raw_csv=raw_csv)
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a while: records make no reference cycles, and
    its passes over hundreds of thousands of them cost a fifth of a large run."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def unique_csv(result: DedupeResult) -> str:
    """The unique records as CSV (:meth:`UniqueRecord.to_row`)."""
    return rows_csv([r.to_row() for r in result.records])


def log_rows(result: DedupeResult) -> list[dict[str, Any]]:
    """The duplicates log's rows (:data:`LOG_COLUMNS`), with an empty ``override`` column
    for the reviewer."""
    return [link.to_row() for link in result.log]


def log_csv(result: DedupeResult) -> str:
    """The duplicates log as CSV (:func:`log_rows`; formula-like text quoted, as in every
    CSV the tool writes)."""
    return rows_csv(log_rows(result), LOG_COLUMNS)
