"""What the role matrix expects, written out here: who holds each capability, what each page
and API operation needs. Deliberately NOT read from ``tideover.core.roles.ROLE_CAPABILITIES``
or from the views: a change there that widens (or narrows) access must fail the matrix until
this file is changed too, on purpose, in the same commit.

Adding a page or an API operation: add its row below (``PAGES`` or ``API``); adding a
capability: add who holds it to ``HOLDERS``.
"""

from __future__ import annotations

ROLES = (
    "store_associate",
    "store_manager",
    "incident_commander",
    "comms",
    "customer_service",
    "cx_manager",
    "administrator",
)
ALL_STAFF = frozenset(ROLES)
STORE_ROLES = frozenset({"store_associate", "store_manager"})
HQ_STAFF = ALL_STAFF - STORE_ROLES

# Test people (conftest ``staff``): their role, and the store they belong to.
PEOPLE = {
    **{role: role for role in ROLES},
    "associate_s002": "store_associate",
    "outsider": None,
}
HOME_STORE = {"store_associate": "S001", "store_manager": "S001", "associate_s002": "S002"}

# Who holds each capability (DESIGN.md's roles: associates and managers act for their own
# store; the commander runs incidents; comms talks; customer service fixes members; CX runs
# goodwill and loyalty rules; administrators hold everything).
HOLDERS: dict[str, frozenset[str]] = {
    "view_console": ALL_STAFF,
    "declare_incident": frozenset({"incident_commander", "administrator"}),
    "post_public_update": frozenset({"incident_commander", "comms", "administrator"}),
    "set_component_status": frozenset({"incident_commander", "administrator"}),
    "schedule_maintenance": frozenset({"incident_commander", "administrator"}),
    "manage_severities": frozenset({"administrator"}),
    "view_store": ALL_STAFF,
    "report_problem": frozenset({"store_associate", "store_manager", "administrator"}),
    "view_delivery": HQ_STAFF,
    "view_subscriber_contacts": frozenset({"comms", "customer_service", "administrator"}),
    "manage_channels": frozenset({"comms", "administrator"}),
    "view_members": frozenset({"customer_service", "cx_manager", "administrator"}),
    "adjust_points": frozenset({"customer_service", "administrator"}),
    "approve_adjustment": frozenset({"cx_manager", "administrator"}),
    "review_held_points": frozenset({"customer_service", "cx_manager", "administrator"}),
    "manage_loyalty_rules": frozenset({"cx_manager", "administrator"}),
    "view_sales": frozenset(
        {"store_manager", "incident_commander", "customer_service", "cx_manager", "administrator"}
    ),
    "manage_goodwill": frozenset({"cx_manager", "administrator"}),
    "capture_affected": frozenset({"store_associate", "store_manager", "administrator"}),
    "view_goodwill_results": frozenset(
        {"incident_commander", "comms", "cx_manager", "administrator"}
    ),
    "grant_goodwill": frozenset({"customer_service", "cx_manager", "administrator"}),
    "manage_tokens": frozenset({"administrator"}),
    "view_store_links": ALL_STAFF - {"store_associate"},
    "manage_card_policy": frozenset({"incident_commander", "administrator"}),
    "view_signals": HQ_STAFF,
    "handle_alerts": frozenset({"incident_commander", "administrator"}),
    "manage_signals": frozenset({"incident_commander", "administrator"}),
    "view_social_handles": frozenset({"comms", "administrator"}),
    "manage_runbooks": frozenset({"incident_commander", "administrator"}),
    "view_response": HQ_STAFF,
    "triage_reports": frozenset(
        {"incident_commander", "comms", "customer_service", "administrator"}
    ),
    "write_postmortem": frozenset({"incident_commander", "comms", "administrator"}),
}

# Pages (URL name) that are about one store: its own people only (and HQ roles).
STORE_PAGES = {"recovery:capture", "recovery:store_qr", "storeview:store"}

