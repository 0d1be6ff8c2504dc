import sys

from tideover.cli import main

sys.exit(main())
