"""Readable, stable document ids from the 文号 or the title (pypinyin), e.g. guowuyuanling-660, minfadian."""
from __future__ import annotations

import hashlib
import re

from policykb.ingest.chunk import cn_to_int

DOC_NUMBER_PARTS_RE = re.compile(r"^(?P<prefix>.+?)[〔\[［(（](?P<year>\d{4})[〕\]］)）](?P<no>\d{1,4})号$")
ORDER_PARTS_RE = re.compile(r"^(?:中华人民共和国)?(?P<prefix>[\u4e00-\u9fa5]{1,12}?令)(?:(?P<year>\d{4})年)?"
                            r"第(?P<no>[\d一二三四五六七八九十百千]+)号$")
# Words that every title of their kind carries; an id without them stays short and still tells
# the documents apart (最高人民法院关于审理民间借贷案件适用法律若干问题的规定 → minjianjiedai-guiding).
TITLE_NOISE = ("中华人民共和国", "最高人民法院关于", "最高人民检察院关于", "关于")
NOISE_WORDS = frozenset(("审理", "案件", "适用", "适用法律", "法律", "若干", "问题", "的", "有关", "纠纷案件"))
MAX_ID = 40


def _pinyin(text: str) -> str:
    """Return the toneless pinyin of Chinese text, syllables joined, other letters and digits kept."""
    from pypinyin import lazy_pinyin  # imported here: its dictionaries take a moment to load
    return re.sub(r"[^a-z0-9]+", "", "".join(lazy_pinyin(text)).lower())


def slugify(text: str) -> str:
    """Return a lowercase ASCII id fragment (letters, digits, hyphens), or '' when none is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-")


def id_from_doc_number(doc_number: str) -> str:
    """Return an id from a 文号: hu-yin-bao-jian-2023-24, fa-shi-2020-28, guowuyuanling-660; '' if not one."""
    number = doc_number.replace(" ", "")
    m = DOC_NUMBER_PARTS_RE.match(number)
    if m:
        prefix = m.group("prefix")
        prefix = prefix[:-1] if prefix.endswith("发") and len(prefix) > 1 else prefix
        # One syllable per character, as earlier versions derived them: re-adding a file finds its id.
        syllables = "-".join(_pinyin(ch) for ch in prefix if _pinyin(ch))
        return f"{syllables}-{m.group('year')}-{int(m.group('no'))}"
    m = ORDER_PARTS_RE.match(number)
    if m:
        no = m.group("no")
        no = str(int(no) if no.isdigit() else cn_to_int(no))
        year = f"-{m.group('year')}" if m.group("year") else ""
        return f"{_pinyin(m.group('prefix'))}{year}-{no}"
    return ""


def id_from_title(title: str) -> str:
    """Return an id from a title: one pinyin word per jieba word, at most MAX_ID characters.

    中华人民共和国商业银行法 → shangyeyinhangfa; 最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释 →
    minfadian-danbao-zhidu-jieshi; a numbered part such as （三） ends the id as -3.
    """
    from policykb.tokenize import segment

    t = re.sub(r"[《》<>〈〉\"“”\s]", "", title)
    t = re.sub(r"[（(]\d{4}\s*[-–—至]\s*\d{4}\s*年?[）)]$", "", t)  # a plan's period, (2023-2025年)
    part = re.search(r"[（(]([一二三四五六七八九十\d]+)[）)]$", t)
    t = t[: part.start()] if part else t
    for noise in TITLE_NOISE:
        t = t.replace(noise, "")
    words = [w for w in segment(t) if w not in NOISE_WORDS and re.search(r"[\u4e00-\u9fa5A-Za-z0-9]", w)]
    if len("".join(words)) <= 8:
        words = ["".join(words)]
    slug = ""
    for word in words:
        piece = _pinyin(word)
        if slug and len(slug) + 1 + len(piece) > MAX_ID:
            break
        slug = f"{slug}-{piece}" if slug else piece[:MAX_ID]
    if slug and part:
        n = part.group(1)
        slug += f"-{int(n) if n.isdigit() else cn_to_int(n)}"
    return slug


def derive_doc_id(doc_number: str, title: str, stem: str, content: bytes) -> str:
    """Pick a stable ASCII doc_id: from the 文号, else the title, else the file name, else the content."""
    for candidate in (id_from_doc_number(doc_number), id_from_title(title), slugify(stem)):
        if len(candidate) >= 2:
            return candidate
    return "doc-" + hashlib.sha256(content).hexdigest()[:8]
