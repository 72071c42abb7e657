"""``python -m adapters.cli``: the same as the ``patient-services`` command."""

import sys

from adapters.cli import main

sys.exit(main())
