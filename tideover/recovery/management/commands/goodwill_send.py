"""tideover goodwill INCIDENT: collect, start and carry a goodwill campaign, with progress."""

import time

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.incidents.models import Incident
from tideover.recovery.campaign import progress, run_campaign, start_campaign
from tideover.recovery.collect import collect_from_sales
from tideover.recovery.models import Campaign, CampaignState


class Command(BaseCommand):
    help = (
        "Send an incident's goodwill offers through the outbox, with a progress bar. Starts the "
        "campaign with --start (the policy must be set); without it, carries on a campaign that "
        "a worker crash or a restart interrupted. Safe to run again: nothing is sent twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("incident", type=int, help="The incident's id")
        parser.add_argument(
            "--collect", action="store_true", help="First add members from troubled sales"
        )
        parser.add_argument("--start", action="store_true", help="Start the campaign")
        parser.add_argument("--chunk-size", type=int, default=None)
        parser.add_argument(
            "--pace", type=float, default=0.0, help="Seconds to wait between chunks (eases load)"
        )

    def handle(self, *args, incident, collect, start, chunk_size, pace, **options):
        console = Console()
        found = Incident.objects.filter(pk=incident).first()
        if found is None:
            raise CommandError(f"No incident {incident}")
        try:
            if collect:
                counts = collect_from_sales(found)
                console.print(f"Collected from sales: {counts or 'nobody new'}")
            campaign = Campaign.objects.filter(incident=found).first()
            if campaign is None:
                if not start:
                    raise CommandError("No campaign yet: add --start to send the offers")
                campaign = start_campaign(found, actor=Actor(name="cli"))
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if campaign.state == CampaignState.PAUSED:
            raise CommandError("The campaign is paused; resume it in the console first")
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task("Offers", total=campaign.total)

            def on_chunk(current):
                bar.update(task, completed=progress(current)["walked"])
                if pace:
                    time.sleep(pace)

            campaign = run_campaign(campaign, chunk_size=chunk_size, on_chunk=on_chunk)
        state = progress(campaign)
        console.print(
            f"Campaign {campaign.get_state_display().lower()}: {state['offers']:,} offers, "
            f"{state['queued']:,} messages queued"
            + (" (drill: nothing sent)" if campaign.is_drill else "")
            + f", skipped {state['skipped'] or 'none'}"
        )
