"""The one place wirelake talks HTTP.

`HttpFetcher.get(url)` does a GET with every limit and courtesy applied. For each
request (each redirect hop, at most `MAX_REDIRECTS`), in this order:

1. the scheme must be http or https;
2. the URL policy (`url_policy.UrlPolicy`, the SSRF guard) must allow the host,
   before anything connects;
3. robots.txt of the hop's origin must allow it (`cfg.obey_robots`; read once per
   origin per run through this same fetcher, truncated at `max_robots_bytes`;
   a Crawl-delay raises the host's spacing; see `polite.py` for the policy);
4. the host's gate (`polite.HostGate`) gives a turn: per-host concurrency and
   spacing, Retry-After pauses, and a circuit breaker; then the global in-flight
   limit (`cfg.concurrency`);
5. one GET with a per-read timeout, a total deadline (time talking to servers,
   connect to last byte across the hops; our own waits do not count), and a size
   cap on the decompressed body enforced while streaming.

Around that, `get()` sends If-None-Match / If-Modified-Since from the `FetchState`
the flow read from the warehouse, retries transient failures (timeouts, connection
errors, 5xx, 429) with exponential backoff and jitter or the server's Retry-After
(capped), and records a new state row for every URL it requested. Every wait is
bounded by `cfg.stage_deadline_seconds` from the fetcher's creation. Anything that
goes wrong is a `FetchError` whose message is one line naming the URL.

Known gap: the policy resolves a host name and judges its addresses, then httpx
resolves it again to connect. A DNS server that answers differently within those
milliseconds (rebinding with a zero TTL) could still steer a connection; closing
that needs connecting to the checked address itself (a custom httpcore network
backend), which is not done yet.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from flows.config import FetchConfig
from flows.records import sha256_hex
from flows.stages.fetchers.polite import (
    HostClosed,
    HostGate,
    RobotsRules,
    backoff_seconds,
    parse_retry_after,
    robots_agent_token,
    robots_rules_from_response,
)
from flows.stages.fetchers.state import FetchState, FetchStateRow
from flows.stages.fetchers.url_policy import ALLOWED_SCHEMES, UnsafeUrl, UrlPolicy, host_key

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# Statuses that say "try again later": the retry loop repeats them, the circuit breaker counts them.
# 501 and 505 are server errors that no retry will change.
_NOT_TRANSIENT_5XX = {501, 505}
_RETRY_AFTER_STATUSES = {429, 503}

class FetchError(Exception):
    """A read that failed; str(error) is one line naming the input.

    `retryable`: another attempt in this run may succeed (the retry loop uses it).
    `try_next_run`: the URL was not read for a reason that may pass (a transient
    failure after its retries, a closed host, the stage deadline), so whatever
    linked to it should be read again next run.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        try_next_run: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.try_next_run = try_next_run or retryable
        self.status = status
        self.retry_after = retry_after
        self.reason = reason  # set when the URL was not requested: why


@dataclass(slots=True, frozen=True)
class HttpResponse:
    requested_url: str
    url: str  # the final URL, after redirects
    status: int
    content_type: str | None  # the raw header
    body: bytes  # decompressed
    fetched_at: datetime
    # A 304 to our conditional request: nothing new, `body` is empty.
    not_modified: bool = False
    # A 2xx whose body hashes to the content_sha256 stored for this URL.
    unchanged: bool = False
    sha256: str | None = None

    @property
    def mime_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def nothing_new(self) -> bool:
        return self.not_modified or self.unchanged


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


def _is_transient_status(status: int) -> bool:
    return status == 429 or (500 <= status < 600 and status not in _NOT_TRANSIENT_5XX)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{host_key(url)}"


