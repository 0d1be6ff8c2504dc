from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tideover.statuspage.services import export_status


class Command(BaseCommand):
    help = (
        "Write the public status page (HTML, API v2 JSON, Atom and RSS feeds) as static files "
        "into DIR, replacing its contents atomically. Serve DIR with any web server or CDN."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "folder",
            nargs="?",
            metavar="DIR",
            help=f"Where to write (default STATUS_EXPORT_DIR: {settings.STATUS_EXPORT_DIR})",
        )

    def handle(self, *args, folder=None, **options):
        try:
            result = export_status(folder)
        except OSError as error:
            raise CommandError(f"Could not write the export: {error}") from error
        self.stdout.write(f"Wrote {result.files} files to {result.folder}")
