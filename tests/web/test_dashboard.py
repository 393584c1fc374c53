"""The dashboard on a real uvicorn server on 127.0.0.1, with a plan from the real planner (HiGHS)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from computemoat.catalog import load_scenario
from computemoat.planner.plan_file import read_plan
from computemoat.web import create_dashboard_app
from computemoat.web.data import build_dashboard_data

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, object]]:
    data = build_dashboard_data(load_scenario(EXAMPLE))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_dashboard_app(data), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", data
    server.should_exit = True
    thread.join(timeout=10)


def test_pages_render_the_plan(served: tuple[str, object]) -> None:
    url, data = served
    plan = data.plan  # type: ignore[attr-defined]
    assert plan is not None and plan.training
    with httpx.Client(base_url=url, timeout=10) as client:
        overview = client.get("/")
        assert overview.status_code == 200 and "minimal" in overview.text
        assert f"${plan.total_cost_usd:,.0f}" in overview.text
        plan_page = re.sub(r"<[^>]+>", "", client.get("/plan").text)  # the text a reader sees
        for t in plan.training:
            assert t.job_id in plan_page and t.site_id in plan_page
        for i in plan.inference:
            assert i.offering_id in plan_page
        world = client.get("/map").text
        assert "acme:dallas" in world and "Plotly.newPlot" in world
        catalog = client.get("/catalog").text
        assert "globex" in catalog and "6.88" in catalog and "2.20" in catalog


def test_json_api_and_local_plotly(served: tuple[str, object]) -> None:
    url, data = served
    with httpx.Client(base_url=url, timeout=10) as client:
        api = client.get("/api/plan").json()
        assert api["total_cost_usd"] == pytest.approx(data.plan.total_cost_usd)  # type: ignore[attr-defined]
        summary = client.get("/api/summary").json()
        assert {p["name"] for p in summary["providers"]} == {"acme", "globex"}
        assert abs(sum(p["gpu_share"] for p in summary["providers"]) - 1.0) < 1e-9
        js = client.get("/vendor/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 1_000_000  # served from the package, never a CDN
        assert client.get("/static/style.css").status_code == 200
        world = client.get("/static/topojson/world_110m.json")  # the map's coastlines, also local
        assert world.status_code == 200 and world.json()["type"] == "Topology"


def test_plan_file_round_trip_and_bad_file(tmp_path: Path, served: tuple[str, object]) -> None:
    from computemoat.model import UserError

    _, data = served
    path = tmp_path / "plan.json"
    path.write_text(data.plan.model_dump_json())  # type: ignore[attr-defined]
    assert read_plan(path) == data.plan  # type: ignore[attr-defined]
    path.write_text('{"scenario": "x"}')
    with pytest.raises(UserError, match="not a computemoat plan"):
        read_plan(path)
