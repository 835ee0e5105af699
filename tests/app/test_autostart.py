from __future__ import annotations

import sys
from pathlib import Path

from app import autostart


def test_entry_created_and_removed(tmp_path: Path) -> None:
    path = autostart.set_start_at_login(True, tmp_path)
    text = path.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text
    assert f"Exec={sys.executable} -m app" in text
    autostart.set_start_at_login(False, tmp_path)
    assert not path.exists()
    autostart.set_start_at_login(False, tmp_path)  # removing twice is fine


def test_exec_line_quotes_paths_with_spaces() -> None:
    assert "Exec='/opt/my python/bin/python' -m app" in autostart.desktop_entry(
        ["/opt/my python/bin/python", "-m", "app"]
    )
