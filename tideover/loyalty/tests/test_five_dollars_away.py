"""The story this app exists for: a member $5 short of a reward buys one item, and the reward is
there, usable, the same second, through the real HTTP API."""

import time
from datetime import UTC, datetime

import httpx
import pytest

from tideover.core.services import create_api_token
from tideover.loyalty.adjustments import grant_points
from tideover.loyalty.members import create_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_five_dollars_away_reward_is_visible_and_redeemable_at_once(live_server, chain):
    member = create_member(name="Sam Five", loyalty_id="M5AWAY", phone="+1 512 555 0150")
    grant_points(member, 450, source_type="test", source_id="opening", reason="opening balance")
    _, till = create_api_token(
        name="till S001", scopes=["sales:write", "loyalty:read"], store=chain["stores"]["S001"]
    )
    api = httpx.Client(
        base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Bearer {till}"}
    )

    def sale(sale_id, cents, codes=()):
        return {
            "sale_id": sale_id,
            "store": "S001",
            "register": "R1",
            "occurred_at": datetime.now(UTC).isoformat(),
            "member_id": "M5AWAY",
            "lines": [{"sku": "MUG", "quantity": 1, "unit_price_cents": cents}],
            "tenders": [{"kind": "card", "amount_cents": cents}],
            "codes": list(codes),
        }

    posted = api.post("/sales", json=sale("S001-R1-5AWAY-1", 500)).json()
    answered = time.monotonic()
    assert posted["result"] == "posted" and posted["points"] == 50
    [reward] = posted["rewards"]
    balance = api.get("/loyalty/members/M5AWAY/balance").json()
    # The till has the code from the sale's answer; its read-only view shows it masked.
    assert [r["code"] for r in balance["pending_rewards"]] == ["****-****-" + reward["code"][-4:]]
    assert api.get(f"/loyalty/rewards/{reward['code']}").json()["usable"] is True
    redeemed = api.post("/sales", json=sale("S001-R1-5AWAY-2", 2500, [reward["code"]])).json()
    assert redeemed["result"] == "posted" and redeemed["redeemed"] == [reward["code"]]
    # From the till's receipt to the reward being used: no batch job, no waiting.
    assert time.monotonic() - answered < 1.0
    again = api.post("/sales", json=sale("S001-R1-5AWAY-3", 2500, [reward["code"]])).json()
    assert again["result"] == "rejected" and "already used" in again["reason"]
    assert api.get(f"/loyalty/rewards/{reward['code']}").status_code == 409
