"""A scenario file with a mistake gets an error naming the line and the field."""

from pathlib import Path

import pytest

from tideover.scenarios.loader import ScenarioError, load_scenario, parse_scenario
from tideover.scenarios.schema import parse_duration

REPO = Path(__file__).resolve().parents[3]

GOOD = """\
scenario: 1
name: Evening card outage
start: {weekday: friday, time: "18:00"}
chain: {stores: 5, members: 10}
failures:
  - kind: card_processor_down
    component: card-payments
    stores: {all: true}
    until: 90m
staff:
  title: Card payments are failing
  first_update: Card payments fail in our stores; cash works.
  resolution: Card payments work again everywhere.
"""


def mistakes(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "day.yaml")
    assert "day.yaml" in str(caught.value)
    return [str(m) for m in caught.value.mistakes]


def test_declaration_after_service_returns_is_refused():
    """``declare_at_latest`` counts from the first failure's start; a declaration that would
    come after service returns (so never) is refused by name, at its line."""
    late = GOOD.replace(
        "  resolution: Card payments work again everywhere.\n",
        "  resolution: Card payments work again everywhere.\n"
        "  declare_after_alert: 3h\n"
        "  declare_at_latest: 3h\n",
    )
    assert mistakes(late) == [
        "line 15: staff.declare_at_latest: 3h after the first failure starts (at 0m) comes "
        "after service returns at 1h30m; the incident must be declared by then"
    ]
    assert parse_scenario(late.replace("declare_at_latest: 3h", "declare_at_latest: 1h30m"))


def test_every_shipped_scenario_is_valid():
    files = sorted((REPO / "scenarios").glob("*.yaml"))
    assert files, "scenarios/ ships at least one scenario"
    for path in files:
        assert load_scenario(path).name


def test_a_good_file_reads_with_its_durations():
    scenario = parse_scenario(GOOD)
    assert scenario.failures[0].until.total_seconds() == 90 * 60
    assert scenario.returns_after.total_seconds() == 90 * 60


def test_broken_yaml_names_its_line():
    text = GOOD.replace("until: 90m", "until: [90m")
    (only,) = mistakes(text)
    assert only.startswith("line 10: not valid YAML")  # where the parser found the bracket open


def test_unknown_field_is_refused_by_name_and_line():
    text = GOOD.replace("  title: Card", "  titel: Oops\n  title: Card")
    found = mistakes(text)
    assert "line 11: staff.titel: is not a field here" in found[0]


def test_missing_field_names_the_section():
    text = GOOD.replace("  resolution: Card payments work again everywhere.\n", "")
    assert "line 10: staff.resolution: is required" in mistakes(text)


def test_unknown_failure_kind_lists_the_choices():
    text = GOOD.replace("kind: card_processor_down", "kind: power_cut")
    (only,) = mistakes(text)
    assert only.startswith("line 6: failures[0].kind:")
    assert "registers_lose_hq" in only


def test_bad_duration_says_how_to_write_one():
    text = GOOD.replace("until: 90m", "until: soon")
    (only,) = mistakes(text)
    assert only.startswith("line 9: failures[0].until:") and "1h30m" in only


def test_share_above_one_is_refused():
    text = GOOD.replace("stores: {all: true}", "stores: {share: 1.5}")
    (only,) = mistakes(text)
    assert only.startswith("line 8: failures[0].stores.share:") and "between 0 and 1" in only


def test_two_ways_of_choosing_stores_is_refused():
    text = GOOD.replace("stores: {all: true}", "stores: {all: true, codes: [S001]}")
    (only,) = mistakes(text)
    assert "choose stores one way" in only


def test_failure_that_ends_before_it_starts_is_refused():
    text = GOOD.replace("until: 90m", "at: 2h\n    until: 90m")
    (only,) = mistakes(text)
    assert "until must come after at" in only


def test_unknown_time_zone_is_refused():
    text = GOOD.replace("members: 10}", "members: 10, time_zone: Mars/Olympus}")
    (only,) = mistakes(text)
    assert only.startswith("line 4: chain.time_zone:") and "Mars/Olympus" in only


def test_key_given_twice_is_refused():
    text = GOOD.replace("name: Evening card outage\n", "name: Evening card outage\nname: Again\n")
    (only,) = mistakes(text)
    assert only.startswith("line 3: name: given twice")


def test_every_mistake_is_reported_at_once():
    text = GOOD.replace("kind: card_processor_down", "kind: power_cut").replace(
        "until: 90m", "until: soon"
    )
    assert len(mistakes(text)) == 2


def test_wrong_format_version_and_non_mapping_are_refused():
    assert "scenario" in mistakes(GOOD.replace("scenario: 1", "scenario: 2"))[0]
    assert "a scenario is a mapping" in mistakes("- just\n- a list\n")[0]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "minutes"), [("15m", 15), ("2h", 120), ("1h30m", 90), ("90s", 1.5), (45, 45)]
)
def test_durations(text, minutes):
    assert parse_duration(text).total_seconds() == minutes * 60
