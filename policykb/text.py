"""Questions as they arrive: bytes in another encoding, characters that print as nothing."""
from __future__ import annotations

import re

from policykb.errors import UnreadableQuestionError

SURROGATES_RE = re.compile("[\ud800-\udfff]")
# Control characters (not tab or newline), zero-width characters, direction marks and the byte-order mark:
# they print as nothing, or move a terminal's cursor, and no clause holds them.
INVISIBLE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def readable_question(text: str) -> str:
    """Return a question as text, without invisible characters.

    Python keeps the bytes of the command line and of stdin that are not UTF-8 as surrogates: a GBK
    terminal, or a file saved by a Chinese Windows editor. They are read again as GB18030, which
    covers GBK; bytes that are not that either raise UnreadableQuestionError.
    """
    if SURROGATES_RE.search(text):
        try:
            text = text.encode("utf-8", "surrogateescape").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise UnreadableQuestionError("the question is neither UTF-8 nor GBK text; "
                                          "type it again, or save the file as UTF-8") from None
    return INVISIBLE_RE.sub("", text)
