"""The DuckLake store: schema evolution, idempotent staging, atomic publish, raw store, write lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from warehouse.store import StagedRun, Warehouse, WarehouseBusy, to_arrow

pytestmark = pytest.mark.unit
NOW = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)


def _entities(*rows: tuple[str, str]) -> pa.Table:
    return to_arrow("entities", [{"entity_id": i, "name": n, "type": "ORG", "aliases": [n]} for i, n in rows])


def _mentions(*rows: tuple[str, str, int]) -> pa.Table:
    return to_arrow("entity_mentions", [{"article_id": a, "entity_id": e, "mention": e, "label": "ORG",
                                         "sentence_index": 0, "start_char": s, "end_char": s + 3}
                                        for a, e, s in rows])


@pytest.fixture
def lake(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    con = wh.connect()
    yield wh, con
    con.close()


def test_schema_evolution_adds_columns_a_newer_ddl_declares(lake):
    wh, con = lake
    con.execute("ALTER TABLE articles DROP COLUMN item_uri")
    assert "item_uri" not in {r[0] for r in con.execute("DESCRIBE articles").fetchall()}
    wh.ensure_schema(con)
    assert "item_uri" in {r[0] for r in con.execute("DESCRIBE articles").fetchall()}


def test_insert_new_skips_stored_and_repeated_keys(lake):
    wh, con = lake
    docs = to_arrow("documents", [{"doc_id": d, "run_id": "r", "source": "s", "uri": d, "fetched_at": NOW,
                                   "sha256": "0" * 64, "bytes": 1} for d in ("a", "b", "a")])
    staged = wh.stage(con, {"documents": docs})
    assert staged.rows("documents") == 2 and staged.skipped["documents"] == 1
    wh.publish(con, staged)
    again = wh.stage(con, {"documents": docs})
    assert again.rows("documents") == 0
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


def test_staging_keeps_the_first_row_per_key_in_input_order(lake):
    """Staging decides on keys alone: the first row of each key wins, rows keep the run's order,
    and a batch with nothing to drop is staged as the very table it came in as (no copy)."""
    wh, con = lake
    wh.publish(con, wh.stage(con, {"entities": _entities(("e2", "Stored"))}))
    rows = [("e9", "First e9"), ("e1", "First e1"), ("e9", "Second e9"), ("e2", "Stored again"),
            ("e1", "Second e1"), ("e5", "Only e5")]
    staged = wh.stage(con, {"entities": _entities(*rows), "documents": to_arrow("documents", [
        {"doc_id": d, "run_id": "r", "source": "s", "uri": d, "fetched_at": NOW, "sha256": "0" * 64, "bytes": 1}
        for d in ("d3", "d2", "d1", "d2")])})
    # entities replace by key, so the stored e2 is staged again; its first row wins
    assert staged.tables["entities"].select(["entity_id", "name"]).to_pylist() == [
        {"entity_id": "e9", "name": "First e9"}, {"entity_id": "e1", "name": "First e1"},
        {"entity_id": "e2", "name": "Stored again"}, {"entity_id": "e5", "name": "Only e5"}]
    assert staged.skipped["entities"] == 2
    assert staged.tables["documents"].column("doc_id").to_pylist() == ["d3", "d2", "d1"]
    fresh = _entities(("e7", "Seven"), ("e8", "Eight"))
    assert wh.stage(con, {"entities": fresh}).tables["entities"] is fresh


def test_replace_rules_replace_by_row_key_and_by_group(lake):
    wh, con = lake
    wh.publish(con, wh.stage(con, {"entities": _entities(("e1", "Old name"), ("e2", "Other")),
                                   "entity_mentions": _mentions(("art1", "e1", 0), ("art1", "e2", 10),
                                                                ("art2", "e1", 5))}))
    wh.publish(con, wh.stage(con, {"entities": _entities(("e1", "New name")),
                                   "entity_mentions": _mentions(("art1", "e1", 20))}))
    names = dict(con.execute("SELECT entity_id, name FROM entities").fetchall())
    assert names == {"e1": "New name", "e2": "Other"}
    mentions = sorted(con.execute("SELECT article_id, entity_id, start_char FROM entity_mentions").fetchall())
    # art1's mentions were replaced as a group; art2's were left alone.
    assert mentions == [("art1", "e1", 20), ("art2", "e1", 5)]


def test_publish_is_all_or_nothing(lake):
    wh, con = lake
    before = wh.snapshot_id(con)

    def crash(point: str) -> None:
        if point == "before_commit":
            raise RuntimeError("simulated crash before commit")

    staged = StagedRun(tables={"entities": _entities(("e1", "A")), "entity_mentions": _mentions(("x", "e1", 0))})
    with pytest.raises(RuntimeError, match="simulated crash"):
        wh.publish(con, staged, fault_hook=crash)
    assert wh.snapshot_id(con) == before
    assert con.execute("SELECT count(*) FROM entities").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM entity_mentions").fetchone()[0] == 0
    wh.publish(con, staged)
    assert wh.snapshot_id(con) == before + 1


def test_raw_store_is_content_addressed(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    import hashlib

    body = b"<html>hello</html>"
    sha = hashlib.sha256(body).hexdigest()
    path = wh.store_raw(sha, body)
    assert path.parent.name == sha[:2] and wh.read_raw(sha) == body
    assert wh.store_raw(sha, b"ignored: never rewritten") == path and wh.read_raw(sha) == body
    with pytest.raises(ValueError, match="not a sha256"):
        wh.store_raw("../../etc/passwd", body)


def test_second_writer_gets_one_clear_line(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    with wh.write_lock():
        with pytest.raises(WarehouseBusy) as busy, wh.write_lock(wait_seconds=0.3):
            pass
    message = str(busy.value)
    assert "\n" not in message and "another run is writing" in message and str(tmp_path) in message
    with wh.write_lock():  # released: the next writer gets it
        pass


def test_scoped_replace_clears_groups_that_now_have_no_rows(lake):
    wh, con = lake
    wh.publish(con, wh.stage(con, {"entity_mentions": _mentions(("art1", "e1", 0), ("art2", "e1", 5))}))
    # art1 was re-derived and now has no mentions; art2 was not touched.
    staged = wh.stage(con, {"entity_mentions": _mentions()})
    staged.scopes["entity_mentions"] = ["art1"]
    wh.publish(con, staged)
    assert con.execute("SELECT article_id FROM entity_mentions").fetchall() == [("art2",)]
    with pytest.raises(ValueError, match="only replace-by-key"):
        wh.publish(con, StagedRun(tables={}, scopes={"documents": ["x"]}))


def test_orphaned_data_files_are_deleted_and_referenced_ones_kept(lake):
    wh, con = lake
    wh.publish(con, wh.stage(con, {"entities": _entities(("e1", "Kept"))}))
    orphan = wh.root / "data" / "main" / "entities" / "ducklake-00000000-0000-0000-0000-000000000000.parquet"
    con.execute(f"COPY (SELECT 1 AS x) TO '{orphan}' (FORMAT parquet)")
    assert wh.delete_orphaned_files(con) == 1
    assert not orphan.exists()
    assert con.execute("SELECT name FROM entities").fetchall() == [("Kept",)]
