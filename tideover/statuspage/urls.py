"""The public status page lives at the site root; tideover/urls.py includes this module."""

from django.urls import path

from tideover.statuspage import views
from tideover.statuspage.api_v2 import DOCUMENTS

app_name = "statuspage"
URL_PREFIX = ""

urlpatterns = [
    path("", views.index, name="index"),
    path("history", views.history, name="history"),
    path("incidents/<int:pk>", views.incident, name="incident"),
    path("stores", views.store_lookup, name="stores"),
    # The static export's names, so its relative links also work on the served site.
    path("index.html", views.index, name="index-html"),
    path("history.html", views.history, name="history-html"),
    path("incidents/<int:pk>.html", views.incident, name="incident-html"),
    path("feed.atom", views.feed_atom, name="feed-atom"),
    path("feed.rss", views.feed_rss, name="feed-rss"),
    path("history.atom", views.feed_atom, name="history-atom"),
    path("history.rss", views.feed_rss, name="history-rss"),
] + [
    path(
        f"api/v2/{name}",
        views.api_document,
        {"name": name},
        name=f"api-{name.removesuffix('.json').replace('/', '-')}",
    )
    for name in DOCUMENTS
]
