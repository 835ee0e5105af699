"""The lane stage: which lane a generation takes (interactive or background, how many
slots its model has) and the wait for a slot (lanes.py holds the queues)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..cache import RouteKind
from ..cache.keys import normalize_model
from ..profiles import Profile
from ..state import ProxyState
from .reply import BACKGROUND_HEADER, Facts


@dataclasses.dataclass(frozen=True, slots=True)
class Lane:
    model: str  # normalised: "llama3.2" and "llama3.2:latest" share their slots
    slots: int
    background: bool


def lane_for(
    state: ProxyState,
    kind: RouteKind,
    body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    profile: Profile,
) -> Lane:
    marked = client_headers.get(BACKGROUND_HEADER, "").strip().lower()
    if marked in ("background", "interactive"):
        background = marked == "background"
    elif kind == "generate" and body.get("suffix"):
        background = True  # fill-in-the-middle: autocomplete
    else:
        background = profile.priority == "background"
    slots = profile.num_parallel or state.settings.default_num_parallel
    slots *= state.router.hosts_with(str(body.get("model")))  # each host runs that many
    return Lane(normalize_model(str(body.get("model"))), slots, background)


def take(state: ProxyState, lane: Lane) -> bool:
    """A free slot in ``lane`` taken at once; False: ``wait`` for one. Split so that most
    requests, which find a slot free, await no coroutine here."""
    return state.lanes.try_acquire(lane.model, lane.slots)


async def wait(state: ProxyState, lane: Lane, facts: Facts) -> None:
    """Queue for a slot in ``lane`` (interactive before background)."""
    waited = await state.lanes.acquire(
        lane.model, lane.slots, background=lane.background, client=facts.client
    )
    if waited:
        state.metrics.queued(lane.model, "background" if lane.background else "interactive", waited)


def release(state: ProxyState, lane: Lane | None) -> None:
    if lane is not None:
        state.lanes.release(lane.model)
