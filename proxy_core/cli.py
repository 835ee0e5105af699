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

from .errors import PortInUse, StartupError
from .guard import TOKEN_FILE
from .service import ProxyService
from .settings import ENV_PREFIX, SETTINGS_FILE, ProxySettings, SettingsError, resolve

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
    add_settings_arguments(parser)
    return parser


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags shared by the headless proxy and the tray app."""
    add = parser.add_argument
    add("--host", help="address to listen on (default 127.0.0.1; loopback only is safest)")
    add("--port", type=int, help="port to listen on (default 11435; 0 picks a free port)")
    add("--ollama-url", help="where Ollama answers (default http://127.0.0.1:11434)")
    add(
        "--data-dir",
        help="folder for the settings file and the response cache "
        "(default ~/.local/share/ollama-tray-proxy)",
    )
    add(
        "--no-cache",
        dest="cache_enabled",
        action="store_const",
        const=False,
        help="do not cache answers (can be switched on again at run time)",
    )
    add("--cache-ttl", type=float, help="seconds a cached answer stays valid (default 300)")
    add("--cache-size-limit", type=int, help="cache size limit in bytes (default 1 GiB)")
    add(
        "--cache-policy",
        choices=("deterministic", "all"),
        help="cache only deterministic requests (temperature 0 or a fixed seed; default) or all",
    )
    add(
        "--read-timeout",
        type=float,
        help="seconds to wait for each byte from Ollama; a cold model load can take minutes "
        "(default 600)",
    )
    add("--connect-timeout", type=float, help="seconds to wait to connect to Ollama (default 5)")
    add(
        "--require-token",
        action="store_const",
        const=True,
        help="require Authorization: Bearer <token> on every route (always on when --host is "
        "not loopback); the token is OLLAMA_PROXY_ACCESS_TOKEN or the per-install one in "
        "<data-dir>/access-token",
    )
    add(
        "--allowed-origins",
        help="extra browser origins allowed to call the proxy, comma-separated, * wildcards "
        "(e.g. chrome-extension://abc*)",
    )
    add(
        "--allowed-hosts",
        help="Host names accepted when listening beyond loopback, comma-separated",
    )
    add(
        "--allow-model-management",
        action="store_const",
        const=True,
        help="pass /api/pull, push, create, copy, delete and blobs through (off by default)",
    )
    add(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log verbosity (default info; debug logs one line per request)",
    )
    add(
        "--log-bodies",
        action="store_const",
        const=True,
        help="with --log-level debug, also log request bodies (prompts!); off by default",
    )


def settings_from_args(
    args: argparse.Namespace, stored: Mapping[str, Any] | None = None
) -> ProxySettings:
    """Flags over environment over ``stored`` (the tray's QSettings) over the file."""
    cli: dict[str, Any] = {name: value for name, value in vars(args).items() if value is not None}
    return resolve(cli, stored=stored)


async def serve(settings: ProxySettings) -> None:
    service = ProxyService(settings)
    await service.start()
    print(f"{PROG}: listening on {service.base_url} -> {settings.ollama_base}", flush=True)
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
