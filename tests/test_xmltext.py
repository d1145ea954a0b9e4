"""Shared helpers of the XML readers: text is normalised, never dropped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metareview.formats._xmltext import (
    clean,
    full_last_page,
    html_sections,
    html_text,
    iso_date,
    make_date,
    orcid_id,
    split_pages,
)

plain = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<&"))


@given(plain)
def test_plain_text_in_an_html_field_comes_back_whole(value: str) -> None:
    assert html_text(value) == clean(value)


@given(plain, plain)
def test_paragraphs_become_sections_without_losing_words(first: str, second: str) -> None:
    escaped = [v.replace(">", "&gt;") for v in (first, second)]
    sections = html_sections(f"<p>{escaped[0]}</p><p>{escaped[1]}</p>")
    assert [s.text for s in sections] == [c for c in (clean(first), clean(second)) if c]


def test_headings_label_the_text_that_follows() -> None:
    sections = html_sections(
        "<h4>Methods</h4>We did <i>this</i>.<h4>Results</h4>p < 0.05 &amp; more"
    )
    assert [(s.label, s.text) for s in sections] == [
        ("Methods", "We did this."),
        ("Results", "p < 0.05 & more"),
    ]


def test_html_entities_and_void_tags_in_fragments() -> None:
    assert (
        html_text("a&nbsp;b<br>c &eacute; &unknown; & d") == "a b c é &unknown; & d"
    )  # nbsp is whitespace


def test_broken_markup_keeps_its_text() -> None:
    assert html_text("<p>open <b>bold</p> tail") == "open bold tail"


@given(st.text())
def test_dates_never_fail_and_keep_unparsed_text(value: str) -> None:
    date = make_date(value, value, value)
    assert date.year is None or 0 <= date.year <= 9999
    iso = iso_date(value)
    assert iso.year is not None or iso.raw == clean(value)


def test_dates_as_printed() -> None:
    assert make_date("2014", "Apr", "7").iso() == "2014-04-07"
    assert make_date("2020", "Spring").raw == "2020 Spring"
    assert make_date("2020", "13").month is None
    assert iso_date("2016-02-11").iso() == "2016-02-11"
    assert iso_date("2025-08-01T00:00:00Z").iso() == "2025-08-01"


def test_page_ranges() -> None:
    assert split_pages("573-578") == ("573", "578")
    assert split_pages("573-8") == ("573", "578")
    assert split_pages("e46493") == ("e46493", None)
    assert split_pages("S1–S4") == ("S1", "S4")
    assert split_pages("1-2, 5") == (None, None)  # not one range: kept only as printed
    assert split_pages("S 12") == (None, None)


def test_last_page_given_apart_is_written_out() -> None:
    assert full_last_page("1547", "55") == "1555"  # PubMed <StartPage>/<EndPage>
    assert full_last_page("12", "¹") == "¹"  # not a decimal digit: kept as printed
    assert full_last_page(None, "55") == "55"


def test_orcid_ids() -> None:
    assert orcid_id("https://orcid.org/0000-0002-1825-0097") == "0000-0002-1825-0097"
    assert orcid_id(" 0000-0001-5109-370x ") == "0000-0001-5109-370X"
    assert orcid_id("not an id") == "not an id"
