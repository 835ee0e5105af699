from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.single_instance import SingleInstance, instance_key


def test_second_launch_focuses_the_first(qtbot: QtBot, tmp_path: Path) -> None:
    key = instance_key(tmp_path)
    first = SingleInstance(key)
    assert first.claim()
    try:
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert SingleInstance(key).claim() is False
    finally:
        first.release()
    assert SingleInstance(key).notify_running() is False  # released: free again


def test_keys_differ_per_data_dir(tmp_path: Path) -> None:
    assert instance_key(tmp_path / "a") != instance_key(tmp_path / "b")
