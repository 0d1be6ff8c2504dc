"""The stores' agents during a replay: one real store agent (``tideover.agent.Agent``, its own
SQLite journal, card policy and forwarder) per store, talking to HQ through HTTP in this process
over a link the scenario can cut.

The link is httpx's WSGI transport into HQ's own WSGI application, so every sale, heartbeat and
registration goes through the same API, auth and services as over the network; while a store's
link is down every request fails to connect, exactly as when the store's line is down.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from tideover.agent.config import AgentConfig
from tideover.agent.hq import HQUnavailable
from tideover.agent.service import ACCEPTED, DUPLICATE, Agent
from tideover.core.models import Store, TokenScope
from tideover.core.services import create_api_token

HQ_URL = "http://127.0.0.1"  # the host HQ's settings allow; the transport never opens a socket


class Link(httpx.BaseTransport):
    """One store's line to HQ: HQ's WSGI app in this process, or a connect error while cut."""

    def __init__(self, app):
        self.inner = httpx.WSGITransport(app=app)
        self.up = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("the store's line to HQ is down", request=request)
        return self.inner.handle_request(request)


class _Answer:
    """An agent process's answer to one sale, as it sends it over HTTP."""

    def __init__(self, sale_id: str, result: str, reason: str | None = None, **_more):
        self.sale_id, self.result, self.reason = sale_id, result, reason


@dataclass
class Tally:
    """The registers' own record: what each agent told them, and what HQ answered the agents."""

    accepted: list[str] = field(default_factory=list)
    accepted_offline: list[str] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    settled: Counter = field(default_factory=Counter)
    peak_card_exposure_cents: int = 0


class Fleet:
    """The chain's store agents; each is made (registered with HQ) the first time it is used.

    ``processes`` (optional) are stores whose agent runs as its own ``tideover agent run``
    process behind a link proxy (``tideover.storelink.demo.RealAgents``): their sales go to that
    process over HTTP, and it forwards and heartbeats by itself."""

    def __init__(self, stores: dict[str, Store], data_dir: Path, processes=None):
        self.stores = stores
        self.data_dir = Path(data_dir)
        self.app = get_wsgi_application()
        self.agents: dict[str, Agent] = {}
        self.links: dict[str, Link] = {}
        self.processes = processes
        self.process_codes = set(processes.ports) if processes else set()
        self.tally = Tally()

    def agent(self, code: str) -> Agent:
        if code not in self.agents:
            self.open([code])
        return self.agents[code]

    def open(self, codes) -> None:
        """Make the agents of ``codes`` that are not running yet, and register them with HQ.
        Their journal files (a few synced commits each) are created on a few threads at once;
        tokens and registration need HQ, which answers in this thread."""
        codes = [c for c in codes if c not in self.agents and c not in self.process_codes]
        if not codes:
            return
        configs = []
        for code in codes:
            _, secret = create_api_token(
                name=f"store agent {code} (scenario)",
                scopes=[TokenScope.SALES_WRITE, TokenScope.HEARTBEATS_WRITE],
                store=self.stores[code],
            )
            # One batch in flight: HQ answers in this thread (its database connection, a
            # test's transaction), so the agent must not post from a pool thread.
            config = AgentConfig(
                store=code, hq=HQ_URL, token=secret, data=str(self.data_dir / code), in_flight=1
            ).check()
            configs.append((config, Link(self.app)))
        with ThreadPoolExecutor(max_workers=8) as pool:
            made = list(pool.map(lambda pair: Agent(pair[0], transport=pair[1]), configs))
        for agent, (config, link) in zip(made, configs, strict=True):
            agent.register()
            self.agents[config.store], self.links[config.store] = agent, link

    def heard(self, at: datetime) -> int:
        """This minute's heartbeats: every agent whose line is up is heard from, with the sales
        it still has queued (``storelink.services.record_heard``, one write). A real agent says
        so every few seconds; the replay runs many minutes a second, faster than the agent
        processes' own heartbeats, so theirs are played here too, at the depth they last
        reported."""
        from tideover.storelink.services import record_heard

        depths = {
            self.stores[code].pk: agent.journal.queued
            for code, agent in self.agents.items()
            if self.links[code].up
        }
        if self.processes is not None and self.processes.returned:
            depths.update(dict.fromkeys((self.stores[c].pk for c in self.process_codes), None))
        return record_heard(depths, at)

    def set_link(self, code: str, up: bool) -> bool:
        """Cut or restore the store's line; True when that changed it."""
        if code in self.process_codes:
            if up and not self.processes.returned:
                self.processes.hq_returns()  # their shared proxy was cut at the start
                return True
            return False
        agent = self.agent(code)
        link = self.links[code]
        if link.up == up:
            return False
        link.up = up
        if not up:
            agent.link_failed("the store's line to HQ is down")
        return True

    def ring_up(self, code: str, sales: list[dict]) -> None:
        """The registers send their sales; a card refused offline is paid in cash instead."""
        if code in self.process_codes:
            offline = not self.processes.returned
            answers = [_Answer(**a) for a in self.processes.sell(code, sales)]
        else:
            offline = not self.links[code].up
            answers = self.agent(code).accept(sales)
        again = []
        for sale, answer in zip(sales, answers, strict=True):
            if answer.result in (ACCEPTED, DUPLICATE):
                self.tally.accepted.append(answer.sale_id)
                if offline:
                    self.tally.accepted_offline.append(answer.sale_id)
            else:
                self.tally.refused[(answer.reason or "refused").split(" (")[0]] += 1
                if any(t["kind"] == "card_offline" for t in sale["tenders"]):
                    cash = dict(sale, sale_id=sale["sale_id"] + "-C")
                    cash["tenders"] = [
                        {"kind": "cash", "amount_cents": t["amount_cents"]} for t in sale["tenders"]
                    ]
                    again.append(cash)
        if again:
            self.ring_up(code, again)

    def forward(self, code: str) -> None:
        """The agent's forwarder sends what it holds, oldest first, while the line is up."""
        if code in self.process_codes:
            return  # its own forwarder thread does this
        agent = self.agent(code)
        if not self.links[code].up or not agent.journal.queued:
            return
        try:
            counts = agent.forwarder.drain()
            agent.link_ok()
        except HQUnavailable as exc:
            agent.link_failed(str(exc))
            return
        for key, value in counts.items():
            if key != "sent":
                self.tally.settled[key] += value

    def heartbeat(self, code: str) -> None:
        if code not in self.process_codes:  # a process sends its own every few seconds
            self.agent(code).heartbeat()

    def measure_exposure(self) -> None:
        """Card money held unauthorised across the chain now, from the agents' journals."""
        held = sum(
            self.processes.status(code).get("card_exposure_cents", 0) for code in self.process_codes
        )
        for agent in self.agents.values():
            with agent.journal.lock:
                held += agent.journal.exposure().total_cents
        self.tally.peak_card_exposure_cents = max(self.tally.peak_card_exposure_cents, held)

    def __enter__(self) -> Fleet:
        # HQ runs in this thread: without this, every agent request would end by closing the
        # replay's own database connection (Django closes it after each request), and reopening
        # SQLite in WAL mode costs a checkpoint each time. Django's test client does the same.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    def close(self) -> None:
        def close(agent: Agent) -> None:
            agent.hq.close()
            agent.journal.close()  # a checkpoint with its fsync: on a few threads at once

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(close, self.agents.values()))
