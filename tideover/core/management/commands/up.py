import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tideover.core.roles import Role
from tideover.core.services import grant_role
from tideover.core.serving import web_server_argv


def ensure_first_admin(stdout) -> None:
    """Create the 'admin' login once and print its password; later runs say where it was shown."""
    User = get_user_model()
    if User.objects.filter(username="admin").exists():
        # Not the password again: a supervisor keeps every start's output in its logs.
        password_file = settings.DATA_DIR / "first-login.txt"
        where = f"in {password_file}" if password_file.exists() else "set earlier"
        stdout.write(f"First login: admin (its first password is {where})")
        return
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser("admin", "", password)
    grant_role(user, Role.ADMINISTRATOR)
    password_file = settings.DATA_DIR / "first-login.txt"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    stdout.write(
        f"First login: admin / {password}   (also in {password_file}; change it in the console)"
    )


class Command(BaseCommand):
    help = (
        "Migrate, make the first admin login, then serve the web console, status page and a worker."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="Address to serve on")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=None,
            help="Web server processes (default: one per CPU core)",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a background worker"
        )

    def handle(self, *args, bind, web_workers, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        from tideover.incidents.services import ensure_default_severities

        ensure_default_severities()
        call_command("collectstatic", interactive=False, verbosity=0)
        ensure_first_admin(self.stdout)
        serve(self.stdout, bind=bind, web_workers=web_workers, with_worker=not no_worker)


def _stop_requested(signum, frame):
    raise KeyboardInterrupt


# A worker that ended (a bug, the database gone for longer than it waits) is started again
# after this pause, so a crash loop does not spin.
WORKER_RESTART_SECONDS = 5.0


def serve(
    stdout,
    *,
    bind: str,
    web_workers: int | None = None,
    with_worker: bool = True,
    extra: list | None = None,
) -> None:
    """Run the web server (and a worker) in the foreground until Ctrl+C, then stop them all."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tideover.settings")
    # Ctrl+C and SIGTERM both stop everything, even when this process was started with SIGINT
    # ignored (as a shell does for a command run in the background, or a test runner's worker
    # may pass on): an inherited SIG_IGN would otherwise make Ctrl+C do nothing at all.
    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    procs = [subprocess.Popen(web_server_argv(bind, workers=web_workers), env=env)]
    worker_argv = [sys.executable, "-m", "tideover", "worker"]
    worker = subprocess.Popen(worker_argv, env=env) if with_worker else None
    procs += extra or []
    url = f"http://{bind}"
    stdout.write(f"Console:      {url}/console/")
    stdout.write(f"Status page:  {url}/")
    stdout.write(f"API docs:     {url}/api/v1/docs   (OpenAPI: {url}/api/v1/openapi.json)")
    stdout.write("Press Ctrl+C to stop.")
    restart_at = None
    try:
        # The web server (and anything else started with it) ending ends the lot; a worker that
        # ends is started again: the status page and console keep serving without one.
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
            if worker is None or worker.poll() is None:
                continue
            if restart_at is None:
                restart_at = time.monotonic() + WORKER_RESTART_SECONDS
                stdout.write(
                    f"The worker stopped (exit {worker.returncode}); starting another in "
                    f"{WORKER_RESTART_SECONDS:g} s"
                )
            elif time.monotonic() >= restart_at:
                worker, restart_at = subprocess.Popen(worker_argv, env=env), None
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            procs.append(worker)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
