"""Questions that name a document and an article (民法典第六百八十五条, 通知第二条, 保险法第16条,
Article 16 of the Insurance Law) → that article.

Document names may be short or informal: a document is known by its title, its
title without 中华人民共和国, a compact title without the words every title of its
kind carries (最高人民法院关于适用《…民法典》有关担保制度的解释 → 民法典担保制度解释, so 担保制度解释
names it), its 文号 and, for a notice, 通知.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from policykb.ingest.chunk import CN_NUM, cn_to_int, int_to_cn
from policykb.ingest.corpus import normalize_title
from policykb.ingest.parse import Document, Section
from policykb.tokenize import segment, word_spans

LOOKUP_RE = re.compile(
    rf"第\s*(?P<article>[{CN_NUM}\d]+)\s*条(?:\s*第\s*(?P<paragraph>[{CN_NUM}\d]+)\s*款)?"
    rf"(?:\s*第?\s*[（(](?P<item>[{CN_NUM}\d]+)[）)]\s*项?)?")
# Measures of a notice are numbered 一、二、…, but staff cite them as 第二条 and sometimes as 第二项.
COMPACT_NOISE = ("最高人民法院关于", "最高人民检察院关于", "关于", "适用", "审理", "若干问题的", "若干问题", "有关",
                 "案件", "法律问题的", "的")
GENERIC_NAMES = ("通知", "意见", "办法")  # a document of this kind answers to the bare word
DOC_KIND_RE = re.compile(r"(?:法|法典|条例|规定|解释|办法|通知|意见|细则|规则|决定)(?:[（(][一二三四五六七八九十]+[）)])?$")
LAW_NAME_RE = re.compile(r"[\u4e00-\u9fa5]{2,30}(?:法|法典|条例|规定|解释|办法|通知|意见|细则|规则)$")
COURT_RE = re.compile(r"^(?:最高人民法院|最高法院|最高法|最高院)")
NUMBERED_RE = re.compile(r"(?<=解释|规定)([一二三四五六七八九十]+)$")
NUMBER_SUFFIX_RE = re.compile(r"[（(][一二三四五六七八九十]+[）)]$")
MAX_ABBREVIATION_GAP = 2  # 银行卡纠纷 for 银行卡民事纠纷, not 银行管理 for 非银行支付机构监督管理
FILLER_RE = re.compile(r"^(?:请问|请|问|查一下|查询|查|看看|看一下|根据|按照|依据|依照|按|在|关于|那么|那|)")
# English: Article 16 of the Insurance Law, Article 2 of the notice, Article 13 (paragraph 2).
EN_LOOKUP_RE = re.compile(r"\b(?:article|section)\s+(?P<article>\d+)(?:[\s,(]*(?:paragraph|para\.?)\s*(?P<paragraph>\d+)\)?)?", re.I)
# The kind an English name ends with, and the Chinese title endings it stands for.
EN_KINDS = {"law": ("法",), "code": ("法典",), "regulations": ("条例", "规定"), "regulation": ("条例", "规定"),
            "provisions": ("规定",), "interpretation": ("解释",), "measures": ("办法",), "notice": ("通知",),
            "opinions": ("意见",)}
# The words before the kind (the Insurance Law) or after it (the Law on the People's Bank of China).
EN_NAME_RE = re.compile(rf"(?P<name>(?:[A-Za-z][\w'’-]*\s+){{0,6}}?)\b(?P<kind>{'|'.join(EN_KINDS)})\b"
                        rf"(?P<after>\s+(?:on|of|concerning|governing|for)\s+(?:[A-Za-z][\w'’-]*\s*){{1,10}})?", re.I)
EN_NAME_LEAD_RE = re.compile(r"^(?:(?:what|how|and|about|does|do|says?|is|in|under|of|the|this|that|to|according)\s+)+",
                             re.I)
# The words between an article and the name after it: Article 16 (paragraph 2) of the Insurance Law.
EN_NAME_JOIN_RE = re.compile(r"[\s,]*(?:(?:of|in|under|from)\s+)?(?:(?:the|this|that)\s+)?", re.I)
CJK_RUN_RE = re.compile(r"[\u4e00-\u9fa5]{2,}")


@dataclass(frozen=True)
class Lookup:
    """What a question asks to look up, resolved against the knowledge base.

    `sections` holds the target article of each matching document (several when the
    question names no document and more than one has that article). `missing` says
    why nothing was found, e.g. 《中华人民共和国保险法》共一百八十五条.
    """

    mention: str
    article: int
    paragraph: int = 0
    item: str = ""
    sections: tuple[Section, ...] = ()
    missing: str = ""


@lru_cache(maxsize=4096)
def _compact(title: str) -> str:
    t = normalize_title(title)
    for noise in COMPACT_NOISE:
        t = t.replace(noise, "")
    return t


def document_names(doc: Document) -> tuple[str, ...]:
    """Return the names a document is known by, most specific first."""
    return _names(doc.title, doc.doc_number)


@lru_cache(maxsize=4096)
def _names(title: str, doc_number: str) -> tuple[str, ...]:
    # Cached: every search checks the question against every document's names.
    names = [normalize_title(title), _compact(title)]
    if doc_number:
        names.append(doc_number)
        m = re.search(r"〔\d{4}〕(\d+)号", doc_number)
        if m:
            names.append(f"{m.group(1)}号文")
    names.extend(kind for kind in GENERIC_NAMES if title.endswith(kind))
    return tuple(n for n in dict.fromkeys(normalize_title(n) for n in names) if n)


def resolve_document(mention: str, documents: Sequence[Document]) -> list[Document]:
    """Return the documents a mention names (exact names first, then titles that contain it).

    The mention may carry words before the name (请问民法典 → 民法典); the longest
    tail that names a document wins.
    """
    return _named_tail(mention, documents)[1]


def kind_word_compound(mention: str, documents: Sequence[Document]) -> bool:
    """Return True when a mention names its document only by a kind word joined to the words before it:
    债权转让通知 is a notice of assignment, not the notice (这份通知, 监管局的通知 and 通知 are the notice)."""
    start, found = _named_tail(mention, documents)
    head = DEMONSTRATIVE_RE.sub("", mention[:start])
    return bool(found) and normalize_title(mention[start:]) in GENERIC_NAMES and bool(head) and not head.endswith("的")


def _named_tail(mention: str, documents: Sequence[Document]) -> tuple[int, list[Document]]:
    """Return where in the mention the longest tail that names documents starts, and those documents.

    A tail after other words (沪惠保这块|通知) must start where jieba starts a word (not 社会|保险法 → 保险法),
    and a part of a title or a shortened name must then name one document alone (外汇管理条例 is not
    征信业管理条例, though both end in 管理条例).
    """
    boundaries = {start for start, _ in word_spans(mention)}
    tails = []
    for start in range(len(mention) - 1):
        raw = mention[start:]
        filler = FILLER_RE.match(raw).end() if start == 0 else 0
        tail = normalize_title(raw[filler:])
        inside = start > 0
        if len(tail) < 2 or (inside and start not in boundaries):
            continue
        tails.append((start + filler, tail))
        exact = [d for d in documents if tail in document_names(d)]
        if exact:
            return start + filler, exact
        # A part of a title names the document only when it says what kind of document it is
        # (担保制度解释, 民间借贷规定), not for any words the title happens to contain (金融服务).
        containing = [d for d in documents if len(tail) >= 3 and DOC_KIND_RE.search(tail)
                      and tail in _compact(d.title)]
        if containing and (not inside or len(containing) == 1):
            shortest = min(len(_compact(d.title)) for d in containing)
            return start + filler, [d for d in containing if len(_compact(d.title)) == shortest]
    for start, tail in tails:  # no tail names one: the longest that shortens exactly one title
        found = _abbreviated(tail, documents)
        if len(found) == 1:
            return start, found
    return 0, []


def _abbreviated(tail: str, documents: Sequence[Document]) -> list[Document]:
    """Return the documents a shortened name stands for: two or more of the title's words in order, each
    close after the last, and the title's kind or the court that issued it (民间借贷规定, 民间借贷司法解释,
    银行卡纠纷规定, 最高法银行卡纠纷 → 最高人民法院关于审理银行卡民事纠纷案件若干问题的规定). One word is
    too little: 银行规定 or 担保条例 could mean several titles, and matches parts of words (非银行).
    """
    tail = NUMBERED_RE.sub(r"（\1）", tail)  # 保险法司法解释三 is 保险法解释（三）
    kind = DOC_KIND_RE.search(tail)
    core = tail[:kind.start()].removesuffix("的") if kind else tail
    judicial = core.endswith("司法")  # 司法解释: the court's 解释 or 规定
    core = core.removesuffix("司法")
    court = COURT_RE.match(core)
    core = core[court.end():] if court else core
    words = [w for w in segment(core) if w not in COMPACT_NOISE]
    if not (kind or court) or len(words) < (1 if court or judicial or NUMBER_SUFFIX_RE.search(tail) else 2):
        return []
    kinds = {normalize_title(kind.group(0))} if kind else set()
    if judicial:
        kinds |= {k.replace("解释", "规定", 1) for k in kinds}
    return [doc for doc in documents
            if (not kinds or any(_compact(doc.title).endswith(k) for k in kinds))
            and (not (court or judicial) or doc.title.startswith("最高人民法院"))
            and _words_in_order(words, _compact(doc.title))]


def _words_in_order(words: list[str], text: str) -> bool:
    """Return True when the words occur in text in order, each at most MAX_ABBREVIATION_GAP characters after the last."""
    end = None
    for word in words:
        at = text.find(word, end or 0)
        if at < 0 or (end is not None and at - end > MAX_ABBREVIATION_GAP):
            return False
        end = at + len(word)
    return True


SCOPE_RE = re.compile(r"(?:在|根据|按照|依据|依照|按)?《([^《》]{2,80})》|(?:在|根据|按照|依据|依照|按)"
                      r"([\u4e00-\u9fa5〔〕\d]{2,40}?)(?:里面|里|之中|中|内|的规定|规定)")


# A question that opens with a document's name is about that document: 通知中…, 民法典里…, 通知的总体原则…,
# 商业银行法对关系人贷款…, 保险法规定….
LEADING_CUT_RE = re.compile(r"里面|里|之中|中|的|对|规定")
CLAUSE_RE = re.compile(r"[，,；;：:]\s*")  # where a clause of a question starts (it may open with a name too)
MAX_LEADING = 40
DEMONSTRATIVE_RE = re.compile(r"^(?:请问|这份|这个|这部|该|本|此)")
# English names the kinds of GENERIC_NAMES the same way: "the notice" is the one 通知 in the knowledge
# base, when the words around it make it the document (in the notice, does the notice say, the notice
# requires), not "the notice period".
EN_GENERIC_NAMES = {"notice": "通知", "opinions": "意见", "measures": "办法"}
EN_SCOPE_RE = re.compile(r"\b(?P<pre>(?:in|under|according\s+to|from|by)\s+)?(?:the|this)\s+"
                         r"(?P<kind>notice|opinions|measures)\b(?P<post>\s+[a-z]+)?", re.I)
# Before a named law, the words that make it where to look: under / according to / in the Insurance Law.
EN_NAMED_SCOPE_RE = re.compile(r"\b(?:(?P<prep>in|under|according\s+to|by|from)\s+|(?:does|do|did)\s+)"
                               r"(?P<the>the|this)\s+", re.I)
EN_SCOPE_BEFORE_RE = re.compile(r"\b(?:does|did|do|will|would|can|could)\s+$", re.I)
EN_SCOPE_VERBS = frozenset("say says said state states stated mention mentions require requires provide provides "
                           "set sets ask asks cover covers".split())


def _leading_scope(question: str, documents: Sequence[Document]) -> tuple[list[Document], tuple[int, int] | None]:
    """Return the documents the longest opening of a question names (…的规定里 wins over …的),
    and the span of the words that only say where to look.

    Before 的 only the whole opening as a document's exact name counts (合同法的… and
    民法典和商业银行法的… name no scope), and the name stays part of what is asked:
    通知的总体原则 asks for the notice's own principle, while in 通知中，续贷有什么要求 the
    words 通知中 only say where to look.
    """
    for m in reversed(list(LEADING_CUT_RE.finditer(question[:MAX_LEADING + 2]))):
        name = question[:m.start()]
        if len(name) < 2 or not re.fullmatch(r"[\u4e00-\u9fa5〔〕\d]+", name):
            continue
        if m.group(0) == "的":  # the whole opening must be the name: not 民法典和商业银行法的…
            whole = normalize_title(DEMONSTRATIVE_RE.sub("", name))
            found = [d for d in documents if whole in document_names(d)]
            if found:
                return found, None
            continue
        start, found = _named_tail(name, documents)
        if found:  # 沪惠保这块通知里… : only 通知里 says where to look, 沪惠保这块 is what is asked
            return found, (start, m.end())
    return [], None


def _english_scope(question: str, documents: Sequence[Document]) -> tuple[list[Document], tuple[int, int] | None]:
    """Return the document "the notice" or a named law (under the Anti-Money Laundering Law, what does the
    Insurance Law say…) names in an English question, and the span of those words."""
    for m in EN_SCOPE_RE.finditer(question):
        post = (m.group("post") or "").strip().lower()
        if m.group("pre") or EN_SCOPE_BEFORE_RE.search(question[:m.start()]) or post in EN_SCOPE_VERBS:
            found = resolve_document(EN_GENERIC_NAMES[m.group("kind").lower()], documents)
            if found:
                return found, (m.start(), m.end("kind"))
    for m in EN_NAME_RE.finditer(question):
        # The name is what follows the last "the" before the kind: the words of the question before it
        # (Can a trust company go bankrupt under the Trust Law?) are asked, and name nothing.
        cues = list(EN_NAMED_SCOPE_RE.finditer(m.group("name")))
        post = re.match(r"\s*([a-z]+)", question[m.end():], re.I)
        verb = post is not None and post.group(1).lower() in EN_SCOPE_VERBS
        the = list(re.finditer(r"\b(?:the|this)\s+", m.group("name"), re.I))
        if not (cues or (verb and the)):
            continue
        base = m.start("name")
        name = EN_NAME_RE.match(question, base + (cues[-1].end() if cues else the[-1].end()))
        _, found = english_document(name, documents) if name and name.end() == m.end() else ("", [])
        if len(found) == 1:  # a name that fits several titles equally (the Supervision Law) scopes nothing
            start = (cues[-1].start("prep") if cues[-1].group("prep") else cues[-1].start("the")) if cues \
                else the[-1].start()
            return found, (base + start, m.end())
    return [], None


def _scope_mentions(question: str, documents: Sequence[Document]) -> tuple[list[Document], list[tuple[int, int]]]:
    scoped: list[Document] = []
    mentions = []
    for m in SCOPE_RE.finditer(question):
        found = resolve_document(m.group(1) or m.group(2), documents)
        if found:
            mentions.append(m.span())
        for doc in found:
            if doc not in scoped:
                scoped.append(doc)
    for finder in (_clause_scope, _english_scope):
        if not scoped:
            scoped, span = finder(question, documents)
            mentions = [span] if span else []
    return scoped, mentions


def _clause_scope(question: str, documents: Sequence[Document]) -> tuple[list[Document], tuple[int, int] | None]:
    """Return the documents that the opening of the question, or of one of its clauses, names (see
    `_leading_scope`): 我们支行今年续贷压力挺大，上海银保监局那个优化营商环境的通知里，对无还本续贷… is
    about the notice as much as 通知里，对无还本续贷… is."""
    starts = [0] + [m.end() for m in CLAUSE_RE.finditer(question)]
    for start in starts:
        found, span = _leading_scope(question[start:], documents)
        if found:
            return found, (span[0] + start, span[1] + start) if span else None
    return [], None


def find_scope(question: str, documents: Sequence[Document]) -> list[Document]:
    """Return the documents a question restricts itself to: 在民法典里…, 通知中…, 根据《商业银行法》….

    Empty when the question names none, or names one the knowledge base does not hold.
    """
    return _scope_mentions(question, documents)[0]


# How staff open a question they pass on: 换个话题，/ 另外问一下，/ 柜面有位阿姨问，/ 做支付业务的同事问：
# The words before the question say who asks, not what is asked (not 询问, 问责, 问题: 问 must end the frame).
NEW_TOPIC = r"(?:换个话题|换个问题)[吧啊呀]?"
TOPIC_CHANGE_RE = re.compile(rf"^{NEW_TOPIC}(?:[，,：:\s]|$)")
_SPEAKER = r"(?:客户|同事|阿姨|大爷|大妈|老人|领导|行长|柜员|经理|老板|朋友|家人|有人|别人)来?"
PREAMBLE_RE = re.compile(
    rf"^(?:(?:{NEW_TOPIC}|话说回来)[，,：:\s]+"  # a new topic, or back to an old one
    r"|(?:另外|还有|顺便|再|我想|想|请|麻烦)?(?:问一下|问问|问下|请教一下|请教)[，,：:]\s*"  # 另外问一下，
    # 柜面有位阿姨问，/ 做支付业务的同事问：/ 客户问他… (问 ends the frame: not 问询, 问责, 问题)
    rf"|[^，,。？?！!：:\s]{{0,10}}?{_SPEAKER}(?:(?:问|咨询|打听)(?:我们?|说|道)?[，,：:]\s*|问(?![询责题候卷号下])))")
MIN_ASKED_CHARS = 4
MAX_PREAMBLES = 3


def without_preamble(question: str) -> str:
    """Return the question without the words that only say who asks or that a new topic starts
    (柜面有客户问存款保险最多能赔多少钱 → 存款保险最多能赔多少钱): they are not what to find.

    Frames in a row are all left out (柜面有客户问：另外问一下，…); what remains must still be a question
    (MIN_ASKED_CHARS), except after 换个话题, which says a new question follows.
    """
    rest = question
    for _ in range(MAX_PREAMBLES):
        m = PREAMBLE_RE.match(rest)
        if not m or (len(rest) - m.end() < MIN_ASKED_CHARS and not (TOPIC_CHANGE_RE.match(rest) and m.end() < len(rest))):
            break
        rest = rest[m.end():]
    return rest


def without_scope(question: str, documents: Sequence[Document]) -> str:
    """Return the question without the words that name its scope (在民法典里，什么是保证合同？ →
    什么是保证合同？): they say where to look, not what to find, so they must not count as search terms."""
    _, mentions = _scope_mentions(question, documents)
    rest = question
    for start, end in sorted(mentions, reverse=True):
        rest = rest[:start] + rest[end:]
    return " ".join(rest.lstrip("，,、：: ").split()) or question


def _article_section(doc: Document, number: int) -> Section | None:
    """Return article `number` of a law (第X条) or measure `number` of a notice (一、二、…)."""
    return doc.section(f"第{int_to_cn(number)}条") or doc.section(int_to_cn(number))


def _count(doc: Document) -> str:
    articles = [s for s in doc.sections if s.kind in ("article", "measure")]
    return f"《{doc.title}》共{int_to_cn(len(articles))}条" if articles else f"《{doc.title}》没有编号的条文"


def _number(numeral: str) -> int:
    return int(numeral) if numeral.isdigit() else cn_to_int(numeral)


def _name_words(vocabulary: frozenset[str], words: list[str]) -> dict[str, set[str]]:
    """Return each English word → the Chinese words of the document names that translate it
    (CC-CEDICT, as for English questions; banking also as bank); an empty set when none does."""
    from policykb.retrieval.bilingual import reverse_dictionary

    table = reverse_dictionary(vocabulary)
    out = {}
    for word in words:
        forms = [word] + ([word[:-3]] if word.endswith("ing") and len(word) > 6 else [])
        out[word] = {c for form in forms for _, c in table.get(form, ())}
    return out


@lru_cache(maxsize=4)
def _name_vocabulary(titles: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """Return the words (2 to 6 characters) of every name of the documents (title, 文号):
    what an English name can translate into."""
    return frozenset(n[i:j] for title, number in titles for n in _names(title, number)
                     for i in range(len(n)) for j in range(i + 2, min(len(n), i + 6) + 1))


def english_name(question: str, article: re.Match) -> re.Match | None:
    """Return the English name next to an article reference: after it (Article 16 of the Insurance Law)
    or just before it (the Insurance Law, Article 16); never a name further away in the sentence."""
    after = EN_NAME_RE.match(question, EN_NAME_JOIN_RE.match(question, article.end()).end())
    if after:
        return after
    before = question[:article.start()].rstrip(" ,:")
    return next((m for m in EN_NAME_RE.finditer(before) if m.end() == len(before)), None)


def english_document(m: re.Match, documents: Sequence[Document]) -> tuple[str, list[Document]]:
    """Return the English name an EN_NAME_RE match gives (the Insurance Law) and the documents it names.

    The kind word picks the titles (Law → …法, Regulations → …条例). Each other word is translated
    into words of those titles; the title that holds the most of them wins, and among those the one
    they fill best (Company Law → 公司法 rather than 合伙企业法). When a word has no translation
    (Supervision), every title that holds the most is returned, so the look-up quotes them all
    rather than guess. A kind with no other word (the law) names nothing: ("", []).
    """
    from policykb.retrieval.bilingual import english_words

    name = EN_NAME_LEAD_RE.sub("", " ".join(m.group(0).split()))
    given = m.group("name") + " " + (m.group("after") or "")
    kind = m.group("kind").lower()
    if not english_words(given):
        generic = kind in ("notice", "opinions", "measures")
        return (name, resolve_document(EN_KINDS[kind][0], documents)) if generic else ("", [])
    names = {d.doc_id: [n for n in document_names(d) if n.endswith(EN_KINDS[kind])] for d in documents}
    vocabulary = _name_vocabulary(tuple((d.title, d.doc_number) for d in documents))
    words = _name_words(vocabulary, [w for w in english_words(given) if " " not in w])
    scored: list[tuple[int, int, Document]] = []
    for doc in documents:
        for n in names[doc.doc_id]:
            held = [c for found in words.values() for c in found if c in n]
            filled = {i for c in held for i in range(n.find(c), n.find(c) + len(c))}
            count = sum(1 for found in words.values() if any(c in n for c in found))
            if count:
                scored.append((count, len(n) - len(filled), doc))
    if not scored:
        return name, []
    most = max(count for count, _, _ in scored)
    top = [(left, doc) for count, left, doc in scored if count == most]
    if all(words.values()):
        least = min(left for left, _ in top)
        top = [(left, doc) for left, doc in top if left == least]
    return name, list(dict.fromkeys(doc for _, doc in top))


def _english_lookup(question: str, documents: Sequence[Document]) -> Lookup | None:
    """Article 16 of the Insurance Law → 保险法第十六条; Article 2 of the notice; Article 16 of 保险法;
    Article 688 (every document that has it)."""
    m = EN_LOOKUP_RE.search(question)
    if not m:
        return None
    article, paragraph = int(m.group("article")), int(m.group("paragraph") or 0)
    found = english_name(question, m)
    name, named = english_document(found, documents) if found else ("", [])
    if name and not named:
        return Lookup(name, article, paragraph, "", (), f"知识库中找不到英文名 “{name}” 所指的文件"
                                                          f"（可用中文名查询，如 保险法第{int_to_cn(article)}条）")
    if not name:  # Article 16 of 保险法
        named = next((docs for run in CJK_RUN_RE.findall(question) if (docs := resolve_document(run, documents))), [])
    return _found(name, article, paragraph, "", named, documents)


def find_lookup(question: str, documents: Sequence[Document]) -> Lookup | None:
    """Return the article look-up a question asks for, or None when it names no article."""
    m = LOOKUP_RE.search(question)
    if not m:
        return _english_lookup(question, documents)
    article = _number(m.group("article"))
    paragraph = _number(m.group("paragraph")) if m.group("paragraph") else 0
    item = f"（{int_to_cn(_number(m.group('item')))}）" if m.group("item") else ""
    before = re.split(r"[，,。？?！!；;：:\s]", question[: m.start()])[-1]
    mention = re.sub(r"(?:的|里|中|里面|之中)$", "", before)
    if re.search(r"本(?:法|条例|规定|解释|办法|细则|编|章|节)$", mention):
        mention = ""  # 违反本法第三十九条: the article of a law the question does not name
    named = resolve_document(mention, documents) if mention else []
    if not named:
        named = find_scope(question, documents)
    law = LAW_NAME_RE.search(mention) if mention and not named else None
    if law:
        name = law.group(0)
        return Lookup(mention, article, paragraph, item, (), f"知识库中没有《{FILLER_RE.sub('', name)}》")
    return _found(mention, article, paragraph, item, named, documents)


def _found(mention: str, article: int, paragraph: int, item: str, named: Sequence[Document],
           documents: Sequence[Document]) -> Lookup:
    """Return the look-up of an article in the named documents (in every document when none is named)."""
    pool: Iterable[Document] = named or documents
    found = tuple(sec for doc in pool if (sec := _article_section(doc, article)) is not None
                  and (not item or any(span.item == item for span in sec.spans)))
    if not found:
        label = f"第{int_to_cn(article)}条{item}"
        missing = ("；".join(f"{_count(d)}" + (f"，第{int_to_cn(article)}条没有{item}项" if item and
                                               _article_section(d, article) else "") for d in named)
                   if named else f"知识库中没有哪份文件有{label}")
        return Lookup(mention, article, paragraph, item, (), missing)
    return Lookup(mention, article, paragraph, item, found)


def looked_up_text(section: Section, paragraph: int, item: str) -> str:
    """Return the verbatim text a look-up quotes: the whole article, one paragraph (款), or one item."""
    text = section.text
    if paragraph and paragraph <= section.paragraphs:
        ends = section.paragraph_starts[1:] + (len(text) + 1,)
        text = text[section.paragraph_starts[paragraph - 1]:ends[paragraph - 1] - 1]
    if item:
        spans = [s for s in section.spans if s.item == item and s.text in text]
        if spans:
            text = section.text[spans[0].start:spans[-1].end]
    return text.strip()


def _in_order(needle: str, haystack: str) -> bool:
    """Return whether needle's characters occur in haystack in order (银监法 in 银行业监督管理法)."""
    chars = iter(haystack)
    return all(ch in chars for ch in needle)


