"""Issue 10 in a real Chromium: the admin page says when Voke would call another origin than the
page's (CONTRACT §1), and the API docs run under their CSP and keep a token for the session only.

`voke-esm serve --port P` with no VOKE_ESM_INTERNAL_URL hands out http://localhost:P/…, which is
this service whether the page is opened at http://127.0.0.1:P (as `serve` prints) or at
http://localhost:P: no warning. A VOKE_ESM_INTERNAL_URL naming another port (the issue's case: the
credentials would go to whatever listens there) is warned about.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import CHROMIUM
from tests.ui.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CHROMIUM_ARGS,
    FOREIGN_SETTINGS,
    LAPTOP,
    VOKE_ESM,
    free_port,
    is_local,
    sign_in,
    wait_until_healthy,
)

pytestmark = pytest.mark.browser

expect.set_options(timeout=10_000)


@contextmanager
def serving(workdir: Path, internal_url: str | None = None) -> Iterator[int]:
    """`voke-esm serve --port P` as a newcomer starts it, with VOKE_ESM_INTERNAL_URL if given."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_SETTINGS}
    env.pop("VOKE_ESM_INTERNAL_URL", None)
    env |= {
        "VOKE_ENV": "test",
        "VOKE_ADMIN_EMAIL": ADMIN_EMAIL,
        "VOKE_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    if internal_url is not None:
        env["VOKE_ESM_INTERNAL_URL"] = internal_url
    log = workdir / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(VOKE_ESM), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, f"http://127.0.0.1:{port}", log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A service with no VOKE_ESM_INTERNAL_URL: it hands out http://localhost:P/…."""
    with serving(tmp_path_factory.mktemp("hardening-pages")) as port:
        yield port


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    return browser.new_context(viewport=LAPTOP, base_url=base_url, locale="en-GB")


def enable_an_org(page: Page, name: str) -> None:
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_role("button", name="New organization").click()
    dialog = page.get_by_role("dialog", name="New organization")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create organization").click()
    expect(page.locator("#org-select option:checked")).to_have_text(name)
    page.get_by_role("button", name="Enable", exact=True).click()
    page.get_by_role("dialog", name=f"Enable Voke ESM for {name}?").get_by_role(
        "button", name="Enable"
    ).click()


class TestOriginWarning:
    def test_a_url_naming_another_port_says_so(
        self, browser: Browser, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        elsewhere = f"http://localhost:{free_port()}/api/v1/voke-esm"
        with serving(tmp_path_factory.mktemp("elsewhere"), internal_url=elsewhere) as port:
            context = new_context(browser, f"http://127.0.0.1:{port}")
            try:
                page = context.new_page()
                enable_an_org(page, "Origin check")
                credentials = page.get_by_role("dialog", name="Credentials for Origin check")
                expect(credentials.get_by_label("ESM API URL")).to_have_value(elsewhere)
                warning = credentials.locator("#cred-url-warning")
                expect(warning).to_be_visible()
                expect(warning).to_contain_text(
                    f"Voke will call {elsewhere}, but this page is served from"
                    f" http://127.0.0.1:{port}"
                )
                credentials.get_by_role("button", name="I have stored them").click()

                status_warning = page.locator("#status-url-warning")
                expect(page.locator("#status-url")).to_have_text(elsewhere)
                expect(status_warning).to_be_visible()
                expect(status_warning).to_contain_text(f"Voke will call {elsewhere}")
                expect(status_warning).to_have_attribute("role", "note")

                # Disabled: no URL is handed out, nothing to warn about.
                page.get_by_role("button", name="Disable").click()
                page.get_by_role("dialog", name="Disable Voke ESM for Origin check?").get_by_role(
                    "button", name="Disable"
                ).click()
                expect(page.locator("#status-badge")).to_have_text("Disabled")
                expect(status_warning).to_be_hidden()
            finally:
                context.close()

    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
    def test_the_url_serve_hands_out_shows_no_warning(
        self, browser: Browser, port: int, host: str
    ) -> None:
        """`serve` prints http://127.0.0.1:P and hands out http://localhost:P: both are this
        service, so a newcomer following the README never sees the warning."""
        context = new_context(browser, f"http://{host}:{port}")
        try:
            page = context.new_page()
            enable_an_org(page, f"Same service {host}")
            credentials = page.get_by_role("dialog", name=f"Credentials for Same service {host}")
            expect(credentials.get_by_label("ESM API URL")).to_have_value(
                f"http://localhost:{port}/api/v1/voke-esm"
            )
            expect(credentials.locator("#cred-url-warning")).to_be_hidden()
            credentials.get_by_role("button", name="I have stored them").click()
            expect(page.locator("#status-badge")).to_have_text("Enabled")
            expect(page.locator("#status-url-warning")).to_be_hidden()
        finally:
            context.close()


def watch_violations(page: Page) -> list[dict[str, Any]]:
    """Every CSP violation the page reports, as the browser describes it."""
    violations: list[dict[str, Any]] = []
    page.expose_function("reportViolation", lambda violation: violations.append(violation))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) => window.reportViolation("
        "{directive: event.effectiveDirective, blocked: event.blockedURI}));"
    )
    return violations


def open_authorize_dialog(context: BrowserContext) -> tuple[Page, list[dict[str, Any]]]:
    """/docs in a new page of `context`, its Authorize dialog open; the CSP violations watched."""
    page = context.new_page()
    violations = watch_violations(page)
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    page.get_by_role("button", name="Authorize").first.click()
    return page, violations


class TestApiDocs:
    def test_swagger_runs_under_its_csp_and_keeps_the_token_for_the_session_only(
        self, browser: Browser, port: int
    ) -> None:
        base_url = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base_url}/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["accessToken"]
        requested: list[str] = []
        context = new_context(browser, base_url)
        context.on("request", lambda request: requested.append(request.url))
        try:
            page, violations = open_authorize_dialog(context)
            voke_token = page.locator(".auth-container", has_text="VokeToken")
            voke_token.get_by_role("textbox").fill(token)
            voke_token.get_by_role("button", name="Apply credentials").click()
            expect(voke_token.get_by_role("button", name="Remove authorization")).to_be_visible()
            voke_token.get_by_role("button", name="Close").click()

            stored = page.evaluate("JSON.stringify(sessionStorage)")
            assert token in stored
            assert token not in page.evaluate("JSON.stringify(localStorage)")

            # A reload of the tab keeps it (Try it out stays signed in) ...
            page.reload()
            expect(page.locator(".opblock").first).to_be_visible()
            authorized = page.evaluate(
                "JSON.stringify(window.ui.authSelectors.authorized().toJS())"
            )
            assert token in authorized
            assert token not in page.evaluate("JSON.stringify(localStorage)")
            assert violations == []

            # ... another tab (another session) does not have it.
            other = context.new_page()
            other.goto("/docs")
            expect(other.locator(".opblock").first).to_be_visible()
            assert token not in other.evaluate("JSON.stringify(sessionStorage)")
            assert other.evaluate("window.ui.authSelectors.authorized()?.size ?? 0") == 0
        finally:
            context.close()
        assert [url for url in requested if not is_local(url)] == []

    def test_authorize_gets_a_trading_token_from_client_credentials(
        self, browser: Browser, port: int
    ) -> None:
        # Issue 12: the token endpoint is declared as OAuth2's client-credentials flow, so that
        # Swagger's Authorize exchanges a clientId and secret itself and Try it out uses the token.
        base_url = f"http://127.0.0.1:{port}"
        admin = {
            "Authorization": "Bearer "
            + httpx.post(
                f"{base_url}/api/v1/auth/login",
                json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            ).json()["accessToken"]
        }
        org = httpx.post(f"{base_url}/api/v1/orgs", json={"name": "Docs"}, headers=admin).json()
        credentials = httpx.post(
            f"{base_url}/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}, headers=admin
        ).json()
        context = new_context(browser, base_url)
        try:
            page, violations = open_authorize_dialog(context)
            flow = page.locator(".auth-container", has_text="TradingClient")
            flow.locator("input[id^=client_id_]").fill(credentials["clientId"])
            flow.locator("input[id^=client_secret_]").fill(credentials["clientSecret"])
            flow.get_by_role("button", name="Apply given OAuth2 credentials").click()
            expect(flow.get_by_role("button", name="Remove authorization")).to_be_visible()
            page.get_by_role("button", name="Close").first.click()

            listing = page.locator(".opblock", has_text="List the client's plants")
            listing.locator(".opblock-summary").click()
            listing.get_by_role("button", name="Try it out").click()
            listing.get_by_role("button", name="Execute").click()
            answer = listing.locator(".live-responses-table .response")
            expect(answer.locator(".response-col_status")).to_contain_text("200")
            expect(answer).to_contain_text("plantId")
            assert violations == []
        finally:
            context.close()

    def test_redoc_renders_under_its_csp(self, browser: Browser, port: int) -> None:
        context = new_context(browser, f"http://127.0.0.1:{port}")
        try:
            page = context.new_page()
            violations = watch_violations(page)
            page.goto("/redoc")
            expect(
                page.get_by_role("heading", name="Voke ESM Sandbox", exact=False).first
            ).to_be_visible()
            expect(page.locator("li[data-item-id]").first).to_be_visible()
            page.wait_for_timeout(500)
        finally:
            context.close()
        # ReDoc's "API docs by Redocly" logo comes from its CDN: refused, as it should be.
        # Nothing of the service's own (scripts, styles, workers) may be.
        own = [item for item in violations if is_local(item["blocked"] or "http://127.0.0.1/")]
        assert own == [], own
        assert {item["directive"] for item in violations} <= {"img-src"}, violations
