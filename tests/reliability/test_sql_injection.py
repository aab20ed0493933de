"""RELIABILITY-PLAN.md case 37: SQL injection through the query CLI.

`wirelake sql` takes one query and runs it on a read-only, locked-down connection; it has
no search/--order-by/--table options that build SQL from arguments, so the plan's payloads
are fed to it as whole queries (the strongest form: the attacker writes the SQL). Afterwards
the table checksum is unchanged, no file was created anywhere, and no extension installed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from warehouse.store import StagedRun, Warehouse, to_arrow

pytestmark = pytest.mark.unit
runner = CliRunner()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    rows = [{"article_id": f"a{i}", "doc_id": f"d{i}", "run_id": "r1", "source": "harbour-news",
             "title": f"Ferry report {i}", "text": "The ferry sailed. " * 10, "word_count": 30,
             "content_hash": f"h{i}", "fetched_at": now} for i in range(4)]
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"articles": to_arrow("articles", rows)}))
    finally:
        con.close()
    return tmp_path / "wh"


def _checksum(root: Path) -> tuple[int, int]:
    with Warehouse(root).reader() as con:
        return con.execute("SELECT count(*), coalesce(bit_xor(hash(a::VARCHAR)), 0) FROM articles a").fetchone()


def _files(*roots: Path) -> set[Path]:
    return {p for root in roots if root.exists() for p in root.rglob("*")}


def _payloads(tmp: Path) -> list[str]:
    return [
        "SELECT * FROM articles WHERE title = 'x'; DROP TABLE articles; --'",
        "SELECT title FROM articles WHERE title = '' UNION SELECT * FROM read_csv('/etc/passwd', sep=':') --'",
        "SELECT * FROM articles WHERE source = 'a' OR '1'='1'; DELETE FROM articles",
        f"SELECT * FROM articles ORDER BY title; ATTACH '{tmp}/evil.db' AS evil",
        f"SELECT 1; COPY articles TO '{tmp}/leak.csv'",
        "SELECT * FROM articles WHERE published_at > '2024-01-01'::DATE; INSTALL httpfs; --",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "INSERT INTO articles (article_id) VALUES ('x')",
        "UPDATE articles SET title = 'pwned'",
        "CALL ducklake_expire_snapshots('lake', older_than => now())",
        "DETACH lake",
    ]


def _refused_without_trace(lake: Path, outside: Path, queries: list[str]) -> None:
    before = _checksum(lake)
    files_before = _files(lake, outside)
    extensions = Path.home() / ".duckdb" / "extensions"
    ext_before = _files(extensions)
    for query in queries:
        result = runner.invoke(app, ["sql", query, "--warehouse", str(lake)])
        assert result.exit_code == 1, f"not refused: {query!r}: {result.output}"
        assert result.stderr.startswith("error:"), result.stderr
        assert "Traceback" not in result.output
    assert _checksum(lake) == before
    assert _files(lake, outside) == files_before
    assert _files(extensions) == ext_before


def test_37_hostile_queries_are_refused_with_one_line_and_change_nothing(lake, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    _refused_without_trace(lake, outside, _payloads(outside))
    # Read-only queries still work after all that.
    ok = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM articles", "--warehouse", str(lake), "--format", "csv"])
    assert ok.exit_code == 0 and ok.stdout.split() == ["n", "4"]


def test_37_refused_statements_leave_no_file_behind(lake, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    _refused_without_trace(lake, outside, [f"ATTACH 'ducklake:sqlite:{outside}/evil.sqlite' AS evil",
                                           "CREATE TABLE evil AS SELECT 1"])


def test_37_no_file_can_be_written_inside_the_warehouse(lake):
    with Warehouse(lake).reader() as con:
        data_file = con.execute("SELECT data_file FROM ducklake_list_files('lake', 'articles')").fetchone()[0]
    before = _checksum(lake)
    files_before = _files(lake)
    queries = [f"COPY articles TO '{lake}/leak.csv'", f"EXPORT DATABASE '{lake}/export'",
               f"COPY (SELECT 'pwned' AS article_id) TO '{data_file}' (FORMAT parquet)"]
    codes = [runner.invoke(app, ["sql", q, "--warehouse", str(lake)]).exit_code for q in queries]
    try:
        after = _checksum(lake)
    except Exception as exc:  # a clobbered data file can make the table unreadable
        after = repr(exc)
    assert codes == [1, 1, 1] and _files(lake) == files_before and after == before
