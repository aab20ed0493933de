"""Reading sources: the TOML sources file and CLI --source values."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.config import FetchConfig
from flows.records import Source
from flows.sources import name_for_location, read_sources_file, sources_from_args
from flows.stages.fetch import fetch_all

pytestmark = pytest.mark.unit

LOCAL_FIXTURES = Path(__file__).parent / "fixtures" / "fetch" / "local"


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_paths_urls_and_kinds(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    path = write(
        tmp_path,
        """
# each [[source]] is one input
[[source]]
name = "local-samples"
path = "articles"

[[source]]
name = "wire-feed"
url = "http://127.0.0.1:8000/rss.xml"
kind = "feed"

[[source]]
name = "absolute"
path = "/srv/news/../news/in"
kind = "local"
""",
    )
    assert read_sources_file(path) == [
        Source("local-samples", str(tmp_path / "articles"), "auto"),
        Source("wire-feed", "http://127.0.0.1:8000/rss.xml", "feed"),
        Source("absolute", "/srv/news/in", "local"),
    ]


def test_relative_paths_resolve_against_the_file_not_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    path = write(config_dir, '[[source]]\nname = "up"\npath = "../data/feeds"\n')
    monkeypatch.chdir(tmp_path)
    [source] = read_sources_file(Path("conf/sources.toml"))
    assert source.location == str(tmp_path / "data" / "feeds")
    assert path.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[source]]\npath = 'a'\n", "'name' is required"),
        ("[[source]]\nname = 'a'\npath = 'x'\n[[source]]\nname = 'a'\npath = 'y'\n", "duplicate name"),
        ("[[source]]\nname = 'a'\npath = 'x'\nurl = 'http://127.0.0.1/'\n", "exactly one of 'path'"),
        ("[[source]]\nname = 'a'\n", "exactly one of 'path'"),
        ("[[source]]\nname = 'a'\npath = 'x'\nkind = 'rss'\n", "kind 'rss' is not one of"),
        ("[[source]]\nname = 'a'\nurl = 'ftp://127.0.0.1/x'\n", "is not an http(s) URL"),
        ("[[source]]\nname = 'a'\nurl = 'http://127.0.0.1/x'\nkind = 'local'\n", "needs a 'path'"),
        ("[[source]]\nname = 'a'\npath = 'x.html'\nkind = 'page'\n", "kind \"page\" needs a 'url'"),
        ("[[source]]\nname = 'a'\npath = 'x'\nfolder = 'y'\n", "unknown key(s) folder"),
        ("[[sources]]\nname = 'a'\npath = 'x'\n", "unknown top-level key(s) sources"),
        ("# nothing here\n", "no [[source]] entries"),
        ("[[source]\nname = 'a'\n", "not valid TOML"),
    ],
)
def test_bad_files_raise_value_error_naming_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        read_sources_file(path)
    message = str(caught.value)
    assert message.startswith(f"sources file {path}:")
    assert problem in message


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sources file .*nope\.toml: does not exist"):
        read_sources_file(tmp_path / "nope.toml")


def test_sources_from_args_derives_unique_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sources = sources_from_args(
        [
            "http://127.0.0.1:8000/rss.xml",
            "articles",
            "other/articles/",
            f"file://{tmp_path}/saved%20feed.xml",
            "https://news.example/world/",
        ]
    )
    assert [s.name for s in sources] == [
        "127.0.0.1-8000-rss.xml",
        "articles",
        "articles-2",
        "saved-feed.xml",
        "news.example-world",
    ]
    assert sources[1].location == str(tmp_path / "articles")
    assert sources[3].location == f"{tmp_path}/saved feed.xml"
    assert all(s.kind == "auto" for s in sources)


@pytest.mark.parametrize("bad", ["", "  ", "ftp://127.0.0.1/feed.xml"])
def test_sources_from_args_rejects_what_cannot_be_read(bad: str) -> None:
    with pytest.raises(ValueError, match="--source"):
        sources_from_args([bad])


def test_name_for_location() -> None:
    assert (
        name_for_location("https://wire.example/feeds/top stories.xml")
        == "wire.example-feeds-top-stories.xml"
    )
    assert name_for_location("/data/news/") == "news"


def test_a_sources_file_feeds_fetch_all(tmp_path: Path) -> None:
    path = write(tmp_path, f'[[source]]\nname = "samples"\npath = "{LOCAL_FIXTURES}"\n')
    result = fetch_all(read_sources_file(path), FetchConfig())
    assert {item.source for item in result.items} == {"samples"}
    assert len(result.items) >= 5
