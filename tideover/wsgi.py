import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
from tideover.datadir import prepare  # noqa: E402

prepare()  # before the settings are read, so every web process shares the data folder's key
application = get_wsgi_application()

# The public status page is answered from its cache before Django's request handling: it is
# what an outage's traffic spike hits (tideover/statuspage/fastpath.py).
from tideover.statuspage.fastpath import wrap  # noqa: E402

application = wrap(application)
