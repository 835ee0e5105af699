"""The fast hit path's memory: exact request bytes -> the answer already rendered.

A repeated request (an IDE re-sending the same completion, a re-index of unchanged files)
is answered from here before its body is parsed: no JSON, no profile, no key hashing, no
re-rendering. An answer is only valid while the entry it was rendered from is the one the
cache holds (same object, still fresh), so TTL, clears, evictions and replacements apply
exactly as on the full path; anything that changes what a request means (settings,
profiles, model digests, the policy) forgets the whole index.

OpenAI answers carry a unique ``id`` and the time they were made; they are stored as
parts with those two fields cut out and filled in fresh for each hit.
"""

from __future__ import annotations

import time
from typing import Any

from ..ids import unique_id
from .keys import RouteKind
from .store import CacheEntry

MAX_ANSWER_BYTES = 1 << 20  # larger answers take the full path
INDEX_BYTES = 16 << 20  # request bytes and answers held, together
ID_PLACEHOLDER = "@@otp-answer-id@@"
CREATED_PLACEHOLDER = "@@otp-answer-created@@"
_ID_TOKEN = f'"{ID_PLACEHOLDER}"'.encode()
_CREATED_TOKEN = f'"{CREATED_PLACEHOLDER}"'.encode()


class Answer:
    __slots__ = ("key", "entry", "parts", "id_prefix", "headers", "kind", "model", "num_ctx")

    def __init__(
        self,
        key: str,
        entry: CacheEntry,
        body: bytes,
        headers: dict[str, str],
        kind: RouteKind,
        model: str,
        num_ctx: int | None,
        id_prefix: str = "",
    ) -> None:
        self.key = key
        self.entry = entry
        self.headers = headers
        self.kind = kind
        self.model = model
        self.num_ctx = num_ctx  # the request's own option (after its profile), if any
        self.id_prefix = id_prefix
        self.parts = _cut(body) if id_prefix else (body,)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    def body(self) -> bytes:
        if len(self.parts) == 1:
            return self.parts[0]
        before, between, after = self.parts
        fresh = f'"{unique_id(self.id_prefix)}"'.encode()
        return b"".join((before, fresh, between, str(int(time.time())).encode(), after))


def _cut(body: bytes) -> tuple[bytes, ...]:
    """A JSON body rendered with the placeholders as string values: the parts around them.
    A model's text cannot forge them: inside a JSON string a quote is escaped."""
    before, _, rest = body.partition(_ID_TOKEN)
    between, _, after = rest.partition(_CREATED_TOKEN)
    return before, between, after


def with_placeholders(obj: dict[str, Any]) -> dict[str, Any]:
    """The object to render once for an :class:`Answer` with a fresh id per hit."""
    return {**obj, "id": ID_PLACEHOLDER, "created": CREATED_PLACEHOLDER}


class AnswerIndex:
    """(route, exact request bytes) -> Answer, oldest forgotten first past INDEX_BYTES."""

    def __init__(self, limit: int = INDEX_BYTES) -> None:
        self._answers: dict[tuple[str, bytes], Answer] = {}
        self._bytes = 0
        self._limit = limit

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, route: str, raw: bytes) -> Answer | None:
        return self._answers.get((route, raw))

    def put(self, route: str, raw: bytes, answer: Answer) -> None:
        size = len(raw) + answer.size
        if answer.size > MAX_ANSWER_BYTES or size > self._limit // 4:
            return
        self.drop(route, raw)
        self._answers[(route, raw)] = answer
        self._bytes += size
        while self._bytes > self._limit:
            (old_route, old_raw), old = next(iter(self._answers.items()))
            self.drop(old_route, old_raw)

    def drop(self, route: str, raw: bytes) -> None:
        old = self._answers.pop((route, raw), None)
        if old is not None:
            self._bytes -= len(raw) + old.size

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0
