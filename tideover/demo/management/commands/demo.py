import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tideover.core.management.commands.up import ensure_first_admin
from tideover.core.management.commands.up import serve as run_server
from tideover.core.models import Store
from tideover.demo import sales as demo_sales
from tideover.demo import scenario, seed
from tideover.loyalty.demo import seed_members


class Command(BaseCommand):
    help = (
        "Seed the demo chain (4 regions, 200 stores, components, staff per role) and replay the "
        "Saturday outage scenario at its own clock; --serve then serves everything."
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

    def handle(self, *args, serve, bind, stores, members, **options):
        console = Console()
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        with console.status("Seeding the demo chain..."):
            counts = seed.seed_all(stores)
        console.print(f"Chain: {counts['stores']} stores, {counts['registers']} registers")
        with console.status(f"Enrolling {members:,} loyalty members..."):
            enrolled = seed_members(members, list(Store.objects.all()))
        console.print(f"Loyalty: {enrolled['members']:,} members")
        history = scenario.seed_history()
        if history:
            console.print(f"History: {history} earlier incidents and maintenance windows")
        if scenario.already_replayed():
            console.print("The outage scenario was replayed before; showing it as it is.")
        else:
            replay = scenario.Replay(start=scenario.outage_start())
            scenario.build_outage(replay)
            poster = demo_sales.build_sales(replay, members=members)
            steps = replay.ordered()
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("Replaying the outage", total=len(steps))
                for step in steps:
                    progress.update(
                        task,
                        description=f"{step.at.astimezone(scenario.CHAIN_TZ):%a %H:%M} {step.label}",
                    )
                    step.run()
                    progress.advance(task)
            incident = replay.summary["incident"]["incident"]
            incident.refresh_from_db()
            console.print(
                f"Outage: {incident.title} — {incident.public_updates.count()} public updates, "
                f"first after {incident.time_to_first_update}, resolved after {incident.time_to_resolve}"
            )
            console.print(
                f"Sales through the API: {poster.counts['posted']:,} posted, "
                f"{poster.counts['duplicate']:,} duplicates from agent retries (posted once), "
                f"{poster.counts['conflict']} conflicts, {poster.counts['rejected']} rejected; "
                f"{poster.points:,} points and {poster.rewards:,} rewards issued as customers paid"
            )
        console.print(f"Done in {time.monotonic() - started:.1f} s.")
        console.print(
            f"Demo staff logins (password {counts['staff_password']}): "
            + ", ".join(name for name, _, _ in seed.DEMO_STAFF)
        )
        call_command("collectstatic", interactive=False, verbosity=0)
        ensure_first_admin(self.stdout)
        if serve:
            run_server(self.stdout, bind=bind)
