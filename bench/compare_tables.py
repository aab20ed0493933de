"""Run the flows on fixed inputs and dump every warehouse table, to compare two checkouts.

A refactoring must not change what a run stores. This runs, in one warehouse: an ingest of
`examples/sources.toml`, an ingest of the seeds (../shared/seeds, bare .txt), an ingest of
300 BBC articles (../shared/corpora/bbc-news), and a reprocess of everything; after each run
it dumps every table as sorted JSON lines, with run ids, timestamps and timings masked.

    # in each checkout, with that checkout's python and the same --work folder:
    python bench/compare_tables.py dump --work /tmp/cmp --out /tmp/cmp/before
    python bench/compare_tables.py dump --work /tmp/cmp --out /tmp/cmp/after
    python bench/compare_tables.py diff /tmp/cmp/before /tmp/cmp/after

The warehouse path is the same in both runs (`--work`), so configs (and their hashes) match.
Inputs that are absent are skipped with a message. `diff` exits 1 when any table differs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
BBC_ARTICLES = 300
# Timestamps from this day on are the runs' own clock, not data (the corpora are older).
TODAY = (datetime.now(UTC) - timedelta(days=1)).date()
# Values that differ between two runs of the same code: masked, not compared.
VOLATILE_COLUMNS = {"started_at", "finished_at", "fetched_at", "created_at", "validated_at", "duration_seconds",
                    "snapshot_id", "first_seen_at", "last_seen_at", "seconds"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")


def bbc_source(work: Path, repo: Path):
    from flows.records import Source

    corpus = SHARED_DIR / "corpora" / "bbc-news" / "bbc-news.jsonl.gz"
    if not corpus.exists():
        print(f"skipping BBC: {corpus} not found", file=sys.stderr)
        return None
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    step = len(rows) / BBC_ARTICLES
    folder = work / "bbc"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "bbc.jsonl", "w", encoding="utf-8") as out:
        for row in (rows[int(i * step)] for i in range(BBC_ARTICLES)):
            record = {"text": row["text"], **({"title": row["title"]} if row.get("title") else {})}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return Source(name="bbc-news", location=str(folder), kind="local")


def masked(value: Any, run_ids: dict[str, str]) -> Any:
    if isinstance(value, datetime) and value.date() >= TODAY:
        return "<now>"  # a run's clock (e.g. first_seen of an undated article falls back to fetch time)
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_COLUMNS else masked(v, run_ids) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, run_ids) for v in value]
    if isinstance(value, str):
        if value.startswith(("{", "[")):
            try:
                return masked(json.loads(value), run_ids)
            except ValueError:
                pass
        for run_id, name in run_ids.items():
            value = value.replace(run_id, name)
        return TIMESTAMP.sub("<ts>", UUID.sub("<uuid>", value))
    return value


def dump_tables(warehouse_dir: Path, out: Path) -> None:
    from warehouse import store
    from warehouse.store import Warehouse

    wh = Warehouse(warehouse_dir)
    con = wh.connect()
    try:
        runs = wh.read_table(con, "runs").to_pylist()
        run_ids = {r["run_id"]: f"<run{i}>" for i, r in enumerate(sorted(runs, key=lambda r: r["started_at"]))}
        out.mkdir(parents=True, exist_ok=True)
        names = sorted(p.stem for p in (Path(store.__file__).parent / "schema").glob("*.sql"))
        for name in names:
            rows = wh.read_table(con, name).to_pylist()
            lines = sorted(json.dumps(masked({k: v for k, v in row.items()}, run_ids), sort_keys=True,
                                      default=str) for row in rows)
            (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    finally:
        con.close()


def dump(work: Path, out: Path, repo: Path) -> None:
    os.environ.update({"PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING"})
    os.environ.pop("PREFECT_API_URL", None)
    from flows.config import WirelakeConfig
    from flows.ingest import run_ingest
    from flows.records import Source
    from flows.reprocess import run_reprocess
    from flows.sources import read_sources_file

    warehouse = work / "wh"
    shutil.rmtree(warehouse, ignore_errors=True)
    config = WirelakeConfig(warehouse=warehouse)
    # Paths are part of document ids: both checkouts read the examples from the same copy.
    examples = work / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    shutil.copytree(repo / "examples", examples)
    runs: list[tuple[str, Any]] = [("1-examples", read_sources_file(examples / "sources.toml"))]
    seeds = SHARED_DIR / "seeds"
    if seeds.exists():
        runs.append(("2-seeds", [Source(name="seeds", location=str(seeds), kind="local")]))
    else:
        print(f"skipping seeds: {seeds} not found", file=sys.stderr)
    bbc = bbc_source(work, repo)
    if bbc is not None:
        runs.append(("3-bbc", [bbc]))
    shutil.rmtree(out, ignore_errors=True)
    for label, sources in runs:
        summary = run_ingest(config, sources)
        print(f"{label}: {summary['status']} new={summary['new']} rejected={summary['rejected']}", file=sys.stderr)
        dump_tables(warehouse, out / label)
    summary = run_reprocess(config)
    print(f"4-reprocess: {summary['status']}", file=sys.stderr)
    dump_tables(warehouse, out / "4-reprocess")


def diff(before: Path, after: Path) -> int:
    differed = 0
    steps = sorted(p.name for p in before.iterdir() if p.is_dir())
    if steps != sorted(p.name for p in after.iterdir() if p.is_dir()):
        print(f"steps differ: {steps} vs {sorted(p.name for p in after.iterdir())}")
        return 1
    for step in steps:
        names = sorted(p.name for p in (before / step).glob("*.jsonl"))
        if names != sorted(p.name for p in (after / step).glob("*.jsonl")):
            print(f"{step}: tables differ")
            differed += 1
        for name in names:
            old = [line for line in (before / step / name).read_text(encoding="utf-8").splitlines() if line]
            new_path = after / step / name
            new = [line for line in new_path.read_text(encoding="utf-8").splitlines() if line] if new_path.exists() else []
            if old != new:
                differed += 1
                gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
                print(f"{step}/{name}: {len(old)} vs {len(new)} rows; {len(gone)} only before, "
                      f"{len(added)} only after")
                for line in (gone[:2] + added[:2]):
                    print("   ", line[:400])
            else:
                print(f"{step}/{name}: {len(old)} rows identical")
    print("DIFFERENT" if differed else "IDENTICAL: every table of every step")
    return 1 if differed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/compare_tables.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("dump")
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--repo", type=Path, default=Path.cwd(), help="the checkout whose examples/ are read")
    cmp = sub.add_parser("diff")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.work.resolve(), args.out.resolve(), args.repo.resolve())
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