@dataclass(slots=True)
class _Exchange:
    """The final answer to one attempt (after redirects), whatever its status."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    retry_after: float | None = None


@dataclass(slots=True)
class _Tracker:
    """What was sent for one URL across attempts: whether it was requested at all, and the last status."""

    sent: int = 0
    last_status: int | None = None


class HttpFetcher:
    """GETs URLs with wirelake's limits and manners. Thread-safe; share one per run.

    Pass an `httpx.Client` to reuse its connection pool (tests, the flow); otherwise
    the fetcher makes one and closes it in `close()`. Timeouts are set per request,
    so a client built elsewhere still gets wirelake's timeouts.

    `policy` decides which hosts may be contacted. Without one, the caller vouches
    for each URL it passes to `get()` (its host:port is allowed for that call) and
    every other host a redirect leads to must be public; the fetch stage always
    passes the policy built from its configured sources. `state` is the stored
    `fetch_state` (conditional requests, unchanged bodies, stored pages).
    """

    def __init__(
        self,
        cfg: FetchConfig,
        client: httpx.Client | None = None,
        *,
        policy: UrlPolicy | None = None,
        state: FetchState | None = None,
    ) -> None:
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
        self._policy = policy
        self._state = state if state is not None else FetchState.empty()
        # Bounds requests in flight across all sources and item pages together.
        self._in_flight = threading.BoundedSemaphore(max(1, cfg.concurrency))
        # No wait (rate limit, backoff, Retry-After) may end after this.
        self._stage_deadline = time.monotonic() + cfg.stage_deadline_seconds
        self._gates: dict[str, HostGate] = {}
        self._gates_lock = threading.Lock()
        self._robots_agent = robots_agent_token(cfg.user_agent)
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_guard = threading.Lock()
        self._updates: dict[str, FetchStateRow] = {}
        self._updates_lock = threading.Lock()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # ---------------------------------------------------------------- state

    def holds_page(self, url: str) -> bool:
        """Is this page already stored (and so not to be fetched again, unless cfg.refetch_pages)?"""
        if self.cfg.refetch_pages:
            return False
        row = self._state.get(url)
        return row is not None and row.holds_content

    def read_before(self, url: str) -> bool:
        """Did an earlier run read a body from this URL (stored fetch_state with a hash)?"""
        row = self._state.get(url)
        return row is not None and row.holds_content

    def forget_validators(self, url: str) -> None:
        """Drop this run's ETag/Last-Modified/hash for `url`, so the next run reads it in full.

        For a body that could not be used (not a feed, an error page) or a feed some
        of whose items were put off: a 304 next run would otherwise hide them.
        """
        with self._updates_lock:
            row = self._updates.get(url)
            if row is not None:
                self._updates[url] = replace(row, etag=None, last_modified=None, content_sha256=None)

    def fetch_state_rows(self) -> list[dict[str, object]]:
        """The new fetch_state row of every URL requested through this fetcher, sorted by URL."""
        with self._updates_lock:
            return [self._updates[url].as_dict() for url in sorted(self._updates)]

    def _record(
        self,
        url: str,
        prior: FetchStateRow | None,
        tracker: _Tracker,
        exchange: _Exchange | None = None,
        digest: str | None = None,
    ) -> None:
        if tracker.sent == 0:
            return  # never requested (refused, disallowed, host closed): nothing to remember
        etag = prior.etag if prior else None
        last_modified = prior.last_modified if prior else None
        content_sha256 = prior.content_sha256 if prior else None
        if exchange is not None and 200 <= exchange.status < 300:
            etag = exchange.headers.get("etag")
            last_modified = exchange.headers.get("last-modified")
            content_sha256 = digest
        elif exchange is not None and exchange.status == 304:
            etag = exchange.headers.get("etag") or etag
            last_modified = exchange.headers.get("last-modified") or last_modified
        row = FetchStateRow(
            url=url,
            etag=etag,
            last_modified=last_modified,
            last_status=tracker.last_status,
            last_fetched=datetime.now(UTC),
            content_sha256=content_sha256,
        )
        with self._updates_lock:
            self._updates[url] = row

    # ---------------------------------------------------------------- GET

    def get(self, url: str) -> HttpResponse:
        """GET `url` politely; raises FetchError on any failure.

        A 304 to the conditional request comes back as `not_modified` with an empty
        body; a 2xx whose body matches the stored hash as `unchanged`. Other non-2xx
        final statuses are errors ("GET URL: HTTP 404"). The content type is not
        checked here: feeds and pages accept different types.
        """
        prior = self._state.get(url)
        conditional = prior.conditional_headers() if prior is not None else {}
        tracker = _Tracker()
        try:
            exchange = self._exchange_with_retries(
                url,
                conditional,
                tracker,
                check_robots=self.cfg.obey_robots,
                body_cap=self.cfg.max_bytes,
                truncate=False,
            )
        except FetchError:
            self._record(url, prior, tracker)
            raise
        fetched_at = datetime.now(UTC)
        status = exchange.status
        if status == 304 and conditional:
            self._record(url, prior, tracker, exchange)
            return HttpResponse(
                requested_url=url,
                url=exchange.url,
                status=status,
                content_type=exchange.headers.get("content-type"),
                body=b"",
                fetched_at=fetched_at,
                not_modified=True,
                sha256=prior.content_sha256 if prior else None,
            )
        if not 200 <= status < 300:
            self._record(url, prior, tracker, exchange)
            where = url if exchange.url == url else f"{url} (redirected to {exchange.url})"
            raise FetchError(
                f"GET {where}: HTTP {status}", try_next_run=_is_transient_status(status), status=status
            )
        digest = sha256_hex(exchange.body)
        self._record(url, prior, tracker, exchange, digest)
        return HttpResponse(
            requested_url=url,
            url=exchange.url,
            status=status,
            content_type=exchange.headers.get("content-type"),
            body=exchange.body,
            fetched_at=fetched_at,
            unchanged=prior is not None and prior.content_sha256 == digest,
            sha256=digest,
        )

    def _exchange_with_retries(
        self,
        url: str,
        headers: dict[str, str],
        tracker: _Tracker,
        *,
        check_robots: bool,
        body_cap: int,
        truncate: bool,
    ) -> _Exchange:
        """Attempts until a non-transient answer, at most max_retries + 1 of them.

        After the last attempt a transient *status* is returned (the caller names it,
        "HTTP 503"); a transient transport error is raised.
        """
        last_error: FetchError | None = None
        last_exchange: _Exchange | None = None
        for attempt in range(self.cfg.max_retries + 1):
            if attempt and last_error is not None:
                self._wait_before_retry(attempt - 1, last_error)
            try:
                exchange = self._exchange(
                    url, headers, tracker, check_robots=check_robots, body_cap=body_cap, truncate=truncate
                )
            except FetchError as exc:
                if last_error is not None and exc.reason is not None:
                    # e.g. the host was closed while we waited: report the failure that led here.
                    raise FetchError(
                        f"{last_error}; not retried: {exc.reason}",
                        try_next_run=True,
                        status=last_error.status,
                    ) from exc
                if not exc.retryable:
                    raise
                last_error, last_exchange = exc, None
                continue
            if not _is_transient_status(exchange.status):
                return exchange
            where = url if exchange.url == url else f"{url} (redirected to {exchange.url})"
            last_error = FetchError(
                f"GET {where}: HTTP {exchange.status}",
                retryable=True,
                status=exchange.status,
                retry_after=exchange.retry_after,
            )
            last_exchange = exchange
        if last_exchange is not None:
            return last_exchange
        assert last_error is not None  # the loop ran at least once and did not return
        raise last_error

    def _wait_before_retry(self, attempt: int, failure: FetchError) -> None:
        if failure.retry_after is not None:
            return  # the host's gate is paused until then; the next attempt waits there
        delay = backoff_seconds(attempt, self.cfg.backoff_base_seconds)
        if time.monotonic() + delay > self._stage_deadline:
            raise FetchError(
                f"{failure}; not retried: the fetch stage deadline "
                f"(fetch.stage_deadline_seconds={self.cfg.stage_deadline_seconds:g}) comes first",
                try_next_run=True,
                status=failure.status,
            )
        time.sleep(delay)

    def _not_requested(self, url: str, current: str, reason: str) -> FetchError:
        target = url if current == url else f"{current} (redirected from {url})"
        return FetchError(f"GET {target}: not requested: {reason}", try_next_run=True, reason=reason)

    def _exchange(
        self,
        url: str,
        headers: dict[str, str],
        tracker: _Tracker,
        *,
        check_robots: bool,
        body_cap: int,
        truncate: bool,
    ) -> _Exchange:
        """One attempt: the request and its redirects, each hop checked, gated and timed."""
        if time.monotonic() >= self._stage_deadline:
            limit = self.cfg.stage_deadline_seconds
            raise self._not_requested(
                url, url, f"the fetch stage deadline (fetch.stage_deadline_seconds={limit:g}) has passed"
            )
        # Seconds left to talk to servers across the hops; never past the stage's own deadline.
        budget = min(self.cfg.timeout_seconds, self._stage_deadline - time.monotonic())
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_scheme(url, current)
            self._check_policy(url, current)
            if check_robots:
                self._check_robots(url, current)
            gate = self._gate(current)
            status, response_headers, body, spent = self._gated_get(
                gate, url, current, budget, headers, tracker, body_cap, truncate
            )
            budget -= spent
            retry_after = self._note_answer(gate, url, current, status, response_headers)
            if status in _REDIRECT_STATUSES and response_headers.get("location"):
                current = urljoin(current, response_headers["location"])
                continue
            return _Exchange(status, response_headers, body, current, retry_after)
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects (last {current})")

    @staticmethod
    def _check_scheme(url: str, current: str) -> None:
        if not is_http_url(current):
            if current == url:
                raise FetchError(f"GET {url}: only http/https URLs are fetched")
            raise FetchError(f"GET {url}: redirected to a non-http(s) URL {current}; refused")

    def _check_policy(self, url: str, current: str) -> None:
        policy = self._policy if self._policy is not None else UrlPolicy.for_urls([url])
        try:
            policy.check(current)
        except UnsafeUrl as exc:
            if current == url:
                raise FetchError(str(exc)) from exc
            raise FetchError(f"GET {url}: redirected to {exc}") from exc

    def _check_robots(self, url: str, current: str) -> None:
        rules = self._robots_rules(_origin(current))
        if rules.allows(current, self._robots_agent):
            return
        host = host_key(current)
        if rules.unreachable is not None:
            raise self._not_requested(
                url,
                current,
                f"robots.txt of {host} could not be read ({rules.unreachable}), "
                f"so {host} is treated as disallowed this run",
            )
        target = current if current == url else f"{current} (redirected from {url})"
        raise FetchError(f"robots.txt of {host} disallows {target}")

    def _robots_rules(self, origin: str) -> RobotsRules:
        with self._robots_guard:
            rules = self._robots.get(origin)
            if rules is not None:
                return rules
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        # One reader per origin; the others wait for its answer instead of asking again.
        with origin_lock:
            with self._robots_guard:
                rules = self._robots.get(origin)
            if rules is None:
                rules = self._read_robots(origin)
                with self._robots_guard:
                    self._robots[origin] = rules
        return rules

    def _read_robots(self, origin: str) -> RobotsRules:
        robots_url = f"{origin}/robots.txt"
        try:
            exchange = self._exchange_with_retries(
                robots_url,
                {},
                _Tracker(),
                check_robots=False,
                body_cap=self.cfg.max_robots_bytes,
                truncate=True,  # RFC 9309: a parser must read at least 500 KiB; the rest is ignored
            )
        except FetchError as exc:
            return RobotsRules(origin, unreachable=str(exc))
        rules = robots_rules_from_response(origin, exchange.status, exchange.body)
        delay = rules.crawl_delay(self._robots_agent)
        if delay:
            self._gate(robots_url).raise_interval(delay)
        return rules

    def _gate(self, url: str) -> HostGate:
        key = host_key(url)
        with self._gates_lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = HostGate(
                    key,
                    concurrency=self.cfg.per_host_concurrency,
                    min_interval=self.cfg.per_host_min_interval_seconds,
                    failure_limit=self.cfg.host_failure_limit,
                )
                self._gates[key] = gate
            return gate

    def _gated_get(
        self,
        gate: HostGate,
        url: str,
        current: str,
        budget: float,
        headers: dict[str, str],
        tracker: _Tracker,
        body_cap: int,
        truncate: bool,
    ) -> tuple[int, httpx.Headers, bytes, float]:
        """One request within the host's and the run's limits: (status, headers, body, seconds spent)."""
        if not gate.acquire(self._stage_deadline):
            raise self._not_requested(url, current, f"no turn for {gate.key} before the fetch stage deadline")
        try:
            try:
                gate.wait_for_turn(self._stage_deadline)
            except HostClosed as exc:
                raise self._not_requested(url, current, str(exc)) from None
            except TimeoutError as exc:
                raise self._not_requested(
                    url,
                    current,
                    f"{gate.key} may not be asked again for {exc.args[0]:.0f}s, "
                    "which is past the fetch stage deadline (fetch.stage_deadline_seconds)",
                ) from None
            with self._in_flight:
                started = time.monotonic()
                tracker.sent += 1
                try:
                    status, response_headers, body = self._get_once(
                        url, current, started + budget, headers, body_cap, truncate
                    )
                except FetchError as exc:
                    tracker.last_status = None
                    gate.answered(failed=exc.retryable)
                    raise
                tracker.last_status = status
                return status, response_headers, body, time.monotonic() - started
        finally:
            gate.release()

    def _note_answer(
        self, gate: HostGate, url: str, current: str, status: int, headers: httpx.Headers
    ) -> float | None:
        """Count the answer on the host's gate and apply its Retry-After; returns the wait it asked for."""
        gate.answered(failed=_is_transient_status(status))
        if status not in _RETRY_AFTER_STATUSES:
            return None
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is None:
            return None  # absent or malformed: ordinary backoff
        cap = self.cfg.retry_after_cap_seconds
        if retry_after > cap:
            gate.close(
                f"{gate.key} asked for a pause of {retry_after:g}s (Retry-After), more than "
                f"fetch.retry_after_cap_seconds={cap:g}; it is tried again next run"
            )
            where = url if current == url else f"{url} (redirected to {current})"
            raise FetchError(
                f"GET {where}: HTTP {status} with Retry-After {retry_after:g}s, more than "
                f"fetch.retry_after_cap_seconds={cap:g}; gave up on it and on {gate.key} for this run",
                try_next_run=True,
                status=status,
            )
        gate.pause_for(retry_after)
        return retry_after

    def _get_once(
        self,
        url: str,
        current: str,
        deadline: float,
        extra_headers: dict[str, str],
        body_cap: int,
        truncate: bool,
    ) -> tuple[int, httpx.Headers, bytes]:
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
                headers={"User-Agent": self.cfg.user_agent, **extra_headers},
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                if not 200 <= response.status_code < 300:
                    return response.status_code, response.headers, b""
                body = self._read_capped(url, response, deadline, body_cap, truncate)
                return response.status_code, response.headers, body
        except httpx.HTTPError as exc:
            # Timeouts, refused or dropped connections may pass; a bad gzip stream will not.
            retryable = isinstance(
                exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
            )
            raise FetchError(
                one_line(f"GET {url}: {_describe_transport_error(exc)}"), retryable=retryable
            ) from exc

    def _read_capped(
        self, url: str, response: httpx.Response, deadline: float, cap: int, truncate: bool
    ) -> bytes:
        """The body, refused past `cap` bytes (or, with `truncate`, cut at `cap`)."""
        declared = response.headers.get("content-length")
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if (
            not truncate
            and declared
            and declared.isdigit()
            and int(declared) > cap
            and encoding in ("", "identity")
        ):
            raise FetchError(f"GET {url}: body of {int(declared)} bytes exceeds max_bytes={cap}")
        chunks: list[bytes] = []
        received = 0
        for chunk in _decoded_chunks(response, encoding, cap):
            received += len(chunk)
            if received > cap:
                if truncate:
                    chunks.append(chunk[: len(chunk) - (received - cap)])
                    break
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
