"""The agent's one HTTP client to HQ: timeouts, the store token and what counts as "HQ down".

Uses httpx, as HQ's outbound HTTP does, with its own small settings (the agent has no Django).
"""

from __future__ import annotations

import json
import time

import httpx

from tideover.agent import VERSION


class HQUnavailable(Exception):
    """HQ did not answer usefully (no connection, timeout, 5xx, an answer that is not HQ's, or
    HQ refused the token in its own JSON)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class HQRefused(HQUnavailable):
    """HQ answered, and refused what the agent sent (a 4xx other than the token's, in HQ's own
    JSON: see ``hqs_own``): the link works, the request is wrong. Not a reason to go offline;
    staff must see it."""


class HQClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0, transport=None):
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"Tideover-Agent/{VERSION}",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            trust_env=False,  # a store box's proxy variables must not reroute HQ traffic
            transport=transport,
        )
        # When HQ last answered a request usefully (monotonic): the forwarder's evidence that a
        # server error for one sale is about that sale, not about HQ.
        self.ok_at = float("-inf")

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise HQUnavailable(f"HQ unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise HQUnavailable(f"HQ answered {response.status_code}", status=response.status_code)
        if response.status_code in (401, 403):
            if not hqs_own(response):  # a proxy's or captive portal's login page, not HQ's
                raise HQUnavailable(_not_hqs(response, "request"), status=response.status_code)
            raise HQUnavailable(
                f"HQ refused the agent's token ({response.status_code}): {_detail(response)}",
                status=response.status_code,
            )
        answered = _json(response) if response.status_code < 400 else hqs_own(response)
        if answered:
            # Evidence that HQ answers (quarantine's blame): HQ answers in JSON. A redirect or
            # a captive portal's page came from something between the store and HQ.
            self.ok_at = time.monotonic()
        return response

    def post_batch(self, payloads: list[str], queued_offline: list[str] = ()) -> httpx.Response:
        """Send stored sales as they are (JSON text each), in one ``sales:batch`` request;
        ``queued_offline``: the ids of those taken while HQ could not be reached."""
        body = '{"sales":[' + ",".join(payloads) + "]"
        if queued_offline:
            body += ',"queued_offline":' + json.dumps(list(queued_offline))
        body += "}"
        return self._call(
            "POST",
            "/sales:batch",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )

    def heartbeat(self, body: dict) -> dict:
        return self._settings_call("/storelink/heartbeats", body, "heartbeat")

    def register(self, body: dict) -> dict:
        return self._settings_call("/storelink/agents", body, "registration")

    def _settings_call(self, path: str, body: dict, what: str) -> dict:
        response = self._call("POST", path, json=body)
        status = response.status_code
        if 400 <= status < 500:
            if not hqs_own(response):
                raise HQUnavailable(_not_hqs(response, what), status=status)
            raise HQRefused(f"HQ refused the {what} ({status}): {_detail(response)}", status=status)
        if status != 200:
            raise HQUnavailable(f"HQ answered the {what} with {status}", status=status)
        return hq_json(response, dict)

    def balance(self, member_id: str) -> dict | None:
        """HQ's balance of a member, or None when HQ does not know them."""
        response = self._call("GET", f"/loyalty/members/{member_id}/balance")
        if response.status_code == 404:
            if not hqs_own(response):  # a proxy's 404 says nothing about the member
                raise HQUnavailable(_not_hqs(response, "balance look-up"), status=404)
            return None
        if response.status_code != 200:
            raise HQUnavailable(f"HQ answered {response.status_code}", status=response.status_code)
        return hq_json(response, dict)

    def balances(self, member_ids: list[str]) -> dict[str, dict]:
        """HQ's balance and tier of each member it knows, by loyalty id (one request; at most
        200 ids, HQ's limit per request)."""
        response = self._call("GET", "/loyalty/balances", params={"ids": ",".join(member_ids)})
        if response.status_code != 200:
            raise HQUnavailable(f"HQ answered {response.status_code}", status=response.status_code)
        rows = hq_json(response, dict).get("balances")
        try:
            return {row["loyalty_id"]: row for row in rows}
        except (TypeError, KeyError) as exc:
            raise HQUnavailable("HQ's answer is not a list of balances") from exc


def hq_json(response: httpx.Response, kind: type = dict, key: str | None = None):
    """HQ's JSON answer (``key`` of it), or HQUnavailable: a 200 that is not HQ's JSON comes
    from something between the agent and HQ (a captive portal, a proxy's page), so HQ was not
    reached."""
    try:
        data = response.json()
        if key is not None:
            data = data[key]
    except (ValueError, TypeError, KeyError) as exc:
        raise HQUnavailable(
            f"The answer is not HQ's ({response.headers.get('content-type', 'no type')}): "
            "a captive portal or proxy between the store and HQ?"
        ) from exc
    if not isinstance(data, kind):
        raise HQUnavailable("The answer is not HQ's: a captive portal or proxy between?")
    return data


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _json(response: httpx.Response) -> bool:
    """A 2xx in JSON, as HQ answers (HQ's API never redirects the agent's requests)."""
    return 200 <= response.status_code < 300 and _content_type(response) == "application/json"


def hqs_own(response: httpx.Response) -> bool:
    """Whether an error answer is HQ's own: HQ's API answers every refusal as JSON with a
    ``detail``. A proxy's or captive portal's 401, 403, 404, 407 or 429 page is not, and says
    nothing about HQ: HQ was not reached."""
    if _content_type(response) != "application/json":
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("detail"), (str, list))


def _not_hqs(response: httpx.Response, what: str) -> str:
    return (
        f"HQ not reached: the {what} was answered {response.status_code} "
        f"({response.headers.get('content-type', 'no type')}) by something that is not HQ, "
        "a proxy or captive portal between the store and HQ?"
    )


def _detail(response: httpx.Response) -> str:
    """HQ's reason, without the values it quotes back: a validation error's ``input`` (what the
    agent sent) stays out of logs and the status page; where and why are enough."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[-2:])}: {e.get('msg', '')}"
            if isinstance(e, dict)
            else str(e)
            for e in detail
        )
    return str(detail)[:200]
