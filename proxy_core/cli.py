"""``python -m proxy_core``: the headless proxy."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .access import TOKEN_FILE
from .collector import tune_for_serving
from .errors import PortInUse, StartupError
from .service import ProxyService
from .settings import (
    ENV_PREFIX,
    SETTINGS_FILE,
    SPECS,
    ProxySettings,
    SettingsError,
    default_text,
    kind_of,
    resolve,
)
from .version import __version__
from .workers.supervisor import Supervisor, worker_count

PROG = "ollama-tray-proxy"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local proxy in front of Ollama: the native API passed through, the "
        "OpenAI API translated to native calls, deterministic answers cached on disk.",
        epilog=f"Every setting can also come from the environment ({ENV_PREFIX}PORT, "
        f"{ENV_PREFIX}OLLAMA_URL, ...) or from {SETTINGS_FILE} in the data dir. "
        "Precedence: command line > environment > settings file > defaults.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_settings_arguments(parser)
    return parser


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags shared by the headless proxy and the tray app, made from the settings'
    specs (``proxy_core.settings``): one description per setting."""
    for name, spec in SPECS.items():
        if spec.flag is None:
            continue
        default = default_text(name)
        help_text = f"{spec.help} (default {default})"
        kind = kind_of(name)
        if kind == "bool":
            value = True if spec.flag_value is None else spec.flag_value
            parser.add_argument(
                spec.flag, dest=name, action="store_const", const=value, help=help_text
            )
        elif spec.repeatable:
            parser.add_argument(spec.flag, dest=name, action="append", help=help_text)
        elif spec.choices:
            parser.add_argument(spec.flag, dest=name, choices=spec.choices, help=help_text)
        else:
            convert = {"int": int, "float": float}.get(kind, str)
            parser.add_argument(spec.flag, dest=name, type=convert, help=help_text)


def settings_from_args(
    args: argparse.Namespace, stored: Mapping[str, Any] | None = None
) -> ProxySettings:
    """Flags over environment over ``stored`` (the tray's QSettings) over the file."""
    cli: dict[str, Any] = {
        name: ", ".join(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if value is not None
    }
    return resolve(cli, stored=stored)


async def serve(settings: ProxySettings) -> None:
    count = worker_count(settings.workers)
    service: ProxyService | Supervisor = (
        Supervisor(settings, count) if count > 1 else ProxyService(settings)
    )
    await service.start()
    tune_for_serving()
    workers = f" ({count} workers)" if count > 1 else ""
    print(f"{PROG}: listening on {service.base_url}{workers} -> {settings.ollama_base}", flush=True)
    if service.token_required:
        where = (
            f"{ENV_PREFIX}ACCESS_TOKEN"
            if settings.access_token
            else str(settings.data_dir / TOKEN_FILE)
        )
        print(f"{PROG}: clients must send Authorization: Bearer <token from {where}>", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await service.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"{PROG}: invalid setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # faster loop where installed; the service does not care which

        run = uvloop.run
    try:
        run(serve(settings))
    except PortInUse as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"{PROG}: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
