import os

from django.core.management.base import BaseCommand

from tideover.core.serving import DEFAULT_THREADS, web_server_argv


class Command(BaseCommand):
    help = (
        "Serve the console, status page and API with Granian (no migration, no worker): the web "
        "process of a deployment past one machine (docs/deploy.md). Run migrate once beforehand."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument(
            "--workers", type=int, default=None, help="Web processes (default: one per core)"
        )
        parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)

    def handle(self, *args, bind, workers, threads, **options):
        argv = web_server_argv(bind, workers=workers, threads=threads)
        env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"])
        # Replace this process, so the process manager's signals reach Granian directly.
        os.execve(argv[0], argv, env)  # noqa: S606
