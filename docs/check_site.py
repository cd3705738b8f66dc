"""Open the built documentation in headless Chromium and check every page.

    python docs/check_site.py [BUILD_DIR]      (default docs/_build/html)

The site is served over HTTP on 127.0.0.1 (so missing resources are real
404s). For every page: Chromium loads it and must log nothing to the console
(no JavaScript error, no failed resource); every internal link, stylesheet,
script and image of the rendered page must resolve to a file of the site, and
every ``#anchor`` to an element id of its target page. A screenshot of the
landing page is saved as ``landing.png`` in the build directory. Exit 0 when
every check passed, 1 otherwise (each failure printed).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent


class _Page(HTMLParser):
    """The element ids of a page, and every URL it refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("name"):
            self.ids.add(str(values["name"]))
        for name in ("href", "src"):
            value = values.get(name)
            if value and not (tag == "a" and name == "href" and value.startswith("mailto:")):
                self.references.append(value)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("check_site: Chromium is not installed (Debian package chromium)")


def _browse(browser: str, url: str, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """(the DOM after scripts ran, the console messages) of ``url``."""
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *extra,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    if result.returncode != 0:
        console.append(f"chromium exited with {result.returncode}: {result.stderr[-500:]}")
    return result.stdout, console


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def check(build: Path) -> list[str]:
    """Every failure found on the site in ``build`` (empty: all checks passed)."""
    browser = _chromium()
    pages = sorted(p.relative_to(build).as_posix() for p in build.rglob("*.html"))
    if "index.html" not in pages:
        return [f"no index.html in {build}"]
    ids = {name: _parse((build / name).read_text()).ids for name in pages}
    failures: list[str] = []
    server, base = _serve(build)
    try:
        with tempfile.TemporaryDirectory() as profile:
            for name in pages:
                dom, console = _browse(browser, base + name, Path(profile), "--dump-dom")
                failures += [f"{name}: console: {line}" for line in console]
                rendered = _parse(dom)
                if not rendered.references:
                    failures.append(f"{name}: the page rendered empty")
                for reference in rendered.references:
                    failures += _resolve(build, base, name, reference, ids)
            shot = build / "landing.png"
            _, console = _browse(
                browser,
                base + "index.html",
                Path(profile),
                f"--screenshot={shot}",
                "--window-size=1280,1000",
            )
            if not shot.exists():
                failures.append("index.html: no screenshot was written")
    finally:
        server.shutdown()
    return failures


def _resolve(
    build: Path, base: str, page: str, reference: str, ids: dict[str, set[str]]
) -> list[str]:
    target = urljoin(base + page, reference)
    if not target.startswith(base):
        return []  # another site: not ours to check
    parts = urlsplit(target)
    path = unquote(parts.path[len(urlsplit(base).path) :]) or "index.html"
    if path.endswith("/"):
        path += "index.html"
    if not (build / path).is_file():
        return [f"{page}: {reference!r} leads to a missing file {path}"]
    if parts.fragment and path in ids and parts.fragment not in ids[path]:
        return [f"{page}: {reference!r}: no #{parts.fragment} in {path}"]
    return []


def main() -> int:
    build = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    failures = check(build)
    for failure in failures:
        print(f"check_site: {failure}")
    pages = len(list(build.rglob("*.html")))
    if failures:
        print(f"check_site: {len(failures)} problems on {pages} pages")
        return 1
    print(
        f"check_site: {pages} pages load without console messages; every link resolves; "
        f"screenshot {build / 'landing.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
