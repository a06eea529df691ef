"""``python -m pypapo.cli``: the same ``main`` as the ``pypapo`` script."""

import sys

from pypapo.cli import main

sys.exit(main())
