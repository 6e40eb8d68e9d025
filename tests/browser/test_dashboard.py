"""The operations dashboard in headless Chromium: sandbox sign-in with the operations role, charts
with titles, text summaries and data tables, figures equal to the API's, filters that apply."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
import requests

from tests.browser.conftest import API_TOKEN

BENCH = Path(__file__).resolve().parents[2] / "bench" / "metrics.py"
pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_metrics", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seeded(live_hub):
    now = live_hub.clock.now()
    load_bench().seed_history(live_hub.hub.engine, events=2500, days=30, end=now - timedelta(hours=1))
    live_hub.hub.deflection_rollup().tick()
    return live_hub


def api(live_hub, **params: str) -> dict:
    answer = requests.get(
        f"{live_hub.url}/v1/metrics/deflection",
        params=params,
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.json()


def tile(page, label: str):
    return page.locator(".kpi", has=page.locator(".kpi__label", has_text=re.compile(f"^{label}$")))


def kpi(page, label: str) -> str:
    return tile(page, label).locator(".kpi__value").inner_text()


def test_dashboard_shows_the_api_figures_as_accessible_charts(seeded, page):
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{seeded.url}/dashboard")
    expect(page.get_by_role("heading", level=1, name="Operations dashboard")).to_be_visible()
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()  # the shell's nav for operations

    today = seeded.clock.now().date()
    expected = api(seeded, **{"from": str(today - timedelta(days=29)), "to": str(today)})["totals"]
    assert kpi(page, "Recontact-adjusted") == f"{expected['recontact_adjusted_deflection_rate'] * 100:.1f} %"
    assert kpi(page, "Deflection") == f"{expected['deflection_rate'] * 100:.1f} %"

    charts = page.get_by_role("img")
    names = [charts.nth(n).get_attribute("aria-labelledby") for n in range(charts.count())]
    assert len(names) == 6
    for chart_id in ("chart-deflection", "chart-containment", "chart-duplicates", "chart-sla",
                     "chart-recovery", "chart-inbox"):  # fmt: skip
        figure = page.locator(f"#{chart_id}-caption").locator("..")
        assert page.locator(f"#{chart_id}-title").count() == 1
        assert page.locator(f"#{chart_id}-desc").text_content()  # the text summary, also in the caption
        expect(figure.locator(".chart-summary")).to_be_visible()
    deflection = page.locator("#chart-deflection-caption").locator("..")
    assert deflection.locator("path.chart-line").count() == 2
    assert deflection.locator("polygon.chart-gap").count() > 0  # the gap between the two is drawn
    deflection.get_by_text("Data table").click()
    rows = deflection.locator("tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == 30
    assert messages == [] or not any("Content Security Policy" in m for m in messages)


def test_filters_narrow_every_figure(seeded, page):
    page.goto(f"{seeded.url}/dashboard")
    page.get_by_label("Channel of first contact").select_option("chat")
    page.get_by_label("Intent").select_option("billing")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?.*channel=chat&intent=billing"))
    today = seeded.clock.now().date()
    expected = api(
        seeded,
        **{"from": str(today - timedelta(days=29)), "to": str(today), "channel": "chat", "intent": "billing"},
    )["totals"]
    note = tile(page, "Deflection").locator(".kpi__note")
    assert note.inner_text() == f"{expected['automated_resolutions']} of {expected['inquiries']} inquiries"


def test_a_bad_range_says_what_is_wrong(seeded, page):
    page.goto(f"{seeded.url}/dashboard")  # signs in (the sandbox's no-click sign-in)
    expect(page.get_by_role("heading", level=1, name="Operations dashboard")).to_be_visible()
    response = page.goto(f"{seeded.url}/dashboard?from=2026-02-31")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("from: '2026-02-31' is not a date")
