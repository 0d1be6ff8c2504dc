"""Goodwill codes are the loyalty app's codes: redeemed at the till through the sales API,
with validity and minimum spend, once, and a refused code says why."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tideover.loyalty.codes import ALPHABET, make_codes, normalize_code
from tideover.loyalty.models import Reward
from tideover.loyalty.offers import OfferTerms, mint_goodwill_codes
from tideover.sales.services import post_sale

_numbers = iter(range(1, 10**9))


def _code(*, min_spend=2500, value=500, percent=0, starts=None, days=30) -> str:
    now = timezone.now()
    starts = starts or now - timedelta(minutes=5)
    [(_, code)] = mint_goodwill_codes(
        [None], [OfferTerms(value, percent, min_spend, starts, starts + timedelta(days=days))],
        source="incident:test",
    )  # fmt: skip
    return code


def _sale(code: str, cents: int, at=None, store="S001") -> dict:
    return {
        "sale_id": f"{store}-R1-G{next(_numbers):06d}", "store": store, "register": "R1",
        "occurred_at": (at or timezone.now() - timedelta(seconds=5)).isoformat(),
        "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": cents}], "codes": [code],
    }  # fmt: skip


@pytest.mark.django_db
def test_minted_codes_have_55_random_bits_and_a_check_and_avoid_confusable_symbols():
    codes = make_codes(5000)
    assert len(set(codes)) == 5000
    for code in codes[:500]:
        symbols = code.replace("-", "")
        assert len(symbols) == 12 and not set(symbols) & set("01OI")
        assert normalize_code(code) == code


@pytest.mark.django_db
def test_every_single_character_typo_and_adjacent_swap_is_refused_as_a_typo(chain):
    code = _code().replace("-", "")
    typos = {code[:i] + other + code[i + 1 :] for i in range(12) for other in ALPHABET}
    typos |= {code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in range(11)}
    typos.discard(code)
    assert len(typos) >= 12 * 31
    from tideover.loyalty.rewards import redeem_for_sale
    from tideover.sales.hooks import CodeRefused

    class Till:
        sale_id, total_cents, occurred_at = "T-1", 5000, timezone.now()
        store = chain["stores"]["S001"]

    for typo in typos:
        with pytest.raises(CodeRefused, match="typo"):
            redeem_for_sale(typo, sale=Till)
    # ... and at the till, through the sales API, the sale is refused with the reason (two
    # neighbours that differ are swapped: swapping equal ones would give the code itself)
    i = next(i for i in range(11) if code[i] != code[i + 1])
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    result = post_sale(_sale(swapped, 5000))
    assert result.result == "rejected" and "typo" in result.reason
    assert Reward.objects.get(code=normalize_code(code)).redeemed_at is None


@pytest.mark.django_db
def test_a_goodwill_code_is_redeemed_once_with_the_discount_recorded(chain):
    code = _code(value=500, min_spend=2500)
    used = post_sale(_sale(code, 3000))
    assert used.result == "posted" and used.redeemed == [code]
    reward = Reward.objects.get(code=code)
    assert reward.discount_cents == 500 and reward.redeemed_store == "S001"
    again = post_sale(_sale(code, 3000))
    assert again.result == "rejected" and "already used" in again.reason
    percent = _code(value=0, percent=15, min_spend=0)
    assert post_sale(_sale(percent, 4000)).result == "posted"
    assert Reward.objects.get(code=percent).discount_cents == 600


@pytest.mark.django_db
def test_a_refused_code_says_why_below_minimum_expired_or_not_valid_yet(chain):
    code = _code(min_spend=2500)
    low = post_sale(_sale(code, 1840))
    assert low.result == "rejected"
    assert "needs a purchase of $25.00 or more; this sale is $18.40" in low.reason
    old = _code(starts=timezone.now() - timedelta(days=40), days=30)
    expired = post_sale(_sale(old, 5000))
    assert expired.result == "rejected" and "expired on" in expired.reason
    future = _code(starts=timezone.now() + timedelta(days=1))
    early = post_sale(_sale(future, 5000))
    assert early.result == "rejected" and "is valid from" in early.reason
    assert not Reward.objects.filter(redeemed_at__isnull=False).exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_goodwill_code_at_eight_concurrent_tills_on_postgresql_is_redeemed_once(chain):
    code = _code()
    tills = [_sale(code, 3000, store=s) for s in ("S001", "S002", "S003", "S004") * 2]
    barrier = threading.Barrier(len(tills))
    results: list = [None] * len(tills)
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            results[i] = post_sale(tills[i])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tills))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    outcomes = sorted(r.result for r in results)
    assert outcomes == ["posted"] + ["rejected"] * (len(tills) - 1)
    assert all("already used" in r.reason for r in results if r.result == "rejected")
    reward = Reward.objects.get(code=code)
    assert reward.redeemed_sale_id in {t["sale_id"] for t in tills}
