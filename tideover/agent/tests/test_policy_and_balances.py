"""Offline card policy, forced offline with a PIN, provisional balances and heartbeats, through
the agent's real HTTP service where a register would use it."""

from __future__ import annotations

from tideover.agent.tests.conftest import sale
from tideover.storelink import services as storelink
from tideover.storelink.models import StoreAgent

POLICY = dict(
    per_sale_limit_cents=10_000, total_limit_cents=25_000, max_count=3, max_age_minutes=30
)


def _with_policy(agent, chain, **changes):
    storelink.set_card_policy(store=chain["stores"]["S001"], **{**POLICY, **changes})
    assert agent.heartbeat()  # the policy rides on the heartbeat's answer


def test_offline_card_over_the_per_sale_limit_is_refused_with_what_to_do(http_agent, chain):
    agent, client = http_agent()
    _with_policy(agent, chain)
    answer = client.post("/api/v1/sales", json=sale(cents=10_001, tender="card_offline")).json()
    assert answer["result"] == "refused"
    assert answer["reason"].startswith("card not accepted offline: take cash or another card")
    assert "$100.00 limit per sale" in answer["reason"]
    assert client.post("/api/v1/sales", json=sale(cents=10_001)).json()["result"] == "accepted"


def test_offline_card_total_and_count_limits(http_agent, chain):
    agent, client = http_agent()
    _with_policy(agent, chain)
    results = [
        client.post("/api/v1/sales", json=sale(cents=9_000, tender="card_offline")).json()
        for _ in range(3)
    ]
    assert [r["result"] for r in results] == ["accepted", "accepted", "refused"]
    assert "would pass $250.00" in results[2]["reason"]
    _with_policy(agent, chain, total_limit_cents=1_000_000)
    assert (
        client.post("/api/v1/sales", json=sale(cents=100, tender="card_offline")).json()["result"]
        == "accepted"
    )
    count = client.post("/api/v1/sales", json=sale(cents=100, tender="card_offline")).json()
    assert count["result"] == "refused" and "3 unsent card sales" in count["reason"]


def test_no_new_offline_card_once_the_oldest_unsent_is_too_old(http_agent, chain):
    agent, client = http_agent()
    _with_policy(agent, chain)
    client.post("/api/v1/sales", json=sale(cents=500, tender="card_offline"))
    agent.journal.conn.execute("UPDATE sales SET accepted_at = accepted_at - 31 * 60")
    refused = client.post("/api/v1/sales", json=sale(cents=500, tender="card_offline")).json()
    assert refused["result"] == "refused" and "older than 30 minutes" in refused["reason"]


def test_a_batch_stops_at_the_limit_inside_the_batch(http_agent, chain):
    agent, client = http_agent()
    _with_policy(agent, chain)
    batch = [sale(cents=5_000, tender="card_offline") for _ in range(5)]
    body = client.post("/api/v1/sales:batch", json={"sales": batch}).json()
    assert (body["accepted"], body["refused"]) == (3, 2)
    assert agent.status()["card_exposure_cents"] == 15_000


def test_posted_card_sales_free_the_limit_again(http_agent, chain):
    agent, client = http_agent()
    _with_policy(agent, chain)
    for _ in range(3):
        client.post("/api/v1/sales", json=sale(cents=100, tender="card_offline"))
    assert agent.forwarder.drain()["posted"] == 3
    again = client.post("/api/v1/sales", json=sale(cents=100, tender="card_offline")).json()
    assert again["result"] == "accepted"


