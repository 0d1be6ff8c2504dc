"""Status page under an outage's traffic: Tideover (served as `tideover up` serves it) against
nginx serving the static export of the same page, in the same run, on loopback.

    .venv/bin/python bench/statuspage.py [--duration 10] [--connections 256] [--rounds 3]
    .venv/bin/python bench/statuspage.py --writes [--rounds 3]

Measures requests/s and p99 latency with wrk for the status page ("/") and summary.json on both
servers, and prints the ratio. Design target: Tideover >= 30% of nginx's requests/s with
p99 < 100 ms at 256 connections. Everything binds 127.0.0.1 and is stopped at the end.

``--writes``: the page's p99 without writes and with a commander posting a public update every
second during the load, through the REST API of the same server (a bearer token, as an
integration would), with a ``tideover worker`` running the publish tasks as in production.
Rounds alternate between the two. Target: the p99 with writes at most 20% above without.
``--api-server`` posts the updates to a second server process on the same database and cache
(the console/API pool of a deployment), so the page's processes only re-render.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from tideover.core.serving import DEFAULT_THREADS, default_web_workers, web_server_argv

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def seed(export_dir: Path) -> tuple[int, str]:
    """A page in the middle of an outage: 8 components, an open SEV1 with 8 updates, a
    maintenance window and 20 resolved incidents over the last weeks."""
    import django

    from tideover.datadir import prepare

    prepare()  # the data folder, as the tideover command makes it
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", interactive=False, verbosity=0)
    from tideover.core.models import Component, ComponentStatus
    from tideover.incidents import services
    from tideover.statuspage.services import export_status

    services.ensure_default_severities()
    from tideover.incidents.models import Severity

    sev = {s.name: s for s in Severity.objects.all()}
    names = [
        "In-store checkout",
        "Card payments",
        "Online checkout",
        "Loyalty & rewards",
        "Mobile app",
        "Gift cards",
        "Curbside pickup",
        "Customer service phone line",
    ]
    components = [
        Component.objects.create(name=n, slug=f"c{i}", position=i, description=f"{n} in stores")
        for i, n in enumerate(names)
    ]
    now = timezone.now()
    # Components that have existed for the whole 90 days, so every history bar has data.
    Component.objects.update(created_at=now - timedelta(days=120))
    components = list(Component.objects.order_by("position"))
    for n in range(20):
        start = now - timedelta(days=3 * n + 2, hours=n)
        past = services.declare_incident(
            title=f"Past incident {n}: slow card authorisations",
            severity=sev["SEV3"],
            # Fresh from the database: the service compares against the object's status.
            components={
                Component.objects.get(pk=components[n % 8].pk): ComponentStatus.DEGRADED_PERFORMANCE
            },
            message="We are looking into slow card authorisations.",
            at=start,
        )
        services.resolve_incident(past, "Resolved.", at=start + timedelta(minutes=40 + n))
    live = services.declare_incident(
        title="Registers cannot reach HQ",
        severity=sev["SEV1"],
        components={components[0]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        message="Registers in many stores cannot reach HQ. Stores keep selling offline.",
        at=now - timedelta(hours=2),
    )
    for k in range(7):
        services.post_public_update(
            live,
            f"Update {k + 1}: stores are selling offline; card payments up to the offline limit. "
            "We will post again within 15 minutes.",
            at=now - timedelta(hours=2) + timedelta(minutes=15 * (k + 1)),
        )
    services.schedule_maintenance(
        title="Loyalty database upgrade",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=2),
        components=[components[3]],
        message="Points post a few minutes late during the upgrade.",
    )
    export_status(export_dir)
    from tideover.core.models import TokenScope
    from tideover.core.services import create_api_token

    _, secret = create_api_token(name="bench commander", scopes=[TokenScope.INCIDENTS_WRITE])
    return live.pk, secret


NGINX_CONF = """
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    # Logged like Tideover's web server (tideover/core/serving.py): errors only, no access log.
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        gzip_static on;
        # The headers Tideover sends with the same pages, as docs/deploy.md configures nginx.
        add_header Content-Security-Policy "{policy}" always;
        add_header X-Content-Type-Options nosniff always;
        add_header X-Frame-Options DENY always;
        add_header Referrer-Policy same-origin always;
    }}
}}
"""


def start_nginx(tmp: Path, root: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = tmp / "nginx.conf"
    from csp.utils import build_policy  # Django is set up by now (seed)

    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root, policy=build_policy()))
    user = "" if os.geteuid() != 0 else "user root;\n"
    if user:
        conf.write_text(user + conf.read_text())
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-e", str(tmp / "nginx-error.log")])
    wait_for(f"http://127.0.0.1:{port}/index.html")
    return proc, port


CEILING_APP = """
# The least a WSGI app can do: the same bytes from a dict. Shows what the web server itself allows.
from pathlib import Path
ROOT = Path({root!r})
DOCS = {{"/": (ROOT / "index.html").read_bytes(),
        "/api/v2/summary.json": (ROOT / "api/v2/summary.json").read_bytes()}}
