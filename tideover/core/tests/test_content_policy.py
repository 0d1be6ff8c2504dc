"""The Content-Security-Policy: sent on every kind of answer, and what it lets pages do."""

from __future__ import annotations

import pytest
from django.test import Client

from tideover.core.tests.browser import phone_browser


def directives(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.django_db
def test_every_kind_of_answer_carries_the_content_security_policy(client_as):
    anonymous = Client()
    answers = {
        "status page": anonymous.get("/"),
        "log-in page": anonymous.get("/accounts/login/"),
        "console, logged in": client_as("incident_commander").get("/console/"),
        "console, sent to log in": anonymous.get("/console/"),
        "page not found": anonymous.get("/no-such-page/"),
        "API refusal": anonymous.get("/api/v1/incidents"),
    }
    assert answers["console, logged in"].status_code == 200
    assert answers["API refusal"].status_code == 401
    for name, response in answers.items():
        policy = directives(response)
        assert policy["script-src"] == "'self'", name
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", name
        assert policy["form-action"] == "'self'" and policy["frame-ancestors"] == "'none'", name


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_markup_that_slipped_past_escaping_cannot_run_a_script(live_server):
    """An event handler put into the status page (as injected markup would carry) does not run,
    and the browser reports what it blocked."""
    from playwright.sync_api import sync_playwright

    from tideover.core.tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, watch_policy

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE)
            blocked = watch_policy(context)
            page = context.new_page()
            page.goto(f"{live_server.url}/")
            page.evaluate(
                """() => document.body.insertAdjacentHTML('beforeend',
                    '<img src="data:," onerror="document.title = \\'hijacked\\'">')"""
            )
            page.wait_for_timeout(300)
            title = page.title()
        finally:
            browser.close()
    assert title != "hijacked"
    assert any("inline event handler" in line for line in blocked), blocked


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_and_the_api_docs_run_their_own_scripts_under_the_policy(
    live_server, monkeypatch
):
    """The only scripts Tideover serves are the admin's and Swagger UI's files: both still work
    (phone_browser fails the test if the policy blocked anything)."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    get_user_model().objects.create_superuser("root", "", "pw-for-tests-only")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with phone_browser() as page:
        page.goto(f"{live_server.url}/api/v1/docs")
        # Swagger UI draws the API's title from the OpenAPI document with its own script.
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tideover API")
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill("root")
        page.get_by_label("Password").fill("pw-for-tests-only")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/admin/auth/user/add/")
        # The admin's script shows the password fields' toggle once it has run.
        expect(page.get_by_role("heading", name="Add user")).to_be_visible()
        assert page.evaluate("typeof window.django") == "object"
