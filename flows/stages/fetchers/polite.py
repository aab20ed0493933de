"""Being a good HTTP citizen: per-host limits, retry timing and robots.txt rules.

The pieces here hold no sockets; `HttpFetcher` uses them around each request:

* `HostGate`: one per host:port per run. At most `per_host_concurrency` requests
  in flight, starts spaced by at least `per_host_min_interval_seconds` (raised to the
  robots.txt Crawl-delay), a pause when the server sends Retry-After, and a circuit
  breaker: after `host_failure_limit` failed requests in a row the host is closed
  for the rest of the run, so 100 URLs on a host that answers 503 cost a handful
  of requests, not 300.
* `parse_retry_after` / `backoff_seconds`: when to try again.
* `RobotsRules`: one host's robots.txt (RFC 9309) parsed with protego, and the
  policy for when it cannot be read:

  =====================  ==============================================================
  robots.txt answer      what wirelake does for this run
  =====================  ==============================================================
  2xx                    obey it (Disallow/Allow for our product token, Crawl-delay)
  4xx other than 429     allow everything (RFC 9309 2.3.1.3: "unavailable")
  429, 5xx, timeout,     disallow the whole host (RFC 9309 2.3.1.4: "unreachable");
  refused redirect, ...  its URLs become rejects and are tried again next run
  =====================  ==============================================================

  The host, not just the URL, is disallowed on a server error because a site
  whose robots.txt fails may be failing everywhere, and the RFC tells crawlers to
  assume complete disallow rather than guess.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from protego import Protego


def robots_agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched on ("wirelake" of "wirelake/0.1 (+...)")."""
    token = user_agent.strip().split("/", 1)[0].split(None, 1)
    return token[0] if token else user_agent


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """One origin's robots.txt as this run sees it."""

    origin: str  # scheme://host:port
    parser: Protego | None = None  # None: no rules (everything allowed), unless `unreachable`
    unreachable: str | None = None  # why the host is treated as disallowed this run

    def allows(self, url: str, agent: str) -> bool:
        if self.unreachable is not None:
            return False
        return self.parser is None or self.parser.can_fetch(url, agent)

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        return self.parser.crawl_delay(agent)


def robots_rules_from_response(origin: str, status: int, body: bytes) -> RobotsRules:
    """Rules from the final answer to GET origin/robots.txt (after redirects)."""
    if 200 <= status < 300:
        try:
            parser = Protego.parse(body.decode("utf-8", "replace"))
        except Exception as exc:  # a parser bug must not be read as "allow all"
            return RobotsRules(origin, unreachable=f"protego could not parse it: {type(exc).__name__}")
        return RobotsRules(origin, parser=parser)
    if 400 <= status < 500 and status != 429:
        return RobotsRules(origin)
    return RobotsRules(origin, unreachable=f"HTTP {status}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date); None if malformed."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, base: float) -> float:
    """Exponential backoff with jitter before retry `attempt` (0-based): half to all of base * 2**attempt.

    The jitter spreads retries of many URLs that failed together, so they do not
    hit a recovering server in one burst.
    """
    ceiling = base * (2**attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - timing jitter, not security


class HostClosed(Exception):
    """The host is not requested again this run; str(error) says why."""


class HostGate:
    """One host:port's limits for one run. Thread-safe."""

    def __init__(self, key: str, *, concurrency: int, min_interval: float, failure_limit: int) -> None:
        self.key = key
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._min_interval = max(0.0, min_interval)
        self._failure_limit = max(1, failure_limit)
        self._next_start = 0.0  # monotonic time before which no request may start
        self._last_start: float | None = None
        self._paused_until = 0.0
        self._failures_in_a_row = 0
        self._closed: str | None = None

    @property
    def min_interval(self) -> float:
        return self._min_interval

    def raise_interval(self, seconds: float) -> None:
        """Space requests at least `seconds` apart from now on (a robots.txt Crawl-delay)."""
        with self._lock:
            if seconds > self._min_interval:
                self._min_interval = seconds
                if self._last_start is not None:
                    self._next_start = max(self._next_start, self._last_start + seconds)

    def pause_for(self, seconds: float) -> None:
        """No request to this host starts before `seconds` from now (Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def close(self, reason: str) -> None:
        with self._lock:
            if self._closed is None:
                self._closed = reason

    @property
    def closed(self) -> str | None:
        return self._closed

    def answered(self, failed: bool) -> None:
        """Count a request's outcome; `failure_limit` failures in a row close the host."""
        with self._lock:
            if not failed:
                self._failures_in_a_row = 0
                return
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self._failure_limit and self._closed is None:
                self._closed = (
                    f"{self.key} failed {self._failures_in_a_row} requests in a row this run "
                    "(5xx, 429, timeouts or refused connections); it is tried again next run"
                )

    def acquire(self, deadline: float) -> bool:
        """Take one of the host's in-flight slots, waiting until `deadline` (monotonic) at most."""
        return self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))

    def release(self) -> None:
        self._slots.release()

    def wait_for_turn(self, deadline: float) -> None:
        """Sleep until this request may start, or raise (HostClosed; TimeoutError past `deadline`).

        The caller holds a slot. Start times are reserved in order, so concurrent
        requests to the host are spaced by the interval, not released together.
        """
        with self._lock:
            if self._closed is not None:
                raise HostClosed(self._closed)
            now = time.monotonic()
            start = max(now, self._next_start, self._paused_until)
            if start > deadline:
                raise TimeoutError(start - now)
            self._next_start = start + self._min_interval
            self._last_start = start
        while True:
            delay = start - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._lock:
                if self._closed is not None:
                    raise HostClosed(self._closed)
                # A Retry-After that arrived while we slept moves our start too.
                if self._paused_until <= start:
                    self._last_start = max(self._last_start or start, time.monotonic())
                    return
                start = self._paused_until
                if start > deadline:
                    raise TimeoutError(start - time.monotonic())
                self._next_start = max(self._next_start, start + self._min_interval)
