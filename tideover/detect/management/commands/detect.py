"""``tideover detect``: load points and posts, run the detectors, evaluate on NAB."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tideover.detect import nab
from tideover.detect.loading import load_file
from tideover.detect.scoring import run_detection
from tideover.detect.signals import minute_of


class Command(BaseCommand):
    help = (
        "Detect: 'load FILE' reads points, events (CSV or JSON lines) or, with --posts, social "
        "posts; 'run' scores every signal up to a minute; 'evaluate --nab DIR' runs the "
        "product's detector over the Numenta Anomaly Benchmark and scores it as NAB does."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="Load points, events or posts from a file")
        load.add_argument("file", type=Path)
        load.add_argument("--signal", help="Signal slug when the file has no signal column")
        load.add_argument("--posts", action="store_true", help="The file holds social posts")
        run = sub.add_parser("run", help="Score every signal up to a minute (default: now)")
        run.add_argument("--until", help="ISO time of the last minute to score")
        evaluate = sub.add_parser("evaluate", help="Score the detector on NAB's corpus")
        evaluate.add_argument(
            "--nab", dest="nab_dir", type=Path, required=True, help="NAB folder (data, labels)"
        )
        evaluate.add_argument(
            "--results", type=Path, help="Where to write results/ (default: DIR/results)"
        )
        evaluate.add_argument(
            "--only", nargs="*", help="Score only these files ('category/file.csv')"
        )

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _load(self, file: Path, signal=None, posts=False, **_):
        if not file.exists():
            raise CommandError(f"No such file: {file}")
        report = load_file(file, signal=signal, posts=posts)
        for line in report.errors[:20]:
            self.stderr.write(line)
        if len(report.errors) > 20:
            self.stderr.write(f"... and {len(report.errors) - 20} more bad lines")
        parts = [f"{n} {kind}" for kind, n in sorted(report.points.items())]
        parts += [f"{n} posts {kind}" for kind, n in sorted(report.posts.items())]
        if report.events:
            parts.append(f"{report.events} events")
        self.stdout.write(f"Loaded {file}: {', '.join(parts) or 'nothing'}")
        loaded = sum(n for kind, n in report.points.items() if kind != "rejected")
        if report.errors and not (loaded or report.posts or report.events):
            raise CommandError("No line could be loaded")

    def _run(self, until=None, **_):
        from tideover.detect.social import parse_time

        at = parse_time(until) if until else timezone.now()
        result = run_detection(minute_of(at))
        self.stdout.write(f"Scored up to {minute_of(at):%Y-%m-%d %H:%M} UTC: {result}")

    def _evaluate(self, nab_dir: Path, results=None, only=None, **_):
        folder = nab_dir
        if not (folder / "data").is_dir() or not (folder / "labels").is_dir():
            raise CommandError(f"{folder} has no data/ and labels/ folders (a NAB checkout)")
        out = results or folder / "results"
        done = []

        def progress(data):
            done.append(data.name)
            self.stdout.write(f"  {len(done):3d} {data.name}")

        scores = nab.evaluate(folder, out, only, progress=progress)
        self.stdout.write(f"Results in {out}/{nab.DETECTOR_NAME}/")
        self.stdout.write("profile               score  threshold")
        for profile, score in scores.items():
            self.stdout.write(f"{profile:20s} {score.normalised:6.1f}  {score.threshold:.4f}")
