"""The UI in a real browser: headless Chromium on `make dev`'s webserver shows the nightly
lineage, and a person's clicks materialize one partition of security_triage on the demo's inputs.

Debian's `chromium` drives it (playwright with `executable_path`, no browser download). Set
OVERNIGHT_UPDATE_SCREENSHOT=1 to refresh docs/asset-graph.png, the README's picture of the graph.
"""

import json
import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from overnight_assets.config import BUNDLED_DEMO_CONFIG, load_config
from overnight_assets.demo.inputs import prepare_demo_auth_log
from overnight_assets_tests.testkit import REPO, require_or_skip

SCREENSHOT = REPO / "docs" / "asset-graph.png"
NIGHTLY_LINEAGE = {
    ("gpu_warmup", "security_triage"),
    ("gpu_warmup", "article_digest"),
    ("gpu_warmup", "arxiv_finds"),
    ("gpu_warmup", "code_reviews"),
    ("article_digest", "arxiv_finds"),
    ("code_reviews", "pr_digest"),
    ("security_triage", "morning_briefing"),
    ("article_digest", "morning_briefing"),
    ("arxiv_finds", "morning_briefing"),
    ("code_reviews", "morning_briefing"),
    ("pr_digest", "morning_briefing"),
    ("morning_briefing", "morning_delivery"),
    ("morning_delivery", "cerebellum"),
    ("cerebellum", "consolidation"),
}
# Each drawn node (a foreignObject) and edge (a path ending in an arrow) of the asset graph's SVG.
GRAPH_GEOMETRY = """() => ({
  nodes: [...document.querySelectorAll("svg foreignObject")].map(node => ({
    name: node.querySelector("[data-tooltip]")?.dataset.tooltip ?? node.textContent.trim(),  // full or bare node
    x: +node.getAttribute("x"), y: +node.getAttribute("y"),
    width: +node.getAttribute("width"), height: +node.getAttribute("height"),
  })),
  edges: [...document.querySelectorAll("svg path[marker-end]")].map(edge => edge.getAttribute("d")),
})"""
# the nightly group's own lineage: the global one draws each group as one box beside the others
NIGHTLY_GROUP = "locations/__repository__@overnight_assets/asset-groups/nightly"
WIDE = {"width": 2000, "height": 1000}  # wide enough that the graph draws full nodes, not bare names


@pytest.fixture
def ui_server(request, tmp_path, monkeypatch, unused_url):
    """`dagster dev` on the demo config, its auth log written for the night the test materializes."""
    monkeypatch.setenv("OLLAMA_HOST", unused_url)  # a developer's own Ollama stays out of the test
    monkeypatch.setenv("OVERNIGHT_HOME", str(tmp_path / "home"))  # as dev_server sets it for the server
    config = load_config(BUNDLED_DEMO_CONFIG)
    night = (datetime.now(config.tz).date() - timedelta(days=1)).isoformat()  # the demo's default night
    prepare_demo_auth_log(date.fromisoformat(night), Path(config.triage.auth_log.path))
    return request.getfixturevalue("dev_server").port, night


# the UI's dialogs open after GraphQL answers: on a loaded 2-core machine that took over playwright's 30 s
UI_WAIT_MS = 120_000
DIALOG_ATTEMPTS, DIALOG_STEP_MS = 3, 30_000
SCREENSHOT_ON_FAILURE = "/tmp/overnight-ui-failure.png"  # what the browser showed, for a person to look at


