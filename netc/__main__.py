"""``python -m netc``: the same as the ``netc`` command."""
import sys

from netc.cli import main

sys.exit(main())
