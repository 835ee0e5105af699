"""The generation pipeline every dialect sends its native requests through
(pipeline.py: front → profile → cache → coalesce → lane → engine), and what it hands
back (reply.py). The stages live one per module: admission.py (lanes), leader.py (the
flight that asks the engine and stores the answer), engine_call.py (the host and the
send), fast_hits.py (answers rendered before)."""

from .fast_hits import remember_answer, remembered_response
from .pipeline import FrontStage, observe_final, open_reply
from .reply import (
    BACKGROUND_HEADER,
    BYPASS,
    HIT,
    MISS,
    TRUNCATED_HEADER,
    Reply,
    wants_stream,
)

__all__ = [
    "BACKGROUND_HEADER",
    "BYPASS",
    "HIT",
    "MISS",
    "TRUNCATED_HEADER",
    "FrontStage",
    "Reply",
    "observe_final",
    "open_reply",
    "remember_answer",
    "remembered_response",
    "wants_stream",
]
