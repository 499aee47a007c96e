"""A real browser through the whole login: Debian's Chromium, headless, driven by Playwright.

Open the hub, "Sign in with MAST" (or GitHub), log in at the local provider, pick a profile,
land in JupyterLab, run a cell. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_support import GH_USER, MAST_USER, SCREENSHOTS, Rendered
from kubespawner.slugs import escape_slug as escape_username
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from astrohub_local.localhub import LocalHub
from astrohub_local.oidc_provider import Account, OIDCProvider

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Prints whether the token is there, never the token itself.
CELL = """import os
print("MAST_API_TOKEN is set:", bool(os.environ.get("MAST_API_TOKEN")))
print("profile:", os.environ.get("ASTROHUB_PROFILE"))
print("sum(range(10)) =", sum(range(10)))"""
SPAWN_TIMEOUT_MS = 150_000


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# up, which would break asyncio.run() in the tests that follow.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (make test does)")
    with sync_playwright() as playwright:
        # A proxy that goes nowhere, bypassed for loopback: the browser cannot leave 127.0.0.1.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            proxy={"server": "http://127.0.0.1:9", "bypass": "127.0.0.1,localhost"},
        )
        yield launched
        launched.close()


def _run_in_jupyterlab(page: Page) -> str:
    """Open a notebook from the launcher, run CELL, return the cell's output."""
    page.wait_for_url(re.compile(r".*/user/[^/]+/lab.*"), timeout=SPAWN_TIMEOUT_MS)
    card = page.locator('.jp-LauncherCard[data-category="Notebook"]').first
    card.wait_for(timeout=60_000)
    card.click()
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first
    editor.wait_for(timeout=60_000)
    # Run only once the kernel is up: a cell run while it is still starting can be lost.
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\bIdle\b")).first
    idle.wait_for(timeout=90_000)
    news = page.get_by_role("button", name="No", exact=True)
    if news.is_visible():
        news.click()
    editor.click()
    # insert_text: no key events, so the editor's auto-closing brackets stay out of it.
    page.keyboard.insert_text(CELL)
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").first
    output.filter(has_text="sum(range(10)) = 45").wait_for(timeout=90_000)
    return output.inner_text()


def _sign_in_and_compute(
    browser: Browser, hub: LocalHub, button: str, account: Account, name: str, username: str
) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/login")
        page.get_by_text(button).click()
        page.screenshot(path=SCREENSHOTS / f"{name}-provider-login.png")
        page.fill("#username", username)
        page.fill("#password", account.password)
        page.click("button[value=allow]")
        # The spawn page lists the chart's profiles; pick one that is not the default.
        page.wait_for_url(re.compile(r".*/hub/spawn.*"), timeout=60_000)
        page.locator('input[name="profile"][value="minimal"]').check()
        page.screenshot(path=SCREENSHOTS / f"{name}-profiles.png")
        page.get_by_role("button", name="Start").click()
        output = _run_in_jupyterlab(page)
        page.screenshot(path=SCREENSHOTS / f"{name}-jupyterlab.png")
        return output
    except PlaywrightError as exc:
        page.screenshot(path=SCREENSHOTS / f"{name}-failure.png")
        pytest.fail(f"{exc}\n--- at {page.url}; hub log:\n{hub.log_tail()}")
    finally:
        context.close()


def _server_environment(rendered: Rendered, username: str) -> dict[str, str]:
    """The running single-user server's environment, read from /proc (we are root)."""
    runtime = rendered.homes / escape_username(username) / ".local/share/jupyter/runtime"
    files = sorted(runtime.glob("jpserver-*.json"))
    assert len(files) == 1, f"expected one running server in {runtime}, found {files}"
    pid = json.loads(files[0].read_text())["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_mast_login_lands_in_jupyterlab_with_the_token(
    browser: Browser, mast_hub: LocalHub, mast_render: Rendered, provider: OIDCProvider
) -> None:
    login = browser.new_page()
    login.goto(f"{mast_hub.url}/hub/login")
    assert login.get_by_text("Sign in with MAST").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    login.screenshot(path=SCREENSHOTS / "mast-hub-login.png")
    login.close()

    output = _sign_in_and_compute(
        browser, mast_hub, "Sign in with MAST", MAST_USER, "mast", MAST_USER.email
    )
    assert "MAST_API_TOKEN is set: True" in output
    assert "profile: minimal" in output
    # The server holds the token MAST issued at this login (compared, never shown).
    environment = _server_environment(mast_render, MAST_USER.email)
    handed = environment.get("MAST_API_TOKEN", "")
    same = any(hmac.compare_digest(handed, t) for t in provider.tokens_of(MAST_USER.email))
    assert same, "the server's MAST_API_TOKEN is not a token the provider issued to this user"
    assert environment["HOME"] == str(mast_render.homes / escape_username(MAST_USER.email))
    assert (SCREENSHOTS / "mast-jupyterlab.png").stat().st_size > 10_000


def test_github_login_lands_in_jupyterlab(
    browser: Browser, github_hub: LocalHub, github_render: Rendered
) -> None:
    output = _sign_in_and_compute(
        browser, github_hub, "Sign in with GitHub", GH_USER, "github", GH_USER.login
    )
    assert "MAST_API_TOKEN is set: False" in output
    assert "sum(range(10)) = 45" in output
    environment = _server_environment(github_render, GH_USER.login)
    assert "MAST_API_TOKEN" not in environment
    assert (SCREENSHOTS / "github-jupyterlab.png").stat().st_size > 10_000
