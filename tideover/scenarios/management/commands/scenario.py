"""``tideover scenario run FILE`` and ``tideover scenario check FILE``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tideover.demo.sinks import local_delivery
from tideover.scenarios.chain import prepare_chain
from tideover.scenarios.loader import ScenarioError, load_scenario
from tideover.scenarios.report import print_scorecard
from tideover.scenarios.runner import ScenarioRunner


class Command(BaseCommand):
    help = (
        "Replay an outage described in a scenario file through the real parts and print its "
        "scorecard ('run'), or only check the file ('check'). The format: docs/scenarios.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run", "check"])
        parser.add_argument(
            "file", help="A scenario file (YAML), e.g. scenarios/saturday-registers.yaml"
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=0,
            help="Scenario minutes per wall-clock minute (e.g. 60: an hour a minute); 0 (default): as fast as it goes",
        )
        parser.add_argument("--report", help="Also write the scorecard as JSON to this file")
        parser.add_argument(
            "--rehearsal-database",
            action="store_true",
            help="Allow a scenario with chain.use_current: true. The replay writes sales, "
            "points, sign-ups, offers and messages into this database: run it on a copy "
            "(a staging restore), never on the live one",
        )

    def handle(self, *args, action, file, speed, report, rehearsal_database=False, **options):
        if speed < 0:
            raise CommandError("--speed is scenario minutes per minute: 0 or more")
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            raise CommandError(str(exc))
        console = Console()
        if action == "check":
            # The file's name and path are the user's text, not rich markup.
            console.print(escape(f"{file}: a valid scenario ({scenario.name})."))
            return
        if scenario.chain.use_current and not rehearsal_database:
            raise CommandError(
                f"{file} replays on the current database (chain.use_current: true): its sales, "
                "points, sign-ups and goodwill offers would land on the members and stores "
                "stored here. Run it on a copy of the database and pass --rehearsal-database."
            )
        call_command("migrate", interactive=False, verbosity=0)
        with console.status("Preparing the chain..."):
            counts = prepare_chain(scenario)
        console.print(f"Chain: {counts['stores']:,} stores, {counts['members']:,} members")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(escape(scenario.name), total=None)
            began = time.monotonic()

            def tick(label: str, done: int, total: int) -> None:
                progress.update(task, description=label, completed=done + 1, total=total + 1)
                if speed:
                    wait = began + done * 60 / speed - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)

            # E-mail and SMS of the replay go to local sinks, never to a real person.
            with local_delivery(settings.DATA_DIR):
                card = ScenarioRunner(scenario, tick=tick, source=str(file), deliver=True).run()
        card["scenario"] = {"name": scenario.name, "file": str(file)}
        print_scorecard(console, card)
        console.print(
            "E-mail and SMS went to the local sinks only (e-mails in "
            f"{escape(str(settings.DATA_DIR / 'outbox-mail'))}); webhooks and chat to their subscribers' own "
            "addresses, which are the local receiver's for a seeded chain"
        )
        if report:
            Path(report).write_text(json.dumps(card, indent=2, default=str) + "\n")
            console.print(escape(f"Scorecard written to {report}"))
