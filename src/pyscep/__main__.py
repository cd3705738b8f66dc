"""``python -m pyscep``: the command line (see `pyscep.cli`)."""

from __future__ import annotations

import sys

from pyscep.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
