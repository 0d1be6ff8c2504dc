"""The WSGI fast path answers cached status documents before Django builds a request."""

import io

import pytest

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
from tideover.statuspage import cache
from tideover.statuspage.fastpath import StatusPageFastPath


class Downstream:
    """Stands in for Django behind the fast path and counts what reaches it."""

    def __init__(self):
        self.paths = []

    def __call__(self, environ, start_response):
        self.paths.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from django"]


def call(app, path, method="GET", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        **headers,
    }
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = status
        answer["headers"] = dict(response_headers)

    answer["body"] = b"".join(app(environ, start_response))
    return answer


@pytest.fixture
def fast():
    downstream = Downstream()
    return StatusPageFastPath(downstream), downstream


@pytest.mark.django_db
def test_cached_documents_skip_django_and_the_database(
    client, outage, fast, django_assert_num_queries
):
    app, downstream = fast
    paths = ["/", "/api/v2/summary.json", f"/incidents/{outage.pk}", "/feed.atom", "/history"]
    paths += ["/index.html", f"/incidents/{outage.pk}.html"]  # the export's names
    served = {path: client.get(path).content for path in paths}  # Django renders and caches
    with django_assert_num_queries(0):
        answers = {path: call(app, path) for path in paths}
    assert downstream.paths == []
    for path, answer in answers.items():
        assert answer["status"] == "200 OK"
        assert answer["body"] == served[path]
    headers = answers["/"]["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    # The same Content-Security-Policy as Django's own answers carry.
    assert headers["Content-Security-Policy"] == client.get("/").headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "public, no-cache" and headers["ETag"]


@pytest.mark.django_db
def test_a_miss_or_anything_else_goes_to_django(client, outage, fast):
    app, downstream = fast
    call(app, "/")  # not rendered yet: Django must render it
    call(app, "/console/")
    call(app, "/incidents/12x")
    client.get("/")
    call(app, "/", method="POST")
    assert downstream.paths == ["/", "/console/", "/incidents/12x", "/"]


@pytest.mark.django_db
def test_after_a_change_the_fast_path_serves_the_page_before_it_until_the_publish_task_rendered_it(
    client, outage, fast, django_capture_on_commit_callbacks
):
    app, downstream = fast
    client.get("/api/v2/summary.json")
    before = call(app, "/api/v2/summary.json")["body"]
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Stores in the south are back.")
    assert call(app, "/api/v2/summary.json")["body"] == before
    assert downstream.paths == [], "no web process renders after a write"
    run_queued_tasks()  # the publish task renders it after the commit
    published = call(app, "/api/v2/summary.json")
    assert b"Stores in the south are back." in published["body"]
    assert downstream.paths == []


@pytest.mark.django_db
def test_when_no_publish_task_comes_the_hold_lapses_and_a_reader_renders_the_change(
    client, outage, fast, django_capture_on_commit_callbacks
):
    app, downstream = fast
    client.get("/api/v2/summary.json")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Stores in the south are back.")
    cache.release(cache.current_version())  # what the hold's timeout does without a worker
    cache._waiting.clear()  # this process asks the shared cache again (after RECHECK_SECONDS)
    call(app, "/api/v2/summary.json")
    assert downstream.paths == ["/api/v2/summary.json"]  # a miss, which Django renders:
    assert b"Stores in the south are back." in client.get("/api/v2/summary.json").content


@pytest.mark.django_db
def test_fast_path_answers_conditional_get_and_head(client, outage, fast):
    app, _ = fast
    etag = client.get("/").headers["ETag"]
    assert call(app, "/", HTTP_IF_NONE_MATCH=etag)["status"] == "304 Not Modified"
    assert call(app, "/", HTTP_IF_NONE_MATCH='"other"')["status"] == "200 OK"
    head = call(app, "/", method="HEAD")
    assert head["body"] == b"" and int(head["headers"]["Content-Length"]) > 1000


@pytest.mark.django_db
def test_fast_path_serves_precompressed_bytes(client, outage, fast):
    import gzip

    app, _ = fast
    plain = client.get("/").content
    answer = call(app, "/", HTTP_ACCEPT_ENCODING="gzip")
    assert answer["headers"]["Content-Encoding"] == "gzip"
    assert gzip.decompress(answer["body"]) == plain
    assert answer["headers"]["Content-Length"] == str(len(answer["body"]))


@pytest.mark.django_db
def test_with_https_redirect_plain_http_is_redirected_and_https_gets_hsts(client, outage, settings):
    """HTTPS_REDIRECT and HSTS_SECONDS hold on the fast path as on Django's own answers."""
    from django.core.wsgi import get_wsgi_application

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    app = StatusPageFastPath(get_wsgi_application())
    secure = client.get("/", headers={"X-Forwarded-Proto": "https"})  # Django renders and caches
    assert secure.status_code == 200

    plain = call(app, "/")
    assert plain["status"].startswith("301") and plain["headers"]["Location"].startswith("https")
    answer = call(app, "/", HTTP_X_FORWARDED_PROTO="https")
    assert answer["status"] == "200 OK" and answer["body"] == secure.content
    hsts = answer["headers"]["Strict-Transport-Security"]
    assert hsts == secure.headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    # A proxy that says the request came over plain HTTP is believed too.
    assert call(app, "/", HTTP_X_FORWARDED_PROTO="http")["status"].startswith("301")


@pytest.mark.django_db
def test_without_hsts_no_strict_transport_header_is_sent(client, outage, fast):
    app, _ = fast
    client.get("/")
    answer = call(app, "/", **{"wsgi.url_scheme": "https"})
    assert answer["status"] == "200 OK"
    assert "Strict-Transport-Security" not in answer["headers"]
