"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

Screenshots land in test-output/ for review. Chromium is installed with apt-get when missing;
Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from redwood import App, DurableContext, ManualClock, RetryPolicy
from redwood.server import create_app

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCRIPT = "<script>window.__pwned = 1</script>"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed on first use (the test machines have apt, not downloads)."""
    if not os.path.exists(CHROMIUM):
        if shutil.which("apt-get") is None:
            pytest.fail(f"{CHROMIUM} is missing and apt-get is not available to install it: "
                        "install the Debian packages chromium and chromium-driver.")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        done = subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0 or not os.path.exists(CHROMIUM):
            pytest.fail(f"Could not install chromium with apt-get (exit {done.returncode}): "
                        f"{done.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(app: App, clock: ManualClock, until: Callable[..., None]) -> Iterator[str]:
    """The dashboard of a populated app, served by uvicorn on a free loopback port."""
    _populate(app, clock)
    config = uvicorn.Config(create_app(app), host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started, what="uvicorn to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _populate(app: App, clock: ManualClock) -> None:
    tries = {"charge": 2}

    def charge(amount: int) -> int:
        if tries["charge"] > 0:
            tries["charge"] -= 1
            raise ConnectionError("card network unreachable")
        return amount

    @app.function
    def order(ctx: DurableContext, items: list[str]) -> int:
        ctx.map(items, lambda branch, item: branch.step(_pack, item, name="pack"), name="packing")
        paid = ctx.step(charge, 42, name="charge",
                        retry=RetryPolicy(max_attempts=5, initial_delay=5, jitter=0))
        ctx.wait(30, name="cool_down")
        return paid

    @app.function
    def sleeper(ctx: DurableContext) -> None:
        ctx.wait(86_400, name="overnight")

    @app.function
    def echo(ctx: DurableContext, value: Any) -> Any:
        return value

    @app.function
    def broken(ctx: DurableContext) -> None:
        ctx.step(_explode, name="explode", retry=RetryPolicy(max_attempts=1))

    @app.function
    def approval(ctx: DurableContext) -> Any:
        return ctx.create_callback(name="manager", timeout=3600).result()

    app.start(approval, id="approval-1")
    for i in range(12):
        app.start(echo, {"n": i}, id=f"echo-{i:02d}")
        clock.advance(1)
    app.start(echo, {"note": SCRIPT}, id="scripted")
    app.start(broken, id="broken-1")
    app.start(sleeper, id="sleepy-1")
    app.start(order, ["apple", "pear", "plum", "fig", "kiwi"], id="order-1")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    clock.advance(11)
    worker.drain()
    clock.advance(31)
    worker.drain()


def _pack(item: str) -> str:
    return f"packed {item}"


def _explode() -> None:
    raise ValueError("the widget exploded")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{name}.png"), full_page=True)


def test_the_list_filters_by_status_and_refreshes_itself(
    browser: Browser, site: str, app: App
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site}/")
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(17)
    expect(page.locator('[data-count="FAILED"]')).to_have_text("1")
    _shot(page, "list")
    page.select_option("#status-filter", "FAILED")
    page.wait_for_url("**/?status=FAILED")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("broken-1")
    _shot(page, "list-failed")
    page.goto(f"{site}/?status=RUNNING")
    expect(rows).to_have_count(2)
    app.start("sleeper", id="sleepy-2")  # the page polls the API: the new row appears by itself
    expect(rows).to_have_count(3, timeout=15_000)
    expect(rows.first).to_contain_text("sleepy-2")
    page.close()


def test_an_execution_shows_its_timeline_tree_and_retries(browser: Browser, site: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site}/")
    page.click("text=order-1")
    page.wait_for_url("**/executions/order-1")
    expect(page.locator("#execution-status")).to_have_text("SUCCEEDED")
    # The map, its 5 iterations and their steps, the charge step and the wait.
    expect(page.locator(".gantt-row")).to_have_count(13)
    expect(page.locator(".gantt-row", has_text="packing")).to_have_count(1)
    charge = page.locator(".gantt-row", has_text="charge")
    expect(charge.locator("rect.seg-failed")).to_have_count(2)
    expect(charge.locator("rect.seg-backoff")).to_have_count(2)
    expect(charge.locator("rect.seg-succeeded")).to_have_count(1)
    expect(page.locator("#op-2")).to_contain_text("charge")
    expect(page.locator("#op-1")).to_contain_text("packing")
    expect(page.locator("table.history")).to_contain_text("StepFailed")
    page.click("#history .tabs >> text=failed")
    expect(page.locator("#history-rows tr")).to_have_count(2)
    _shot(page, "execution-retries")
    page.close()


def test_a_payload_with_a_script_is_shown_as_text(browser: Browser, site: str) -> None:
    page = browser.new_page()
    page.goto(f"{site}/executions/scripted")
    expect(page.locator("pre[aria-label=input]")).to_contain_text(SCRIPT)
    assert page.evaluate("window.__pwned") is None
    page.close()


def test_cancelling_a_waiting_execution_changes_its_status(browser: Browser, site: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site}/executions/sleepy-1")
    expect(page.locator("#execution-status")).to_have_text("RUNNING")
    expect(page.locator("#blocked-panel")).to_contain_text("overnight")
    expect(page.locator('#blocked-panel [data-kind="timer"]')).to_have_count(1)
    _shot(page, "execution-waiting")
    page.click("#cancel-button")
    expect(page.locator("#cancel-dialog")).to_be_visible()
    _shot(page, "cancel-dialog")
    page.click("#confirm-cancel")
    expect(page.locator("#execution-status")).to_have_text("STOPPED")
    expect(page.locator("#cancel-button")).to_have_count(0)
    _shot(page, "execution-cancelled")
    page.close()


def test_a_pending_callback_is_completed_from_the_page(
    browser: Browser, site: str, app: App
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site}/executions/approval-1")
    expect(page.locator('#blocked-panel [data-kind="callback"]')).to_contain_text("manager")
    page.click('#blocked-panel button[data-mode="succeed"]')
    page.fill('#callback-dialog textarea[name="payload"]', '{"approved": tru')
    page.click("#callback-dialog button[value=confirm]")
    expect(page.locator("#callback-dialog .dialog-error")).to_contain_text("not valid JSON")
    page.fill('#callback-dialog textarea[name="payload"]', '{"approved": true}')
    _shot(page, "callback-dialog")
    page.click("#callback-dialog button[value=confirm]")
    expect(page.locator('#blocked-panel [data-kind="ready"]')).to_have_count(1)
    app.worker().drain()
    page.reload()
    expect(page.locator("#execution-status")).to_have_text("SUCCEEDED")
    expect(page.locator("pre[aria-label=result]")).to_contain_text('"approved": true')
    page.close()
