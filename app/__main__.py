"""``python -m app``.

The tray UI is not built yet (issue: the tray app); until it is, this starts the same
headless proxy with the same flags, so `make run` gives a working endpoint.
"""

from __future__ import annotations

import sys

from proxy_core.cli import main as headless_main


def main() -> int:
    return headless_main()


if __name__ == "__main__":
    sys.exit(main())
