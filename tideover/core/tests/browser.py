"""Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright, on a
phone-sized screen. Shared by every app's browser tests (see the ``phone_page`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium tries to reach the internet and stalls.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@contextmanager
def phone_browser(**context_options) -> Iterator:
    """A page in a fresh phone-sized browser context, closed afterwards.

    Every page opened in the context is watched for what the Content-Security-Policy blocked
    (Chromium reports it on the console): a test that passes with something blocked fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, **context_options
            )
            blocked = watch_policy(context)
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
            assert not blocked, f"the Content-Security-Policy blocked: {blocked}"
        finally:
            browser.close()


def watch_policy(context) -> list[str]:
    """What the Content-Security-Policy blocks on any page of ``context``, as it happens."""
    blocked: list[str] = []

    def seen(message) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", seen)
    return blocked


def outside_the_browser_loop(action):
    """Run a database action the way another process would: in its own thread, with its own
    connection, closed afterwards; return its result.

    While Playwright's sync API runs its event loop in the test's thread, Django hands ORM calls
    made there a context-local connection that nothing closes (PostgreSQL then refuses to drop
    the test database). Tests call services through this once the page is open."""
    import threading

    from django.db import connections

    outcome: dict = {}

    def run():
        try:
            outcome["value"] = action()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
