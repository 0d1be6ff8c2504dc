"""The scorecard as a person reads it in a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _money(cents: int | None) -> str:
    return "—" if cents is None else f"${cents / 100:,.2f}"


def _min(value: float | None) -> str:
    return "—" if value is None else f"{value:g} min"


def rows(card: dict) -> list[tuple[str, str]]:
    """(label, value) pairs in the order a retailer asks about them."""
    inc, sales = card["incident"], card["sales"]
    result = [
        (
            "Trouble started (first seen in)",
            f"{inc['started_at']} ({inc.get('start_seen_in', '')})",
        ),
        ("Time to detect", _min(inc["time_to_detect_min"])),
        ("Time to declare", _min(inc["time_to_declare_min"])),
        ("Time to first public update", _min(inc["time_to_first_public_update_min"])),
        ("Time to resolve", _min(inc["time_to_resolve_min"])),
        ("Public updates", f"{inc['public_updates']}"),
        ("Cadence misses", f"{inc['cadence_misses']}"),
        ("Sales accepted at the tills", f"{sales['accepted']:,}"),
        ("… of them queued offline", f"{sales['accepted_offline']:,}"),
        ("Sales posted at HQ", f"{sales['posted']:,}"),
        ("Sales lost", f"{sales['lost']:,}"),
        ("Sales posted twice", f"{sales['doubled']:,}"),
        ("Card exposure at its peak", _money(card.get("peak_card_exposure_cents"))),
    ]
    recovery = card.get("recovery")
    if recovery:
        result += [
            ("Customers affected", f"{recovery.get('customers_affected', 0):,}"),
            ("Customers captured (signed up, collected)", f"{recovery['captured']:,}"),
            ("Goodwill offers made", f"{recovery['offers']:,}"),
            ("… sent", f"{recovery['sent']:,}"),
            (
                "… reached within 1 h of resolution",
                f"{recovery.get('reached_within_1h_of_resolution', 0):,}",
            ),
            ("… redeemed at a till", f"{recovery['redeemed']:,}"),
            (
                "Redemption rate (of offers sent)",
                f"{recovery['redemption_rate']:.1%}" if recovery["sent"] else "— (none sent yet)",
            ),
            ("Revenue of redeeming sales", _money(recovery["revenue_cents"])),
            ("Goodwill cost (discounts and points)", _money(recovery["cost_cents"])),
        ]
    deadline = card.get("loyalty_deadline")
    if deadline:
        result += [
            (
                f"Members with points due {deadline['deadline']}",
                f"{deadline['members_with_points_due']:,}",
            ),
            ("… reminded before the deadline", f"{deadline['reminded']:,}"),
            ("… who shopped by the deadline", f"{deadline['shopped_by_deadline']:,}"),
            (
                "… whose points were honoured after posting late",
                f"{deadline['reinstated_after_late_posting']:,}",
            ),
            ("Reminder promises broken", f"{deadline['promises_broken']:,}"),
        ]
    if card.get("postmortem"):
        result.append(("Postmortem", card["postmortem"]))
    return result


def print_scorecard(console: Console, card: dict) -> None:
    # Titles and figures come from the scenario file and the records: rich would read "[...]"
    # in them as markup (dropping it, or failing on "[/]"), so they are escaped.
    title = card["incident"]["title"]
    if not card["incident"].get("declared", True):
        title += " (never declared)"
    table = Table(title=f"Scorecard: {escape(title)}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows(card):
        table.add_row(escape(label), escape(value))
    console.print(table)
