"""Stored text is the published text: quotes, dashes, ellipses and accents survive the clean
stage and a round trip through the warehouse; matching and hashing use a folded form."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.config import CleanConfig
from flows.records import Item
from flows.run_records import articles_table
from flows.stages.clean import clean_items
from flows.stages.cleaning.normalize import fingerprint_text, normalize_whitespace
from warehouse.store import Warehouse

FIXTURE = Path(__file__).parent / "fixtures" / "clean" / "typographic_quotes.html"
FETCHED_AT = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
# Every character of the page's paragraphs that an ASCII-folding cleaner would change.
TYPOGRAPHIC = "«»‘’“”„‚–—…€ÉéèêëïîôöüçÀÂÎÏØøŒœ"


def _page_article():
    html = FIXTURE.read_text(encoding="utf-8")
    item = Item(doc_id="quai", source="marees", uri="https://marees.example/2024/03/02/quai", format="html",
                content=html, fetched_at=FETCHED_AT, url="https://marees.example/2024/03/02/quai")
    articles, rejects = clean_items([item], CleanConfig())
    assert not rejects, rejects
    return html, articles[0]


def _published_paragraph_chars(html: str) -> set[str]:
    paragraphs = re.findall(r"<p>(.*?)</p>", html, flags=re.S)
    return {c for p in paragraphs for c in p.replace("&nbsp;", " ") if c in TYPOGRAPHIC}


@pytest.mark.unit
def test_page_full_of_typographic_quotes_round_trips_through_the_warehouse(tmp_path) -> None:
    html, article = _page_article()
    published = _published_paragraph_chars(html)
    assert len(published) >= 15  # the fixture really is full of them
    assert {c for c in article.text if c in TYPOGRAPHIC} == published
    # Whole phrases as written, the no-break spaces inside guillemets as plain spaces.
    for phrase in ("« Nous n’avons plus le choix »", "lundi soir – devant une salle comble –",
                   "“We’ve said ‘wait’ for ten years,”", "Repairs—if the grant arrives—would start in the spring…",
                   "„Ein Kai ist kein Denkmal“", "‚Stahl rostet‘", "l’hiver 2024–2025", "Zoë Ørsted", "€1.2 million"):
        assert phrase in article.text, phrase
    assert '"' not in article.text and "'" not in article.text  # nothing was straightened
    assert article.title == "« Le quai n’attendra pas »"

    wh = Warehouse(tmp_path / "wh")
    wh.init()
    con = wh.connect()
    try:
        wh.publish(con, wh.stage(con, {"articles": articles_table([article], "run-1")}))
        text, title, authors = con.execute("SELECT text, title, authors FROM articles").fetchone()
    finally:
        con.close()
    assert text == article.text and title == article.title
    assert authors == ["Élodie Marchand", "Jean-Luc Daubrée"]


@pytest.mark.unit
def test_hash_is_taken_from_the_folded_form_so_an_ascii_copy_shares_it() -> None:
    _, article = _page_article()
    ascii_copy = (article.text.replace("«", '"').replace("»", '"').replace("’", "'").replace("“", '"')
                  .replace("”", '"').replace("‘", "'").replace("–", "-").replace("—", " - ").replace("…", "..."))
    assert fingerprint_text(ascii_copy) == fingerprint_text(article.text)
    assert fingerprint_text(article.text) != fingerprint_text(article.text.replace("quai sud", "quai nord"))


@pytest.mark.unit
def test_only_whitespace_and_control_characters_are_normalised() -> None:
    raw = "A\u00a0b\u2009c\u200bd\u00ade\x07f\tg\u2028h “q” – é"
    assert normalize_whitespace(raw) == "A b cdef g\nh “q” – é"
    decomposed = unicodedata.normalize("NFD", "é")  # e + combining accent: one letter, composed
    assert normalize_whitespace(decomposed) == "é"
