"""The agent's status page in real Chromium on a phone: what store staff see and do."""

from __future__ import annotations

import threading

import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.server import serve
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale
from tideover.core.tests.browser import phone_browser


@pytest.mark.browser
def test_a_manager_forces_offline_on_the_phone_and_sees_the_queue(tmp_path, down_url):
    agent = Agent(
        AgentConfig(
            store="S001", hq=down_url, token="t", data=str(tmp_path), manager_pin="2468"
        ).check()
    )
    server = serve(agent, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        agent.accept([sale(), sale()])
        with phone_browser() as page:
            page.goto(server.url + "/")
            assert page.locator("#mode").inner_text() == "Offline"
            assert page.locator("#queue").inner_text() == "2 sales"
            offline = "form[action='/offline'] "  # the PIN is also asked to mark sales dealt with
            page.fill(offline + "input[name=pin]", "1111")
            page.click("text=Force offline")
            assert page.locator("#error").inner_text() == "Wrong PIN"
            page.fill(offline + "input[name=who]", "Pat")
            page.fill(offline + "input[name=pin]", "2468")
            page.click("text=Force offline")
            assert page.locator("#mode").inner_text() == "Offline (forced)"
            assert "forced offline on by Pat" in page.content()
            page.click("text=Send now")
            assert page.locator("#queue").inner_text() == "2 sales"  # forced: nothing sent
    finally:
        server.shutdown()
        server.server_close()
        agent.stop()
