"""Images as every dialect receives them, checked the same way: base64 data (Anthropic's
``source``) or a ``data:`` URI (OpenAI's ``image_url``, the Responses ``input_image``).
Ollama takes the base64 text; a URL to fetch is refused (the proxy fetches nothing)."""

from __future__ import annotations

import base64
import binascii
import re

from ..errors import BadRequest

_DATA_URI = re.compile(r"^data:(image/[a-z0-9.+-]+)?;base64,(.*)$", re.IGNORECASE | re.DOTALL)


def base64_image(data: object, where: str) -> str:
    """``data`` when it is valid base64, else a 400 naming ``where``."""
    try:
        base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("image data is not valid base64", where) from None
    return str(data)


def data_uri_image(url: object, where: str) -> str:
    """The base64 data of a ``data:image/…;base64,`` URI, else a 400 naming ``where``."""
    if not isinstance(url, str):
        raise BadRequest("image_url needs a url", where)
    match = _DATA_URI.match(url)
    if match is None:
        raise BadRequest("image URLs are not supported, please use base64 encoded data URIs", where)
    return base64_image(match.group(2).strip(), where)
