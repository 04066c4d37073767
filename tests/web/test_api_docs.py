"""The API documentation (/docs) in real Chromium: Swagger UI renders under the page's Content-Security-Policy."""

from playwright.sync_api import ConsoleMessage

from tests.web.conftest import Browser

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_api_docs_render_under_their_content_security_policy(browser: Browser) -> None:
    console: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(message.text)

    browser.page.on("console", record)
    browser.context.add_init_script(RECORD_VIOLATIONS)
    response = browser.page.goto(browser.base_url + "/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = browser.page
    page.locator(".opblock-summary-path", has_text="/health").first.wait_for()
    assert page.locator(".info .title").inner_text().startswith("Segell")
    assert page.locator(".opblock").count() > 30
    # "Try it out" runs a request from the page: connect-src 'self' lets it through.
    page.locator(".opblock-summary-path", has_text="/health").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    page.locator(".live-responses-table .response-col_status", has_text="200").wait_for()
    browser.screenshot("api-docs")

    assert page.evaluate("window.cspViolations") == []
    assert console == []
