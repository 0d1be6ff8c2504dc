"""The loyalty app's public service functions, by responsibility:

- ``members``: create_member, set_consent, get_member, search_members
- ``accrual``: accrue_posted (the sales hook), points_for
- ``rewards``: issue_due, redeem_for_sale (the sales hook), check_code
- ``expiry``: run_expiry (the periodic job), send_reminders, expire_due
- ``adjustments``: request_adjustment, approve_adjustment, reject_adjustment, grant_points
- ``statements``: statement, pending_rewards, upcoming_expiry
- ``codes``: make_code, normalize_code (reusable by goodwill offers)
"""

from tideover.core.actors import SYSTEM, Actor
from tideover.loyalty.accrual import accrue_posted, points_for
from tideover.loyalty.adjustments import (
    approve_adjustment,
    grant_points,
    reject_adjustment,
    request_adjustment,
)
from tideover.loyalty.codes import make_code, normalize_code
from tideover.loyalty.expiry import expire_due, run_expiry, send_reminders
from tideover.loyalty.members import create_member, get_member, search_members, set_consent
from tideover.loyalty.rewards import check_code, redeem_for_sale
from tideover.loyalty.statements import pending_rewards, statement, upcoming_expiry

__all__ = [
    "SYSTEM",
    "Actor",
    "accrue_posted",
    "approve_adjustment",
    "check_code",
    "create_member",
    "expire_due",
    "get_member",
    "grant_points",
    "make_code",
    "normalize_code",
    "pending_rewards",
    "points_for",
    "redeem_for_sale",
    "reject_adjustment",
    "request_adjustment",
    "run_expiry",
    "search_members",
    "send_reminders",
    "set_consent",
    "statement",
    "upcoming_expiry",
]
