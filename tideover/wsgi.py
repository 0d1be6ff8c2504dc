import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
application = get_wsgi_application()

# The public status page is answered from its cache before Django's request handling: it is
# what an outage's traffic spike hits (tideover/statuspage/fastpath.py).
from tideover.statuspage.fastpath import wrap  # noqa: E402

application = wrap(application)
