"""Guessing SMS codes and pumping sign-ups: the limits hold on the store the product runs
(the database, or Redis with REDIS_URL), for the whole window, across processes."""

import re
import socket
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client

from tideover.notifications import ratelimit
from tideover.notifications.models import RateLimitCounter, Subscriber
from tideover.notifications.outbox import drain

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_running(), reason="no Redis on 127.0.0.1:6379")
STORES = ["database", pytest.param("redis", marks=needs_redis)]


@pytest.fixture
def store(request, settings):
    """Run the test with the counters in the database (REDIS_URL unset) or in Redis, there
    under a key prefix of this test's own (removed afterwards)."""
    if request.param != "redis":
        settings.REDIS_URL = ""
        yield request.param
        return
    import redis

    prefix = f"test-{uuid.uuid4().hex}"
    settings.REDIS_URL = REDIS_URL
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    yield request.param
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(f"tideover-limits:{prefix}*"):
        server.delete(key)


def _sms_signup(client, phone, ip="203.0.113.20"):
    return client.post("/subscribe/", {"channel": "sms", "phone": phone}, REMOTE_ADDR=ip)


def _email_signup(email, ip="203.0.113.30", **extra):
    return Client().post(
        "/subscribe/", {"channel": "email", "email": email}, REMOTE_ADDR=ip, **extra
    )


def test_wrong_sms_codes_are_counted_and_the_code_dies_after_five(db, http_sink):
    client = Client()
    page = _sms_signup(client, "5125550170")["Location"]
    drain()
    code = re.search(r"code is (\d{6})", http_sink.sms[0]["Body"])[1]
    wrong = "000000" if code != "000000" else "111111"
    for tried in range(1, 6):
        answer = client.post(page, {"code": wrong})
        assert answer.status_code == 400 and b"That code does not work" in answer.content
        # The count is kept although the attempt was refused.
        assert Subscriber.objects.get().confirm_attempts == tried
    # The right code no longer works: the code died with the fifth wrong try.
    late = client.post(page, {"code": code})
    assert late.status_code == 400 and b"subscribing again sends a new one" in late.content
    subscriber = Subscriber.objects.get()
    assert subscriber.state == "pending" and subscriber.confirm_attempts == 5


def test_guessing_codes_across_many_sign_ups_from_one_network_is_throttled(db, settings):
    settings.SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR = 3
    pages = [
        _sms_signup(Client(), f"51255501{80 + i}", ip=f"198.51.100.{i + 1}")["Location"]
        for i in range(4)
    ]
    guesser = Client()
    answers = [guesser.post(page, {"code": "123456"}, REMOTE_ADDR="203.0.113.66") for page in pages]
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]
    assert answers[3].status_code == 429 and b"Too many code attempts" in answers[3].content
    # Another network is not held up by that one.
    other = Client().post(pages[3], {"code": "123456"}, REMOTE_ADDR="203.0.113.67")
    assert other.status_code == 400


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_sign_up_limit_holds_for_the_whole_hour_not_five_minutes(db, settings, monkeypatch, store):
    settings.SIGNUP_PER_IP_PER_HOUR = 2
    assert _email_signup("a1@example.com").status_code == 200
    assert _email_signup("a2@example.com").status_code == 200
    assert _email_signup("a3@example.com").status_code == 429
    if store == "redis":
        # Redis expires the key itself: the counter must live for the window, not five minutes.
        import redis

        found = redis.Redis.from_url(REDIS_URL)
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        [key] = found.keys(f"tideover-limits:{prefix}:tideover:ip/*")
        assert 3500 < found.ttl(key) <= 3600
        return
    start = ratelimit.clock()
    monkeypatch.setattr(ratelimit, "clock", lambda: start + 10 * 60)
    assert _email_signup("a4@example.com").status_code == 429
    monkeypatch.setattr(ratelimit, "clock", lambda: start + 3601)
    assert _email_signup("a5@example.com").status_code == 200


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_sign_up_limit_survives_hundreds_of_other_counters(db, settings, store):
    settings.SIGNUP_PER_NUMBER_PER_DAY = 1
    assert _sms_signup(Client(), "5125550190").status_code == 302
    # The file cache culled a third of its keys past 300 entries, forgetting counts.
    for i in range(450):
        assert ratelimit.hit("phone", f"+1737555{i:04d}", 1, 86400)
    again = _sms_signup(Client(), "5125550190", ip="203.0.113.21")
    assert again.status_code == 429 and b"too many confirmation codes" in again.content


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_concurrent_attempts_never_pass_the_limit(transactional_db, store):
    results: list[bool] = []
    barrier = threading.Barrier(12)

    def attempt():
        try:
            barrier.wait()
            results.append(ratelimit.hit("ip", "203.0.113.99", 5, 3600))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True] * 5


def test_counters_store_no_address_or_number(db, settings):
    settings.REDIS_URL = ""  # the database store (Redis keys are checked by the tests above)
    _sms_signup(Client(), "5125550191", ip="203.0.113.22")
    keys = " ".join(RateLimitCounter.objects.values_list("key", flat=True))
    assert keys and "5125550191" not in keys and "203.0.113.22" not in keys