def app(environ, start_response):
    body = DOCS[environ["PATH_INFO"]]
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
"""


def start_web(
    env: dict, workers: int, app: str = "tideover.wsgi:application", working_dir: str = ""
) -> tuple[subprocess.Popen, int]:
    """The same command line as ``tideover up`` (tideover/core/serving.py)."""
    port = free_port()
    argv = web_server_argv(f"127.0.0.1:{port}", workers=workers, app=app, working_dir=working_dir)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    wait_for(f"http://127.0.0.1:{port}/" + ("healthz" if app.startswith("tideover") else ""))
    return proc, port


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, connections: int, duration: int, threads: int, gzip: bool) -> dict:
    headers = ["-H", "Accept-Encoding: gzip"] if gzip else []
    out = subprocess.run(
        [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99_ms": float(value) * _UNITS[unit],
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=3, help="runs per target; medians shown")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_web_workers(),
        help="web server processes (as tideover up)",
    )
    parser.add_argument("--redis", default="", help="REDIS_URL for the cache (default: file)")
    parser.add_argument(
        "--gzip", action="store_true", help="clients accept gzip (nginx: gzip_static on)"
    )
    parser.add_argument(
        "--writes",
        action="store_true",
        help="the page's p99 without and with a public update every second (target: +20%% at most)",
    )
    parser.add_argument(
        "--settle", type=float, default=20, help="--writes: seconds for the worker to settle"
    )
    parser.add_argument(
        "--api-server",
        action="store_true",
        help="--writes: post the updates to a second server (an API/console pool) on the same "
        "database and cache, not to the one serving the page",
    )
    args = parser.parse_args()
    for tool in (NGINX, WRK):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y nginx wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tideover-bench-status-"))
    tmp.chmod(0o755)  # nginx workers must read the export
    export_dir = tmp / "export"
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tideover.settings",
        TIDEOVER_DATA_DIR=str(tmp / "data"),
        STATUS_EXPORT_DIR=str(export_dir),
        REDIS_URL=args.redis,
    )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    procs: list[subprocess.Popen] = []
    try:
        incident, secret = seed(export_dir)
        if args.writes:
            web, app_port = start_web(env, args.workers)
            procs.append(web)
            from statuspage_writes import bench_writes

            def load() -> dict:
                return wrk(
                    f"http://127.0.0.1:{app_port}/",
                    connections=args.connections,
                    duration=args.duration,
                    threads=args.threads,
                    gzip=args.gzip,
                )

            write_port = app_port
            if args.api_server:
                api, write_port = start_web(env, 1)
                procs.append(api)
            return bench_writes(args, env, write_port, incident, secret, load)
        nginx, nginx_port = start_nginx(tmp, export_dir)
        procs.append(nginx)
        web, app_port = start_web(env, args.workers)
        procs.append(web)
        (tmp / "ceiling_app.py").write_text(CEILING_APP.format(root=str(export_dir)))
        ceiling, ceiling_port = start_web(env, args.workers, "ceiling_app:app", str(tmp))
        procs.append(ceiling)
        servers = {"nginx": nginx_port, "tideover": app_port, "server-min": ceiling_port}
        targets = [("status page", "/"), ("summary.json", "/api/v2/summary.json")]
        for _, path in targets:
            for port in servers.values():
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
                    r.read()  # warm: render once, fill caches
        results: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.rounds):
            for name, path in targets:
                for server, port in servers.items():
                    run = wrk(
                        f"http://127.0.0.1:{port}{path}",
                        connections=args.connections,
                        duration=args.duration,
                        threads=args.threads,
                        gzip=args.gzip,
                    )
                    results.setdefault((name, server), []).append(run)
        print(
            f"\nStatus page bench: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"{args.rounds} rounds (medians); granian {args.workers} workers x {DEFAULT_THREADS} threads "
            f"(as `tideover up`), cache: {'redis' if args.redis else 'file'}; nginx static export"
            f"; server-min: the same server serving the same bytes from a dict"
            f"{'; Accept-Encoding: gzip' if args.gzip else ''}"
        )
        print(f"{'document':<14}{'server':<14}{'req/s':>10}{'p99 ms':>9}{'errors':>9}")
        ok = True
        for name, _ in targets:
            medians = {}
            for server in servers:
                runs = results[(name, server)]
                rps = statistics.median(r["rps"] for r in runs)
                p99 = statistics.median(r["p99_ms"] for r in runs)
                errors = sum(r["non_2xx"] for r in runs)
                medians[server] = (rps, p99)
                print(f"{name:<14}{server:<14}{rps:>10.0f}{p99:>9.1f}{errors:>9}")
                if any(r["socket_errors"] for r in runs):
                    print(f"  socket errors: {[r['socket_errors'] for r in runs]}")
            ratio = medians["tideover"][0] / medians["nginx"][0]
            of_server = medians["tideover"][0] / medians["server-min"][0]
            p99 = medians["tideover"][1]
            meets = ratio >= 0.30 and p99 < 100
            ok &= meets
            print(
                f"{name:<14}tideover/nginx = {ratio:.1%}, tideover/server-min = "
                f"{of_server:.1%}, p99 {p99:.1f} ms; target >= 30% of nginx and p99 < 100 ms: "
                f"{'met' if meets else 'NOT met'}"
            )
        return 0 if ok else 1
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
