"""``tideover scenario run FILE`` and ``tideover scenario check FILE``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tideover.scenarios.loader import ScenarioError, load_scenario
from tideover.scenarios.report import print_scorecard
from tideover.scenarios.runner import ScenarioRunner, prepare_chain


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

    def handle(self, *args, action, file, speed, report, **options):
        if speed < 0:
            raise CommandError("--speed is scenario minutes per minute: 0 or more")
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            raise CommandError(str(exc))
        console = Console()
        if action == "check":
            console.print(f"{file}: a valid scenario ({scenario.name}).")
            return
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
            task = progress.add_task(scenario.name, total=None)
            began = time.monotonic()

            def tick(label: str, done: int, total: int) -> None:
                progress.update(task, description=label, completed=done + 1, total=total + 1)
                if speed:
                    wait = began + done * 60 / speed - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)

            card = ScenarioRunner(scenario, tick=tick, source=str(file)).run()
        card["scenario"] = {"name": scenario.name, "file": str(file)}
        print_scorecard(console, card)
        if report:
            Path(report).write_text(json.dumps(card, indent=2, default=str) + "\n")
            console.print(f"Scorecard written to {report}")
