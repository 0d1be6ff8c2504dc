"""The associate's store page: /store/<store_code>/ (no JavaScript needed)."""

from django.urls import path

from tideover.storeview import views

app_name = "storeview"
URL_PREFIX = "store/"

urlpatterns = [
    path("<str:store_code>/", views.store, name="store"),
    path(
        "<str:store_code>/checklists/<int:checklist_id>/ack/", views.acknowledge, name="acknowledge"
    ),
    path("<str:store_code>/checklists/<int:checklist_id>/stuck/", views.stuck, name="stuck"),
    path("<str:store_code>/steps/<int:step_id>/", views.tick, name="tick"),
    path("<str:store_code>/report/", views.report, {"kind": "problem"}, name="report"),
    path("<str:store_code>/customers/", views.report, {"kind": "insight"}, name="insight"),
]
