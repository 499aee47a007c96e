"""A real browser through the whole login: Debian's Chromium, headless, driven by Playwright.

Open the hub, "Sign in with MAST" (or GitHub), log in at the local provider, pick a profile,
land in JupyterLab, run a cell that imports the profile's package. Each profile is chosen
once: JWST and HST run their images' locked environments (as `make images-test` installs
them), the minimal one the local hub's. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_support import GH_USER, MAST_GUEST, MAST_USER, REPO, SCREENSHOTS, Rendered
from kubespawner.slugs import escape_slug as escape_username
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from astrohub.images import ensure_env, load_image, lock_pins
from astrohub.unprivileged import GID, UID
from astrohub_local.localhub import LocalHub
from astrohub_local.oidc_provider import Account, OIDCProvider
from astrohub_local.runner import index_env

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
CELL = """import os, importlib
print("MAST_API_TOKEN is set:", bool(os.environ.get("MAST_API_TOKEN")))
print("profile:", os.environ.get("ASTROHUB_PROFILE"))
print("{package}", importlib.import_module("{package}").__version__)
print("sum(range(10)) =", sum(range(10)))"""
SPAWN_TIMEOUT_MS = 150_000
NEWS_PROMPT = "Would you like to get notified about official Jupyter news?"


def expected_package(profile: str) -> tuple[str, str]:
    """The package a profile is for and its locked version: an image's headline package as
    images/<name>/image.yml names it, JupyterLab for the minimal profile."""
    if profile == "minimal":
        return "jupyterlab", lock_pins(REPO / "requirements-localhub.lock")["jupyterlab"]
    image = load_image(REPO / "images" / profile)
    assert image.headline_package
    return image.headline_package, lock_pins(image.requirements_txt)[image.headline_package]


@pytest.fixture(scope="module", autouse=True)
def image_environments() -> None:
    """The JWST and HST environments, installed before a spawn needs them (the package index
    reachable, as `make images-test` has it); the local hub then finds them ready."""
    for name in ("jwst", "hst"):
        ensure_env(load_image(REPO / "images" / name), env=index_env())


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


def _run_in_jupyterlab(page: Page, cell: str) -> str:
    """Open a notebook from the launcher, run the cell, return its output."""
    page.wait_for_url(re.compile(r".*/user/[^/]+/lab.*"), timeout=SPAWN_TIMEOUT_MS)
    card = page.locator('.jp-LauncherCard[data-category="Notebook"]').first
    card.wait_for(timeout=60_000)
    card.click()
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first
    editor.wait_for(timeout=60_000)
    # Run only once the kernel is up: a cell run while it is still starting can be lost.
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\bIdle\b")).first
    idle.wait_for(timeout=90_000)
    editor.click()
    # insert_text: no key events, so the editor's auto-closing brackets stay out of it.
    page.keyboard.insert_text(cell)
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").first
    output.filter(has_text="sum(range(10)) = 45").wait_for(timeout=90_000)
    # JupyterLab asks this seconds after it opens unless its settings overrides say no
    # (images/common/jupyterlab-overrides.json); by now it would have.
    assert not page.get_by_text(NEWS_PROMPT).is_visible(), "JupyterLab asked about news"
    return output.inner_text()


def _open_getting_started(page: Page, profile: str) -> None:
    """Open ~/getting-started in the file browser: the image's notebooks are there."""
    listing = page.locator(".jp-DirListing-itemText")
    listing.filter(has_text=re.compile(r"^getting-started$")).dblclick(timeout=60_000)
    for notebook in load_image(REPO / "images" / profile).getting_started:
        listing.filter(has_text=notebook.name).wait_for(timeout=60_000)


def _sign_in_and_compute(
    browser: Browser,
    hub: LocalHub,
    button: str,
    account: Account,
    username: str,
    profile: str,
) -> str:
    name = f"{button.rsplit(' ', 1)[-1].lower()}-{profile}"
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
        # The spawn page lists the chart's profiles.
        page.wait_for_url(re.compile(r".*/hub/spawn.*"), timeout=60_000)
        page.locator(f'input[name="profile"][value="{profile}"]').check()
        page.screenshot(path=SCREENSHOTS / f"{name}-profiles.png")
        page.get_by_role("button", name="Start").click()
        output = _run_in_jupyterlab(page, CELL.format(package=expected_package(profile)[0]))
        if profile != "minimal":
            _open_getting_started(page, profile)
        page.screenshot(path=SCREENSHOTS / f"{name}-jupyterlab.png")
        return output
    except PlaywrightError as exc:
        page.screenshot(path=SCREENSHOTS / f"{name}-failure.png")
        pytest.fail(f"{exc}\n--- at {page.url}; hub log:\n{hub.log_tail()}")
    finally:
        context.close()