# Every console page by URL name, and the capability it needs.
PAGES: dict[str, str] = {
    "incidents:dashboard": "view_console",
    "incidents:list": "view_console",
    "incidents:declare": "declare_incident",
    "incidents:detail": "view_console",
    "incidents:post_update": "post_public_update",
    "incidents:add_note": "post_public_update",
    "incidents:change_state": "declare_incident",
    "incidents:reopen": "declare_incident",
    "incidents:set_component": "set_component_status",
    "incidents:update_settings": "declare_incident",
    "incidents:maintenance": "view_console",
    "incidents:schedule_maintenance": "schedule_maintenance",
    "incidents:start_maintenance": "schedule_maintenance",
    "incidents:complete_maintenance": "schedule_maintenance",
    "incidents:cancel_maintenance": "schedule_maintenance",
    "incidents:severities": "view_console",
    "incidents:edit_severity": "manage_severities",
    "incidents:component_status": "set_component_status",
    "notifications:subscribers": "view_delivery",
    "notifications:delivery": "view_delivery",
    "notifications:retry": "manage_channels",
    "notifications:channels": "manage_channels",
    "notifications:channel-test": "manage_channels",
    "notifications:channel-toggle": "manage_channels",
    "notifications:channel-verify": "manage_channels",
    "notifications:preview": "post_public_update",
    "sales:conflicts": "view_sales",
    "sales:review": "view_sales",
    "loyalty:search": "view_members",
    "loyalty:member": "view_members",
    "loyalty:adjust": "adjust_points",
    "loyalty:adjustments": "view_members",
    "loyalty:decide": "approve_adjustment",
    "loyalty:held": "review_held_points",
    "loyalty:held_decide": "review_held_points",
    "detect:signals": "view_signals",
    "detect:signal": "view_signals",
    "detect:signal_new": "manage_signals",
    "detect:signal_edit": "manage_signals",
    "detect:rule_new": "manage_signals",
    "detect:rule_edit": "manage_signals",
    "detect:alerts": "view_signals",
    "detect:alert": "view_signals",
    "detect:acknowledge": "handle_alerts",
    "detect:dismiss": "handle_alerts",
    "detect:declare": "handle_alerts",
    "detect:posts": "view_signals",
    "notifications:briefings": "view_delivery",
    "runbooks:list": "view_console",
    "runbooks:new": "manage_runbooks",
    "runbooks:add_shipped": "manage_runbooks",
    "runbooks:detail": "view_console",
    "runbooks:edit": "manage_runbooks",
    "runbooks:version": "view_console",
    "runbooks:overview": "view_response",
    "runbooks:progress": "view_response",
    "runbooks:move_plan": "manage_runbooks",
    "runbooks:attach": "manage_runbooks",
    "runbooks:nudge": "manage_runbooks",
    "runbooks:tick_team_step": "view_response",
    "runbooks:drills": "view_response",
    "runbooks:drill_report": "view_response",
    "frontline:queue": "triage_reports",
    "frontline:export": "triage_reports",
    "frontline:incident_reports": "triage_reports",
    "frontline:detail": "triage_reports",
    "frontline:photo": "triage_reports",
    "frontline:link": "triage_reports",
    "frontline:answer": "triage_reports",
    "frontline:acted_on": "triage_reports",
    "storeview:store": "view_store",
    "storeview:acknowledge": "view_store",
    "storeview:stuck": "view_store",
    "storeview:tick": "view_store",
    "storeview:report": "report_problem",
    "storeview:insight": "report_problem",
    "postmortems:postmortem": "write_postmortem",
    "postmortems:export": "write_postmortem",
    "postmortems:add_item": "write_postmortem",
    "postmortems:edit_item": "write_postmortem",
    "postmortems:remove_item": "write_postmortem",
    "storelink:stores": "view_store_links",
    "storelink:policies": "manage_card_policy",
    "storelink:set_policy": "manage_card_policy",
    "storelink:clear_policy": "manage_card_policy",
    "recovery:capture": "capture_affected",
    "recovery:store_qr": "view_store",
    "recovery:incident": "view_goodwill_results",
    "recovery:policy": "manage_goodwill",
    "recovery:campaign": "manage_goodwill",
    "recovery:csv": "view_goodwill_results",
    "recovery:plot": "view_goodwill_results",
    "recovery:lookup": "view_members",
    "recovery:customer_action": "grant_goodwill",
}

