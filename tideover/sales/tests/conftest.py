import pytest


@pytest.fixture(autouse=True)
def fixed_dates_are_accepted(settings):
    """These tests post sales on fixed dates around 21 Nov 2026, so the occurred_at bounds are
    widened; tests of the bounds set them back themselves."""
    settings.SALES_FUTURE_TOLERANCE_SECONDS = 10 * 366 * 86400
    settings.SALES_MAX_AGE_DAYS = 10 * 366