def test_sms_sign_up_refuses_premium_rate_and_other_non_mobile_numbers(db):
    for phone, kind in (
        ("+1 900 555 0123", b"premium-rate"),
        ("+1 800 555 0199", b"toll-free"),
        ("+1 500 555 0006", b"not a mobile number"),
    ):
        answer = _sms_signup(Client(), phone)
        assert answer.status_code == 400 and kind in answer.content
        assert b"mobile numbers only" in answer.content
    assert not Subscriber.objects.exists()


def test_client_address_comes_from_the_trusted_proxy_header(db, settings):
    settings.SIGNUP_PER_IP_PER_HOUR = 1

    def via_proxy(email, forwarded):
        return _email_signup(email, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    # Without the setting the header is the client's say-so and is ignored: one proxy address.
    assert via_proxy("p1@example.com", "198.51.100.1").status_code == 200
    assert via_proxy("p2@example.com", "198.51.100.2").status_code == 429
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    assert via_proxy("p3@example.com", "198.51.100.3").status_code == 200
    assert via_proxy("p4@example.com", "198.51.100.4").status_code == 200
    # A client that writes its own header gets its real address counted, not the one it wrote.
    assert via_proxy("p5@example.com", "198.51.100.5, 198.51.100.3").status_code == 429


def test_api_callers_do_not_spend_the_anonymous_limit(db, settings, api_token):
    settings.SIGNUP_PER_IP_PER_HOUR = 1
    headers = api_token("subscribers:write")
    for i in range(3):
        answer = Client().post(
            "/api/v1/notifications/subscribers",
            {"channel": "email", "address": f"import{i}@example.com"},
            content_type="application/json",
            REMOTE_ADDR="203.0.113.40",
            **headers,
        )
        assert answer.status_code == 201
    assert _email_signup("shopper@example.com", ip="203.0.113.40").status_code == 200
    assert _email_signup("shopper2@example.com", ip="203.0.113.40").status_code == 429


def test_sign_ups_refuse_with_try_again_when_the_counter_store_is_down(db, settings):
    with socket.socket() as closed:  # a loopback port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    answer = _email_signup("down@example.com")
    assert answer.status_code == 503 and b"try again" in answer.content
    assert not Subscriber.objects.exists()


def _refusal(answer):
    """What a refused code page shows, without the per-visitor CSRF token."""
    return answer.status_code, re.sub(rb'value="[^"]*"', b"", answer.content)


def test_the_code_page_answers_an_unknown_token_exactly_like_a_wrong_code(db, http_sink):
    """A prober cannot tell a real sign-up from a made-up token, nor (through the decoy token
    an already-subscribed number is sent to) which numbers are subscribed."""
    client = Client()
    real = _sms_signup(client, "5125550171")["Location"]
    drain()
    code = re.search(r"code is (\d{6})", http_sink.sms[0]["Body"])[1]
    wrong = "000000" if code != "000000" else "111111"
    made_up = "/subscribe/sms/not-a-token-anybody-was-given/"
    assert _refusal(client.post(real, {"code": wrong})) == _refusal(
        client.post(made_up, {"code": wrong})
    )
    assert client.get(made_up).status_code == client.get(real).status_code == 200
    # The number is now on; signing it up again leads to the decoy, which refuses the same way.
    assert client.post(real, {"code": code}).status_code == 200
    decoy = _sms_signup(client, "5125550171")["Location"]
    assert decoy != real
    assert _refusal(client.post(decoy, {"code": code})) == _refusal(
        client.post(made_up, {"code": code})
    )


def test_made_up_tokens_count_against_the_same_code_limit(db, settings):
    settings.SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR = 3
    client = Client()
    for n in range(3):
        answer = client.post(f"/subscribe/sms/made-up-{n}/", {"code": "123456"})
        assert answer.status_code == 400
    throttled = client.post("/subscribe/sms/made-up-9/", {"code": "123456"})
    assert throttled.status_code == 429


def test_one_ipv6_network_shares_one_sign_up_limit_whatever_address_it_uses(db, settings):
    """A home or server is given a whole /64: counting each address would give it billions."""
    settings.SIGNUP_PER_IP_PER_HOUR = 2
    answers = [
        _email_signup(f"v6-{n}@example.com", ip=f"2001:db8:1:2::{n:x}").status_code
        for n in range(1, 5)
    ]
    assert answers == [200, 200, 429, 429]
    assert _email_signup("v6-other@example.com", ip="2001:db8:1:3::1").status_code == 200


def test_a_malformed_webhook_url_is_a_form_error_not_a_500(db):
    for url in ("http://[::1", "http://\u2100.com/"):
        page = Client().post("/subscribe/", {"channel": "webhook", "url": url})
        assert page.status_code == 400 and b"full URL" in page.content
    assert not Subscriber.objects.exists()


def test_a_component_id_no_column_could_hold_is_a_form_error_not_a_500(db):
    page = Client().post(
        "/subscribe/",
        {"channel": "email", "email": "a@example.com", "components": "99999999999999999999"},
    )
    assert page.status_code == 400
    assert not Subscriber.objects.exists()