@pytest.fixture
def page():
    chromium = shutil.which("chromium")
    require_or_skip(chromium is not None, "chromium is not installed (Debian/Ubuntu package `chromium`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=WIDE)
        page.set_default_timeout(UI_WAIT_MS)
        yield page
        browser.close()


def test_the_graph_shows_the_lineage_and_a_click_materializes_one_night(page, ui_server, tmp_path):
    port, night = ui_server
    url = f"http://127.0.0.1:{port}"
    page.goto(f"{url}/{NIGHTLY_GROUP}")
    skip_community_dialog(page)
    assert rendered_lineage(page) == NIGHTLY_LINEAGE

    run_id = materialize_from_the_ui(page, url, "security_triage", night)
    page.goto(f"{url}/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=45_000)
    expect(page.get_by_text(f"partition: {night}")).to_be_visible()
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == night
    stored = json.loads((tmp_path / "home" / "assets" / "security_triage" / f"{night}.json").read_text())
    auth_log = [item["detail"] for item in stored["items"] if item["collector"] == "auth_log"]
    assert any("192.168.1.23" in detail for detail in auth_log), stored  # the sample's login, dated that night

    page.goto(f"{url}/{NIGHTLY_GROUP}")
    expect(page.locator("svg foreignObject", has_text="security_triage")).to_contain_text("ago")  # latest event
    picture = page.screenshot(path=tmp_path / "asset-graph.png", clip=graph_bounds(page))
    if os.environ.get("OVERNIGHT_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(picture)


def skip_community_dialog(page: Page) -> None:
    """The first visit to a fresh instance opens "Join the Dagster community" over the page (a
    second later, blocking clicks); its Skip button records it as seen for the instance."""
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog).to_be_hidden()


def rendered_lineage(page: Page) -> set[tuple[str, str]]:
    """(upstream, downstream) for each edge drawn: an edge leaves the middle of its upstream
    node's right side and its arrow ends at the middle of the downstream node's left side."""
    expect(page.locator("svg path[marker-end]").first).to_be_attached()
    geometry = page.evaluate(GRAPH_GEOMETRY)
    nodes = geometry["nodes"]

    def nearest(x: float, y: float, side: str) -> str:
        def distance(node):
            edge_x = node["x"] + (node["width"] if side == "right" else 0)
            return abs(edge_x - x) + abs(node["y"] + node["height"] / 2 - y)

        closest = min(nodes, key=distance)
        assert distance(closest) < 10, f"an edge ends at ({x}, {y}), at no node's {side} side"
        return closest["name"]

    lineage = set()
    for path in geometry["edges"]:
        numbers = [float(n) for n in path.replace("M", " ").replace("C", " ").replace(",", " ").split()]
        lineage.add((nearest(*numbers[:2], "right"), nearest(*numbers[-2:], "left")))
    return lineage


def graph_bounds(page: Page, margin: float = 24) -> dict[str, float]:
    """The drawn nodes' bounding box on the page, with a margin: the graph without the UI around it."""
    boxes = [node.bounding_box() for node in page.locator("svg foreignObject").all()]
    left, top = min(box["x"] for box in boxes) - margin, min(box["y"] for box in boxes) - margin
    right = max(box["x"] + box["width"] for box in boxes) + margin
    bottom = max(box["y"] + box["height"] for box in boxes) + margin
    return {"x": left, "y": top, "width": right - left, "height": bottom - top}


def materialize_from_the_ui(page: Page, url: str, asset: str, partition: str) -> str:
    """Asset page → Materialize… → confirm past the missing upstream → one partition → launch;
    returns the run id from the "Launched run" toast. On a loaded machine the UI has been seen to redraw
    the dialog away between typing the partition and pressing Enter (in full parallel suites only): the
    dialog is opened again, up to DIALOG_ATTEMPTS times, before the test fails with what was shown."""
    for attempt in range(1, DIALOG_ATTEMPTS + 1):
        page.goto(f"{url}/assets/{asset}")
        page.get_by_role("button", name="Materialize…").click()
        page.get_by_role("dialog").filter(has_text="upstream assets").get_by_role("button", name="Confirm").click()
        launcher = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {asset}")
        partitions = launcher.get_by_placeholder("No matching partitions")
        try:
            partitions.fill(partition)
            partitions.press("Enter", timeout=DIALOG_STEP_MS)
            launcher.get_by_role("button", name="Launch 1 run").click(timeout=DIALOG_STEP_MS)
            break
        except PlaywrightTimeout:
            if attempt == DIALOG_ATTEMPTS:
                page.screenshot(path=SCREENSHOT_ON_FAILURE)
                dialogs = [dialog.inner_text() for dialog in page.get_by_role("dialog").all()]
                raise AssertionError(f"the launch dialog did not take {partition}; dialogs: {dialogs}") from None
    expect(page.get_by_text("Launched run")).to_be_visible()
    return page.get_by_role("link", name="View", exact=True).get_attribute("href").rsplit("/", 1)[-1]
