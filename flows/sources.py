"""Where the sources come from: a TOML sources file, or `--source` values on the command line.

A sources file lists one `[[source]]` table per input:

    [[source]]
    name = "local-samples"   # required, unique
    path = "articles"        # a local folder or file; relative to this file's folder
    [[source]]
    name = "wire-feed"
    url = "http://127.0.0.1:8000/rss.xml"
    kind = "feed"            # optional: auto (default) | local | feed | page

Every problem is a ValueError naming the file, the entry and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flows.records import Source
from flows.stages.fetchers.http import is_http_url

SOURCE_KINDS = ("auto", "local", "feed", "page")
_ALLOWED_KEYS = {"name", "path", "url", "kind"}
_NAME_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def _absolute(path: Path) -> Path:
    """Absolute and normalised, without resolving symlinks (the fetch stage checks those)."""
    return Path(os.path.normpath(path.expanduser().absolute()))


def read_sources_file(path: Path) -> list[Source]:
    """Read a sources TOML file. Raises ValueError naming the file and the problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"sources file {path}: does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"sources file {path}: cannot read ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sources file {path}: not valid TOML ({exc})") from exc

    unknown_top = sorted(set(data) - {"source"})
    if unknown_top:
        raise ValueError(
            f"sources file {path}: unknown top-level key(s) {', '.join(unknown_top)}; "
            "each input is a [[source]] table"
        )
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"sources file {path}: no [[source]] entries; add at least one")

    base = _absolute(path).parent
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"sources file {path}: [[source]] #{number}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a table")
        unknown = sorted(set(entry) - _ALLOWED_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: name, path, url, kind")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: 'name' is required (a non-empty string)")
        name = name.strip()
        where = f"sources file {path}: source {name!r}"
        if name in seen:
            raise ValueError(f"{where}: duplicate name (also [[source]] #{seen[name]}); names must be unique")
        seen[name] = number
        kind = entry.get("kind", "auto")
        if kind not in SOURCE_KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        has_path, has_url = "path" in entry, "url" in entry
        if has_path == has_url:
            raise ValueError(f"{where}: give exactly one of 'path' (a local folder or file) or 'url'")
        if has_url:
            url = entry["url"]
            if not isinstance(url, str) or not is_http_url(url.strip()):
                raise ValueError(f"{where}: url {url!r} is not an http(s) URL")
            if kind == "local":
                raise ValueError(f"{where}: kind \"local\" needs a 'path', not a 'url'")
            location = url.strip()
        else:
            raw_path = entry["path"]
            if not isinstance(raw_path, str) or not raw_path.strip():
                raise ValueError(f"{where}: 'path' must be a non-empty string")
            if kind == "page":
                raise ValueError(
                    f"{where}: kind \"page\" needs a 'url'; for local HTML files use a 'path' only"
                )
            location = str(_absolute(base / Path(raw_path.strip()).expanduser()))
        sources.append(Source(name=name, location=location, kind=kind))
    return sources


def name_for_location(location: str) -> str:
    """A readable source name for a path or URL: the host and path for URLs, the base name for paths."""
    if is_http_url(location):
        parts = urlsplit(location)
        raw = parts.netloc + unquote(parts.path).rstrip("/")
    else:
        raw = Path(location.rstrip("/\\")).expanduser().name or location
    name = _NAME_UNSAFE_RE.sub("-", raw).strip("-._")
    return name or "source"


def sources_from_args(locations: list[str]) -> list[Source]:
    """Sources for CLI `--source PATH_OR_URL` values (kind auto); names are derived and made unique."""
    sources: list[Source] = []
    used: set[str] = set()
    for raw in locations:
        location = raw.strip()
        if not location:
            raise ValueError("--source: empty value; give a folder, a file or an http(s) URL")
        if location.lower().startswith("file://"):
            location = unquote(urlsplit(location).path)
        elif "://" in location and not is_http_url(location):
            raise ValueError(f"--source {raw}: only http(s) URLs and local paths are supported")
        if not is_http_url(location):
            location = str(_absolute(Path(location)))
        base_name = name_for_location(location)
        name, counter = base_name, 2
        while name in used:
            name, counter = f"{base_name}-{counter}", counter + 1
        used.add(name)
        sources.append(Source(name=name, location=location, kind="auto"))
    return sources
