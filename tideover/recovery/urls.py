from django.urls import path

from tideover.recovery import views_console, views_store

app_name = "recovery"
URL_PREFIX = "recover/"

urlpatterns = [
    # In the store (the store page links here; see docs/recovery.md)
    path("store/<str:store_code>/capture/", views_store.capture_form, name="capture"),
    path("store/<str:store_code>/qr.svg", views_store.store_qr, name="store_qr"),
    # Shoppers
    path("s/<str:token>/", views_store.self_sign_up, name="self_sign_up"),
    path("opt-out/", views_store.optout, name="optout"),
    # Console
    path("incidents/<int:incident_id>/", views_console.incident_goodwill, name="incident"),
    path("incidents/<int:incident_id>/policy/", views_console.set_policy, name="policy"),
    path(
        "incidents/<int:incident_id>/campaign/<str:action>/",
        views_console.campaign_action,
        name="campaign",
    ),
    path("incidents/<int:incident_id>/results.csv", views_console.results_csv, name="csv"),
    path("incidents/<int:incident_id>/redemptions.svg", views_console.plot, name="plot"),
    path("customers/", views_console.lookup, name="lookup"),
    path(
        "customers/<int:customer_id>/<str:action>/",
        views_console.customer_action,
        name="customer_action",
    ),
]
