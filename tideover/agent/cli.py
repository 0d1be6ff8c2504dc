"""``tideover agent run|status|sync``: the store agent's commands (no Django in this process)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

import httpx

from tideover.agent.config import ConfigError, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tideover agent",
        description="The store agent: registers send it their sales; it keeps them safe and "
        "forwards them to HQ, and keeps the store selling when HQ is out of reach.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="Run the agent (HTTP service for registers + forwarder)")
    run.add_argument("--store", help="This store's code, e.g. S0042")
    run.add_argument("--hq", help="HQ's URL, e.g. https://hq.example.com")
    run.add_argument("--token", help="The store token from 'tideover createtoken --store ...'")
    run.add_argument("--data", help="Folder for the agent's database (default ./agent-data)")
    run.add_argument("--listen", help="HOST:PORT for registers (default 127.0.0.1:8700)")
    run.add_argument("--config", help="TOML file with these settings (docs/agent.md)")
    run.add_argument("--batch-size", type=int, dest="batch_size")
    run.add_argument("--heartbeat-seconds", type=float, dest="heartbeat_seconds")
    for name, text in (
        ("status", "Show mode, queue, last sync and the sales HQ refused"),
        ("sync", "Send queued sales to HQ now instead of waiting for the next retry"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--agent", default="", help="The agent's URL (default from --listen)")
        cmd.add_argument("--listen", help="HOST:PORT the agent listens on")
        cmd.add_argument("--config", help="TOML file with the agent's settings")
        cmd.add_argument("--json", action="store_true", help="Print JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("command", "agent", "json")}
    try:
        config = load(options)
    except ConfigError as exc:
        print(f"tideover agent: {exc}", file=sys.stderr)
        return 2
    if args.command == "run":
        return _run(config)
    url = args.agent or "http://{}:{}".format(*config.host_port)
    return _remote(args.command, url.rstrip("/"), as_json=args.json, key=config.register_key)


def _run(config) -> int:
    from tideover.agent.server import serve
    from tideover.agent.service import Agent

    try:
        config.check()
    except ConfigError as exc:
        print(f"tideover agent: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request buries the rest
    agent = Agent(config)
    server = serve(agent, *config.host_port)
    agent.start()
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Store {config.store} agent on {server.url} (status page: {server.url}/)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        agent.stop()
    return 0


def _remote(command: str, url: str, *, as_json: bool, key: str = "") -> int:
    try:
        if command == "sync":  # the register key, when the agent has one, lets it send now
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            response = httpx.post(
                f"{url}/api/v1/agent/sync", headers=headers, timeout=120, trust_env=False
            )
        else:
            response = httpx.get(f"{url}/api/v1/agent/status", timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        print(f"tideover agent: no agent answers at {url} ({type(exc).__name__})", file=sys.stderr)
        return 1
    data = response.json()
    if as_json:
        print(json.dumps(data, indent=2))
    elif command == "sync":
        print(f"{data.get('detail')}: {data.get('sent', 0)} sent, {data['queue_depth']} waiting")
    else:
        _print_status(data)
    return 0 if response.status_code == 200 else 1


def _print_status(s: dict) -> None:
    counts = s["problems"]["counts"]
    print(f"Store {s['store']}  mode: {s['mode']}  queue: {s['queue_depth']} sales")
    print(f"  oldest unsent: {s['oldest_unsent_at'] or 'none'}")
    print(f"  last sync:     {s['last_sync_at'] or 'not yet'}")
    print(f"  offline since: {s['offline_since'] or '-'}  {s['link_error']}")
    if s.get("hq_refusal"):
        print(f"  HQ refuses what the agent sends: {s['hq_refusal']}")
    print(f"  card sales unsent: {s['card_count']} for ${s['card_exposure_cents'] / 100:,.2f}")
    print(f"  refused by HQ: {counts.get('rejected', 0)}  conflicts: {counts.get('conflict', 0)}")
    print(f"  quarantined (HQ fails on them, tried again now and then): {s['quarantined']}")
    for p in s["problems"]["sales"][:20]:
        print(f"    {p['sale_id']}  {p['state']}: {p['reason']}")
