"""HQ's view of the store agents: heartbeats, link states, coverage, and who may see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tideover.core import events
from tideover.core.errors import DomainError
from tideover.storelink import services
from tideover.storelink.models import StateChange, StoreAgent

T0 = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


def beat(**kwargs) -> services.Heartbeat:
    return services.Heartbeat(**{"agent_id": "a1", "version": "0.1.0", "mode": "online", **kwargs})


@pytest.fixture
def state_changes():
    seen = []

    def handler(name, store, state, previous):
        seen.append((store.code, previous, state))

    events.subscribe(services.STATE_CHANGED, handler)
    yield seen
    events._handlers[services.STATE_CHANGED].remove(handler)


def test_a_store_goes_online_offline_silent_and_drains_back(chain, state_changes):
    store = chain["stores"]["S001"]
    services.record_heartbeat(store, beat(), at=T0)
    assert StoreAgent.objects.get(store=store).state == "online"
    services.refresh_states(T0 + timedelta(seconds=31))
    services.refresh_states(T0 + timedelta(minutes=16))
    queued_since = (T0 + timedelta(minutes=1)).isoformat()
    services.record_heartbeat(
        store,
        beat(mode="online", queue_depth=900, oldest_unsent_at=queued_since),
        at=T0 + timedelta(minutes=20),
    )
    services.record_heartbeat(store, beat(), at=T0 + timedelta(minutes=21))
    assert list(StateChange.objects.order_by("at").values_list("state", flat=True)) == [
        "online",
        "offline",
        "silent",
        "draining",
        "online",
    ]
    assert state_changes == [
        ("S001", "silent", "online"),
        ("S001", "online", "offline"),
        ("S001", "offline", "silent"),
        ("S001", "silent", "draining"),
        ("S001", "draining", "online"),
    ]


def test_an_agent_forced_offline_shows_offline_while_heard(chain):
    store = chain["stores"]["S002"]
    agent = services.record_heartbeat(store, beat(mode="forced_offline"), at=T0)
    assert agent.state == "offline" and agent.mode == "forced_offline"


def test_heartbeat_coverage_is_the_share_of_stores_heard_each_minute(chain):
    stores = list(chain["stores"].values())
    for store in stores:
        services.record_heartbeat(store, beat(), at=T0)
    for store in stores[:2]:
        services.record_heartbeat(store, beat(), at=T0 + timedelta(minutes=1, seconds=5))
        services.record_heartbeat(store, beat(), at=T0 + timedelta(minutes=1, seconds=10))
    series = services.heartbeat_coverage(T0, T0 + timedelta(minutes=3))
    assert series == [
        (T0, 1.0),
        (T0 + timedelta(minutes=1), 0.5),
        (T0 + timedelta(minutes=2), 0.0),
    ]


def test_a_replay_records_a_minute_of_heartbeats_in_one_write(chain):
    stores = list(chain["stores"].values())
    for store in stores:
        services.register_agent(store, agent_id=store.code, version="test", at=T0)
    minute = T0 + timedelta(minutes=1, seconds=40)
    assert services.record_heard({stores[0].pk: 7, stores[1].pk: 0}, minute) == 2
    services.record_heard({stores[0].pk: 9}, minute)  # heard again: the last depth stands
    until = T0 + timedelta(minutes=2)
    assert services.heartbeat_coverage(T0, until)[-1] == (T0 + timedelta(minutes=1), 0.5)
    assert services.queue_depth(T0, until)[-1] == (T0 + timedelta(minutes=1), 9)
    # An agent that heartbeats on its own is heard at the depth it last reported.
    StoreAgent.objects.filter(store=stores[2]).update(queue_depth=4)
    services.record_heard({stores[2].pk: None}, T0 + timedelta(minutes=2))
    depths = services.queue_depth(T0, T0 + timedelta(minutes=3))
    assert depths[-1] == (T0 + timedelta(minutes=2), 9 + 0 + 4)


def test_no_agents_no_coverage_series(chain):
    assert services.heartbeat_coverage(T0, T0 + timedelta(minutes=5)) == []


def test_a_store_policy_wins_over_its_regions_which_wins_over_the_chains(chain, settings):
    s1, s3 = chain["stores"]["S001"], chain["stores"]["S003"]
    assert services.card_policy_for(s1) == (services.default_policy(), "chain")
    limits = dict(
        per_sale_limit_cents=5000, total_limit_cents=90000, max_count=9, max_age_minutes=60
    )
    services.set_card_policy(region=chain["regions"]["north"], **limits)
    services.set_card_policy(store=s1, **{**limits, "max_count": 3})
    assert services.card_policy_for(s1)[0]["max_count"] == 3
    assert services.card_policy_for(chain["stores"]["S002"]) == (limits, "region")
    assert services.card_policy_for(s3)[1] == "chain"


def test_heartbeat_api_answers_with_the_card_policy_and_records_the_beat(client, chain, api_token):
    headers = api_token("heartbeats:write", store=chain["stores"]["S001"])
    response = client.post(
        "/api/v1/storelink/heartbeats",
        {"store": "S001", "agent_id": "a1", "mode": "online", "queue_depth": 0},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200, response.content
    assert response.json()["card_policy"]["max_count"] == services.default_policy()["max_count"]
    assert StoreAgent.objects.get(store__code="S001").state == "online"


def test_a_store_token_cannot_beat_for_another_store(client, chain, api_token):
    headers = api_token("heartbeats:write", store=chain["stores"]["S001"])
    response = client.post(
        "/api/v1/storelink/heartbeats",
        {"store": "S002", "mode": "online"},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 403 and "S001 only" in response.json()["detail"]


def test_a_chain_token_without_a_store_cannot_beat(client, chain, api_token):
    response = client.post(
        "/api/v1/storelink/heartbeats",
        {"store": "S001", "mode": "online"},
        content_type="application/json",
        **api_token("heartbeats:write"),
    )
    assert response.status_code == 403 and "store's own token" in response.json()["detail"]


def test_console_lists_stores_filtered_by_region(client_as, chain):
    services.record_heartbeat(chain["stores"]["S001"], beat())
    page = client_as("incident_commander").get("/console/stores/?region=south")
    text = page.content.decode()
    assert page.status_code == 200
    assert "S003" in text and "S001" not in text and "no agent" in text


def test_console_shows_the_recent_state_changes(client_as, chain):
    store = chain["stores"]["S002"]
    services.record_heartbeat(store, beat())
    services.refresh_states(timezone.now() + timedelta(seconds=40))
    text = client_as("comms").get("/console/stores/").content.decode()
    assert "S002: silent → " in text and "S002: online → " in text


def test_store_manager_sees_only_their_store(client_as, chain):
    text = client_as("store_manager").get("/console/stores/").content.decode()
    assert "S001" in text and "S002" not in text


def test_commander_sets_a_region_policy_and_comms_may_not(client_as, chain):
    form = {
        "target": "south",
        "per_sale_limit": "150.00",
        "total_limit": "3000",
        "max_count": "40",
        "max_age_minutes": "120",
    }
    refused = client_as("comms").post("/console/stores/card-policy/set/", form)
    assert refused.status_code == 403
    done = client_as("incident_commander").post("/console/stores/card-policy/set/", form)
    assert done.status_code == 302
    policy, source = services.card_policy_for(chain["stores"]["S003"])
    assert source == "region" and policy["per_sale_limit_cents"] == 15000


def test_a_per_sale_limit_above_the_total_is_refused_naming_it(client_as, chain):
    form = {
        "target": "S001",
        "per_sale_limit": "500",
        "total_limit": "100",
        "max_count": "4",
        "max_age_minutes": "60",
    }
    page = client_as("administrator").post("/console/stores/card-policy/set/", form)
    assert page.status_code == 400 and "above the store" in page.content.decode()


def test_policy_api_for_allowed_roles(client_as, chain):
    body = {
        "per_sale_limit_cents": 100,
        "total_limit_cents": 1000,
        "max_count": 2,
        "max_age_minutes": 5,
    }
    client = client_as("administrator")
    response = client.put(
        "/api/v1/storelink/policies/stores/S004", body, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == body
    listing = client.get("/api/v1/storelink/stores?region=south").json()
    assert {row["store"] for row in listing} == {"S003", "S004"}


def test_no_coverage_is_reported_for_minutes_before_the_first_agent_registered(chain):
    """Installing agents today must not paint the hours before as every store gone dark."""
    store = chain["stores"]["S001"]
    services.record_heartbeat(store, beat(), at=T0)
    series = services.heartbeat_coverage(T0 - timedelta(hours=2), T0 + timedelta(minutes=1))
    assert series and all(minute >= T0 for minute, _ in series)


def test_card_policy_store_code_hints_are_real_and_matched_in_any_case_and_zeros(client_as, chain):
    client = client_as("administrator")
    page = client.get("/console/stores/card-policy/").content.decode()
    assert "e.g. S001 or north" in page and "S0042" not in page
    form = {"per_sale_limit": "10", "total_limit": "100", "max_count": "4", "max_age_minutes": "60"}
    for typed in ("s002", "S0002", "s2"):
        done = client.post("/console/stores/card-policy/set/", {**form, "target": typed})
        assert done.status_code == 302, typed
    assert services.card_policy_for(chain["stores"]["S002"])[1] == "store"
    unknown = client.post("/console/stores/card-policy/set/", {**form, "target": "s0042"})
    text = unknown.content.decode()
    assert unknown.status_code == 400 and "No store or region with the code s0042" in text
    assert "&#x27;" not in text


def test_card_policy_api_matches_store_codes_in_any_case_and_names_an_unknown_one(client_as, chain):
    body = {"per_sale_limit_cents": 100, "total_limit_cents": 1000, "max_count": 2}
    body["max_age_minutes"] = 5
    client = client_as("administrator")
    url = "/api/v1/storelink/policies/stores/"
    assert client.put(url + "s4", body, content_type="application/json").status_code == 200
    assert services.card_policy_for(chain["stores"]["S004"])[1] == "store"
    missing = client.put(url + "S42", body, content_type="application/json")
    assert missing.status_code == 404 and missing.json()["detail"] == "No store with the code S42"


def test_heartbeats_carry_the_sales_waiting_for_staff_and_hq_lists_those_stores(
    client, client_as, chain, api_token
):
    headers = api_token("heartbeats:write", store=chain["stores"]["S002"])
    beat_body = {"store": "S002", "agent_id": "a2", "mode": "online", "queue_depth": 0}
    waiting = {"rejected": 2, "conflicts": 1, "quarantined": 3}
    response = client.post(
        "/api/v1/storelink/heartbeats",
        {**beat_body, **waiting},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200, response.content
    services.record_heartbeat(chain["stores"]["S001"], beat())  # nothing waiting there
    staff = client_as("incident_commander")
    listing = {row["store"]: row for row in staff.get("/api/v1/storelink/stores").json()}
    assert {k: listing["S002"][k] for k in (*waiting, "needs_attention")} == {
        **waiting,
        "needs_attention": 6,
    }
    assert listing["S001"]["needs_attention"] == 0 and listing["S003"]["needs_attention"] == 0
    only = staff.get("/api/v1/storelink/stores?attention=true").json()
    assert [row["store"] for row in only] == ["S002"]

    page = staff.get("/console/stores/").content.decode()
    assert "6 sales at 1 store need attention" in page
    assert "<strong>6</strong>: 2 rejected, 1 conflict, 3 quarantined" in page
    filtered = staff.get("/console/stores/?attention=1").content.decode()
    assert "S002 Store S002" in filtered and "S001 Store S001" not in filtered


def test_a_store_whose_waiting_sales_were_dealt_with_leaves_the_list(client_as, chain):
    store = chain["stores"]["S003"]
    services.record_heartbeat(store, beat(rejected=1))
    services.record_heartbeat(store, beat(rejected=0))
    page = client_as("comms").get("/console/stores/").content.decode()
    assert 'id="attention"' not in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"queue_depth": 2**70}, "queue_depth"),
        ({"queue_depth": 2**40}, "queue_depth"),
        ({"card_exposure_cents": 2**70}, "card_exposure_cents"),
        ({"card_count": True}, "card_count"),
        ({"queue_depth": 3, "oldest_unsent_at": "2026-11-30T10:00:00"}, "oldest_unsent_at"),
        ({"offline_since": "9999-12-31T23:59:59-05:00"}, "offline_since"),
        ({"last_sync_at": "0001-01-01T00:00:00+05:00"}, "last_sync_at"),
        ({"mode": "bogus"}, "mode"),
        ({"typo_field": 1}, "typo_field"),
    ],
)
def test_a_heartbeat_out_of_range_is_refused_by_field_and_records_nothing(
    client, chain, api_token, change, field
):
    headers = api_token("heartbeats:write", store=chain["stores"]["S001"])
    body = {"store": "S001", "agent_id": "a1", "mode": "online", "queue_depth": 0, **change}
    response = client.post(
        "/api/v1/storelink/heartbeats", body, content_type="application/json", **headers
    )
    assert response.status_code == 422, response.content
    assert field in response.json()["detail"]
    assert not StoreAgent.objects.exists()


def test_a_card_limit_no_column_can_hold_is_a_form_error_not_a_500(client_as):
    answer = client_as("incident_commander").post(
        "/console/stores/card-policy/set/",
        {
            "target": "S001",
            "per_sale_limit": "50000000.00",
            "total_limit": "60000000.00",
            "max_count": "10",
            "max_age_minutes": "60",
        },
    )
    assert answer.status_code == 400
    assert "less than or equal to 1000000" in answer.content.decode()
    from tideover.storelink.models import CardPolicy

    assert not CardPolicy.objects.exists()


def test_the_card_limits_service_refuses_what_the_columns_cannot_hold(chain):
    limits = {"total_limit_cents": 10**11, "max_count": 1, "max_age_minutes": 1}
    with pytest.raises(DomainError, match="at most 1,000,000 dollars"):
        services.set_card_policy(
            store=chain["stores"]["S001"], per_sale_limit_cents=3 * 10**9, **limits
        )
    with pytest.raises(DomainError, match="at most 100,000,000 dollars"):
        services.set_card_policy(store=chain["stores"]["S001"], per_sale_limit_cents=100, **limits)
