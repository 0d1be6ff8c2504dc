"""The scorecard and the command's messages print the scenario's text as written."""

import io

from django.core.management import call_command
from rich.console import Console

from tideover.scenarios.report import print_scorecard


def _card(title):
    return {
        "incident": {
            "title": title,
            "started_at": "2026-11-28T20:00:00+00:00",
            "start_seen_in": "the incident's start",
            "time_to_detect_min": 1,
            "time_to_declare_min": 1,
            "time_to_first_public_update_min": 0,
            "time_to_resolve_min": 3,
            "public_updates": 1,
            "cadence_misses": 0,
        },
        "sales": {"accepted": 1, "accepted_offline": 0, "posted": 1, "lost": 0, "doubled": 0},
    }


def test_titles_are_printed_as_written():
    out = Console(file=io.StringIO(), width=80)
    print_scorecard(out, _card("Registers down [all stores]"))
    assert "[all stores]" in out.file.getvalue()
    out = Console(file=io.StringIO(), width=80)
    print_scorecard(out, _card("Registers down [/] north"))
    assert "[/] north" in out.file.getvalue()


def test_scenario_names_are_printed_as_written_by_check(tmp_path, capsys):
    from tideover.scenarios.tests.test_loader import GOOD

    path = tmp_path / "tills.yaml"
    path.write_text(GOOD.replace("Evening card outage", '"Tills down [/] registers"', 1))
    call_command("scenario", "check", str(path))
    assert "Tills down [/] registers" in capsys.readouterr().out