def test_forced_offline_needs_the_pin_is_logged_and_stops_forwarding(http_agent, chain):
    agent, client = http_agent(manager_pin="4321")
    wrong = client.post("/api/v1/agent/offline", json={"on": True, "pin": "0000"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == "Wrong PIN"
    done = client.post(
        "/api/v1/agent/offline", json={"on": True, "pin": "4321", "who": "Pat", "reason": "slow"}
    )
    assert done.json() == {"forced_offline": True, "mode": "forced_offline"}
    client.post("/api/v1/sales", json=sale())
    agent.start()
    answer = client.post("/api/v1/sales", json=sale()).json()
    assert answer["mode"] == "forced_offline" and answer["online"] is False
    sync = client.post("/api/v1/agent/sync").json()
    assert sync["sent"] == 0 and sync["queue_depth"] == 2
    log = [entry["what"] for entry in client.get("/api/v1/agent/status").json()["log"]]
    assert log[:2] == ["forced offline on by Pat: slow", "forced offline: wrong PIN"]
    heartbeat_seen = StoreAgent.objects.filter(store__code="S001", mode="forced_offline")
    assert agent.heartbeat(), agent.link_error
    assert heartbeat_seen.exists()
    client.post("/api/v1/agent/offline", json={"on": False, "pin": "4321"})
    assert client.post("/api/v1/agent/sync").json()["queue_depth"] == 0


def test_five_wrong_pins_lock_the_switch(http_agent):
    agent, client = http_agent(manager_pin="4321")
    for _ in range(5):
        client.post("/api/v1/agent/offline", json={"on": True, "pin": "1111"})
    locked = client.post("/api/v1/agent/offline", json={"on": True, "pin": "4321"})
    assert locked.status_code == 403 and "Too many wrong PINs" in locked.json()["detail"]
    assert agent.forced_offline is False


def test_provisional_balance_is_hqs_last_balance_plus_queued_points(http_agent, chain, settings):
    from tideover.loyalty.members import create_member

    settings.LOYALTY_POINTS_PER_DOLLAR = 10
    create_member(name="Dana", loyalty_id="M0000042")
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error  # learns the program: 10 points a dollar
    client.post("/api/v1/sales", json=sale(cents=3_000, member="M0000042"))
    agent.forwarder.drain()  # HQ posts: 300 points, HQ's balance remembered
    agent.online = False  # HQ lost
    answer = client.post("/api/v1/sales", json=sale(cents=2_500, member="M0000042")).json()
    assert answer["points"] == 250 and answer["balance"] == 550 and answer["rewards_unlocked"] == 1
    view = client.get("/api/v1/members/M0000042/balance").json()
    assert view == {
        **view,
        "balance": 550,
        "provisional": True,
        "hq_balance": 300,
        "queued_points": 250,
        "rewards_unlocked": 1,
    }
    same = client.get("/api/v1/loyalty/members/M0000042/balance").json()
    assert same["balance"] == 550
    agent.online = True
    agent.forwarder.drain()
    after = client.get("/api/v1/members/M0000042/balance").json()
    assert after["queued_points"] == 0 and after["hq_balance"] == 50  # 500 became a reward


def test_the_difference_between_hqs_points_and_the_estimate_is_shown(http_agent, settings):
    from tideover.loyalty.members import create_member

    settings.LOYALTY_POINTS_PER_DOLLAR = 10
    create_member(name="Kim", loyalty_id="M0000099", tier="cardholder")  # 150% at HQ
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error
    answer = client.post("/api/v1/sales", json=sale(cents=2_000, member="M0000099")).json()
    assert answer["points"] == 200  # the agent estimates at the base rate
    agent.forwarder.drain()
    view = client.get("/api/v1/members/M0000099/balance").json()
    assert view["hq_balance"] == 300 and view["hq_minus_estimate_points"] == 100


def test_a_member_never_seen_here_has_only_their_queued_points(http_agent):
    agent, client = http_agent()
    agent.online = False
    client.post("/api/v1/sales", json=sale(cents=1_000, member="M0000077"))
    view = client.get("/api/v1/members/M0000077/balance").json()
    assert view["known_at_store"] is False and view["balance"] == view["queued_points"] == 10


def test_registers_get_hqs_validation_message_and_a_422_for_a_bad_body(http_agent):
    agent, client = http_agent()
    bad = client.post("/api/v1/sales", json={**sale(), "occurred_at": "2026-11-21T14:00:00"})
    assert bad.json()["result"] == "refused" and "needs a time zone" in bad.json()["reason"]
    assert client.post("/api/v1/sales", content=b"not json").status_code == 400
    assert client.post("/api/v1/sales:batch", json={"sales": []}).status_code == 422


def test_a_register_key_when_set_is_required(http_agent):
    agent, client = http_agent(register_key="k-123")
    assert client.post("/api/v1/sales", json=sale()).status_code == 401
    ok = client.post("/api/v1/sales", json=sale(), headers={"Authorization": "Bearer k-123"})
    assert ok.json()["result"] == "accepted"


def test_status_page_shows_mode_queue_and_refused_sales(http_agent):
    agent, client = http_agent()
    orphan = sale(kind="return", original_sale_id="S001-NOPE")
    agent.accept([orphan, sale()])
    agent.forwarder.drain()
    agent.accept([sale()])
    page = client.get("/").text
    assert 'id="queue">1 sales' in page and "Send now" in page
    assert orphan["sale_id"] in page and "has not been posted yet" in page
    refused = client.post("/offline", data={"on": "true", "pin": "1"}, follow_redirects=True)
    assert "Forced offline is not set up" in refused.text


def test_heartbeats_make_the_store_online_at_hq(make_agent):
    agent = make_agent()
    assert agent.register() and agent.heartbeat()
    row = StoreAgent.objects.get(store__code="S001")
    assert row.state == "online" and row.agent_id == agent.agent_id


def test_a_manager_marks_a_refused_sale_dealt_with_and_hq_stops_counting_it(http_agent):
    agent, client = http_agent(manager_pin="4321")
    orphan = sale(kind="return", original_sale_id="S001-NEVER-SOLD")
    agent.accept([orphan, sale()])
    assert agent.forwarder.drain()["rejected"] == 1
    assert agent.heartbeat(), agent.link_error
    at_hq = StoreAgent.objects.get(store__code="S001")
    assert (at_hq.rejected, at_hq.needs_attention) == (1, 1)
    url = f"/api/v1/agent/sales/{orphan['sale_id']}/dealt-with"
    wrong = client.post(url, json={"pin": "0000"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == "Wrong PIN"
    done = client.post(url, json={"pin": "4321", "who": "Pat", "note": "refunded in cash"})
    assert done.status_code == 200 and done.json()["state"] == "rejected"
    assert done.json()["dealt_note"] == "refunded in cash by Pat"
    again = client.post(url, json={"pin": "4321"})
    assert again.status_code == 409 and "already marked" in again.json()["detail"]
    status = client.get("/api/v1/agent/status").json()
    assert status["problems"]["counts"] == {} and status["problems"]["sales"] == []
    assert status["log"][0]["what"].startswith(f"sale {orphan['sale_id']} (rejected) dealt with")
    assert agent.heartbeat(), agent.link_error
    at_hq.refresh_from_db()
    assert (at_hq.rejected, at_hq.needs_attention) == (0, 0)


def test_only_refused_and_conflicting_sales_are_marked_dealt_with_from_the_page(http_agent):
    agent, client = http_agent(manager_pin="4321")
    queued = sale()
    agent.accept([queued])
    form = {"sale_id": queued["sale_id"], "pin": "4321", "who": "Pat"}
    page = client.post("/dealt-with", data=form, follow_redirects=True).text
    assert "is queued, not waiting for staff" in page
    missing = client.post("/dealt-with", data={**form, "sale_id": "S001-NOPE"})
    assert missing.status_code == 303 and "no%20sale%20S001-NOPE" in missing.headers["location"]
    assert agent.journal.sale_state(queued["sale_id"])["dealt_at"] is None
