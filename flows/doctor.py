"""`wirelake doctor`: check that this machine can run wirelake, one line per check.

Each check returns (ok, detail). Nothing here writes to the warehouse: the catalog is opened
read-only, and a warehouse that does not exist yet only needs a directory it can be made in.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flows.config import WirelakeConfig

# The warehouse's disk should have room for a run's raw bytes, Parquet files and reports.
MIN_FREE_BYTES = 1 << 30
LOCK_FILE = Path(__file__).resolve().parents[1] / "requirements.lock"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_python() -> tuple[bool, str]:
    version = ".".join(map(str, sys.version_info[:3]))
    return sys.version_info[:2] == (3, 11), f"{version} (needs 3.11)"


def _pins() -> dict[str, str]:
    """name → version pinned: the lock when this is a checkout, else the package's own == pins."""
    lines = LOCK_FILE.read_text().splitlines() if LOCK_FILE.exists() else (metadata.requires("wirelake") or [])
    pins = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def check_pins() -> tuple[bool, str]:
    pins = _pins()
    wrong = []
    for name, want in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have != want:
            wrong.append(f"{name} {have} (pinned {want})")
    source = LOCK_FILE.name if LOCK_FILE.exists() else "package metadata"
    if wrong:
        return False, f"{len(wrong)} of {len(pins)} differ from {source}: {'; '.join(wrong[:4])}; run `make install`"
    return True, f"{len(pins)} packages match {source} (sqlalchemy {pins.get('sqlalchemy', '?')})"


def check_extensions() -> tuple[bool, str]:
    import duckdb

    from warehouse.store import _extension_binary, _sql_str

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    try:
        ducklake = _extension_binary("duckdb_extension_ducklake", "ducklake.duckdb_extension")
        con.execute(f"LOAD '{_sql_str(str(ducklake))}'")
        loaded = [r[0] for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()]
    finally:
        con.close()
    return "ducklake" in loaded, f"duckdb {duckdb.__version__}: ducklake loaded from {ducklake.parent.name}"


def check_catalog(config: WirelakeConfig) -> tuple[bool, str]:
    from warehouse.store import Warehouse

    wh = Warehouse(config.warehouse, config.catalog_url, config.data_path)
    if not wh.exists():
        parent = next((p for p in [wh.root, *wh.root.parents] if p.exists()), None)
        writable = parent is not None and os.access(parent, os.W_OK)
        return writable, (f"{wh.root}: no catalog yet; `wirelake run` creates it" if writable
                          else f"{wh.root}: no catalog, and {parent} is not writable")
    with wh.reader() as con:
        runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        snapshot = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
    return True, f"{wh.root}: {runs} runs, snapshot {snapshot}"


def check_model(config: WirelakeConfig) -> tuple[bool, str]:
    import spacy

    nlp = spacy.load(config.extract.spacy_model)
    has_ner = "ner" in nlp.pipe_names
    return has_ner, f"{config.extract.spacy_model} {nlp.meta.get('version')} ({'has' if has_ner else 'no'} ner)"


def check_prefect_api(api_url: str | None) -> tuple[bool, str]:
    if not api_url:
        return True, "PREFECT_API_URL unset: runs start a temporary server (serve needs one)"
    import httpx

    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=5)
    except httpx.HTTPError as exc:
        return False, f"{api_url}: {type(exc).__name__}: {exc}; is `prefect server start` running?"
    return response.status_code == 200, f"{api_url}: HTTP {response.status_code}"


def check_disk(config: WirelakeConfig) -> tuple[bool, str]:
    root = Path(config.warehouse).resolve()
    existing = next(p for p in [root, *root.parents] if p.exists())
    free = shutil.disk_usage(existing).free
    return free >= MIN_FREE_BYTES, f"{free / (1 << 30):.1f} GiB free at {existing} (needs {MIN_FREE_BYTES >> 30})"


def run_checks(config: WirelakeConfig, api_url: str | None) -> list[Check]:
    checks: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("python", check_python),
        ("pins", check_pins),
        ("duckdb", check_extensions),
        ("catalog", lambda: check_catalog(config)),
        ("model", lambda: check_model(config)),
        ("prefect", lambda: check_prefect_api(api_url)),
        ("disk", lambda: check_disk(config)),
    ]
    results = []
    for name, fn in checks:
        try:
            ok, detail = fn()
        except Exception as exc:  # a check that cannot run has failed; say why in one line
            ok, detail = False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        results.append(Check(name, ok, detail))
    return results
