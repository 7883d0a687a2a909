"""Characters as documents print them: full width, and the look-alikes PDF fonts put in their place."""
from __future__ import annotations

import re
import unicodedata

# PDF fonts often map common characters to look-alike radicals (Noto CJK SC prints 一 as
# U+2F00). NFKC maps the Kangxi block back, but to traditional forms for a few (⼾ → 戶, not 户),
# and not the CJK Radicals Supplement at all: this table, measured by printing the 6,000 most
# frequent characters of jieba's dictionary with chromium in Noto Serif/Sans CJK SC and reading
# them back with pypdf, is applied first.
RADICALS = str.maketrans({
    "⺉": "刂", "⺎": "兀", "⺒": "巳", "⺓": "幺", "⺟": "母", "⺠": "民", "⻁": "虎", "⻅": "见",
    "⻆": "角", "⻉": "贝", "⻋": "车", "⻑": "長", "⻓": "长", "⻔": "门", "⻘": "青", "⻙": "韦",
    "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻡": "首", "⻢": "马", "⻣": "骨", "⻤": "鬼",
    "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻬": "齐", "⻮": "齿",
    "⻰": "龙", "⻳": "龟", "⼾": "户", "㬵": "胶",
})
KANGXI_RE = re.compile("[\u2f00-\u2fdf]")
# Typographic spaces (em, en, thin…) stand for the ideographic space in Chinese documents.
SPACES = str.maketrans({"\u2002": " ", "\u2003": "\u3000", "\u2009": " ", "\u200a": " ",
                        "\u2007": " ", "\u2008": " ", "\u200b": ""})


def normalize_glyphs(text: str) -> str:
    """Replace radical look-alikes and typographic spaces with the characters they stand for."""
    text = text.translate(RADICALS)
    text = KANGXI_RE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return text.translate(SPACES)


def is_wide(ch: str) -> bool:
    """Return True for full-width characters (CJK ideographs and punctuation)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")
