"""What the tray says: its state and icon, the status line and tooltip, and the notices
(context truncated, Ollama down and back). Pure, no Qt; tested in tests/app."""

from __future__ import annotations

import enum

from proxy_core import ContextTruncated, DashboardFigures, OllamaStatus, name_of


class TrayState(enum.Enum):
    STARTING = "starting"
    HEALTHY = "healthy"
    OLLAMA_DOWN = "ollama-down"
    PROXY_ERROR = "proxy-error"


STATE_TEXT = {
    TrayState.STARTING: "Starting",
    TrayState.HEALTHY: "Healthy",
    TrayState.OLLAMA_DOWN: "Ollama unreachable",
    TrayState.PROXY_ERROR: "Proxy error",
}


def tray_state(running: bool, error: str | None, ollama: OllamaStatus | None) -> TrayState:
    if error is not None:
        return TrayState.PROXY_ERROR
    if not running or ollama is None:
        return TrayState.STARTING
    return TrayState.HEALTHY if ollama.reachable else TrayState.OLLAMA_DOWN


def instance_label(data_dir: str, default_dir: str) -> str | None:
    """A second instance (another data folder) is told apart by its folder's name; the
    default folder's instance needs no label."""
    if data_dir.rstrip("/\\") == default_dir.rstrip("/\\"):
        return None
    name = data_dir.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return name or data_dir


OLLAMA = "Ollama"
ENGINE = "the engine"  # with ollama_url none: llama-server, LM Studio or vLLM alone


def _capital(who: str) -> str:
    return who[:1].upper() + who[1:]


def status_line(
    state: TrayState, base_url: str, ollama_url: str, error: str | None, who: str = OLLAMA
) -> str:
    """The tray menu's first line: the state in words and what it concerns (``who``: the
    primary engine, Ollama unless there is none)."""
    if state is TrayState.OLLAMA_DOWN:
        where = ollama_url.split("://", 1)[-1].rstrip("/")
        return f"⚠ {_capital(who)} is not answering at {where}"
    if state is TrayState.PROXY_ERROR and error:
        return f"⚠ {error[:90]}"
    return f"{STATE_TEXT[state]} — {base_url}"


def tooltip(
    state: TrayState,
    base_url: str,
    figures: DashboardFigures | None,
    caching: bool = True,
    label: str | None = None,
) -> str:
    name = "Ollama Tray Proxy" if label is None else f"Ollama Tray Proxy ({label})"
    lines = [f"{name} — {STATE_TEXT[state]}", base_url]
    if figures is not None:
        rate = figures.hit_rate_lifetime
        cache = (
            "caching off"
            if not caching
            else "cache hit rate " + ("-" if rate is None else f"{rate:.0%}")
        )
        lines.append(f"{figures.requests_per_second:.1f} req/s · {cache}")
    elif not caching:
        lines.append("caching off")
    return "\n".join(lines)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def raised_context(num_ctx: int) -> int:
    """The one-click fix for a truncated prompt: twice the context, at least 8192."""
    return max(num_ctx * 2, 8192)


def truncation_notice(event: ContextTruncated) -> tuple[str, str]:
    """(title, message) for a prompt that filled the model's context."""
    who = name_of(event.client) if event.client != "other" else "A client"
    return (
        f"Prompt cut short for {event.model}",
        f"{who} sent {event.model} a prompt that filled its whole context "
        f"({event.prompt_tokens} of {event.num_ctx} tokens), so its start was likely lost. "
        f"Click to raise num_ctx for {event.model} to {raised_context(event.num_ctx)}.",
    )


def ollama_notice(
    before: bool | None, now: bool | None, url: str, who: str = OLLAMA
) -> tuple[str, str] | None:
    """(title, message) when the primary engine went down or came back; None otherwise.

    ``before`` None is the first check: being down at start-up is news, being up is not.
    """
    if now is None or before == now:
        return None
    name = _capital(who)
    if not now:
        return f"{name} is unreachable", f"Requests will fail until {who} answers at {url}."
    if before is False:
        return f"{name} is back", f"{name} answers again at {url}."
    return None


def ollama_down(url: str, platform: str, who: str = OLLAMA) -> tuple[str, str]:
    """The dashboard's banner when the primary engine does not answer: what is wrong, and
    how to start it (Ollama: on this OS, ``sys.platform``)."""
    where = url.split("://", 1)[-1].rstrip("/")
    if who != OLLAMA:
        how = "Start the server there (llama-server, LM Studio or vLLM), or change the URL"
        return f"{_capital(who)} is not running at {where}", how
    if platform == "darwin":
        how = "Open the Ollama app (it lives in the menu bar), or run: ollama serve"
    elif platform == "win32":
        how = "Start Ollama from the Start menu (it lives in the tray), or run: ollama serve"
    else:
        how = "Run: ollama serve   (installed as a service: sudo systemctl start ollama)"
    return f"Ollama is not running at {where}", how


# formatting --------------------------------------------------------------------------------
