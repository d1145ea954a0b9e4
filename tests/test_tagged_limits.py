"""Bounded work on the tagged text formats (RIS, MEDLINE/nbib, BibTeX):
continuation lines are joined once, LaTeX is decoded in pieces of bounded length, so the
work grows linearly with the input; an absurdly long field or brace nesting deeper than
databases ever write is refused with one located error, never a traceback.

Work is measured by counting (characters joined, characters handed to the LaTeX decoder),
not by the clock; ``benchmarks/tagged_bench.py`` times the same inputs."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import InputError
from metareview.formats import _plaintext, bibtex, nbib, ris

LINE = "continued text of a long field, as Scopus writes its reference lists"


def ris_text(lines: int) -> str:
    body = "\n".join(f"{LINE} {i}" for i in range(lines))
    return f"TY  - JOUR\nTI  - T\nN1  - References:\n{body}\nER  - \n"


def nbib_text(lines: int) -> str:
    body = "\n".join(f"      {LINE} {i}" for i in range(lines))
    return f"PMID- 1\nTI  - T\nAB  - Start\n{body}\n"


READERS: dict[str, tuple[Callable[[int], str], Any]] = {
    "ris": (ris_text, ris),
    "nbib": (nbib_text, nbib),
}


def joined_characters(monkeypatch: pytest.MonkeyPatch, name: str, lines: int) -> tuple[int, int]:
    """(characters the reader's records joined, characters of continuation text)."""
    make, reader = READERS[name]
    joined = 0
    original = _plaintext.TaggedRecord.pairs

    def counting(self: _plaintext.TaggedRecord, separator: str = "\n") -> Any:
        nonlocal joined
        joined += sum(len(line) for _, field in self.fields for line in field)
        return original(self, separator)

    monkeypatch.setattr(_plaintext.TaggedRecord, "pairs", counting)
    text = make(lines)
    (article,) = list(reader.read(io.BytesIO(text.encode()), "mem"))
    assert article.title == "T"
    return joined, sum(len(f"{LINE} {i}") for i in range(lines))


@pytest.mark.parametrize("name", ["ris", "nbib"])
def test_continuation_lines_are_joined_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Each character of a field is copied once when its record is done, however many
    lines it spans: 8 times the lines is 8 times the work (repeated concatenation made it
    64 times)."""
    small_joined, small_text = joined_characters(monkeypatch, name, 500)
    large_joined, large_text = joined_characters(monkeypatch, name, 4000)
    assert small_text <= small_joined < small_text + 100
    assert large_text <= large_joined < large_text + 100
    assert large_joined / small_joined < 9


def test_latex_is_decoded_in_bounded_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """pylatexenc slows down on long text: a long abstract goes to it in pieces of about
    two thousand characters, each once, so the work is linear in the field's length."""
    calls: list[int] = []
    original = bibtex._LATEX.latex_to_text

    def counting(text: str, **options: Any) -> str:
        calls.append(len(text))
        return str(original(text, **options))

    monkeypatch.setattr(bibtex._LATEX, "latex_to_text", counting)
    sizes = []
    for words in (1000, 8000):
        abstract = " ".join(f"M{{\\\"u}}ller's --- {i}" for i in range(words))
        text = f"@article{{k,\n  title = {{T}},\n  abstract = {{{abstract}}}\n}}\n"
        calls.clear()
        (article,) = list(bibtex.read(io.BytesIO(text.encode()), "mem.bib"))
        assert article.abstract is not None and article.abstract.startswith("Müller's — 0")
        assert max(calls) < 2200
        sizes.append((sum(calls), len(abstract)))
    (small, small_length), (large, large_length) = sizes
    assert small_length <= small < small_length + 100
    assert large_length <= large < large_length + 100


def test_plain_text_skips_the_latex_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str, **options: Any) -> str:
        raise AssertionError(f"decoded {text[:20]!r}")

    monkeypatch.setattr(bibtex._LATEX, "latex_to_text", refuse)
    assert bibtex.latex_text('Plain words, numbers 1-2 and "quotes".') == (
        'Plain words, numbers 1-2 and "quotes".'
    )


NESTED = "{" * 300 + "x" + "}" * 300


@pytest.mark.parametrize("field", ["title", "author", "journal"])
def test_deep_brace_nesting_is_a_clear_error(field: str) -> None:
    text = f"@article{{k,\n  title = {{T}},\n  {field} = {{{NESTED}}},\n  year = {{2020}}\n}}\n"
    with pytest.raises(InputError, match=r"braces nested more than 100 deep") as caught:
        list(bibtex.read(io.BytesIO(text.encode()), "deep.bib"))
    assert caught.value.location == "deep.bib:1"


def test_cli_deep_nesting_one_line_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.bib"
    path.write_text(f"@article{{ok, title = {{Fine}}}}\n\n@article{{k, title = {{{NESTED}}}}}\n")
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(path), "-o", str(out)])
    assert result.exit_code == 65
    assert "Traceback" not in result.output
    assert f"review: error: {path}:3: braces nested more than 100 deep" in result.output
    assert not out.exists()


def test_a_field_past_the_cap_is_refused_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_plaintext, "MAX_FIELD_CHARS", 10_000)
    text = ris_text(1000)  # ~70 000 characters in N1
    with pytest.raises(InputError, match=r"the N1 field is longer than 10,000 characters") as e:
        list(ris.read(io.BytesIO(text.encode()), "big.ris"))
    assert e.value.location is not None and e.value.location.startswith("big.ris:")
    with pytest.raises(InputError, match=r"the AB field is longer than 10,000"):
        list(nbib.read(io.BytesIO(nbib_text(1000).encode()), "big.nbib"))


def test_cli_field_cap_one_line_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "big.bib"
    huge = "x " * (_plaintext.MAX_FIELD_CHARS // 2 + 1)
    path.write_text(f"@article{{k,\n  title = {{T}},\n  abstract = {{{huge}}}\n}}\n")
    result = CliRunner().invoke(cli, ["parse", str(path), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 65
    assert "Traceback" not in result.output
    assert "the abstract field is longer than 4,000,000 characters" in result.output
