"""Questions as they arrive: another encoding, invisible characters."""
from __future__ import annotations

import pytest

from policykb.errors import EmptyQuestionError, UnreadableQuestionError
from policykb.text import readable_question


def as_read_from_a_gbk_terminal(text: str) -> str:
    """Return text as Python reads GBK bytes from a UTF-8 command line or stdin (surrogateescape)."""
    return text.encode("gbk").decode("utf-8", "surrogateescape")


def test_gbk_bytes_are_read_as_chinese_text() -> None:
    typed = as_read_from_a_gbk_terminal("续贷有什么要求？")
    assert typed != "续贷有什么要求？"
    assert readable_question(typed) == "续贷有什么要求？"


def test_bytes_that_are_no_text_are_refused_as_a_bad_question() -> None:
    with pytest.raises(UnreadableQuestionError, match="neither UTF-8 nor GBK"):
        readable_question(b"\xff\xfe\x80".decode("utf-8", "surrogateescape"))
    assert issubclass(UnreadableQuestionError, EmptyQuestionError)  # reported wherever an empty question is


@pytest.mark.parametrize("typed,expected", [
    ("续\u200b贷\ufeff要求", "续贷要求"), ("\x1b[2J续贷\x08", "[2J续贷"), ("续贷\t要求\n", "续贷\t要求\n"),
    ("\u202e续贷", "续贷"), ("续贷 requirements", "续贷 requirements"),
])
def test_invisible_characters_are_dropped_and_the_rest_kept(typed: str, expected: str) -> None:
    assert readable_question(typed) == expected


def test_a_question_of_invisible_characters_is_empty(kb) -> None:
    with pytest.raises(EmptyQuestionError):
        kb.ask("\u200b\u3000\u00a0\ufeff")
