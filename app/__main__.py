"""``python -m app``: the tray app (same flags as ``python -m proxy_core``)."""

from __future__ import annotations

import sys

from .launch import main

if __name__ == "__main__":
    sys.exit(main())
