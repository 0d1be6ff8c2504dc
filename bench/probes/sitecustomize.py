"""Probes for the processes bench/notify.py starts, for questions its figures raise. Python
imports ``sitecustomize`` at start-up from any folder on PYTHONPATH, so they are on only when
this folder is, and each only when its variable is set:

    BENCH_PROBE_GC=20000,20,20 PYTHONPATH=bench/probes .venv/bin/python bench/notify.py ...
    BENCH_PROBE_BARE_DJANGO=1 PYTHONPATH=bench/probes .venv/bin/python bench/notify.py ...
    BENCH_PROBE_TIMES=/tmp/times PYTHONPATH=bench/probes .venv/bin/python bench/notify.py ...

- ``BENCH_PROBE_GC``: the workers (``deliver_outbox``) collect garbage at these thresholds
  (``gc.set_threshold``) instead of Python's 700, 10, 10: does collection explain their CPU?
- ``BENCH_PROBE_BARE_DJANGO``: each bare-loop process sets up all of Tideover's Django before
  its loop (the loop then uses Tideover's settings): does a larger process make the same sends
  dearer?
- ``BENCH_PROBE_TIMES``: every Python process writes its user and system CPU seconds at exit,
  with its command line, to ``<folder>/<pid>.txt``: where does a worker's CPU go, the kernel or
  Python?
"""

import atexit
import gc
import os
import sys

_command = " ".join(sys.argv)

if os.environ.get("BENCH_PROBE_GC") and "deliver_outbox" in sys.argv:
    gc.set_threshold(*(int(n) for n in os.environ["BENCH_PROBE_GC"].split(",")))

if os.environ.get("BENCH_PROBE_BARE_DJANGO") and "--bare-loop" in sys.argv:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tideover.settings"
    import django
    from django.conf import LazySettings

    django.setup()
    # The bare loop configures the mail settings itself; Tideover's are in place already.
    LazySettings.configure = lambda self, **options: None

if os.environ.get("BENCH_PROBE_TIMES"):
    _folder = os.environ["BENCH_PROBE_TIMES"]

    def _write_times() -> None:
        times = os.times()
        with open(os.path.join(_folder, f"{os.getpid()}.txt"), "w") as out:
            out.write(f"user {times.user:.2f} system {times.system:.2f}  {_command}\n")

    os.makedirs(_folder, exist_ok=True)
    atexit.register(_write_times)
