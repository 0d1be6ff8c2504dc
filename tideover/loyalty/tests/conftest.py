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
