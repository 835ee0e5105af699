"""The wheel and sdist users install: built with ``python -m build``, checked for what they
hold, installed into fresh venvs with and without the ``gui`` extra, and run from their
entry points against the simulator. Slow (about a minute): pip installs for real."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, chat_through, free_port, outside_checkout_env, running, wait_for

pytestmark = pytest.mark.slow
INSTALLED_APP = "ollama_tray_proxy_app"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


def fresh_venv(where: Path, requirement: str) -> Path:
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        check=True,
        capture_output=True,
        timeout=900,
        cwd=where,
    )
    return where / "bin"


@pytest.fixture(scope="module")
def headless_bin(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield fresh_venv(tmp_path_factory.mktemp("venv-headless"), str(wheel_of(dist)))


def test_the_wheel_holds_the_code_and_icons_and_nothing_else(dist: Path) -> None:
    names = set(zipfile.ZipFile(wheel_of(dist)).namelist())
    tops = {name.split("/", 1)[0] for name in names}
    assert {"proxy_core", INSTALLED_APP} <= tops
    assert "app" not in tops and "tests" not in tops  # no top-level `app` to collide with
    assert not any(name.startswith(("tests/", "scripts/", "packaging/")) for name in names)
    # every module of the source tree is in it (an explicit package list cannot drift)
    for source in ROOT.glob("proxy_core/**/*.py"):
        assert source.relative_to(ROOT).as_posix() in names
    for source in ROOT.glob("app/*.py"):
        assert f"{INSTALLED_APP}/{source.name}" in names
    for icon in ROOT.glob("resources/*"):
        assert f"{INSTALLED_APP}/resources/{icon.name}" in names
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel_of(dist)).read(metadata).decode()
    assert 'Requires-Dist: PySide6-Essentials==6.10.3; extra == "gui"' in text
    assert not any(
        line.startswith("Requires-Dist: PySide6") and "extra" not in line
        for line in text.splitlines()
    )  # Qt only with the gui extra


def test_the_sdist_rebuilds_everything(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[-1] for name in archive.getnames()}
    for needed in (
        "LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "resources/app.svg",
        "packaging/ollama-tray-proxy.spec", "packaging/Containerfile",
    ):  # fmt: skip
        assert needed in names


def test_headless_install_has_no_qt_and_serves(
    headless_bin: Path, simulator: str, tmp_path: Path
) -> None:
    listed = subprocess.run(
        [str(headless_bin / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "PySide6" not in listed and "qasync" not in listed
    site = subprocess.run(
        [str(headless_bin / "python"), "-c", "import proxy_core, sys; print(proxy_core.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path, env=outside_checkout_env(),
    ).stdout  # fmt: skip
    assert "site-packages" in site  # the installed copy, not the checkout
    help_text = subprocess.run(
        [str(headless_bin / "ollama-tray-proxy-headless"), "--help"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert "--ollama-url" in help_text
    for command in ("ollama-tray-proxy-headless", "ollama-tray-proxy"):
        version = subprocess.run(
            [str(headless_bin / command), "--version"], capture_output=True, text=True, check=True
        ).stdout
        assert version.strip().endswith(_version())
    # The tray entry point without Qt says what to install instead of a traceback.
    tray = subprocess.run(
        [str(headless_bin / "ollama-tray-proxy")], capture_output=True, text=True, cwd=tmp_path
    )
    assert tray.returncode == 3 and "pip install 'ollama-tray-proxy[gui]'" in tray.stderr
    assert "Traceback" not in tray.stderr
    # The Linux menu entry (and start at login) use the installed entry point.
    share = tmp_path / "share"
    subprocess.run(
        [str(headless_bin / "ollama-tray-proxy"), "--install-desktop-entry"], check=True,
        capture_output=True, cwd=tmp_path, env=outside_checkout_env(XDG_DATA_HOME=str(share)),
    )  # fmt: skip
    entry = (share / "applications" / "ollama-tray-proxy.desktop").read_text()
    assert f"Exec={headless_bin / 'ollama-tray-proxy'}\n" in entry
    port = free_port()
    command = [
        str(headless_bin / "ollama-tray-proxy-headless"),
        "--port", str(port), "--ollama-url", simulator, "--data-dir", str(tmp_path / "data"),
    ]  # fmt: skip
    with running(command, tmp_path, outside_checkout_env()) as process:
        health = wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert health["status"] == "ok" and health["version"] == _version()
        assert chat_through(f"http://127.0.0.1:{port}")


def test_gui_install_finds_its_icons_as_package_data(dist: Path, tmp_path: Path) -> None:
    gui_bin = fresh_venv(tmp_path / "venv-gui", f"{wheel_of(dist)}[gui]")
    check = subprocess.run(
        [str(gui_bin / "ollama-tray-proxy"), "--self-check"],
        capture_output=True, text=True, cwd=tmp_path,
        env=outside_checkout_env(QT_QPA_PLATFORM="offscreen"),
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    import json

    report = json.loads(check.stdout)
    assert report["package"] == INSTALLED_APP and not report["frozen"]
    assert "site-packages" in report["resources"] and all(report["icons"].values())
    site = Path(report["resources"]).parents[1]
    assert not (site / "app").exists()  # nothing installed under the colliding name


def _version() -> str:
    import proxy_core

    return proxy_core.__version__
