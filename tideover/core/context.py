from django.conf import settings

from tideover.core import nav
from tideover.core.roles import Capability, has_capability


def site(request):
    user = getattr(request, "user", None)
    caps = {c.value for c in Capability if user is not None and has_capability(user, c)}
    return {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "caps": caps,
        # The console menu: apps add links with tideover.core.nav.add_link in their ready().
        "nav_links": nav.links_for(caps, getattr(request, "path", "")) if caps else [],
    }
