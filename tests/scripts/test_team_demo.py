"""The team deployment demo (scripts/team_demo.py) runs and does what it says: two
proxies, two hosts, one Redis; a question asked of one proxy is a hit on the other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_smoke_check_passes() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("OTP_REQUIRE_REDIS"):
            raise AssertionError("redis-server is required here (scripts/system-deps.sh redis)")
        pytest.skip("redis-server is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "scripts.team_demo", "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "proxy 2 answered from the shared cache" in done.stdout
