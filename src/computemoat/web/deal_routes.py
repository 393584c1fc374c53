"""The deal page: the `deal --out` file given at start-up, and any other one opened from the page.

A file opened in the browser is POSTed as it is (raw JSON, no multipart) to ``/api/deal``, checked
by ``web.deal.parse_deal`` and kept in memory under its content hash (the last ``MAX_OPENED``), so
``/deal/<key>`` is a stable link while the dashboard runs. A bad or foreign file is a 422 with one
line naming the file and the field, which the page shows; never a 500."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from computemoat.model import UserError
from computemoat.web import deal_figures
from computemoat.web.deal import DealView, parse_deal_text

MAX_OPENED = 32
MAX_BYTES = 64 * 1024 * 1024  # a 36-period plan pair of the default scenario is a few MB

Page = Callable[..., HTMLResponse]


def deal_context(view: DealView | None) -> dict[str, Any]:
    if view is None:
        return {"deal": None}
    return {
        "deal": view,
        "spend_fig": json.dumps(deal_figures.spend(view)),
        "savings_fig": json.dumps(deal_figures.savings(view)),
        "spend_share_fig": json.dumps(deal_figures.shares(view, "spend")),
        "gpu_share_fig": json.dumps(deal_figures.shares(view, "gpu")),
        "exposure_fig": json.dumps(deal_figures.exposure(view)) if view.exposure else None,
    }


def add_deal_routes(app: FastAPI, page: Page, loaded: DealView | None) -> None:
    opened: OrderedDict[str, DealView] = OrderedDict()

    @app.get("/deal", response_class=HTMLResponse, include_in_schema=False)
    def deal_page(request: Request) -> HTMLResponse:
        return page(request, "deal.html", **deal_context(loaded))

    @app.get("/deal/{key}", response_class=HTMLResponse, include_in_schema=False)
    def opened_deal_page(request: Request, key: str) -> HTMLResponse:
        view = opened.get(key)
        if view is None:
            gone = f"no opened deal {key!r} (the dashboard keeps opened files until it restarts; open it again)"
            return page(request, "deal.html", status_code=404, deal=None, error=gone)
        return page(request, "deal.html", **deal_context(view))

    @app.post("/api/deal")
    async def open_deal(request: Request, name: str = "uploaded file") -> JSONResponse:
        name = name[:200]
        """Open a `computemoat deal --out` file (the raw JSON as the body); answers the page's URL."""
        body = await request.body()
        if len(body) > MAX_BYTES:
            return JSONResponse({"ok": False, "error": f"{name}: larger than {MAX_BYTES >> 20} MiB"}, status_code=413)
        try:
            view = parse_deal_text(body, name)
        except UserError as e:
            return JSONResponse({"ok": False, "error": e.lines[0]}, status_code=422)
        key = hashlib.sha256(body).hexdigest()[:16]
        opened[key] = view
        opened.move_to_end(key)
        while len(opened) > MAX_OPENED:
            opened.popitem(last=False)
        return JSONResponse({"ok": True, "url": f"/deal/{key}", "offer": view.offer})

    @app.get("/api/deal")
    def api_deal() -> JSONResponse:
        """The deal loaded at start-up, as the page reads it (with horizon-wide shares derived)."""
        if loaded is None:
            none = "no deal loaded (start the dashboard with a `computemoat deal --out` file)"
            return JSONResponse({"ok": False, "error": none}, status_code=404)
        return JSONResponse(asdict(loaded))
