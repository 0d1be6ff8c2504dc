"""Staff roles and what each may do.

Roles are Django groups (so an administrator manages them in the admin); every page and API
endpoint asks for a *capability*, never a role, and this table is the one place that says which
roles hold which capability. ``tests/test_role_matrix.py`` checks every page and endpoint
against the answers written out in ``tests/role_expectations.py`` (change both together).
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    STORE_ASSOCIATE = "store_associate", "Store associate"
    STORE_MANAGER = "store_manager", "Store manager"
    INCIDENT_COMMANDER = "incident_commander", "Incident commander"
    COMMS = "comms", "Comms"
    CUSTOMER_SERVICE = "customer_service", "Customer service"
    CX_MANAGER = "cx_manager", "CX manager"
    ADMINISTRATOR = "administrator", "Administrator"


class Capability(models.TextChoices):
    VIEW_CONSOLE = "view_console", "See the console dashboard and incidents"
    DECLARE_INCIDENT = "declare_incident", "Declare, change state and resolve incidents"
    POST_PUBLIC_UPDATE = "post_public_update", "Post public updates and internal notes"
    SET_COMPONENT_STATUS = "set_component_status", "Change component status"
    SCHEDULE_MAINTENANCE = "schedule_maintenance", "Schedule maintenance"
    MANAGE_SEVERITIES = "manage_severities", "Edit severities and their update cadence"
    VIEW_STORE = "view_store", "See a store's page (own store for associates)"
    REPORT_PROBLEM = "report_problem", "Report a problem from a store"
    VIEW_DELIVERY = "view_delivery", "See subscriber counts and the delivery log"
    VIEW_SUBSCRIBER_CONTACTS = "view_subscriber_contacts", "See subscribers' phones and e-mails"
    MANAGE_CHANNELS = "manage_channels", "Retry messages and change channel settings"
    VIEW_MEMBERS = "view_members", "Look up loyalty members and statements"
    ADJUST_POINTS = "adjust_points", "Credit or debit loyalty points"
    APPROVE_ADJUSTMENT = "approve_adjustment", "Approve large point adjustments"
    REVIEW_HELD_POINTS = "review_held_points", "Approve or reject points held for review"
    MANAGE_LOYALTY_RULES = "manage_loyalty_rules", "Edit accrual, promotion and reward rules"
    VIEW_SALES = "view_sales", "See sales, ingest results and conflicts"
    MANAGE_GOODWILL = "manage_goodwill", "Set goodwill policy and send campaigns"
    CAPTURE_AFFECTED = "capture_affected", "Sign up affected shoppers in the store"
    VIEW_GOODWILL_RESULTS = "view_goodwill_results", "See goodwill campaign results (no contacts)"
    GRANT_GOODWILL = "grant_goodwill", "Resend or grant a goodwill offer by hand (audited)"
    MANAGE_TOKENS = "manage_tokens", "Create and revoke API tokens"
    VIEW_STORE_LINKS = "view_store_links", "See stores' link to HQ (own store for managers)"
    MANAGE_CARD_POLICY = "manage_card_policy", "Set the offline card limits of stores and regions"
    VIEW_SIGNALS = "view_signals", "See signals, alerts and social posts"
    HANDLE_ALERTS = "handle_alerts", "Acknowledge, dismiss and declare alerts"
    MANAGE_SIGNALS = "manage_signals", "Create signals, rules and social terms"
    VIEW_SOCIAL_HANDLES = "view_social_handles", "See the handles of social posts"
    MANAGE_RUNBOOKS = "manage_runbooks", "Write runbooks and move an incident to its next plan"
    VIEW_RESPONSE = "view_response", "See every store's checklist progress and drill reports"
    TRIAGE_REPORTS = "triage_reports", "Answer, link and export the front line's reports"
    WRITE_POSTMORTEM = "write_postmortem", "Read postmortems and edit their action items"


_ALL_STAFF = {
    Role.STORE_ASSOCIATE,
    Role.STORE_MANAGER,
    Role.INCIDENT_COMMANDER,
    Role.COMMS,
    Role.CUSTOMER_SERVICE,
    Role.CX_MANAGER,
    Role.ADMINISTRATOR,
}

ROLE_CAPABILITIES: dict[Capability, set[Role]] = {
    Capability.VIEW_CONSOLE: _ALL_STAFF,
    Capability.DECLARE_INCIDENT: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.POST_PUBLIC_UPDATE: {Role.INCIDENT_COMMANDER, Role.COMMS, Role.ADMINISTRATOR},
    Capability.SET_COMPONENT_STATUS: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.SCHEDULE_MAINTENANCE: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.MANAGE_SEVERITIES: {Role.ADMINISTRATOR},
    Capability.VIEW_STORE: _ALL_STAFF,
    Capability.REPORT_PROBLEM: {Role.STORE_ASSOCIATE, Role.STORE_MANAGER, Role.ADMINISTRATOR},
    Capability.VIEW_DELIVERY: {
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CUSTOMER_SERVICE,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.VIEW_SUBSCRIBER_CONTACTS: {Role.COMMS, Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR},
    Capability.MANAGE_CHANNELS: {Role.COMMS, Role.ADMINISTRATOR},
    Capability.VIEW_MEMBERS: {Role.CUSTOMER_SERVICE, Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.ADJUST_POINTS: {Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR},
    Capability.APPROVE_ADJUSTMENT: {Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.REVIEW_HELD_POINTS: {Role.CUSTOMER_SERVICE, Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.MANAGE_LOYALTY_RULES: {Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.VIEW_SALES: {
        Role.STORE_MANAGER,
        Role.INCIDENT_COMMANDER,
        Role.CUSTOMER_SERVICE,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.MANAGE_GOODWILL: {Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.CAPTURE_AFFECTED: {Role.STORE_ASSOCIATE, Role.STORE_MANAGER, Role.ADMINISTRATOR},
    Capability.VIEW_GOODWILL_RESULTS: {
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.GRANT_GOODWILL: {Role.CUSTOMER_SERVICE, Role.CX_MANAGER, Role.ADMINISTRATOR},
    Capability.MANAGE_TOKENS: {Role.ADMINISTRATOR},
    Capability.VIEW_STORE_LINKS: {
        Role.STORE_MANAGER,
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CUSTOMER_SERVICE,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.MANAGE_CARD_POLICY: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.VIEW_SIGNALS: {
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CUSTOMER_SERVICE,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.HANDLE_ALERTS: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.MANAGE_SIGNALS: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    # The social team answers people by handle; nobody else needs to know who posted.
    Capability.VIEW_SOCIAL_HANDLES: {Role.COMMS, Role.ADMINISTRATOR},
    Capability.MANAGE_RUNBOOKS: {Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR},
    Capability.VIEW_RESPONSE: {
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CUSTOMER_SERVICE,
        Role.CX_MANAGER,
        Role.ADMINISTRATOR,
    },
    Capability.TRIAGE_REPORTS: {
        Role.INCIDENT_COMMANDER,
        Role.COMMS,
        Role.CUSTOMER_SERVICE,
        Role.ADMINISTRATOR,
    },
    Capability.WRITE_POSTMORTEM: {Role.INCIDENT_COMMANDER, Role.COMMS, Role.ADMINISTRATOR},
}

# Store associates and managers only ever see their own store.
STORE_SCOPED_ROLES = {Role.STORE_ASSOCIATE, Role.STORE_MANAGER}


def user_roles(user) -> set[Role]:
    """The roles a user holds: the groups named after roles; a superuser holds all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Role)
    cached = getattr(user, "_tideover_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role if role.value in names}
        user._tideover_roles = cached
    return cached


def has_capability(user, capability: Capability) -> bool:
    return bool(user_roles(user) & ROLE_CAPABILITIES[capability])


def sees_all_stores(user) -> bool:
    """False for staff whose only roles are store-scoped: they see their own store."""
    roles = user_roles(user)
    return bool(roles - STORE_SCOPED_ROLES)
