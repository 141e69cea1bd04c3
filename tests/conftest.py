"""Shared fixtures: the real data in ../shared/data, skipped with a reason where absent.

CI sets ASSETS_MAP_REQUIRE_SHARED_DATA=1 so that a missing data folder fails
instead of skipping.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSETS_MAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(*parts: str) -> Path:
    """Path of a real data file, or skip (fail in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"real data not found at {path} (../shared/data is only present beside the project's CI checkout)"
        if os.environ.get("ASSETS_MAP_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(reason + "; ASSETS_MAP_REQUIRE_SHARED_DATA=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def trafford():
    """Paths of the Trafford files."""
    return {
        "register": shared_file("trafford", "land_and_building_assets.csv"),
        "lsoa21": shared_file("trafford", "lsoa21_boundaries.geojson"),
        "lsoa11": shared_file("trafford", "lsoa11_boundaries.geojson"),
        "iod_long": shared_file("trafford", "iod2015_2019_lsoa11_long.csv"),
        "imd2025": shared_file("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
        "postcodes": shared_file("trafford", "postcodes_onspd_feb2025.csv"),
        "greenspace": shared_file("trafford", "parcels", "greenspace_sites.geojson"),
        "allotments": shared_file("trafford", "parcels", "allotments.geojson"),
    }


@pytest.fixture(scope="session")
def demo_result():
    from assets_map.engine.demo import load_demo

    return load_demo()


# ------------------------------------------------------------------ visitors
# AppTest runs pages with no connection, so the app sees an unknown visitor: the public view. Tests
# that need another visitor say so with one of these (they replace how the app reads the connection,
# which a visitor cannot do).
@pytest.fixture
def local_visitor(monkeypatch):
    """The visitor is a browser on the server itself, talking to it directly (local mode when sign-in is off)."""
    from assets_map.ui import identity

    monkeypatch.setattr(identity, "peer", lambda: identity.Peer("127.0.0.1", {"host": ("localhost:8501",),
                                                                              "origin": ("http://localhost:8501",)}))


@pytest.fixture
def remote_visitor(monkeypatch):
    """The visitor is a browser on another machine."""
    from assets_map.ui import identity

    monkeypatch.setattr(identity, "peer", lambda: identity.Peer("192.0.2.7", {"host": ("assets.example:8501",)}))



# ------------------------------------------------------------------ the app in a browser
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def skip_or_fail(reason: str):
    """Skip a browser test (fail it when ASSETS_MAP_REQUIRE_BROWSER=1, as in CI)."""
    if os.environ.get("ASSETS_MAP_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; ASSETS_MAP_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason)


def require_browser() -> None:
    """Skip (or fail in CI) unless Debian chromium and Playwright are installed."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} not found (install Debian's chromium package)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright (python) is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(*options: str, env: dict | None = None, port: int | None = None) -> Iterator[str]:
    """``streamlit run app.py`` with ``options`` on a free port; yields its loopback URL once healthy, then stops it.

    Without a ``--server.address`` option the shipped .streamlit/config.toml decides where it listens.
    """
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", *options],
        cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
            if proc.poll() is not None:
                pytest.fail("streamlit exited: " + proc.stdout.read().decode(errors="replace")[-2000:])
        else:
            pytest.fail("streamlit did not answer /_stcore/health within 60 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


_MARKUP = {"image", "link_open", "strong_open", "em_open", "s_open", "code_inline", "html_inline", "html_block",
           "heading_open", "bullet_list_open", "ordered_list_open"}


def markdown_shown(source: str) -> tuple[str, set[str]]:
    """What Markdown ``source`` shows (its text) and which markup it makes (links, images, emphasis, ...).

    Parsed as CommonMark with GitHub's strikethrough, as Streamlit renders labels and messages.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("strikethrough")
    kinds: set[str] = set()
    text: list[str] = []
    for block in md.parse(source):
        kinds.add(block.type)
        for tok in block.children or []:
            kinds.add(tok.type)
            if tok.type in ("text", "code_inline"):
                text.append(tok.content)
            elif tok.type == "softbreak":
                text.append(" ")
    return "".join(text), kinds & _MARKUP
