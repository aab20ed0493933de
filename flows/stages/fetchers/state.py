"""What the warehouse remembers about each URL it requested: the `fetch_state` table.

One row per URL (key `url`, written "replace by url"): the validators the server
sent (ETag, Last-Modified) so the next request can be conditional, the last status
and time, and the sha256 of the last body read, so a 200 with the same bytes is
known to be unchanged. The flow reads the table before fetching
(`FetchState.from_arrow`) and writes `FetchResult.fetch_state` back after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pyarrow as pa

from flows.records import as_utc
from warehouse.store import to_arrow

# The columns of warehouse/schema/fetch_state.sql, in order (a test holds them to the DDL;
# the types come from the DDL itself, through `warehouse.store.to_arrow`).
FETCH_STATE_COLUMNS: tuple[str, ...] = ("url", "etag", "last_modified", "last_status", "last_fetched",
                                        "content_sha256")


@dataclass(frozen=True, slots=True)
class FetchStateRow:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_fetched: datetime | None = None
    content_sha256: str | None = None

    @property
    def holds_content(self) -> bool:
        """The last request got (or confirmed with a 304) a body whose hash is known."""
        ok = self.last_status is not None and (200 <= self.last_status < 300 or self.last_status == 304)
        return ok and bool(self.content_sha256)

    def conditional_headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for the next request of this URL."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _as_utc(value: object) -> datetime | None:
    return as_utc(value) if isinstance(value, datetime) else None


class FetchState:
    """The stored rows, by URL. Read-only during a run; the fetcher records new rows apart."""

    def __init__(self, rows: Iterable[FetchStateRow] = (), stored_documents: Iterable[str] = ()) -> None:
        # doc_ids (content keys of uri + sha256) of the documents the warehouse holds: a local
        # file whose path and bytes are unchanged is not read again.
        self.stored_documents: frozenset[str] = frozenset(stored_documents)
        self._rows: dict[str, FetchStateRow] = {}
        for row in rows:
            held = self._rows.get(row.url)
            # Two rows for one URL should not happen (replace by url); keep the newer.
            if held is None or (_as_utc(row.last_fetched) or datetime.min.replace(tzinfo=UTC)) >= (
                _as_utc(held.last_fetched) or datetime.min.replace(tzinfo=UTC)
            ):
                self._rows[row.url] = row

    @classmethod
    def empty(cls) -> FetchState:
        return cls()

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> FetchState:
        built = []
        for row in rows:
            status = row.get("last_status")
            built.append(
                FetchStateRow(
                    url=str(row["url"]),
                    etag=row.get("etag") or None,  # type: ignore[arg-type]
                    last_modified=row.get("last_modified") or None,  # type: ignore[arg-type]
                    last_status=int(status) if isinstance(status, int) else None,
                    last_fetched=_as_utc(row.get("last_fetched")),
                    content_sha256=row.get("content_sha256") or None,  # type: ignore[arg-type]
                )
            )
        return cls(built)

    @classmethod
    def from_arrow(cls, table: pa.Table, stored_documents: Iterable[str] = ()) -> FetchState:
        """From the warehouse's fetch_state table (extra columns, e.g. run_id, are ignored) and
        the doc_ids of its documents table."""
        missing = [name for name in FETCH_STATE_COLUMNS if name not in table.column_names]
        if missing:
            raise ValueError(
                f"fetch_state table: missing columns {missing}; expected {list(FETCH_STATE_COLUMNS)} "
                "(see warehouse/schema/fetch_state.sql)"
            )
        state = cls.from_rows(table.select(list(FETCH_STATE_COLUMNS)).to_pylist())
        state.stored_documents = frozenset(stored_documents)
        return state

    def to_arrow(self) -> pa.Table:
        rows = [self._rows[url].as_dict() for url in sorted(self._rows)]
        return to_arrow("fetch_state", rows)

    def get(self, url: str) -> FetchStateRow | None:
        return self._rows.get(url)

    def __contains__(self, url: object) -> bool:
        return url in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def updated(self, rows: Iterable[Mapping[str, object]]) -> FetchState:
        """This state with `rows` replacing rows of the same URL (what "replace by url" stores)."""
        return FetchState([*self._rows.values(), *FetchState.from_rows(rows)._rows.values()],
                          self.stored_documents)