# Every API operation ("METHOD path" as in the OpenAPI document): the token scope that allows
# it (None: no token may) and the staff capability that allows it (None: no person may).
API: dict[str, tuple[str | None, str | None]] = {
    "GET /api/v1/components": ("incidents:read", "view_console"),
    "POST /api/v1/components/{slug}/status": ("incidents:write", "set_component_status"),
    "GET /api/v1/incidents": ("incidents:read", "view_console"),
    "POST /api/v1/incidents": ("incidents:write", "declare_incident"),
    "GET /api/v1/incidents/{incident_id}": ("incidents:read", "view_console"),
    "PATCH /api/v1/incidents/{incident_id}": ("incidents:write", "declare_incident"),
    "POST /api/v1/incidents/{incident_id}/updates": ("incidents:write", "post_public_update"),
    "POST /api/v1/incidents/{incident_id}/notes": ("incidents:write", "post_public_update"),
    "POST /api/v1/incidents/{incident_id}/state": ("incidents:write", "declare_incident"),
    "POST /api/v1/incidents/{incident_id}/reopen": ("incidents:write", "declare_incident"),
    "GET /api/v1/incidents/{incident_id}/timeline": ("incidents:read", "view_console"),
    "POST /api/v1/maintenance": ("incidents:write", "schedule_maintenance"),
    "POST /api/v1/maintenance/{incident_id}/cancel": ("incidents:write", "schedule_maintenance"),
    "POST /api/v1/sales:batch": ("sales:write", None),
    "POST /api/v1/sales": ("sales:write", None),
    "GET /api/v1/sales/conflicts": (None, "view_sales"),
    "GET /api/v1/sales/{sale_id}": ("sales:write", "view_sales"),
    "GET /api/v1/loyalty/members": ("loyalty:read", "view_members"),
    "POST /api/v1/loyalty/members": ("loyalty:write", "adjust_points"),
    "GET /api/v1/loyalty/members/{loyalty_id}": ("loyalty:read", "view_members"),
    "POST /api/v1/loyalty/members/{loyalty_id}/consent": ("loyalty:write", "adjust_points"),
    "GET /api/v1/loyalty/members/{loyalty_id}/balance": ("loyalty:read", "view_members"),
    "GET /api/v1/loyalty/balances": ("loyalty:read", "view_members"),
    "GET /api/v1/loyalty/members/{loyalty_id}/statement": ("loyalty:read", "view_members"),
    "GET /api/v1/loyalty/members/{loyalty_id}/rewards": ("loyalty:read", "view_members"),
    "POST /api/v1/loyalty/members/{loyalty_id}/adjustments": ("loyalty:write", "adjust_points"),
    "GET /api/v1/loyalty/adjustments": ("loyalty:read", "view_members"),
    "POST /api/v1/loyalty/adjustments/{adjustment_id}/approve": (None, "approve_adjustment"),
    "POST /api/v1/loyalty/adjustments/{adjustment_id}/reject": (None, "approve_adjustment"),
    "GET /api/v1/loyalty/held": (None, "review_held_points"),
    "POST /api/v1/loyalty/held/{hold_id}/approve": (None, "review_held_points"),
    "POST /api/v1/loyalty/held/{hold_id}/reject": (None, "review_held_points"),
    "GET /api/v1/loyalty/rewards/{code}": ("loyalty:read", "view_members"),
    "POST /api/v1/notifications/subscribers": ("subscribers:write", "manage_channels"),
    "DELETE /api/v1/notifications/subscribers/{subscriber_id}": (
        "subscribers:write",
        "manage_channels",
    ),
    "POST /api/v1/notifications/subscribers/{subscriber_id}/verify": (
        "subscribers:write",
        "manage_channels",
    ),
    "GET /api/v1/notifications/subscribers/counts": ("subscribers:write", "view_delivery"),
    "GET /api/v1/notifications/messages": ("subscribers:write", "view_delivery"),
    "POST /api/v1/notifications/messages/{message_id}/retry": (
        "subscribers:write",
        "manage_channels",
    ),
    "POST /api/v1/notifications/preview": ("incidents:write", "post_public_update"),
    "POST /api/v1/storelink/agents": ("heartbeats:write", None),
    "POST /api/v1/storelink/heartbeats": ("heartbeats:write", None),
    "GET /api/v1/storelink/stores": (None, "view_store_links"),
    "PUT /api/v1/storelink/policies/stores/{code}": (None, "manage_card_policy"),
    "PUT /api/v1/storelink/policies/regions/{slug}": (None, "manage_card_policy"),
    "POST /api/v1/recovery/incidents/{incident_id}/affected": (
        "recovery:write",
        "capture_affected",
    ),
    "POST /api/v1/recovery/incidents/{incident_id}/web-checkout-failures": (
        "recovery:write",
        "manage_goodwill",
    ),
    "GET /api/v1/recovery/incidents/{incident_id}/results": (
        "incidents:read",
        "view_goodwill_results",
    ),
    "POST /api/v1/signals": ("signals:write", "manage_signals"),
    "GET /api/v1/signals": (None, "view_signals"),
    "POST /api/v1/signals/points:batch": ("signals:write", "manage_signals"),
    "POST /api/v1/signals/{slug}/points": ("signals:write", "manage_signals"),
    "POST /api/v1/signals/{slug}/events": ("signals:write", "manage_signals"),
    "POST /api/v1/social/posts:batch": ("signals:write", "manage_signals"),
    "POST /api/v1/social/posts": ("signals:write", "manage_signals"),
    "POST /api/v1/web-checkouts": ("signals:write", "manage_signals"),
    "GET /api/v1/alerts": (None, "view_signals"),
    "POST /api/v1/alerts/{alert_id}/acknowledge": (None, "handle_alerts"),
    "POST /api/v1/alerts/{alert_id}/dismiss": (None, "handle_alerts"),
    "POST /api/v1/alerts/{alert_id}/declare": (None, "handle_alerts"),
}

# Operations only a token bound to a store may use (an unbound token of the scope is refused).
STORE_TOKEN_ONLY = {"POST /api/v1/storelink/agents", "POST /api/v1/storelink/heartbeats"}
SCOPES = (
    "incidents:read",
    "incidents:write",
    "sales:write",
    "heartbeats:write",
    "loyalty:read",
    "loyalty:write",
    "subscribers:write",
    "signals:write",
    "recovery:write",
)
