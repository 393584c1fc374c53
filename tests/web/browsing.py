"""Open a dashboard page the way a person would and record everything that went wrong on the way:
console errors, uncaught exceptions, failed requests, HTTP errors, and any request that left
127.0.0.1 (the dashboard must load nothing from the internet). A full-page screenshot is kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Problems:
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.console, *self.page_errors, *self.failed, *self.http_errors, *self.external]


@contextmanager
def visit(browser: Any, url: str, shot: Path, width: int = 1280) -> Iterator[tuple[Any, Problems]]:
    """Yield (page, problems) after the page settled; screenshot on the way out."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = Problems()
    page.on("console", lambda m: problems.console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: problems.failed.append(f"{r.url}: {r.failure}"))

    def on_response(r: Any) -> None:
        if r.status >= 400:
            problems.http_errors.append(f"{r.status} {r.url}")

    def on_request(r: Any) -> None:
        problems.requests.append(r.url)
        host = urlsplit(r.url).hostname
        if r.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
            problems.external.append(r.url)

    page.on("response", on_response)
    page.on("request", on_request)
    try:
        page.goto(url, wait_until="networkidle")
        yield page, problems
    finally:
        page.screenshot(path=str(shot), full_page=True)  # also when an assertion failed: to look at
        context.close()
