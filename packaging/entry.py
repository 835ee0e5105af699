"""The frozen app's entry: the same launcher as the ``ollama-tray-proxy`` entry point
(tray by default, ``--headless`` for the proxy alone, ``--self-check``, ``--version``)."""

import sys

from app.launch import main

if __name__ == "__main__":
    sys.exit(main())
