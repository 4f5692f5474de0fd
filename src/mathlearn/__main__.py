"""Run the command line with ``python -m mathlearn``."""

import sys

from mathlearn._cli import main

sys.exit(main())
