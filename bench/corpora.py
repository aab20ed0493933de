"""The benchmark corpora in ../shared/corpora, read at run time and never copied into the repo.

Articles are exported to a temp folder as one `.jsonl` (title, text, published), the
form a local-folder source reads; HTML pages are decompressed in memory.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA_DIR = SHARED_DIR / "corpora"

BBC_FILE = Path("bbc-news") / "bbc-news.jsonl.gz"
REUTERS_FILE = Path("reuters-21578") / "reuters21578.jsonl.gz"
HTML_DIR = Path("article-extraction-benchmark") / "html"
HTML_GROUND_TRUTH = Path("article-extraction-benchmark") / "ground-truth.json"

# Reuters dates look like "26-FEB-1987 15:01:01.79"; a few originals are malformed.
_REUTERS_DATE_FORMATS = ("%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S")


@dataclass(frozen=True)
class ArticleRecord:
    title: str | None
    text: str
    published: str | None = None  # ISO 8601


@dataclass(frozen=True)
class HtmlPage:
    page_id: str
    url: str | None
    html: str


def missing(corpora_dir: Path, relative: Path) -> str | None:
    """A one-line reason when a corpus file is absent, else None."""
    path = corpora_dir / relative
    if path.exists():
        return None
    return f"{path} not found (the benchmark corpora live in ../shared/corpora beside the repo)"


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def bbc_articles(corpora_dir: Path = CORPORA_DIR) -> list[ArticleRecord]:
    """The 2,225 BBC articles in file order (sorted by category and number)."""
    return [ArticleRecord(title=r.get("title") or None, text=r["text"])
            for r in _read_jsonl_gz(corpora_dir / BBC_FILE)]


def reuters_date(raw: str | None) -> str | None:
    """A Reuters date string as ISO 8601 UTC, or None when it is malformed."""
    if not raw:
        return None
    for fmt in _REUTERS_DATE_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=UTC).isoformat()
        except ValueError:
            continue
    return None


def reuters_articles(corpora_dir: Path = CORPORA_DIR) -> list[ArticleRecord]:
    """All 21,578 Reuters stories, including the empty and "Blah blah blah." ones (real input is messy)."""
    return [ArticleRecord(title=r.get("title") or None, text=r.get("text") or "",
                          published=reuters_date(r.get("date")))
            for r in _read_jsonl_gz(corpora_dir / REUTERS_FILE)]


def evenly_spaced(records: list, count: int) -> list:
    """`count` records spread over the whole list (every topic of a sorted corpus, not just the first)."""
    if count >= len(records):
        return list(records)
    step = len(records) / count
    return [records[int(i * step)] for i in range(count)]


def export_jsonl(records: list[ArticleRecord], folder: Path, name: str) -> Path:
    """Write the records as one `<name>.jsonl` in `folder` (created), the way a local source reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for r in records:
            row: dict[str, str] = {"text": r.text}
            if r.title:
                row["title"] = r.title
            if r.published:
                row["published"] = r.published
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def html_pages(corpora_dir: Path = CORPORA_DIR) -> list[HtmlPage]:
    """The article-extraction-benchmark pages, decompressed, in file-name order, with their URLs."""
    truth_path = corpora_dir / HTML_GROUND_TRUTH
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    pages = []
    for path in sorted((corpora_dir / HTML_DIR).glob("*.html.gz")):
        page_id = path.name.removesuffix(".html.gz")
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        pages.append(HtmlPage(page_id, (truth.get(page_id) or {}).get("url"), html))
    return pages
