"""Pure forwarding helpers (proxy_core/forwarding.py); cases from mutation testing."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy_core.forwarding import encode_path, request_headers, response_headers, upstream_path


def test_headers_named_in_connection_are_hop_by_hop() -> None:
    headers = CIMultiDict(
        {
            "connection": "keep-alive, X-Hop ,x-other",
            "X-Hop": "private to this hop",
            "X-OTHER": "also",
            "X-Request-Id": "end-to-end",
            "Keep-Alive": "timeout=5",
        }
    )
    out = {k.lower() for k in request_headers(headers)}
    assert out == {"x-request-id"}
    assert {k.lower() for k in response_headers(headers)} == {"x-request-id"}


def test_a_connection_header_with_spaces_only_separates_by_commas() -> None:
    headers = CIMultiDict({"Connection": "X-A X-B", "X-A": "1", "X-B": "2"})
    assert {k.lower() for k in request_headers(headers)} == {"x-a", "x-b"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/api", "/api"),
        ("/api/tags", "/api/tags"),
        ("//api//tags", "/api/tags"),
        ("/api/%2e%2e/x", None),
        ("/api/a%00b", None),
        ("/api/a\\..\\b", None),
        ("/Xapi/tags", None),
        ("/API/tags", None),
        ("/apix", None),
        ("/", "/"),
    ],
)
def test_upstream_path(raw: str, expected: str | None) -> None:
    assert upstream_path(raw) == expected


def test_encode_path_keeps_digests_readable_and_adds_no_empty_query() -> None:
    assert encode_path("/api/blobs/sha256:ab12", "") == "/api/blobs/sha256:ab12"
    assert encode_path("/api/a b", "x=1") == "/api/a%20b?x=1"
    assert encode_path("/api/tags", "") == "/api/tags"


def test_without_a_connection_header_nothing_extra_is_dropped() -> None:
    headers = CIMultiDict({"XXXX": "kept", "X-Request-Id": "kept too"})
    assert {k.lower() for k in request_headers(headers)} == {"xxxx", "x-request-id"}
