import pytest


@pytest.fixture
def member(db, chain):
    from tideover.loyalty.members import create_member

    return create_member(
        name="Dana Shopper",
        phone="+1 512 555 0142",
        email="dana@example.com",
        loyalty_id="M0000042",
        consents={"transactional": True, "marketing_sms": True},
        consent_source="store sign-up form",
    )


@pytest.fixture
def make_member(db, chain):
    from tideover.loyalty.members import create_member

    def make(loyalty_id: str, tier: str = "member", **kwargs):
        return create_member(
            name=f"Member {loyalty_id}", loyalty_id=loyalty_id, tier=tier, **kwargs
        )

    return make


@pytest.fixture(autouse=True)
def ten_points_per_dollar(settings):
    """Tests read easier at 10 points per dollar: $25 is 250 points, 500 points a $5 reward."""
    settings.LOYALTY_POINTS_PER_DOLLAR = 10


@pytest.fixture(autouse=True)
def fixed_dates_are_accepted(settings):
    """These tests post sales on fixed dates around 21 Nov 2026 (and expiry a year on), so the
    occurred_at bounds are widened; tests of the bounds set them back themselves."""
    settings.SALES_FUTURE_TOLERANCE_SECONDS = 10 * 366 * 86400
    settings.SALES_MAX_AGE_DAYS = 10 * 366
