"""The demo's sample of real store agents: cut off from HQ, selling, then draining."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tideover.sales.models import Sale
from tideover.storelink.demo import RealAgents
from tideover.storelink.models import StateChange


def _sales(code: str, count: int) -> list[dict]:
    start = datetime.now(UTC) - timedelta(hours=2)
    return [
        {
            "sale_id": f"{code}-DEMO-{n:04d}",
            "store": code,
            "register": "R1",
            "occurred_at": (start + timedelta(minutes=n)).isoformat(),
            "lines": [{"sku": "MILK-1G", "quantity": 1, "unit_price_cents": 389}],
            "tenders": [{"kind": "card_offline", "amount_cents": 389}],
        }
        for n in range(count)
    ]


def test_real_agents_take_sales_while_cut_off_and_drain_them_when_hq_returns(
    transactional_db, chain, tmp_path, settings
):
    settings.DATA_DIR = tmp_path
    settings.STORELINK_OFFLINE_AFTER_SECONDS = 1
    stores = [chain["stores"]["S001"], chain["stores"]["S002"]]
    agents = RealAgents(stores, tmp_path / "agents", tmp_path / "agents.log")
    try:
        for store in stores:
            agents.sell(store.code, _sales(store.code, 30))
        assert not Sale.objects.exists()  # cut off: nothing reached HQ yet
        time.sleep(2)  # silent longer than STORELINK_OFFLINE_AFTER_SECONDS
        agents.hq_returns()
    finally:
        agents.stop()
    assert agents.counts == {"accepted": 60, "duplicate": 0, "refused": 0}
    assert Sale.objects.filter(store__code__in=["S001", "S002"]).count() == 60
    went = list(
        StateChange.objects.filter(store__code="S001")
        .order_by("at")
        .values_list("state", flat=True)
    )
    assert went[:2] == ["online", "offline"] and went[-1] == "online"
