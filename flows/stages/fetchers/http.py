"""The one place wirelake talks HTTP.

`HttpFetcher.get(url)` does a GET with every limit applied: a per-read timeout,
a total deadline (connect to last byte), a size cap on the decompressed body
(enforced while streaming), at most `MAX_REDIRECTS` redirects followed by hand so
that each hop's URL is checked, and http/https only. Anything that goes wrong is a
`FetchError` whose message is one line naming the URL.

Retries, robots.txt, conditional requests and an SSRF policy belong here too
(later): every request of the fetch stage goes through `HttpFetcher._get_once`.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from flows.config import FetchConfig

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    """A read that failed; str(error) is one line naming the input."""


@dataclass(slots=True, frozen=True)
class HttpResponse:
    requested_url: str
    url: str  # the final URL, after redirects
    status: int
    content_type: str | None  # the raw header
    body: bytes  # decompressed
    fetched_at: datetime

    @property
    def mime_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()


def is_http_url(location: str) -> bool:
    return urlsplit(location).scheme.lower() in ALLOWED_SCHEMES and bool(urlsplit(location).netloc)


def one_line(message: str, limit: int = 400) -> str:
    """Collapse an error message to one bounded line (Reject.error is one line)."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _describe_transport_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the server"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or type(exc).__name__})"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decompress the body ({exc})"
    return f"{type(exc).__name__}: {exc}"


class HttpFetcher:
    """GETs URLs with wirelake's limits. Thread-safe; share one per run.

    Pass an `httpx.Client` to reuse its connection pool (tests, the flow); otherwise
    the fetcher makes one and closes it in `close()`. Timeouts are set per request,
    so a client built elsewhere still gets wirelake's timeouts.
    """

    def __init__(self, cfg: FetchConfig, client: httpx.Client | None = None) -> None:
        self.cfg = cfg
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(
                timeout=httpx.Timeout(cfg.timeout_seconds, connect=cfg.connect_timeout_seconds),
                follow_redirects=False,
                headers={"User-Agent": cfg.user_agent},
            )
        )
        # Bounds requests in flight across all sources and item pages together.
        self._in_flight = threading.BoundedSemaphore(max(1, cfg.concurrency))

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def get(self, url: str) -> HttpResponse:
        """GET `url`, following up to MAX_REDIRECTS redirects; raises FetchError on any failure.

        Non-2xx final statuses are errors ("GET URL: HTTP 404"). The content type is
        not checked here: feeds and pages accept different types.
        """
        deadline = time.monotonic() + self.cfg.timeout_seconds
        current = url
        with self._in_flight:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_scheme(url, current)
                status, headers, body = self._get_once(url, current, deadline)
                if status in _REDIRECT_STATUSES and headers.get("location"):
                    current = urljoin(current, headers["location"])
                    continue
                if not 200 <= status < 300:
                    where = url if current == url else f"{url} (redirected to {current})"
                    raise FetchError(f"GET {where}: HTTP {status}")
                return HttpResponse(
                    requested_url=url,
                    url=current,
                    status=status,
                    content_type=headers.get("content-type"),
                    body=body,
                    fetched_at=datetime.now(UTC),
                )
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects (last {current})")

    @staticmethod
    def _check_scheme(url: str, current: str) -> None:
        if not is_http_url(current):
            if current == url:
                raise FetchError(f"GET {url}: only http/https URLs are fetched")
            raise FetchError(f"GET {url}: redirected to a non-http(s) URL {current}; refused")

    def _get_once(self, url: str, current: str, deadline: float) -> tuple[int, httpx.Headers, bytes]:
        """One request/response with no redirect handling; the body is read only on 2xx."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"GET {url}: exceeded the total deadline of {self.cfg.timeout_seconds:g}s")
        # Never wait longer for one read than the whole request may still take.
        timeout = httpx.Timeout(
            min(self.cfg.timeout_seconds, remaining),
            connect=min(self.cfg.connect_timeout_seconds, remaining),
        )
        try:
            with self._client.stream(
                "GET",
                current,
                headers={"User-Agent": self.cfg.user_agent},
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                if not 200 <= response.status_code < 300:
                    return response.status_code, response.headers, b""
                return response.status_code, response.headers, self._read_capped(url, response, deadline)
        except httpx.HTTPError as exc:
            raise FetchError(one_line(f"GET {url}: {_describe_transport_error(exc)}")) from exc

    def _read_capped(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        cap = self.cfg.max_bytes
        declared = response.headers.get("content-length")
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if declared and declared.isdigit() and int(declared) > cap and encoding in ("", "identity"):
            raise FetchError(f"GET {url}: body of {int(declared)} bytes exceeds max_bytes={cap}")
        chunks: list[bytes] = []
        received = 0
        for chunk in _decoded_chunks(response, encoding, cap):
            received += len(chunk)
            if received > cap:
                raise FetchError(
                    f"GET {url}: body exceeds max_bytes={cap} after decompression; "
                    "raise fetch.max_bytes if this is expected"
                )
            if time.monotonic() > deadline:
                raise FetchError(
                    f"GET {url}: exceeded the total deadline of {self.cfg.timeout_seconds:g}s "
                    f"after {received} bytes; the server is too slow"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _decoded_chunks(response: httpx.Response, encoding: str, cap: int) -> Iterator[bytes]:
    """The body, decompressed, in pieces never much larger than the cap.

    httpx's own decoders inflate each network chunk whole (a 64 KiB gzip chunk can
    inflate to ~64 MiB); for gzip and deflate we inflate with `max_length` instead,
    so a compression bomb is stopped after at most cap+1 bytes. Other encodings
    (only sent if the server ignores our Accept-Encoding) go through httpx.
    """
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        first = True
        try:
            for raw in response.iter_raw():
                if first and encoding == "deflate" and raw:
                    first = False
                    try:
                        inflater.copy().decompress(raw[:64])
                    except zlib.error:
                        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
                pending = raw
                while pending:
                    yield inflater.decompress(pending, cap + 1)
                    pending = inflater.unconsumed_tail
            yield inflater.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"invalid {encoding} data: {exc}") from exc
        return
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    yield from response.iter_bytes()
