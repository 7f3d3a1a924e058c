"""``python -m trailmatch`` runs the ``trailmatch`` command."""

import sys

from trailmatch.cli import main

sys.exit(main())