def _match_score(term: str, doc: Document, documents: Sequence[Document]) -> int:
    name = normalize_title(term)
    if not name:
        return 0
    if name in document_names(doc):
        return 100
    if doc in resolve_document(term, documents):
        return 90
    title = normalize_title(doc.title)
    if name in title or name in _compact(doc.title):
        return 80
    # 文号 and dates are compared as printed (〔2023〕, 第660号, 2013-03-15); issuers as words.
    if term in doc.doc_number or name in normalize_title(doc.doc_number):
        return 70
    if term in doc.issuer:
        return 60
    dates = {doc.date, doc.effective_date, *(a.date for a in doc.amendments)} - {""}
    if term in dates or (len(term) >= 4 and any(d.startswith(term) for d in dates)):
        return 50
    if len(name) >= 2 and (_in_order(name, title) or _in_order(name, _compact(doc.title))):
        return 40
    return 0


def find_documents(query: str, documents: Sequence[Document]) -> list[Document]:
    """Return the documents a search box names, best first: title, short or informal name, 文号, issuer or date.

    Every space-separated word must match (国务院 2015 → the 国务院 documents of 2015); an
    empty query returns all documents in their order.
    """
    terms = query.split()
    if not terms:
        return list(documents)
    scored = []
    for n, doc in enumerate(documents):
        scores = [_match_score(term, doc, documents) for term in terms]
        if all(scores):
            scored.append((-sum(scores), n, doc))
    return [doc for _, _, doc in sorted(scored, key=lambda t: t[:2])]
