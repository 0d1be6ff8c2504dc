"""The ``tideover`` command: a short list of what a retailer's IT team runs.

Each command is a Django management command living in the app it belongs to; this front door
names them, explains them, and passes arguments through (``tideover CMD --help`` for details).
"""

from __future__ import annotations

import os
import sys

# name -> (management command, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": (
        "up",
        "Migrate, make the first admin login, then serve the console, status page and worker",
    ),
    "demo": (
        "demo",
        "Seed the demo chain (200 stores, 50,000 members) and replay the outage scenario",
    ),
    "scenario": (
        "scenario",
        "Replay an outage from a scenario file and print its scorecard (run FILE, check FILE)",
    ),
    "worker": (
        "worker",
        "Run background jobs (database or RQ backend); SIGTERM finishes and stops cleanly",
    ),
    "web": (
        "web",
        "Serve the console, status page and API only (several machines: docs/deploy.md)",
    ),
    "export-status": (
        "export_status",
        "Write the status page, JSON and feeds as static files into DIR",
    ),
    "createtoken": ("createtoken", "Make a scoped API token (shown once; stored hashed)"),
    "createstaff": (
        "createstaff",
        "Make a staff login with a role, e.g. --role incident_commander",
    ),
    "agent": ("", "The store agent: 'tideover agent run|status|sync' (runs at each store)"),
    "simulate": ("", "Drive store agents with realistic sales: 'tideover simulate registers'"),
    "goodwill": (
        "goodwill_send",
        "Send an incident's goodwill offers (or carry on after a crash), with a progress bar",
    ),
    "detect": (
        "detect",
        "Signals: 'load FILE', 'run', 'evaluate --nab DIR' (the Numenta Anomaly Benchmark)",
    ),
    "migrate": ("migrate", "Create or update the database tables"),
    "manage": ("", "Any Django management command, e.g. 'tideover manage shell'"),
}

# Commands that are not Django management commands: module with main(argv).
STANDALONE = {"agent": "tideover.agent.cli", "simulate": "tideover.agent.simulate"}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: tideover COMMAND [ARGS...]",
        "",
        "Tideover keeps stores selling and customers informed when the retailer's technology fails.",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += [
        "",
        "Run 'tideover COMMAND --help' for a command's options.",
        "Settings come from the environment (DATABASE_URL, SECRET_KEY, ...): see docs/configuration.md.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"tideover: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if name in STANDALONE:
        # The store agent runs on a store's box without HQ's Django: never set it up here.
        import importlib

        return importlib.import_module(STANDALONE[name]).main(rest) or 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    from tideover.datadir import prepare

    prepare()  # the data folder and its secret key, before any process reads the settings
    from django.core.management import ManagementUtility

    command = COMMANDS[name][0]
    if name == "manage":
        ManagementUtility(["tideover manage", *rest]).execute()
        return 0
    import django

    django.setup()
    # argv[0] and argv[1] make the help's "usage: tideover demo ...", as the user typed it.
    ManagementUtility(["tideover", command]).fetch_command(command).run_from_argv(
        ["tideover", name, *rest]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
