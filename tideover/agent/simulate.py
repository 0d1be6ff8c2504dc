"""``tideover simulate registers``: registers ringing up realistic sales against store agents.

Each register is a thread that sends one sale at a time, at random intervals around the asked
rate: baskets of 1-6 items from a small catalogue, loyalty members on most sales, cash or card
(``card_offline`` while the agent says it is offline, as a terminal that cannot authorise would),
and now and then a return of one of its earlier sales. Like a real register it sends a sale
again, with the same id, until the agent answers, so an agent restarted mid-sale loses nothing.

``--accepted-log FILE`` writes one JSON line per sale the agent answered ``accepted`` or
``duplicate`` (the sales a register was told are safe): the fault-injection test compares HQ
against it. The summary (counts, refusals by reason, latency) is printed as JSON at the end.
No Django here: it runs wherever the registers would.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

CATALOG = [  # sku, unit price in cents
    ("MILK-1G", 389),
    ("BREAD-WW", 429),
    ("EGGS-12", 499),
    ("COFFEE-12OZ", 1099),
    ("APPLES-3LB", 599),
    ("TOWELS-6", 1299),
    ("DETERGENT", 1499),
    ("CHICKEN-2LB", 899),
    ("RICE-5LB", 749),
    ("HEADPHONES", 2999),
    ("TSHIRT", 1499),
    ("BATTERIES-8", 1199),
    ("CEREAL", 479),
    ("JUICE-64", 459),
    ("BLENDER", 8999),
]


class Register(threading.Thread):
    def __init__(self, sim: Simulator, code: str, rng: random.Random):
        super().__init__(name=f"register-{code}", daemon=True)
        self.sim, self.code, self.rng = sim, code, rng
        self.number = 0
        self.history: list[dict] = []  # this register's accepted sales, for returns
        self.agent_online = True
        # TCP_NODELAY, as a register should: a request's body must not wait for an ACK.
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.client = httpx.Client(
            base_url=sim.agent_url, timeout=10, trust_env=False, transport=transport
        )

    def make_sale(self) -> dict:
        self.number += 1
        sim, rng = self.sim, self.rng
        sale_id = f"{sim.store}-{self.code}-{sim.run_id}-{self.number:06d}"
        if self.history and rng.random() < sim.return_share:
            # Each sale is returned at most once, one unit: a return HQ would refuse as more
            # than was bought is not what registers do.
            original = self.history.pop(rng.randrange(len(self.history)))
            line = dict(rng.choice(original["lines"]))
            line["quantity"] = 1
            tender = original["tenders"][0]["kind"]
            return {
                "sale_id": sale_id,
                "store": sim.store,
                "register": self.code,
                "occurred_at": sim.clock().isoformat(),
                "kind": "return",
                "original_sale_id": original["sale_id"],
                "member_id": original.get("member_id"),
                "lines": [line],
                "tenders": [
                    {
                        "kind": "cash" if tender == "card_offline" else tender,
                        "amount_cents": line["unit_price_cents"],
                    }
                ],
            }
        lines = [
            {"sku": sku, "quantity": rng.randint(1, 3), "unit_price_cents": price}
            for sku, price in rng.sample(CATALOG, rng.randint(1, 6))
        ]
        total = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
        card = rng.random() < sim.card_share
        kind = ("card" if self.agent_online else "card_offline") if card else "cash"
        sale = {
            "sale_id": sale_id,
            "store": sim.store,
            "register": self.code,
            "occurred_at": sim.clock().isoformat(),
            "lines": lines,
            "tenders": [{"kind": kind, "amount_cents": total}],
        }
        if sim.members and rng.random() < sim.member_share:
            sale["member_id"] = f"M{rng.randint(1, sim.members):07d}"
        return sale

    def send(self, sale: dict) -> dict | None:
        """Send until the agent answers (or the simulation is over); None if it never did."""
        while True:
            started = time.perf_counter()
            try:
                response = self.client.post("/api/v1/sales", json=sale)
                if response.status_code == 200:
                    self.sim.latencies.append(time.perf_counter() - started)
                    return response.json()
                self.sim.count(f"http {response.status_code}")
                return None
            except httpx.HTTPError:
                self.sim.count("retried")
            if self.sim.hard_stop.is_set():
                return None
            time.sleep(0.2)

    def run(self) -> None:
        sim, rng = self.sim, self.rng
        rate = sim.rate / sim.registers
        next_at = time.monotonic()
        while not sim.stop.is_set():
            next_at += rng.expovariate(rate) if rate > 0 else 1.0
            delay = next_at - time.monotonic()
            if delay > 0 and sim.stop.wait(delay):
                break
            sale = self.make_sale()
            answer = self.send(sale)
            if answer is None:
                sim.unanswered(sale)
                continue
            self.agent_online = bool(answer.get("online", True))
            sim.answered(sale, answer)
            if answer["result"] in ("accepted", "duplicate") and sale.get("kind", "sale") == "sale":
                self.history.append(sale)
                del self.history[:-50]
        self.client.close()


class Simulator:
    def __init__(
        self,
        agent_url: str,
        *,
        store: str,
        rate: float = 5.0,
        registers: int = 4,
        members: int = 50_000,
        member_share: float = 0.6,
        card_share: float = 0.6,
        return_share: float = 0.03,
        seed: int | None = None,
        accepted_log: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.agent_url = agent_url.rstrip("/")
        self.store, self.rate, self.registers = store, rate, max(1, registers)
        self.members, self.member_share = members, member_share
        self.card_share, self.return_share = card_share, return_share
        self.seed = seed if seed is not None else random.randrange(2**32)
        self.run_id = uuid.uuid4().hex[:6]
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stop, self.hard_stop = threading.Event(), threading.Event()
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.log = open(accepted_log, "a") if accepted_log else None  # noqa: SIM115
        self.accepted_ids: list[str] = []

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def answered(self, sale: dict, answer: dict) -> None:
        with self.lock:
            self.counts[answer["result"]] += 1
            if answer["result"] == "refused":
                self.reasons[(answer.get("reason") or "")[:80]] += 1
                return
            self.accepted_ids.append(sale["sale_id"])
            if self.log:
                self.log.write(json.dumps({"sale_id": sale["sale_id"], "sale": sale}) + "\n")
                self.log.flush()

    def unanswered(self, sale: dict) -> None:
        with self.lock:
            self.counts["unanswered"] += 1
            if self.log:
                self.log.write(json.dumps({"sale_id": sale["sale_id"], "unanswered": True}) + "\n")
                self.log.flush()

    def run(self, duration: float, *, grace: float = 30.0) -> dict:
        """Ring up sales for ``duration`` seconds; wait up to ``grace`` for the last answers."""
        master = random.Random(self.seed)
        registers = [
            Register(self, f"R{n + 1}", random.Random(master.random()))
            for n in range(self.registers)
        ]
        started = time.monotonic()
        for register in registers:
            register.start()
        self.stop.wait(duration)
        self.stop.set()
        deadline = time.monotonic() + grace
        for register in registers:
            register.join(max(0.1, deadline - time.monotonic()))
        self.hard_stop.set()
        for register in registers:
            register.join(15)
        if self.log:
            self.log.close()
        return self.summary(time.monotonic() - started)

    def summary(self, elapsed: float) -> dict:
        latencies = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(latencies[int(p * (len(latencies) - 1))] * 1000, 1) if latencies else None

        return {
            "store": self.store,
            "seed": self.seed,
            "seconds": round(elapsed, 1),
            "counts": dict(self.counts),
            "refusals": dict(self.reasons),
            "sales_per_second": round(
                sum(self.counts[k] for k in ("accepted", "duplicate", "refused"))
                / max(elapsed, 1e-9),
                1,
            ),
            "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tideover simulate",
        description="Drive store agents with realistic register traffic (tests, benchmarks, demo).",
    )
    sub = parser.add_subparsers(dest="what", required=True)
    regs = sub.add_parser("registers", help="Registers selling against one agent")
    regs.add_argument("--agent", required=True, help="The agent's URL, e.g. http://127.0.0.1:8700")
    regs.add_argument("--store", required=True, help="The agent's store code")
    regs.add_argument("--rate", type=float, default=5.0, help="Sales per second, all registers")
    regs.add_argument("--duration", type=float, default=60.0, help="Seconds to sell")
    regs.add_argument("--registers", type=int, default=4)
    regs.add_argument("--members", type=int, default=50_000, help="Loyalty ids M0000001.. to use")
    regs.add_argument("--member-share", type=float, default=0.6)
    regs.add_argument("--card-share", type=float, default=0.6)
    regs.add_argument("--return-share", type=float, default=0.03)
    regs.add_argument("--seed", type=int)
    regs.add_argument("--accepted-log", help="Append each accepted sale here (JSON lines)")
    args = parser.parse_args(argv)
    sim = Simulator(
        args.agent,
        store=args.store,
        rate=args.rate,
        registers=args.registers,
        members=args.members,
        member_share=args.member_share,
        card_share=args.card_share,
        return_share=args.return_share,
        seed=args.seed,
        accepted_log=args.accepted_log,
    )
    print(json.dumps(sim.run(args.duration)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