def _server_proc(rendered: Rendered, username: str) -> Path:
    """/proc of the user's running single-user server (we are root: we may read it)."""
    runtime = rendered.homes / escape_username(username) / ".local/share/jupyter/runtime"
    files = sorted(runtime.glob("jpserver-*.json"))
    assert len(files) == 1, f"expected one running server in {runtime}, found {files}"
    return Path("/proc", str(json.loads(files[0].read_text())["pid"]))


def _server_environment(rendered: Rendered, username: str) -> dict[str, str]:
    """The running single-user server's environment."""
    raw = (_server_proc(rendered, username) / "environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _assert_locked_down(rendered: Rendered, username: str) -> None:
    """The server runs as the pod's user with no capability to gain, as the rendered
    container_security_context (capabilities drop ALL) and allowPrivilegeEscalation say."""
    lines = (_server_proc(rendered, username) / "status").read_text().splitlines()
    status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    assert status["Uid"].split()[0] == str(UID)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[field], 16) == 0, f"{field}: {status[field]}"
    assert status["NoNewPrivs"] == "1"


def _assert_getting_started(home: Path, profile: str) -> None:
    """The start hook copied the image's notebooks into the home, as the user's files."""
    shipped = load_image(REPO / "images" / profile).getting_started
    copied = home / "getting-started"
    assert sorted(p.name for p in copied.iterdir()) == [p.name for p in shipped]
    for notebook in shipped:
        copy = copied / notebook.name
        assert copy.read_bytes() == notebook.read_bytes()
        assert (copy.stat().st_uid, copy.stat().st_gid) == (UID, GID)


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
        browser, mast_hub, "Sign in with MAST", MAST_USER, MAST_USER.email, "jwst"
    )
    assert "MAST_API_TOKEN is set: True" in output
    assert "profile: jwst" in output
    assert "jwst {}".format(expected_package("jwst")[1]) in output.splitlines()
    # The server holds the token MAST issued at this login (compared, never shown).
    environment = _server_environment(mast_render, MAST_USER.email)
    handed = environment.get("MAST_API_TOKEN", "")
    same = any(hmac.compare_digest(handed, t) for t in provider.tokens_of(MAST_USER.email))
    assert same, "the server's MAST_API_TOKEN is not a token the provider issued to this user"
    assert environment["HOME"] == str(mast_render.homes / escape_username(MAST_USER.email))
    _assert_getting_started(Path(environment["HOME"]), "jwst")
    _assert_locked_down(mast_render, MAST_USER.email)
    assert (SCREENSHOTS / "mast-jwst-jupyterlab.png").stat().st_size > 10_000


def test_github_login_lands_in_jupyterlab(
    browser: Browser, github_hub: LocalHub, github_render: Rendered
) -> None:
    output = _sign_in_and_compute(
        browser, github_hub, "Sign in with GitHub", GH_USER, GH_USER.login, "hst"
    )
    assert "MAST_API_TOKEN is set: False" in output
    package, version = expected_package("hst")
    assert f"{package} {version}" in output.splitlines()
    # The server runs the HST environment, first on its PATH (its calibration commands; the
    # hstcal executables come from conda-forge in the image only).
    environment = _server_environment(github_render, GH_USER.login)
    first = Path(environment["PATH"].split(":")[0])
    assert first.parent.name.startswith("hst-") and (first / "calcos").exists()
    assert "MAST_API_TOKEN" not in environment
    _assert_getting_started(Path(environment["HOME"]), "hst")
    _assert_locked_down(github_render, GH_USER.login)
    assert (SCREENSHOTS / "github-hst-jupyterlab.png").stat().st_size > 10_000


def test_the_minimal_profile_runs_the_plain_environment(
    browser: Browser, mast_hub: LocalHub
) -> None:
    output = _sign_in_and_compute(
        browser, mast_hub, "Sign in with MAST", MAST_GUEST, MAST_GUEST.email, "minimal"
    )
    assert "profile: minimal" in output
    assert "jupyterlab {}".format(expected_package("minimal")[1]) in output.splitlines()
