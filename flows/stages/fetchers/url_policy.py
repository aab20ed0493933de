"""Which URLs the fetch stage may request: the SSRF guard.

A feed is written by someone else, and so is every redirect. A URL that came from
content (a feed item's link) or from a `Location` header is fetched only if it is
http(s) and its host resolves only to public addresses. Otherwise a hostile feed
could make wirelake read the cloud metadata service (169.254.169.254), a database
admin page on 127.0.0.1 or a printer on the office network, and store the answer.

The operator's own sources are trusted: the host:port of every configured source
URL is allowed even when it is loopback or private, so a feed served from a local
test server (or an intranet) works, and so do its item links to the *same*
host:port. Any other non-public host:port is refused.

`UrlPolicy.check(url)` resolves names with `socket.getaddrinfo` and judges every
address with `ipaddress`; it is called before each connect, on every redirect hop.
It cannot close the gap between this check and httpx's own resolution (DNS
rebinding within a TTL of ~0 s); see the module docstring of `http.py`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# inet_aton() accepts 1-4 dot-separated parts, each decimal, octal (leading 0) or hex
# (0x): "2130706433", "0x7f000001", "0177.0.0.1", "127.1" all mean 127.0.0.1. A host
# written like that is never a real name, so it is refused outright, whatever it means.
_INET_ATON_FORM = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)

# Shared address space for carrier-grade NAT (RFC 6598); Python 3.11 counts it neither
# private nor global, and cloud metadata services live there (Alibaba: 100.100.100.200).
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64 prefixes (RFC 6052, RFC 8215) embed an IPv4 address in the last 32 bits.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class UnsafeUrl(ValueError):
    """A URL the policy refuses; str(error) is one line: "URL: refused: why"."""


def host_key(url: str) -> str:
    """"host:port" of an http(s) URL, lower-cased, with the scheme's default port filled in.

    IPv6 hosts keep their brackets ("[::1]:8080"). Raises ValueError for a URL
    without a host or with an invalid port.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"{url}: no host in the URL")
    port = parts.port  # raises ValueError for a port that is not a number in range
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IpAddress) -> bool:
    """True only for a globally routable unicast address (and one embedding no private IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.is_site_local:
            return False
    elif address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (what the HTTP client would connect to)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class UrlPolicy:
    """http(s) to public addresses, plus the operator's configured host:ports.

    `allowed_hosts` holds "host:port" strings (see `host_key`); `resolver` maps a
    host and port to address strings and defaults to `socket.getaddrinfo`.
    """

    def __init__(self, allowed_hosts: Iterable[str] = (), *, resolver: Resolver | None = None) -> None:
        self.allowed_hosts = frozenset(h.strip().lower() for h in allowed_hosts)
        self._resolve = resolver or resolve_host

    @classmethod
    def for_urls(cls, urls: Iterable[str], *, resolver: Resolver | None = None) -> UrlPolicy:
        """A policy that trusts the host:port of each http(s) URL given (the configured sources)."""
        allowed = set()
        for url in urls:
            if urlsplit(url.strip()).scheme.lower() in ALLOWED_SCHEMES:
                try:
                    allowed.add(host_key(url))
                except ValueError:
                    continue  # make_source rejects it, naming the source
        return cls(allowed, resolver=resolver)

    def check(self, url: str) -> None:
        """Return if `url` may be requested; raise UnsafeUrl saying why not."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            got = f"{scheme}:" if scheme else "no scheme"
            raise UnsafeUrl(f"{url}: refused: only http and https URLs are fetched (got {got})")
        try:
            key = host_key(url)
        except ValueError as exc:
            raise UnsafeUrl(f"{url}: refused: {exc.args[0].removeprefix(url + ': ')}") from exc
        if key in self.allowed_hosts:
            return
        host = key.rsplit(":", 1)[0].strip("[]")
        port = int(key.rsplit(":", 1)[1])
        if "%" in host:
            raise UnsafeUrl(f"{url}: refused: IPv6 zone identifiers are not fetched ({host})")
        literal = _ip_literal(host)
        if literal is None and _INET_ATON_FORM.match(host):
            raise UnsafeUrl(
                f"{url}: refused: host {host} is a numeric address in a non-standard form; "
                "write it as a dotted quad or use a name"
            )
        if literal is not None:
            addresses: list[str] = [str(literal)]
        else:
            try:
                addresses = self._resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise UnsafeUrl(f"{url}: refused: cannot resolve host {host} ({exc})") from exc
            if not addresses:
                raise UnsafeUrl(f"{url}: refused: host {host} resolves to no address")
        for text in addresses:
            address = _ip_literal(text.split("%", 1)[0])
            if address is None or not is_public_address(address):
                raise UnsafeUrl(f"{url}: refused: resolves to a non-public address ({text})")
