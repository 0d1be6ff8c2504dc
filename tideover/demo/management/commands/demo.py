import time
from collections import Counter

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tideover.core.management.commands.up import ensure_first_admin
from tideover.core.management.commands.up import serve as run_server
from tideover.core.models import Store
from tideover.demo import scenario, seed
from tideover.demo.sinks import local_delivery
from tideover.detect import replay as detect_replay
from tideover.loyalty.demo import seed_members
from tideover.notifications import demo as notify_demo
from tideover.notifications.models import OutboxMessage, Subscriber
from tideover.notifications.outbox import drain
from tideover.scenarios.laps import Laps
from tideover.scenarios.report import print_scorecard
from tideover.scenarios.runner import ScenarioRunner
from tideover.scenarios.scorecard import refresh_scorecard
from tideover.statuspage.services import render_and_export as publish_status_now
from tideover.storelink import demo as storelink_demo


class Command(BaseCommand):
    help = (
        "Seed the demo chain (4 regions, 200 stores, 50,000 members, staff per role, status "
        "subscribers on every channel) and replay the Saturday outage scenario at its own clock. "
        "Messages go through the outbox to a local SMTP server and webhook receiver (see "
        "DATA_DIR/outbox-mail and DATA_DIR/webhooks.log); --serve then serves everything."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--serve", action="store_true", help="Serve console and status page afterwards"
        )
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument(
            "--stores", type=int, default=seed.STORE_COUNT, help="Stores in the chain"
        )
        parser.add_argument("--members", type=int, default=50_000, help="Loyalty members")
        parser.add_argument(
            "--real-agents",
            type=int,
            default=3,
            help="Affected stores whose sales go through real store agent processes",
        )
        parser.add_argument(
            "--subscribers",
            type=int,
            default=300,
            help="E-mail subscribers (SMS and webhooks in proportion)",
        )

    def handle(self, *args, serve, bind, stores, members, subscribers, **options):
        self.real_agents = options.get("real_agents", 3)
        console = Console()
        started = time.monotonic()
        self.laps = Laps()
        call_command("migrate", interactive=False, verbosity=0)
        self.laps.lap("migrate")
        with local_delivery(settings.DATA_DIR):
            self._run(console, started, stores, members, subscribers, serve, bind)

    def _run(self, console, started, stores, members, subscribers, serve, bind):
        self._seed(console, stores, members, subscribers)
        self.laps.lap("seed")
        card = self._replay(console, members)
        self.laps.lap("replay")
        self._deliver(console)
        if card is not None:  # after delivery, so the goodwill messages count as sent
            print_scorecard(console, refresh_scorecard(card))
        # The export a worker would write after the replay's changes.
        publish_status_now(export_now=True)
        self.laps.lap("deliver and publish")
        call_command("collectstatic", interactive=False, verbosity=0)
        ensure_first_admin(self.stdout)
        self.laps.lap("static files and admin")
        console.print(f"Done in {time.monotonic() - started:.1f} s: {self.laps}.")
        console.print(
            f"Demo staff logins (password in {settings.DATA_DIR / 'demo-staff-password.txt'}): "
            + ", ".join(name for name, _, _ in seed.DEMO_STAFF)
        )
        console.print(
            f"Messages sent: e-mails in {settings.DATA_DIR / 'outbox-mail'}, webhooks in "
            f"{settings.DATA_DIR / 'webhooks.log'}"
        )
        if serve:
            run_server(self.stdout, bind=bind)

    def _seed(self, console, stores, members, subscribers):
        with console.status("Seeding the demo chain..."):
            counts = seed.seed_all(stores)
        console.print(f"Chain: {counts['stores']} stores, {counts['registers']} registers")
        with console.status(f"Enrolling {members:,} loyalty members..."):
            enrolled = seed_members(members, list(Store.objects.all()))
        console.print(f"Loyalty: {enrolled['members']:,} members")
        history = scenario.seed_history()
        if history:
            console.print(f"History: {history} earlier incidents and maintenance windows")
        if not Subscriber.objects.filter(source="demo").exists():
            wanted = {
                "email": subscribers,
                "sms": max(1, subscribers // 6),
                "webhook": max(1, subscribers // 60),
            }
            notify_demo.seed_subscribers(wanted)
            notify_demo.seed_staff_channels()
        by_channel = Counter(
            Subscriber.objects.filter(state="active").values_list("channel", flat=True)
        )
        console.print(
            "Status subscribers: "
            + ", ".join(f"{n:,} {ch}" for ch, n in sorted(by_channel.items()))
        )

    def _replay(self, console, members):
        if scenario.already_replayed():
            console.print("The outage scenario was replayed before; showing it as it is.")
            return None
        day = scenario.saturday()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Replaying the outage", total=None)

            def tick(label: str, done: int, total: int) -> None:
                progress.update(task, description=label, completed=done + 1, total=total + 1)

            runner = ScenarioRunner(
                day, tick=tick, source=str(scenario.saturday_file()), deliver=True
            )
            with storelink_demo.real_agents(runner, count=self.real_agents) as agents:
                self.laps.lap("real agents started")
                card = runner.run()
        storelink_demo.report(console, agents)
        console.print(f"Replay: {runner.laps}.")
        console.print(detect_replay.summary())
        answers = card["api_answers"]
        console.print(
            f"Sales through the store agents: {answers.get('posted', 0):,} posted, "
            f"{answers.get('conflict', 0)} conflicts, {answers.get('rejected', 0)} rejected"
        )
        return card

    def _deliver(self, console):
        waiting = OutboxMessage.objects.filter(state="queued").count()
        with console.status(f"Delivering {waiting:,} queued messages to the local sinks..."):
            # What the worker does, here in the foreground; rate-limited SMS come due over time.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if drain():
                    continue
                if not OutboxMessage.objects.filter(state="queued").exists():
                    break
                time.sleep(0.2)
        states = Counter(OutboxMessage.objects.values_list("channel", "state"))
        console.print(
            "Outbox: "
            + ", ".join(
                f"{channel} {state} {n:,}" for (channel, state), n in sorted(states.items())
            )
        )
