"""Real store agents in the demo's outage: a sample of the affected stores sell through
``tideover agent run`` processes whose link to HQ (served by the production server command) is
cut at the start of the replay; when the scenario's HQ returns, the link is restored and the
agents drain their queues. HQ's console then has these stores going offline, draining and back
online from real heartbeats. The other stores sell through the same agent code inside the
scenario runner (``tideover.scenarios.fleet``).

Hooked into the demo with one call (``real_agents(runner, ...)`` around ``runner.run()``). Other
processes cannot see data inside an open transaction (the demo's tests run in one), so then the
sample is skipped and every store's agent runs in the replay's process.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tideover.agent.harness import database_url, free_port, hq_env, kill, start_agent, start_hq
from tideover.agent.linkproxy import LinkProxy
from tideover.core.models import Store, TokenScope
from tideover.core.services import create_api_token
from tideover.storelink import services

AGENT_ENV = {
    "TIDEOVER_AGENT_HEARTBEAT_SECONDS": "1",
    "TIDEOVER_AGENT_BACKOFF_MAX_SECONDS": "1",
    "TIDEOVER_AGENT_HQ_TIMEOUT_SECONDS": "10",
}


class RealAgents:
    """HQ, a link proxy and one agent process per sampled store, stopped by ``stop()``."""

    def __init__(self, stores: list[Store], folder: Path, log_path: Path):
        self.folder = folder
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.procs = []
        self.ports: dict[str, int] = {}
        self.counts = {"accepted": 0, "duplicate": 0, "refused": 0}
        url = database_url(connection.settings_dict)
        self.hq_port = free_port()
        self.hq = start_hq(
            self.hq_port,
            hq_env(url, str(settings.DATA_DIR), settings.SECRET_KEY),
            workers=1,
            log=self.log,
        )
        self.proxy = LinkProxy(self.hq_port)
        for store in stores:
            _, token = create_api_token(
                name=f"demo agent {store.code}",
                scopes=[
                    TokenScope.SALES_WRITE,
                    TokenScope.HEARTBEATS_WRITE,
                    TokenScope.LOYALTY_READ,
                ],
                store=store,
            )
            port = self.ports[store.code] = free_port()
            self.procs.append(
                start_agent(
                    store=store.code,
                    hq=self.proxy.url,
                    token=token,
                    data=str(folder / store.code),
                    port=port,
                    env=AGENT_ENV,
                    log=self.log,
                )
            )
        self._wait(lambda: all(self._heard(c) for c in self.ports), 15)
        self.returned = False
        self.proxy.cut()  # 14:00: the stores lose HQ

    def _url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.ports[code]}"

    def status(self, code: str) -> dict:
        try:
            return httpx.get(f"{self._url(code)}/api/v1/agent/status", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def _heard(self, code: str) -> bool:
        return services.StoreAgent.objects.filter(store__code=code).exists()

    @staticmethod
    def _wait(condition, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.2)
        return False

    def sell(self, code: str, payloads: list[dict]) -> list[dict]:
        """The store's registers ring these sales up at its agent; its answer to each."""
        results = []
        for begin in range(0, len(payloads), 500):
            body = {"sales": payloads[begin : begin + 500]}
            answer = httpx.post(f"{self._url(code)}/api/v1/sales:batch", json=body, timeout=60)
            answer.raise_for_status()
            for kind in self.counts:
                self.counts[kind] += answer.json()[kind]
            results.extend(answer.json()["results"])
        return results

    def hq_returns(self) -> None:
        """16:00: the link is back; wait until every agent has drained its queue."""
        if not self.returned:
            services.refresh_states()  # the stores were silent for a while: offline at HQ
            self.proxy.restore()
            self.returned = True
        for code in self.ports:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{self._url(code)}/api/v1/agent/sync", timeout=120)
        self._wait(lambda: all(self.status(c).get("queue_depth") == 0 for c in self.ports), 90)
        time.sleep(1.5)  # one more heartbeat each: HQ sees them drained

    def stop(self) -> None:
        for proc in [*self.procs, self.hq]:
            kill(proc, 15)
        self.proxy.close()
        self.log.close()


@contextlib.contextmanager
def real_agents(runner, *, count: int = 3):
    """Route ``count`` of the scenario's affected stores through real agent processes."""
    if count <= 0 or connection.in_atomic_block:
        yield None
        return
    from tideover.scenarios.chain import select_stores  # demo glue: the scenario sits above

    chain = list(Store.objects.select_related("region").order_by("code"))
    offline = {
        store.code
        for failure in runner.scenario.failures
        for store in select_stores(failure.stores, chain)
    }
    stores = [s for s in chain if s.code in offline][:count]
    if not stores:
        yield None
        return
    folder = Path(settings.DATA_DIR) / "demo-agents"
    agents = RealAgents(stores, folder, folder.parent / "demo-agents.log")
    runner.processes = agents
    try:
        yield agents
    finally:
        runner.processes = None
        agents.stop()


def report(console, agents: RealAgents | None) -> None:
    if agents is None:
        return
    console.print(
        f"Store agents: {len(agents.ports)} real agent processes ({', '.join(sorted(agents.ports))})"
        f" took {agents.counts['accepted']:,} sales while cut off from HQ and drained them "
        f"({agents.counts['duplicate']} duplicates, {agents.counts['refused']} refused); "
        "see Stores in the console"
    )
