"""The static export: the whole page as files, rewritten atomically on every public change."""

import gzip
import json
import re
from pathlib import Path

import feedparser
import pytest
from django.core.management import call_command

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
from tideover.statuspage import export


def files_in(folder: Path) -> set[str]:
    """The documents written (without their pre-compressed .gz twins)."""
    return {
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix != ".gz"
    }


@pytest.mark.django_db
def test_export_status_command_writes_the_site(tmp_path, outage, maintenance, drill, capsys):
    target = tmp_path / "public"
    call_command("export_status", str(target))
    assert f"to {target}" in capsys.readouterr().out
    written = files_in(target)
    assert {
        "index.html",
        "history.html",
        "feed.atom",
        "feed.rss",
        f"incidents/{outage.pk}.html",
        f"incidents/{maintenance.pk}.html",
        "api/v2/summary.json",
        "api/v2/status.json",
        "api/v2/components.json",
        "api/v2/incidents.json",
        "api/v2/incidents/unresolved.json",
        "api/v2/scheduled-maintenances.json",
    } <= written
    assert f"incidents/{drill.pk}.html" not in written
    assert all("DRILL" not in (target / name).read_text() for name in written)
    summary = json.loads((target / "api/v2/summary.json").read_text())
    assert summary["status"]["indicator"] == "critical"
    assert not feedparser.parse((target / "feed.atom").read_bytes()).bozo
    packed = gzip.decompress((target / "index.html.gz").read_bytes())
    assert packed == (target / "index.html").read_bytes()


@pytest.mark.django_db
def test_exported_pages_link_relatively_so_any_folder_works(tmp_path, outage):
    target = tmp_path / "public"
    call_command("export_status", str(target))
    index = (target / "index.html").read_text()
    detail = (target / f"incidents/{outage.pk}.html").read_text()
    for html in (index, detail):
        assert not re.search(r'href="/', html), "absolute paths break under a CDN sub-path"
    assert f'href="incidents/{outage.pk}.html"' in index
    assert 'href="history.html"' in index and 'href="feed.atom"' in index
    assert 'href="../index.html"' in detail
    # every relative link resolves to a written file
    for page in (target / "index.html", target / f"incidents/{outage.pk}.html"):
        for href in re.findall(r'href="([^"#:]+)"', page.read_text()):
            assert (page.parent / href).resolve().exists(), href


@pytest.mark.django_db
def test_export_is_rewritten_when_an_update_is_posted(
    settings, outage, django_capture_on_commit_callbacks
):
    folder = Path(settings.STATUS_EXPORT_DIR)
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Card payments are back in the south region.")
    run_queued_tasks()  # the export is re-rendered by a task after the commit
    assert "Card payments are back in the south region." in (folder / "index.html").read_text()
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_incident(outage, "All registers are back online.")
    run_queued_tasks()  # within STATUS_EXPORT_INTERVAL_SECONDS of the first: queued for later,
    run_queued_tasks()  # which a test does not wait out
    summary = json.loads((folder / "api/v2/summary.json").read_text())
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"
    assert "All registers are back online." in (folder / f"incidents/{outage.pk}.html").read_text()
    leftovers = [p.name for p in folder.parent.iterdir() if ".new-" in p.name or ".old-" in p.name]
    assert leftovers == []


@pytest.mark.django_db
def test_export_replaces_an_existing_folder_whole(tmp_path, components):
    target = tmp_path / "site"
    target.mkdir()
    (target / "stale.html").write_text("from an older export")
    inode_before = target.stat().st_ino
    result = export.export_to(target)
    assert result.files == len(files_in(target))
    assert not (target / "stale.html").exists()
    assert target.stat().st_ino != inode_before  # swapped in, not edited in place
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.lock", ".site.pages.json", "site"]


@pytest.mark.django_db
def test_export_falls_back_to_two_renames_without_renameat2(tmp_path, components, monkeypatch):
    monkeypatch.setattr(export, "_exchange", lambda a, b: False)
    target = tmp_path / "site"
    export.export_to(target)
    export.export_to(target)
    assert (target / "index.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.lock", ".site.pages.json", "site"]


@pytest.mark.django_db
def test_export_command_reports_an_unwritable_folder(tmp_path, components):
    from django.core.management.base import CommandError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match="Could not write the export"):
        call_command("export_status", str(blocker / "inside"))


@pytest.mark.django_db
def test_export_queries_do_not_grow_with_the_number_of_incidents(outage, severities):
    def declare(n):
        for i in range(n):
            past = services.declare_incident(
                title=f"Printer {i} jammed", severity=severities["SEV4"], message="Checking."
            )
            services.resolve_incident(past, "Fixed.")

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    declare(2)
    with CaptureQueriesContext(connection) as few:
        export.build_files()
    declare(10)
    with CaptureQueriesContext(connection) as many:
        files, _ = export.build_files()
    assert len([f for f in files if f.startswith("incidents/")]) == 13
    assert len(many) == len(few)


@pytest.mark.django_db
def test_tideover_export_status_dir_runs_through_the_cli(tmp_path, outage, capsys):
    from tideover.cli import main

    assert main(["export-status", str(tmp_path / "cdn")]) == 0
    assert (tmp_path / "cdn" / "index.html").exists()
    assert "Wrote" in capsys.readouterr().out


def test_readers_never_see_half_a_site_while_exports_swap(tmp_path, monkeypatch):
    import threading

    sites = [
        {"index.html": b"old " * 500, "api/v2/summary.json": b'{"v":"old"}'},
        {"index.html": b"new " * 500, "api/v2/summary.json": b'{"v":"new"}'},
    ]
    turn = iter(sites * 15)
    monkeypatch.setattr(export, "build_files", lambda unchanged=None: (next(turn), {}))
    target = tmp_path / "site"
    export.export_to(target)
    problems = []
    done = threading.Event()

    def read():
        while not done.is_set():
            try:
                index = (target / "index.html").read_bytes()
                summary = (target / "api/v2/summary.json").read_bytes()
            except OSError as error:
                problems.append(repr(error))
                continue
            if index not in (sites[0]["index.html"], sites[1]["index.html"]):
                problems.append("torn index.html")
            if summary not in (sites[0]["api/v2/summary.json"], sites[1]["api/v2/summary.json"]):
                problems.append("torn summary.json")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(29):
            export.export_to(target)
    finally:
        done.set()
        reader.join()
    assert problems == []
