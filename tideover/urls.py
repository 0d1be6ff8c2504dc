import importlib.util

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path

from tideover.api import build_api
from tideover.core.lockout import login_paced

api = build_api()


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Both log-in forms slow down after wrong passwords (core/lockout.py) before axes locks out.
    path("admin/login/", login_paced(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_paced(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("console/", include("tideover.incidents.urls")),
]

# Apps add their pages by having a urls module with ``app_name`` and ``URL_PREFIX``.
for _app in (
    "notifications",
    "sales",
    "loyalty",
    "storelink",
    "recovery",
    "detect",
    "runbooks",
    "frontline",
    "storeview",
    "postmortems",
    "statuspage",
):
    _module = f"tideover.{_app}.urls"
    if importlib.util.find_spec(_module) is not None:
        _urls = importlib.import_module(_module)
        urlpatterns.append(path(_urls.URL_PREFIX, include(_module)))
