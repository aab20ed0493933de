"""The URL policy (SSRF guard): unit tests, and canaries on loopback that must never be hit.

Canaries are real HTTP servers bound to 127.0.0.2 and to a second port on 127.0.0.1;
they count every connection they accept. A feed served from 127.0.0.1 links to them
directly, by name, as a decimal number, and through redirects; none may be reached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from flows.config import FetchConfig
from flows.records import Source
from flows.stages.fetch import FetchError, HttpFetcher, UnsafeUrl, UrlPolicy, fetch_all, host_key
from flows.stages.fetchers.url_policy import is_public_address

FIXTURES = Path(__file__).parent / "fixtures" / "polite"

CFG = FetchConfig(
    timeout_seconds=3.0,
    connect_timeout_seconds=1.0,
    min_item_content_words=50,
    per_host_min_interval_seconds=0.0,
    backoff_base_seconds=0.01,
)


# ---------------------------------------------------------------- UrlPolicy, no network


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "why"),
    [
        # inet_aton spellings of 127.0.0.1: refused as numeric tricks, whatever they mean
        ("http://2130706433/", "numeric address in a non-standard form"),
        ("http://0x7f000001/", "numeric address in a non-standard form"),
        ("http://0177.0.0.1/", "numeric address in a non-standard form"),
        ("http://127.1/", "numeric address in a non-standard form"),
        ("http://10.1/", "numeric address in a non-standard form"),
        ("http://0x7f.0.0.1/", "numeric address in a non-standard form"),
        ("http://127.0.0.1./", "non-public address (127.0.0.1)"),  # trailing dot: same host
        # literal non-public addresses
        ("http://127.0.0.2:8080/", "non-public address (127.0.0.2)"),
        ("http://127.0.0.1/", "non-public address (127.0.0.1)"),
        ("http://0.0.0.0/", "non-public address (0.0.0.0)"),
        ("http://10.20.30.40/", "non-public address (10.20.30.40)"),
        ("http://172.16.5.4/", "non-public address (172.16.5.4)"),
        ("http://192.168.1.1/", "non-public address (192.168.1.1)"),
        ("http://169.254.169.254/latest/meta-data/", "non-public address (169.254.169.254)"),
        ("http://100.64.0.1/", "non-public address (100.64.0.1)"),
        ("http://100.100.100.200/", "non-public address (100.100.100.200)"),
        ("http://224.0.0.1/", "non-public address (224.0.0.1)"),
        ("http://240.0.0.1/", "non-public address (240.0.0.1)"),
        ("http://255.255.255.255/", "non-public address (255.255.255.255)"),
        ("http://[::1]/", "non-public address (::1)"),
        ("http://[::]/", "non-public address (::)"),
        ("http://[::ffff:127.0.0.1]/", "non-public address (::ffff:7f00:1)"),
        ("http://[::ffff:169.254.169.254]/", "non-public address"),
        ("http://[2002:c0a8:0101::1]/", "non-public address (2002:c0a8:101::1)"),  # 6to4 of 192.168.1.1
        ("http://[2002:7f00:0001::1]/", "non-public address"),  # 6to4 of 127.0.0.1
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "non-public address"),  # Teredo, client 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "non-public address"),  # NAT64 of 169.254.169.254
        ("http://[fe80::1]/", "non-public address (fe80::1)"),
        ("http://[fc00::1]/", "non-public address (fc00::1)"),
        ("http://[ff02::1]/", "non-public address (ff02::1)"),
        # not http(s), or no host
        ("file:///etc/passwd", "only http and https URLs are fetched (got file:)"),
        ("ftp://127.0.0.2/feed.xml", "only http and https URLs are fetched (got ftp:)"),
        ("gopher://example.com/", "only http and https URLs are fetched (got gopher:)"),
        ("//127.0.0.2/", "only http and https URLs are fetched (got no scheme)"),
        ("http:///nohost", "no host in the URL"),
    ],
)
def test_policy_refuses(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        UrlPolicy().check(url)
    message = str(caught.value)
    assert message.startswith(f"{url}: refused: "), message
    assert why in message, message


@pytest.mark.unit
def test_refusal_message_names_the_url_and_the_address() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        UrlPolicy().check("http://127.0.0.2:8080/")
    assert str(caught.value) == (
        "http://127.0.0.2:8080/: refused: resolves to a non-public address (127.0.0.2)"
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "url",
    ["http://93.184.215.14/news/", "https://93.184.215.14:8443/x", "https://[2606:4700:4700::1111]/"],
)
def test_policy_allows_public_literals(url: str) -> None:
    UrlPolicy().check(url)  # no exception, no DNS needed for literals


@pytest.mark.unit
def test_configured_host_port_is_allowed_even_on_loopback_but_no_other_port() -> None:
    policy = UrlPolicy.for_urls(["http://127.0.0.1:8080/feed.xml", "/srv/local/articles", "ftp://x/y"])
    assert policy.allowed_hosts == {"127.0.0.1:8080"}
    policy.check("http://127.0.0.1:8080/news/story.html")
    policy.check("HTTP://127.0.0.1:8080/other")  # scheme and case do not matter
    for refused in ("http://127.0.0.1:8081/", "http://127.0.0.2:8080/", "https://127.0.0.1/"):
        with pytest.raises(UnsafeUrl, match="non-public address"):
            policy.check(refused)


@pytest.mark.unit
def test_names_are_resolved_and_every_address_must_be_public() -> None:
    answers = {
        "metadata.test": ["169.254.169.254"],
        "news.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "split.example": ["93.184.215.14", "10.0.0.7"],  # one private answer is enough to refuse
    }

    def resolver(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such name {host}")
        return answers[host]

    policy = UrlPolicy(resolver=resolver)
    policy.check("https://news.example/today")
    with pytest.raises(UnsafeUrl, match=r"non-public address \(169\.254\.169\.254\)"):
        policy.check("http://metadata.test/latest/meta-data/")
    with pytest.raises(UnsafeUrl, match=r"non-public address \(10\.0\.0\.7\)"):
        policy.check("http://split.example/")
    with pytest.raises(UnsafeUrl, match="cannot resolve host nowhere.example"):
        policy.check("http://nowhere.example/")


@pytest.mark.unit
def test_localhost_is_refused_through_the_real_resolver() -> None:
    with pytest.raises(UnsafeUrl, match="non-public address") as caught:
        UrlPolicy().check("http://localhost:9/")
    assert "127.0.0.1" in str(caught.value) or "::1" in str(caught.value)


@pytest.mark.unit
def test_host_key_normalises() -> None:
    assert host_key("HTTP://Example.COM/x") == "example.com:80"
    assert host_key("https://example.com./") == "example.com:443"
    assert host_key("https://[::1]/") == "[::1]:443"
    assert host_key("http://user:pw@127.0.0.1:8080/p") == "127.0.0.1:8080"
    with pytest.raises(ValueError, match="no host"):
        host_key("http:///x")


@pytest.mark.unit
def test_is_public_address_on_the_edges() -> None:
    import ipaddress

    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert is_public_address(ipaddress.ip_address("::ffff:8.8.8.8")) is False  # mapped space is never routed
    assert not is_public_address(ipaddress.ip_address("100.127.255.255"))  # top of CGNAT
    assert is_public_address(ipaddress.ip_address("100.128.0.1"))  # just above it


# ---------------------------------------------------------------- canaries on loopback


class Canary:
    """A real HTTP server that counts every connection it accepts."""

    def __init__(self, host: str) -> None:
        self.connections = 0
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = b"<html><body><p>canary: this must never be fetched</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class CountingServer(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
                canary.connections += 1
                return True

        self.server = CountingServer((host, 0), Handler)
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canaries() -> Iterator[tuple[Canary, Canary]]:
    other_address = Canary("127.0.0.2")
    other_port = Canary("127.0.0.1")
    yield other_address, other_port
    other_address.close()
    other_port.close()


def base_url(srv: HTTPServer) -> str:
    return f"http://127.0.0.1:{srv.port}"


def requested_paths(srv: HTTPServer) -> list[str]:
    return [request.path for request, _ in srv.log]


def prove_canaries_would_count(*canaries: Canary) -> None:
    # The zero counts above mean something only if a real request would have been counted.
    for canary in canaries:
        before = canary.connections
        assert httpx.get(canary.url + "/", timeout=2.0).status_code == 200
        assert canary.connections == before + 1


@pytest.mark.unit
def test_feed_item_links_and_redirects_to_non_public_hosts_are_refused(
    http: HTTPServer, canaries: tuple[Canary, Canary]
) -> None:
    other_address, other_port = canaries
    base = base_url(http)
    feed = (
        (FIXTURES / "unsafe_feed.xml")
        .read_text(encoding="utf-8")
        .replace("{{BASE}}", base)
        .replace("{{CANARY}}", other_address.url)
        .replace("{{OTHER_PORT}}", other_port.url)
        .replace("{{LOCALHOST}}", f"http://localhost:{other_port.port}")
        .replace("{{DECIMAL}}", f"http://2130706433:{other_port.port}")
    )
    http.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow:\n", content_type="text/plain"
    )
    http.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    http.expect_request("/news/tide-gauge.html").respond_with_data(
        (FIXTURES / "pages" / "tide-gauge.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    http.expect_request("/go/elsewhere").respond_with_data(
        "", status=302, headers={"Location": f"{other_address.url}/story.html"}
    )
    http.expect_request("/go/passwd").respond_with_data(
        "", status=301, headers={"Location": "file:///etc/passwd"}
    )

    result = fetch_all([Source("harbour", f"{base}/feed.xml", kind="feed")], CFG.model_copy(
        update={"fetch_item_pages": "always"}))

    assert other_address.connections == 0 and other_port.connections == 0
    # The page on the feed's own host:port was read; every other link was refused before connecting.
    page_items = [item for item in result.items if "#" not in item.uri]
    assert [item.url for item in page_items] == [f"{base}/news/tide-gauge.html"]
    errors = {reject.input: reject.error for reject in result.rejects}
    kept = " (kept the entry's own content)"
    assert errors[f"{other_address.url}/story.html"] == (
        f"{other_address.url}/story.html: refused: resolves to a non-public address (127.0.0.2){kept}"
    )
    assert errors[f"{other_port.url}/story.html"] == (
        f"{other_port.url}/story.html: refused: resolves to a non-public address (127.0.0.1){kept}"
    )
    by_name = errors[f"http://localhost:{other_port.port}/story.html"]
    assert "refused: resolves to a non-public address" in by_name
    as_integer = errors[f"http://2130706433:{other_port.port}/story.html"]
    assert "numeric address in a non-standard form" in as_integer
    assert errors[f"{base}/go/elsewhere"] == (
        f"GET {base}/go/elsewhere: redirected to {other_address.url}/story.html: "
        f"refused: resolves to a non-public address (127.0.0.2){kept}"
    )
    assert errors[f"{base}/go/passwd"].startswith(
        f"GET {base}/go/passwd: redirected to a non-http(s) URL file:///etc/passwd; refused"
    )
    assert len(result.rejects) == 6
    # The entries' own text is kept (links are stored as text, never fetched).
    assert len(result.items) == 7
    assert sorted(requested_paths(http)) == ["/feed.xml", "/go/elsewhere", "/go/passwd",
                                             "/news/tide-gauge.html", "/robots.txt"]
    prove_canaries_would_count(other_address, other_port)


@pytest.mark.unit
def test_every_redirect_hop_is_checked_even_for_a_fetcher_used_on_its_own(
    http: HTTPServer, canaries: tuple[Canary, Canary]
) -> None:
    other_address, _ = canaries
    base = base_url(http)
    http.expect_request("/hop1").respond_with_data("", status=302, headers={"Location": "/hop2"})
    http.expect_request("/hop2").respond_with_data(
        "", status=307, headers={"Location": f"//127.0.0.2:{other_address.port}/x"}  # protocol-relative
    )
    cfg = CFG.model_copy(update={"obey_robots": False})
    # No policy given: the caller vouches for the URL it passes, not for where it redirects.
    with HttpFetcher(cfg) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(f"{base}/hop1")
    assert str(caught.value) == (
        f"GET {base}/hop1: redirected to http://127.0.0.2:{other_address.port}/x: "
        "refused: resolves to a non-public address (127.0.0.2)"
    )
    assert requested_paths(http) == ["/hop1", "/hop2"]
    assert other_address.connections == 0
    prove_canaries_would_count(other_address)


@pytest.mark.unit
def test_robots_txt_redirecting_to_a_canary_disallows_the_host(
    http: HTTPServer, canaries: tuple[Canary, Canary]
) -> None:
    other_address, _ = canaries
    base = base_url(http)
    http.expect_request("/robots.txt").respond_with_data(
        "", status=302, headers={"Location": f"{other_address.url}/robots.txt"}
    )
    http.expect_request("/news/tide-gauge.html").respond_with_data(
        (FIXTURES / "pages" / "tide-gauge.html").read_bytes(), content_type="text/html"
    )
    result = fetch_all([Source("p", f"{base}/news/tide-gauge.html", kind="page")], CFG)
    assert other_address.connections == 0
    assert result.items == []
    [reject] = result.rejects
    assert reject.error.startswith(
        f"GET {base}/news/tide-gauge.html: not requested: "
        f"robots.txt of 127.0.0.1:{http.port} could not be read"
    )
    assert "refused: resolves to a non-public address (127.0.0.2)" in reject.error
    assert "treated as disallowed this run" in reject.error
    assert requested_paths(http) == ["/robots.txt"]
    prove_canaries_would_count(other_address)


@pytest.mark.unit
def test_a_feed_read_on_its_own_still_refuses_foreign_links(
    http: HTTPServer, canaries: tuple[Canary, Canary]
) -> None:
    from flows.stages.fetch import FeedSource

    other_address, _ = canaries
    base = base_url(http)
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>x</title><link>{other_address.url}/a.html</link><guid>a</guid>"
        "<description>teaser</description></item></channel></rss>"
    )
    http.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    source = FeedSource("alone", f"{base}/feed.xml", CFG.model_copy(update={"obey_robots": False}))
    result = source.fetch()  # its own short-lived fetcher, trusting only the feed's host:port
    [reject] = result.rejects
    assert "refused: resolves to a non-public address (127.0.0.2)" in reject.error
    assert other_address.connections == 0
