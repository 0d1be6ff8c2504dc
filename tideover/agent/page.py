"""The agent's local status page for store staff: plain HTML, readable on a phone."""

from __future__ import annotations

from html import escape

MODE_TEXT = {
    "online": ("Online", "Sales go to HQ as they happen."),
    "draining": ("Sending", "HQ is back; queued sales are being sent, oldest first."),
    "offline": ("Offline", "HQ cannot be reached. Keep selling: every sale is kept here."),
    "forced_offline": ("Offline (forced)", "A manager switched HQ off. Sales are kept here."),
}


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def render_status(status: dict, error: str = "") -> str:
    title, explain = MODE_TEXT.get(status["mode"], (status["mode"], ""))
    problems = status["problems"]
    rows = "".join(
        f"<tr><td>{escape(p['sale_id'])}</td><td>{escape(p['state'])}</td>"
        f"<td>{escape(p['reason'] or '')}</td></tr>"
        for p in problems["sales"]
    )
    policy = status["policy"]
    log = "".join(
        f"<li>{escape(item['at'] or '')} {escape(item['what'])}</li>" for item in status["log"]
    )
    forced = status["forced_offline"]
    refusal = (
        f'<dt>HQ refuses what this agent sends</dt><dd id="hq-refusal">'
        f"{escape(status['hq_refusal'])} (HQ is reachable; call the help desk)</dd>"
        if status.get("hq_refusal")
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>Store {escape(status["store"])} agent: {escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1rem;max-width:44rem}}
.mode{{font-size:1.6rem;font-weight:bold}} .offline,.forced_offline{{color:#a40}}
.draining{{color:#06a}} .online{{color:#070}} table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}}
button{{font-size:1.1rem;padding:.5rem 1rem}} dt{{font-weight:bold}}
</style></head><body>
<h1>Store {escape(status["store"])}</h1>
<p class="mode {escape(status["mode"])}" id="mode">{escape(title)}</p>
<p>{escape(explain)}</p>
{f'<p role="alert" id="error"><strong>{escape(error)}</strong></p>' if error else ""}
<dl>
<dt>Waiting to send</dt><dd id="queue">{status["queue_depth"]:,} sales</dd>
<dt>Oldest unsent sale</dt><dd>{escape(status["oldest_unsent_at"] or "none")}</dd>
<dt>Last sent to HQ</dt><dd id="last-sync">{escape(status["last_sync_at"] or "not yet")}</dd>
<dt>Unsent card sales</dt><dd>{status["card_count"]} for {_money(status["card_exposure_cents"])}
 (limits: {_money(policy["per_sale_limit_cents"])} a sale, {_money(policy["total_limit_cents"])}
 in all, {policy["max_count"]} sales, {policy["max_age_minutes"]} minutes)</dd>
<dt>Problem with HQ</dt><dd>{escape(status["link_error"] or "none")}</dd>
{refusal}
</dl>
<form method="post" action="/sync"><button type="submit">Send now</button></form>
<h2>Sales HQ refused ({problems["counts"].get("rejected", 0)} refused,
{problems["counts"].get("conflict", 0)} conflicting,
<span id="quarantined">{problems["counts"].get("quarantined", 0)} quarantined</span>)</h2>
<p>These are kept here and at HQ's conflict list; call the help desk with the sale id.
Quarantined sales are ones HQ fails on every time: they are set aside so the others go on,
tried again now and then, and sent at once by "Send now".</p>
<table><tr><th>Sale</th><th>What</th><th>Why</th></tr>{rows}</table>
<h3>Dealt with a refused or conflicting sale?</h3>
<p>Once the sale is settled (rung up again, refunded, or the help desk fixed it at HQ), mark it
here: it stays in the agent's records, but no longer counts as waiting, here or at HQ.</p>
<form method="post" action="/dealt-with">
<label>Sale id <input name="sale_id" required></label>
<label>What was done <input name="note"></label>
<label>Your name <input name="who" autocomplete="name"></label>
<label>Manager PIN <input name="pin" type="password" inputmode="numeric" required></label>
<button type="submit">Mark as dealt with</button>
</form>
<h2>Forced offline</h2>
<form method="post" action="/offline">
<input type="hidden" name="on" value="{"false" if forced else "true"}">
<label>Your name <input name="who" autocomplete="name"></label>
<label>Manager PIN <input name="pin" type="password" inputmode="numeric" required></label>
<label>Why <input name="reason"></label>
<button type="submit">{"Go back online" if forced else "Force offline"}</button>
</form>
<h2>Log</h2><ul>{log}</ul>
<p><small>Agent {escape(status["agent_id"])} version {escape(status["version"])}</small></p>
</body></html>"""
