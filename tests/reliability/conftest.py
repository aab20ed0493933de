"""The reliability harness, all on this machine and loopback only.

* H1 `RawServer`: a socket server on 127.0.0.1:<ephemeral> whose behaviour per request is a
  function over the raw connection (trickle, silence, lying headers); pytest-httpserver
  serves the ordinary status/header/redirect cases.
* H2 `Canary`: listeners on 127.0.0.2 / 127.0.0.3 that count every connection they accept.
  Every SSRF test asserts that they saw none.
* H3 `AuditRecorder`: a `sys.addaudithook` hook recording `socket.connect` addresses and
  `open` paths while armed, for addresses nobody can bind (169.254.169.254) and files.
* H7 `warehouse_state` / `check_catalog_files`: what a fresh read-only reader sees, and
  whether every Parquet file the catalog references is whole.
* H8 `flow_subprocess`: runs the real flow in a child process against the session's
  Prefect test server (one server for the whole session: a temporary server costs ~15 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]

# Data tables a crash must leave exactly as they were (bookkeeping tables are checked separately).
DATA_TABLES = ("documents", "articles", "article_signatures", "entities", "entity_mentions", "events",
               "event_arguments", "event_mentions", "quotes", "stories", "article_stories")
# The key of each keyed table: a re-run must never store one twice.
TABLE_KEYS = {"documents": "doc_id", "articles": "article_id", "article_signatures": "article_id",
              "entities": "entity_id", "events": "event_id", "stories": "story_id"}


# ---------------------------------------------------------------- H1: raw hostile server

Behaviour = Callable[[socket.socket, bytes], None]


class RawServer:
    """A threaded TCP server; each connection reads one request head, then runs `behaviour`.

    `/robots.txt` gets a plain 404 (robots allow everything) so the behaviour under test
    is met by the request that matters, not by the robots.txt read before it.
    """

    def __init__(self, behaviour: Behaviour, host: str = "127.0.0.1") -> None:
        self.behaviour = behaviour
        self.requests: list[str] = []  # request lines, in arrival order
        self.accepted = 0  # connections accepted, whether or not they sent a request
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(64)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"raw-server-{self.port}")
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._open.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            head = b""
            conn.settimeout(5)
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.requests.append(line)
            if " /robots.txt " in line:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            else:
                conn.settimeout(None)
                self.behaviour(conn, head)
        with contextlib.suppress(OSError):
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._thread.join(timeout=2)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Behaviour], RawServer]]:
    started: list[RawServer] = []

    def start(behaviour: Behaviour) -> RawServer:
        server = RawServer(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


# ---------------------------------------------------------------- H2: canaries


class Canary:
    """Counts every TCP connection accepted on host:<ephemeral port> (and answers 200 'canary')."""

    def __init__(self, host: str) -> None:
        self._server = RawServer(self._answer, host=host)
        self.host, self.port = self._server.host, self._server.port

    def _answer(self, conn: socket.socket, head: bytes) -> None:
        body = b"canary secret"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))

    @property
    def total(self) -> int:
        return self._server.accepted

    def url(self, path: str = "/") -> str:
        return self._server.url(path)

    def close(self) -> None:
        self._server.close()


@dataclass
class Canaries:
    two: Canary  # 127.0.0.2
    three: Canary  # 127.0.0.3

    @property
    def hits(self) -> int:
        return self.two.total + self.three.total


@pytest.fixture(scope="module")
def canaries() -> Iterator[Canaries]:
    pair = Canaries(Canary("127.0.0.2"), Canary("127.0.0.3"))
    yield pair
    pair.two.close()
    pair.three.close()


# ---------------------------------------------------------------- H3: audit recorder


@dataclass
class AuditRecorder:
    armed: bool = False
    connects: list[object] = field(default_factory=list)
    opens: list[str] = field(default_factory=list)

    def hook(self, event: str, args: tuple) -> None:
        if not self.armed:
            return
        if event == "socket.connect":
            self.connects.append(args[1])
        elif event == "open" and isinstance(args[0], str | bytes):
            self.opens.append(os.fsdecode(args[0]))

    @contextlib.contextmanager
    def recording(self) -> Iterator[AuditRecorder]:
        self.connects.clear()
        self.opens.clear()
        self.armed = True
        try:
            yield self
        finally:
            self.armed = False

    def connected_hosts(self) -> set[str]:
        return {a[0] for a in self.connects if isinstance(a, tuple) and a}


_RECORDER = AuditRecorder()
_HOOKED = False


@pytest.fixture(scope="session")
def audit() -> AuditRecorder:
    """One process-wide audit hook (hooks cannot be removed; it is a no-op unless armed)."""
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_RECORDER.hook)
        _HOOKED = True
    return _RECORDER


# ---------------------------------------------------------------- H7: warehouse oracle


def warehouse_state(root: Path) -> dict[str, object]:
    """Row counts, key sets and a content checksum per data table, the snapshot id, the runs."""
    from warehouse.store import Warehouse

    state: dict[str, object] = {}
    with Warehouse(root).reader() as con:
        for table in DATA_TABLES:
            rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            # Order-independent checksum of every row's text form.
            digest = con.execute(f"SELECT coalesce(bit_xor(hash(t::VARCHAR)), 0) FROM {table} t").fetchone()[0]
            state[table] = (rows, digest)
        for table, key in TABLE_KEYS.items():
            state[f"{table}.keys"] = frozenset(r[0] for r in con.execute(f"SELECT {key} FROM {table}").fetchall())
            distinct = con.execute(f"SELECT count(DISTINCT {key}) FROM {table}").fetchone()[0]
            state[f"{table}.duplicates"] = state[table][0] - distinct
        state["snapshot"] = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
        state["runs"] = sorted(tuple(r) for r in con.execute("SELECT run_id, status FROM runs").fetchall())
    return state


def referenced_files(root: Path) -> dict[str, list[str]]:
    """Every data file the current snapshot's catalog references, per table."""
    from warehouse.store import TABLES, Warehouse

    with Warehouse(root).reader() as con:
        return {t: [r[0] for r in con.execute("SELECT data_file FROM ducklake_list_files('lake', ?)", [t]).fetchall()]
                for t in TABLES}


