"""The WSGI fast path answers cached status documents before Django builds a request."""

import io

import pytest

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
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
def test_fast_path_never_serves_a_page_older_than_the_last_change(
    client, outage, fast, django_capture_on_commit_callbacks
):
    app, downstream = fast
    client.get("/api/v2/summary.json")
    before = call(app, "/api/v2/summary.json")["body"]
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Stores in the south are back.")
    after = call(app, "/api/v2/summary.json")
    assert after["body"] != before  # never the document from before the change...
    assert downstream.paths == ["/api/v2/summary.json"]  # ...a miss, which Django renders
    run_queued_tasks()  # the publish task warms it after the commit
    warmed = call(app, "/api/v2/summary.json")
    assert b"Stores in the south are back." in warmed["body"]
    assert downstream.paths == ["/api/v2/summary.json"]


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