def check_catalog_files(root: Path) -> tuple[int, list[Path]]:
    """Assert every referenced Parquet file is whole and its row count adds up; return (files, orphans).

    Orphans are Parquet files under data/ that the catalog does not reference (what a killed
    writer leaves behind): readers never open them.
    """
    from warehouse.store import Warehouse

    refs = referenced_files(root)
    referenced = {Path(p).resolve() for files in refs.values() for p in files}
    with Warehouse(root).reader() as con:
        for table, files in refs.items():
            rows = sum(pq.read_metadata(p).num_rows for p in files)  # raises on a torn file
            deleted = con.execute("SELECT count(*) FROM ducklake_list_files('lake', ?) WHERE delete_file IS NOT NULL",
                                  [table]).fetchone()[0]
            if not deleted:
                assert rows == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], table
    on_disk = {p.resolve() for p in (root / "data").rglob("*") if p.is_file()}
    assert referenced <= on_disk, f"catalog references missing files: {sorted(referenced - on_disk)}"
    return len(referenced), sorted(on_disk - referenced)


# ---------------------------------------------------------------- H8: subprocess runs


def prefect_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the prefect_harness fixture must be active"
    return url


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": prefect_api_url(),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "PREFECT_LOGGING_LEVEL": "ERROR"}
    env.update(extra)
    return env


_CHILD_FLOW = """
import json, sys
from prefect import tags
from flows.config import WirelakeConfig
from flows.ingest import run_ingest
from flows.records import Source
spec = json.loads(sys.argv[1])
config = WirelakeConfig.model_validate(spec["config"])
with tags(*spec.get("tags", [])):
    summary = run_ingest(config, [Source(**s) for s in spec["sources"]])
print("SUMMARY " + json.dumps({k: summary[k] for k in ("status", "new", "snapshot_id", "exit_code")}))
"""


def start_flow_subprocess(config: dict, sources: list[dict], tags: list[str] = ()) -> subprocess.Popen:
    spec = json.dumps({"config": config, "sources": sources, "tags": list(tags)})
    return subprocess.Popen([sys.executable, "-c", _CHILD_FLOW, spec], cwd=REPO, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_child(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=timeout)
    return proc.returncode, stdout, stderr


def child_summary(stdout: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("SUMMARY ")]
    assert lines, f"child printed no summary: {stdout[-2000:]}"
    return json.loads(lines[-1].removeprefix("SUMMARY "))


def elapsed(start: float) -> float:
    return time.monotonic() - start
