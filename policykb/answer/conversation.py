"""Follow-up questions without a language model: a message is resolved against the previous turn.

A message in one of a few follow-up forms is rewritten into a self-contained
question; anything else starts afresh and inherits nothing:

    那绿色金融呢？            elliptical   the previous question with its topic replaced
    那存款保险基金的运用呢？   elliptical   a topic with an aspect of its own (A的B), asked as it stands
    第十七条呢？ / 下一条呢    article      the previous turn's document, that article
    下一款呢 / 这一条说的是什么 article    the previous article, its next 款 or itself
    这个条例什么时候施行的？   document     the previous turn's document by name
    如果保证人不履行会怎样？   conditional  the previous topic and scope kept
    那不得从事哪些业务呢？     continuation a question of its own, in the previous scope
    And what about green finance?  english  like 那…呢, in English

A scope the user chose (在民法典里…, 通知中…, --doc) is carried into an elliptical
or conditional follow-up while the new topic is what those documents speak of
(within_scope). An elliptical, conditional or continuing follow-up of a turn with
no chosen scope stays in the document that answered that turn, on the same
condition; that scope is not carried further (Resolved.inferred). A turn that
abstained answered nothing, but when most of its 可能相关 clauses come from the
first one's document, it leaned on that document: follow-ups (这个条例, 下一条,
那X呢) resolve against it as if it had answered, and 理解为 shows it. A document
is named for the user only when the message points at one (第X条呢, 该法…). A
message that names its own document or asks a complete question of its own is
never scoped by the old turn, nor is one that opens with 换个话题. The words that only
say who asks (柜面有位阿姨问，, 另外问一下，) are left out of the question (理解为 shows it).

The conversation state is a small JSON-serialisable dict (the app keeps it in
a gradio State): what the previous turn was about, and the citations so far.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Sequence

from policykb.answer.compose import Answer, Citation
from policykb.ingest.chunk import CN_NUM, cn_to_int, int_to_cn
from policykb.answer.docinfo import DOC_MENTION_RE
from policykb.retrieval.lookup import (EN_LOOKUP_RE, FILLER_RE, GENERIC_NAMES, LAW_NAME_RE, LOOKUP_RE, SCOPE_RE, TOPIC_CHANGE_RE,
                                       document_names, english_document, english_name, find_lookup, resolve_document,
                                       without_preamble, without_scope)
from policykb.answer.memo import unique_citations
from policykb.text import readable_question
from policykb.ingest.parse import Document
from policykb.retrieval.bilingual import content_word
from policykb.tokenize import segment, tokenize, word_spans

PREPOSITIONS = "对在给向为和与跟"  # a topic that opens with one of these (那对外贸企业呢) names its object
KINDS = ("fresh", "elliptical", "article", "document", "conditional", "continuation", "english")

# Words that frame a question rather than name its topic: 普惠贷款|的目标是多少 → the topic is 普惠贷款.
FRAME_WORDS = frozenset("""
的 了 吗 呢 吧 是 有 在 对 和 与 及 或 中 里 上 要 会 能 可 被 由 向 从 把 给 让 该 其 之 以 为 就 都 也 还 又
我 我们 咱们 你 您 你们 他 她 他们 她们
什么 怎么 怎样 怎么样 如何 哪些 哪个 哪里 哪 多少 几 是否 能否 可否 有没有 是不是 能不能 可不可以 会不会 要不要
什么样 为什么 为何 何时 多久 多长 多大 多高 什么时候 哪一年 哪天 请问 一下 具体 主要 总体 分别 各 各自
目标 余额 增速 增长 突破 达到 力争 实现 规模 金额 比例 额度 期限 时限 截止 年末 年底 以上 以下 累计 投放
要求 规定 规则 条件 内容 措施 政策 支持 做法 安排 办法 原则 情形 情况 后果 程序 手续 方式 范围 标准
应当 应该 需要 必须 可以 不得 禁止 允许 承担 负责 适用 包括 办理 处理 处罚 罚款 生效 成立 无效 失效 终止
说 讲 提到 提出 怎么说 规定了 说了 有关 相关 关于 方面 问题 知识库 文件 条款 条文
如果 假如 要是 假设 万一 若 的话 那么 那 怎么办 后果
时候 施行 公布 发布 通过 修订 修正 修改 修改过 发文 机关 文号 效力 现行 有效
""".split())
EN_FRAME_WORDS = frozenset("""
a an the of to in on for and or is are was were be been what which who whom how when where why does do did
about with by at as that this these those there any it its me my we our you your tell say says said notice
please can could should would will must may might much many target targets goal goals requirement
requirements rule rules policy policies measure measures figure figures amount amounts balance growth percent
deadline year years end by rate share level levels set apply applies applied provide provides law laws
anything something mention mentions mentioned regarding concerning
""".split())
PREDICATE_RE = re.compile(r"什么|多少|多久|多长|多大|多高|何时|为何|怎么|怎样|如何|哪|是否|吗|几[年月日天个次条]?|"
                          r"能否|可否|有没有|会不会|要不要|谁|规定|要求|可以|应当|能不能|是不是")
ELLIPSIS_RE = re.compile(r"^(?:那么|那|还有|另外|再问)?[，,\s]*(?P<x>.+?)[，,\s]*(?:呢|又如何|怎么样|如何)[？?。!！\s]*$"
                         r"|^(?:那么|那)[，,\s]*(?P<y>.+?)[？?。!！\s]*$")
EN_ELLIPSIS_RE = re.compile(r"^(?:and\s+|so\s+|but\s+)?(?:what|how)\s+about\s+(?P<x>.+?)[?？.!\s]*$"
                            r"|^and\s+(?:about|for|on|regarding)?\s*(?P<y>.+?)[?？.!\s]*$", re.I)
ARTICLE_FOLLOW_RE = re.compile(rf"^(?:那么|那|再看|看看|还有)?[，,\s]*(?:(?P<step>下一条|上一条|前一条|后一条)|"
                               rf"(?P<pstep>下一款|上一款|前一款|后一款)|"
                               rf"(?P<this>这一条|这条|该条|本条|此条)(?!例)|"
                               rf"第\s*(?P<article>[{CN_NUM}\d]+)\s*条)?(?:\s*第\s*(?P<paragraph>[{CN_NUM}\d]+)\s*款)?"
                               rf"(?P<rest>.*)$")
# 这个条例, 该法, 本通知, 它 (它的…, 它修改过几次; but not 应该, 因此法院, 成本法).
ANAPHOR_RE = re.compile(r"(?:这个|这部|这份|(?<![应活])该|(?<![资成基根日版])本|(?<![因如为故彼由据特从借])此|上述|上面的?|"
                        r"刚才的?|这)(?P<noun>法律|法规|法典|司法解释|法|条例|规定|解释|通知|文件|办法|意见)"
                        r"|(?<![其])它(?=[的什么是有对规哪何]|修改|修订|施行|公布|发布|生效|通过|废止|颁布|$)")
# What about Article 17? / next article / Article 13, paragraph 2 — after a look-up (a notice's numbered
# measures are "sections" as often as "articles": What about section 9?); a name of its own
# (What about Article 17 of the Insurance Law?) makes it a look-up of its own.
EN_ARTICLE_FOLLOW_RE = re.compile(r"^(?:and\s+|so\s+)?(?:(?:what|how)\s+about\s+|and\s+)?(?:the\s+)?"
                                  r"(?:(?P<step>next|following|previous|preceding)\s+(?:article|section|one)|"
                                  r"(?:article|section)\s+(?P<article>\d+)|(?P<this>this|that)\s+(?:article|section))?"
                                  r"(?:[\s,(]*(?:paragraph|para\.?)\s*(?P<paragraph>\d+)\)?)?"
                                  r"(?:\s+(?:of|in)\s+(?:the|this|that|its)\s+(?:law|code|regulations?|act|document))?"
                                  r"[\s?？.!]*$", re.I)
ARTICLE_REF_RE = re.compile(rf"^(?:第\s*[{CN_NUM}\d]+\s*[条款项]|[上下前后]一[条款])")
CONTINUATION_RE = re.compile(r"^(?:那么|那)(?![个些种位时样儿里边])[，,\s]*(?P<q>.+)$")
# that law / this regulation: the document the conversation is about (like 该法, 这个条例); "this notice" is a scope.
EN_ANAPHOR_RE = re.compile(r"\b(?:this|that|the\s+same)\s+(?P<noun>law|code|regulations?|interpretation|provisions|rules)\b",
                           re.I)
EN_NOUN_KINDS = {"law": ("法", "法典"), "code": ("法典",), "regulation": ("条例", "规定"), "regulations": ("条例", "规定"),
                 "interpretation": ("解释", "规定"), "provisions": ("规定",), "rules": ("规定", "办法")}
# 这种情况 / 上述情形 stands for the situation the previous question described.
SITUATION_RE = re.compile(r"(?:这种|这类|这样的?|此种|此类|该种|上述|前述)(?:情况|情形|问题)(?:下)?")
CONDITIONAL_RE = re.compile(r"^(?:那么|那)?[，,\s]*(?:如果|假如|要是|假设|万一|若)(?P<cond>.+)$")
EN_CONDITIONAL_RE = re.compile(r"^(?:and\s+|so\s+)?(?:what\s+)?if\s+(?P<cond>.+)$", re.I)
NOUN_KINDS = {"法律": ("法", "法典"), "法典": ("法典",), "法": ("法", "法典"), "条例": ("条例",), "规定": ("规定",),
              "解释": ("解释",), "司法解释": ("解释", "规定"), "通知": ("通知",), "办法": ("办法",), "意见": ("意见",)}
EN_PREPOSITIONS = frozenset("about for on regarding concerning of to".split())
EN_PREDICATE_RE = re.compile(r"\b(?:what|how|when|which|who|why|is|are|does|do|can|should|must|will|may)\b", re.I)
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
# A negated verb after a subject makes 那X呢 a condition (那保证期间没约定呢), not a new topic (那不良贷款呢).
NEGATIONS = frozenset("没 没有 未 不 未经 尚未 并未 从未 不再 未尽 无力 无法".split())
NOT_NEGATED = frozenset("没收 没收财产 未成年 未成年人 未来".split())
STATING = frozenset("是 被".split())  # between two words, these make a statement (担保人是上市公司), not a topic
MAX_ELLIPSIS_CHARS = 24
MIN_EN_CONDITION_WORDS = 3  # content words that make an English condition a question of its own
MAX_RECENT = 4  # 这个条例 looks at the documents of this many recent turns for a 条例, not back to the start
MAX_PHRASE = 8
MAX_SHORT_NAME = 16  # a longer compact name (a notice's title without 关于/的) reads worse than the title


@dataclass(frozen=True)
class Resolved:
    """What a message is taken to mean: the self-contained question that runs, and its scope."""

    question: str
    doc_ids: tuple[str, ...] = ()
    understood: str = ""
    kind: str = "fresh"
    inferred: bool = False  # doc_ids are the document that answered the previous turn (or that its abstention
    # leaned on), not a scope anyone named


@dataclass(frozen=True)
class Turn:
    """One exchange: the answer and how the message was understood."""

    message: str
    answer: Answer
    resolved: Resolved

    def to_dict(self) -> dict:
        """Return the object of `policykb chat --json`: the `ask --json` object plus how it was understood."""
        return {**self.answer.to_dict(), "question": self.message, "resolved_question": self.resolved.question,
                "understood": self.resolved.understood, "kind": self.resolved.kind,
                "scope": list(self.resolved.doc_ids)}


def new_state() -> dict:
    """Return the state of a conversation that has not started."""
    return {"question": "", "last": "", "topic": "", "lang": "", "doc_ids": [], "docs": [], "answered_by": [], "articles": [],
            "citations": [], "recent": []}


# --- reading the previous turn -------------------------------------------------------------------

def _generic_mentions(text: str, documents: Sequence[Document]) -> list[tuple[tuple[int, int], list[Document]]]:
    """Return the bare 通知 / 意见 / 办法 of a text that name a document (通知第二条, 通知的总体原则)."""
    out = []
    for name in GENERIC_NAMES:
        docs = resolve_document(name, documents)
        for m in re.finditer(rf"(?<![\u4e00-\u9fa5]){name}", text) if docs else ():
            out.append((m.span(), docs))
    return out


def _names_document(text: str, documents: Sequence[Document]) -> list[Document]:
    """Return the documents a message names by name, 《title》, 文号, 在…里 or a bare 通知 (not by 这个/该…)."""
    found: list[Document] = [d for _, docs in _generic_mentions(text, documents) for d in docs]
    for m in list(SCOPE_RE.finditer(text)) + list(DOC_MENTION_RE.finditer(text)):
        mention = m.group(0).strip("《》")
        if ANAPHOR_RE.fullmatch(mention) or re.match(r"^(?:这个|这部|这份|该|本|此|上述)", mention):
            continue
        for doc in resolve_document(m.group(1) or m.group(2) if m.re is SCOPE_RE else mention, documents):
            if doc not in found:
                found.append(doc)
    return found


def _mention_spans(text: str, documents: Sequence[Document]) -> list[tuple[int, int]]:
    """Return the spans of a question that name documents (kept out of its topic)."""
    spans = [m.span() for m in SCOPE_RE.finditer(text) if resolve_document(m.group(1) or m.group(2), documents)]
    spans += [m.span() for m in DOC_MENTION_RE.finditer(text) if resolve_document(m.group(0).strip("《》"), documents)]
    spans += [m.span() for m in LOOKUP_RE.finditer(text)]
    return spans + [span for span, _ in _generic_mentions(text, documents)]


def find_topic(question: str, documents: Sequence[Document] = ()) -> tuple[int, int]:
    """Return the (start, end) of a question's topic: its first run of words that do not frame it.

    普惠贷款的目标是多少 → 普惠贷款; What is the target for inclusive loans? → inclusive loans.
    (0, 0) when every word frames the question (保险法第十六条).
    """
    masked = list(question)
    for start, end in _mention_spans(question, documents):
        masked[start:end] = " " * (end - start)
    text = "".join(masked)
    if not CJK_RE.search(question):
        return _english_topic(text)
    words = segment(text)
    topical = [bool((CJK_RE.search(w) or re.fullmatch(r"[A-Za-z]+", w)) and w not in FRAME_WORDS) for w in words]
    pos, begin, last = 0, -1, -1
    for i, word in enumerate(words):
        start, pos = pos, pos + len(word)
        # 破产重整企业的征信 is one topic: 的 between two topical words joins them.
        joins = word == "的" and begin >= 0 and i + 1 < len(words) and topical[i + 1]
        if topical[i] or joins:
            begin = start if begin < 0 else begin
            last = pos
        elif begin >= 0:
            break
    return (begin, last) if begin >= 0 else (0, 0)


def _english_topic(text: str) -> tuple[int, int]:
    """Return the span of an English question's topic: the first run of content words after a
    preposition (the target for |inclusive loans|), else the first run."""
    runs: list[list[tuple[int, int]]] = []
    after_preposition: list[bool] = []
    previous = ""
    for m in re.finditer(r"[A-Za-z][A-Za-z\-']*", text):
        word = m.group(0).lower()
        if word in EN_FRAME_WORDS:
            previous = word
            continue
        run = runs[-1] if runs else None
        if run and not text[run[-1][1]:m.start()].strip():
            run.append(m.span())
        else:
            runs.append([m.span()])
            after_preposition.append(previous in EN_PREPOSITIONS)
        previous = word
    chosen = next((r for r, p in zip(runs, after_preposition) if p), runs[0] if runs else None)
    return (chosen[0][0], chosen[-1][1]) if chosen else (0, 0)


def _topic(question: str, documents: Sequence[Document]) -> str:
    start, end = find_topic(question, documents)
    return question[start:end]


def short_name(doc: Document, documents: Sequence[Document]) -> str:
    """Return the shortest name that a question can carry for this document alone (保险法, 《…通知》).

    The name must read as a document name in any question (look-up, scope or 施行日期),
    so a bare 通知 gives way to the title in 《》.
    """
    # A name must read as one mention from end to end: 民法典担保制度解释 reads as 民法典 + 担保制度解释,
    # so its last mention, 担保制度解释, is a candidate too.
    names = set(document_names(doc))
    for name in document_names(doc):
        last = list(DOC_MENTION_RE.finditer(name))[-1:]
        if last and last[0].start() in {start for start, _ in word_spans(name)}:  # not 民间借贷法|律规定
            names.add(last[0].group(0))
    for name in sorted(names, key=lambda n: (len(n), n)):
        if (MAX_SHORT_NAME >= len(name) >= 3 and DOC_MENTION_RE.findall(name) == [name]
                and resolve_document(name, documents) == [doc]):
            return name
    return "《" + doc.title.replace("《", "〈").replace("》", "〉") + "》"


def _previous_documents(state: dict, kb: Any, nouns: tuple[str, ...] = ()) -> list[Document]:
    """Return the documents the previous turn was about, most specific first, of a kind when asked (该条例).

    A kind the previous turn was not about is looked for among the documents of the last few turns
    (named, answered from or leaned on), latest first: 这个条例 never means a 通知 the last turn
    happened to quote.
    """
    ids = [a["doc_id"] for a in state.get("articles", [])] + list(state.get("doc_ids", [])) + list(state.get("docs", []))
    if nouns:  # a state saved before "recent" existed has its citations, latest first
        recent = state.get("recent") or [[c["doc_id"] for c in reversed(state.get("citations", [])[-MAX_RECENT:])]]
        ids += [d for turn in recent for d in turn]
    docs = [kb.docs[d] for d in dict.fromkeys(ids) if d in kb.docs]
    if nouns:
        docs = [d for d in docs if d.title.endswith(nouns) or re.search(rf"(?:{'|'.join(nouns)})[（(][一二三四五六七八九十]+[）)]$", d.title)]
    return docs


@lru_cache(maxsize=4)
def _texts(kb: Any) -> dict[str, str]:
    """Return each document's text, and all of them under ""."""
    texts = {d.doc_id: "\n".join(sec.text for sec in d.sections) for d in kb.index.documents}
    return {**texts, "": "\n".join(texts.values())}


def _phrases(text: str, known: str, words: frozenset[str]) -> list[str]:
    """Return the phrases of text that the knowledge base has, longest first at each place, frame words left out.

    Matched against the printed text rather than cut by jieba, which splits 保证人要 into 保证/人要. A phrase
    that ends inside one of jieba's words must be a search token the sections hold (保证人), so that
    信托公司自己 gives 信托 and 公司, not 公司自 (the start of a date, 公司自…之日起, in one regulation).
    """
    chunks, current, ends = [], "", []
    for word in segment(text):
        if CJK_RE.fullmatch(word[0]) and word not in FRAME_WORDS:
            current += word
            ends.append(len(current))
        else:
            chunks.append((current, set(ends)))
            current, ends = "", []
    chunks.append((current, set(ends)))
    out = []
    for chunk, boundaries in chunks:
        i = 0
        while i < len(chunk) - 1:
            j = next((j for j in range(min(len(chunk), i + MAX_PHRASE), i + 1, -1)
                      if chunk[i:j] in known and (j in boundaries or chunk[i:j] in words)), 0)
            if j:
                out.append(chunk[i:j])
            i = j or i + 1
    return out


def within_scope(text: str, doc_ids: Sequence[str], kb: Any) -> bool:
    """Return True when the scope's documents hold most of what the text speaks of.

    Each phrase of the text that the knowledge base has counts by how specific it is (one over
    the number of documents that hold it): 投保机构 belongs to 存款保险条例 alone, 宣告破产 to
    many laws. A follow-up keeps the previous scope only while it speaks of what those documents
    speak of: 那保证人要承担什么责任呢 after 在通知中… names a subject only the laws mention, so
    it is asked of the whole knowledge base rather than answered "no provision" from the notice.
    """
    if not doc_ids:
        return True
    texts = _texts(kb)
    phrases = _phrases(text, texts[""], kb.vocabulary)
    inside = total = 0.0
    for phrase in phrases:
        holders = [d for d, body in texts.items() if d and phrase in body]
        weight = 1.0 / max(1, len(holders))
        total += weight
        inside += weight if any(d in holders for d in doc_ids) else 0.0
    return inside * 2 > total or not phrases


def _language(text: str) -> str:
    return "zh" if CJK_RE.search(text) else "en"


# --- the resolver --------------------------------------------------------------------------------

def resolve(message: str, state: dict, kb: Any) -> Resolved:
    """Resolve a message against the previous turn into the self-contained question to run.

    Args:
        state: the conversation state (`new_state()` before the first turn).
        kb: the KnowledgeBase (its documents name the scopes; nothing is searched).
    """
    typed = " ".join(str(message).split())
    new_topic = bool(TOPIC_CHANGE_RE.match(typed))
    message = without_preamble(typed)  # 柜面有位阿姨问，… : who asks is not what is asked (理解为 shows the rest)
    fresh = Resolved(message, understood=message if message != typed else "")
    if not state or not state.get("question") or not message or new_topic:
        return fresh
    # A document removed since the previous turn (the app keeps the state in the page) is forgotten.
    # (answered_by needs no filter: within_scope never keeps a document the knowledge base lacks.)
    state = {**state, **{key: [d for d in state.get(key, []) if d in kb.docs] for key in ("doc_ids", "docs")}}
    documents = kb.index.documents
    named = _names_document(message, documents)
    anaphor = ANAPHOR_RE.search(message)
    if anaphor and not named:
        return _resolve_anaphor(message, anaphor, state, kb) or fresh
    situation = _resolve_situation(message, named, state, kb) if named else None
    if situation is not None:
        return situation
    if named or _unknown_law(message):
        return _resolve_named_ellipsis(message, named, state, kb) or fresh
    en_article = EN_LOOKUP_RE.search(message)
    en_name = english_name(message, en_article) if en_article else None
    if en_name and english_document(en_name, documents)[0]:
        return fresh  # What about Article 17 of the Commercial Banking Law? names its own document
    article = _resolve_article(message, state, kb)
    if article is not None:
        return article
    if _article_request(message) is not None:
        return fresh  # What about Article 9? with no article or document before it: not a topic to put in a question
    en_anaphor = EN_ANAPHOR_RE.search(message)
    if en_anaphor and not kb.scope(message):
        docs = _previous_documents(state, kb, EN_NOUN_KINDS[en_anaphor.group("noun").lower()])
        if docs:  # What's the minimum under that law? → asked as it is, in that law
            return _rewritten(message, [docs[0].doc_id], "english", kb)
    for resolver in (_resolve_conditional, _resolve_ellipsis, _resolve_continuation):
        resolved = resolver(message, state, kb)
        if resolved is not None:
            return resolved
    return fresh


def _understood(question: str, doc_ids: Sequence[str], kb: Any) -> str:
    where = "、".join(f"《{kb.docs[d].title}》" for d in doc_ids)
    return question + (f"（范围：{where}）" if where and not _names_document(question, kb.index.documents) else "")


def _rewritten(question: str, doc_ids: Sequence[str], kind: str, kb: Any, inferred: bool = False) -> Resolved:
    return Resolved(question, tuple(doc_ids), _understood(question, doc_ids, kb), kind, inferred)


def _resolve_anaphor(message: str, anaphor: re.Match, state: dict, kb: Any) -> Resolved | None:
    """这个条例什么时候施行的 → 征信业管理条例什么时候施行的, scoped to it."""
    nouns = NOUN_KINDS.get(anaphor.group("noun") or "", ())
    docs = _previous_documents(state, kb, nouns)
    if not docs:
        return None
    doc = docs[0]
    question = message[:anaphor.start()] + short_name(doc, kb.index.documents) + message[anaphor.end():]
    kind = "article" if _bare_article(message) else "document"
    return _rewritten(question, [doc.doc_id], kind, kb)


def _bare_article(message: str) -> bool:
    return bool(LOOKUP_RE.search(message))


@dataclass(frozen=True)
class _ArticleRequest:
    """What an article follow-up asks for: a step (下一条 +1), a paragraph step, or numbers."""

    step: int
    pstep: int
    article: str | None
    paragraph: str | None
    english: bool


def _article_request(message: str) -> _ArticleRequest | None:
    """Return what 第十七条呢 / 下一条呢 / 第二款呢 / 下一款呢 / 这一条说的是什么 (What about Article 17? /
    next article) asks for, or None when the message is more than an article reference."""
    m = ARTICLE_FOLLOW_RE.match(message)
    if m and any(m.group(g) for g in ("step", "pstep", "this", "article", "paragraph")):
        rest = m.group("rest")
        if PREDICATE_RE.sub("", re.sub(r"[呢？?。，,!！\s]|的|是|怎么规定|[说讲写][了的]?|意思|含义|内容|原文|全文", "", rest)):
            return None  # 第三条和第五条有什么区别: more than an article reference
        return _ArticleRequest({"下一条": 1, "后一条": 1, "上一条": -1, "前一条": -1}.get(m.group("step") or "", 0),
                               {"下一款": 1, "后一款": 1, "上一款": -1, "前一款": -1}.get(m.group("pstep") or "", 0),
                               m.group("article"), m.group("paragraph"), False)
    m = EN_ARTICLE_FOLLOW_RE.match(message)
    if not m or not any(m.group(g) for g in ("step", "this", "article", "paragraph")):
        return None
    step = {"next": 1, "following": 1, "previous": -1, "preceding": -1}.get((m.group("step") or "").lower(), 0)
    return _ArticleRequest(step, 0, m.group("article"), m.group("paragraph"), True)


def _resolve_article(message: str, state: dict, kb: Any) -> Resolved | None:
    """第十七条呢 / 下一条呢 / 第二款呢 / 下一款呢 / 这一条说的是什么 (What about Article 17? / next article)
    → the article of the previous turn's document."""
    request = _article_request(message)
    if request is None:
        return None
    step, pstep, article, paragraph = request.step, request.pstep, request.article, request.paragraph
    previous = state.get("articles", [])
    docs = _previous_documents(state, kb)
    if not docs:
        return None
    doc = docs[0]
    last = next((a for a in previous if a["doc_id"] == doc.doc_id), None)
    if article:
        number = int(article) if article.isdigit() else cn_to_int(article)
    elif last is None or not last.get("article"):
        return None
    else:
        number = last["article"] + step
    paragraph = int(paragraph) if paragraph and paragraph.isdigit() else cn_to_int(paragraph) if paragraph else 0
    if pstep:  # the article as a whole counts as its first paragraph
        paragraph = (last.get("paragraph") or 1) + pstep
        if paragraph < 1:
            return None
    question = f"{short_name(doc, kb.index.documents)}第{int_to_cn(number)}条" + (
        f"第{int_to_cn(paragraph)}款" if paragraph else "")
    return _rewritten(question, [doc.doc_id], "english" if request.english else "article", kb)


def _strip_trailing(text: str) -> str:
    return re.sub(r"[？?。.!！\s]+$", "", text)


def _ellipsis_topic(message: str) -> tuple[str, str] | None:
    """Return (new topic, language) of 那X呢 / What about X?, or None when the message is not one."""
    en = EN_ELLIPSIS_RE.match(message)
    if en:
        x = _strip_trailing(en.group("x") or en.group("y") or "")
        if x and len(x.split()) <= 6 and not (en.group("y") and EN_PREDICATE_RE.search(x)):
            return x, "en"
        return None
    zh = ELLIPSIS_RE.match(message)
    if not zh:
        return None
    x = _strip_trailing(zh.group("x") or zh.group("y") or "")
    if not x or len(x) > MAX_ELLIPSIS_CHARS or PREDICATE_RE.search(x) or ARTICLE_REF_RE.search(x):
        return None  # 那保证人要承担什么责任呢 is a question of its own
    return x, "zh"


def _resolve_ellipsis(message: str, state: dict, kb: Any) -> Resolved | None:
    """那绿色金融呢 / What about green finance? → the previous question with its topic replaced."""
    found = _ellipsis_topic(message)
    if found is None:
        return None
    topic, lang = found
    if lang == "zh" and _is_condition(topic):
        return _resolve_conditional(f"如果{topic}呢", state, kb)
    question = _elliptical_question(state["question"], topic, kb)
    if question is None:
        return None
    kind = "english" if lang == "en" else "elliptical"
    scope = state.get("doc_ids", [])
    if scope:
        return _rewritten(question, scope if within_scope(topic, scope, kb) else [], kind, kb)
    # No scope was named: the document that answered the previous turn, while the new topic has words
    # that document speaks of (那存款保险基金的运用呢 after an answer from 存款保险条例).
    answered = _answered_scope(topic, state, kb)
    return _rewritten(question, answered, kind, kb, inferred=bool(answered))


def _is_condition(text: str) -> bool:
    """Return True when text says something is so rather than names a topic: a negated verb (保证期间没约定,
    借款人未还款), a copula or a passive between its words (担保人是上市公司, 投保机构被宣告破产), or an event
    completed (受托的信托公司自己破产了)."""
    words = segment(text)
    return (any(w in NEGATIONS or (w.startswith("没") and w not in NOT_NEGATED) for w in words[1:])
            or any(w in STATING for w in words[1:-1]) or (len(words) > 1 and words[-1] == "了"))


def _elliptical_question(previous: str, topic: str, kb: Any) -> str | None:
    """Return the question 那X呢 asks: the previous question about X, unless X brings an aspect of its own.

    X = A的B names a topic A and an aspect B:
    - 有限责任公司的股东以什么为限… → 那股份有限公司的股东呢: the previous topic had that aspect, so X replaces it;
    - 普惠贷款的余额目标是多少 → 那绿色金融的目标呢: the previous question asked for 目标, so A replaces its topic;
    - 存款保险费率由什么构成 → 那存款保险基金的运用呢: 运用 is new and 由什么构成 asked about 费率, so X is asked
      as it stands.
    """
    start, end = find_topic(previous, kb.index.documents)
    if start == end:
        return None
    if topic[0] in PREPOSITIONS and topic[0] in previous:
        # 那对前手的追索权呢 after 持票人对支票出票人的权利…: the object of 对 is replaced, aspect and all.
        after = previous.index(topic[0]) + 1
        first, last = find_topic(previous[after:], kb.index.documents)
        if first == 0 and last > 0:
            return previous[:after] + topic[1:] + previous[after + last:]
    head, _, aspect = topic.rpartition("的")
    if not head:
        head, aspect = _compound_aspect(topic, previous)
    if head and CJK_RE.search(aspect) and aspect not in previous[start:end]:
        if aspect not in previous:
            return topic
        topic = head
    if topic[0] in PREPOSITIONS and previous[:start].endswith(topic[0]):
        topic = topic[1:]  # 那对外贸企业呢 after 对科技企业有什么支持: one 对
    return previous[:start] + topic + previous[end:]


def _compound_aspect(topic: str, previous: str) -> tuple[str, str]:
    """Return (A, B) when a compound topic AB is A的B: A a word the previous question used, B a new one.

    Chinese compounds put their head last. In 试用期工资 after 试用期最长能约定多久, 试用期 is what was
    talked about and 工资 the new aspect of it; in 绿色金融 after 普惠金融的目标…, the new word comes first,
    so 绿色金融 is a sibling topic that takes the old one's place. ("", topic) when it is not such a compound;
    a one-character first word (新贷款) is too common to say what was talked about.
    """
    words = segment(topic)
    if len(words) < 2 or len(words[0]) < 2 or words[0] not in previous or words[-1] in previous:
        return "", topic
    return words[0], "".join(words[1:])


def _unknown_law(message: str) -> bool:
    """Return True when a 那X呢 message names a law the knowledge base does not hold (那证券法呢)."""
    found = _ellipsis_topic(message)
    scope = SCOPE_RE.fullmatch(found[0]) if found else None  # 那在证券法中呢
    name = (scope.group(1) or scope.group(2)) if scope else found[0] if found else ""
    return bool(LAW_NAME_RE.fullmatch(name.strip("《》")))


def _resolve_named_ellipsis(message: str, named: list[Document], state: dict, kb: Any) -> Resolved | None:
    """那商业银行法呢 (那在商业银行法里呢) after 征信业管理条例什么时候施行的 → 商业银行法什么时候施行的, scoped to it.

    Only a message that says no more than a document's name is a follow-up; any other message
    that names a document is a question of its own.
    """
    found = _ellipsis_topic(message)
    if found is None:
        return None
    topic, lang = found
    scope = SCOPE_RE.fullmatch(topic)  # 那在商业银行法里呢 names the document as a scope
    topic = (scope.group(1) or scope.group(2)) if scope else topic
    if resolve_document(topic.strip("《》"), kb.index.documents) != named:
        return None  # an unknown law resolves to nothing, and named is empty: the look-up says it is missing
    previous = state["question"]
    spans = [s for s in _mention_spans(previous, kb.index.documents) if not LOOKUP_RE.fullmatch(previous[s[0]:s[1]])]
    if spans:
        start, end = spans[0]
        mention = previous[start:end]
        name = topic if not SCOPE_RE.fullmatch(mention) else f"在{topic.strip('《》')}中"
        question = previous[:start] + name + previous[end:]
    else:
        lookup = LOOKUP_RE.search(previous)
        question = (previous[:lookup.start()] + topic + previous[lookup.start():] if lookup
                    else f"在{topic.strip('《》')}中，{previous}")
    return _rewritten(question, [d.doc_id for d in named], "english" if lang == "en" else "elliptical", kb)


def _resolve_situation(message: str, named: list[Document], state: dict, kb: Any) -> Resolved | None:
    """那担保制度的司法解释里对这种情况是怎么规定的 → the previous question, as it was run, in that document.

    Only a message that says no more than a document and 这种情况 (and how it is ruled) is such a
    follow-up; 这种情况下保证人还要承担责任吗 asks something of its own.
    """
    situation = SITUATION_RE.search(message)
    if not situation or not state.get("last") or LOOKUP_RE.search(message):
        return None  # (民法典第六百九十三条对这种情况… asks of that article)
    masked = message[:situation.start()] + " " * len(situation.group(0)) + message[situation.end():]
    start, end = find_topic(masked, kb.index.documents)
    names = _mention_spans(message, kb.index.documents)
    if start != end or not names:
        return None
    mention = message[names[0][0]:names[0][1]]
    name = mention if SCOPE_RE.fullmatch(mention) else f"在{FILLER_RE.sub('', mention).strip('《》')}中"
    return _rewritten(f"{name}，{state['last']}", [d.doc_id for d in named], "elliptical", kb)


def _resolve_conditional(message: str, state: dict, kb: Any) -> Resolved | None:
    """如果…会怎样 → the same question, with the previous topic when it does not name one, in the previous
    scope, or else in the document that answered the previous turn while the condition speaks of it."""
    m = CONDITIONAL_RE.match(message) or EN_CONDITIONAL_RE.match(message)
    if not m:
        return None
    topic = state.get("topic", "")
    condition = re.sub(r"^(?:那么|那)[，,\s]*", "", message)
    scope = state.get("doc_ids", [])
    if not within_scope(condition, scope, kb):
        return None  # a condition about something the previous documents never mention starts afresh
    # An English condition with words of its own (What if the customer refuses to cooperate with our due
    # diligence?) after an English question is a question of its own, in the conversation's document: a
    # topic cut from an English question ("present", "year-old Chinese citizen living") only blurs it.
    # A Chinese topic stays: its words are the keyword search's only words in the documents' language.
    own = (_language(condition) == "en" and state.get("lang") == "en"
           and sum(map(content_word, tokenize(condition))) >= MIN_EN_CONDITION_WORDS)
    body = f"{topic}：{condition}" if topic and not own and not set(tokenize(topic)) <= set(tokenize(condition)) \
        else condition
    # Unnamed, the scope is the document that answered, while both the question and the condition
    # speak of it (not 如果保证合同没写保证方式呢 after 存款保险费率由什么构成); an English condition of
    # its own speaks through its translations (creditor → 债权人).
    answered = [] if scope else _answered_scope(_translated(condition, kb) if own else body, state, kb)
    if answered and not within_scope(condition, answered, kb):
        answered = []  # (What if the bank fails? has no words to check, and stays with the conversation)
    return _rewritten(body, scope or answered, "conditional", kb, inferred=bool(answered))


def _translated(text: str, kb: Any) -> str:
    """Return the corpus words that an English text's words translate to, as text to check a scope by."""
    return "，".join(w for words in kb.english_terms(text).values() for w in words)


def _answered_scope(text: str, state: dict, kb: Any) -> list[str]:
    """Return the document that answered the previous turn (or that its abstention leaned on), while
    text has words that document speaks of; the scope is inferred, so it is not carried further."""
    answered = state.get("answered_by", [])[:1]
    return answered if answered and _phrases(text, _texts(kb)[""], kb.vocabulary) and within_scope(text, answered, kb) else []


def _resolve_continuation(message: str, state: dict, kb: Any) -> Resolved | None:
    """那不得从事哪些业务呢 → the question as asked, in the scope the previous turn named, or else in the
    document that answered it; None (a question of its own) when it speaks of neither."""
    m = CONTINUATION_RE.match(message)
    if not m:
        return None
    question, scope = m.group("q"), state.get("doc_ids", [])
    if scope:
        return _rewritten(question, scope, "continuation", kb) if within_scope(question, scope, kb) else None
    answered = _answered_scope(question, state, kb)
    return _rewritten(question, answered, "continuation", kb, inferred=True) if answered else None


# --- the state -----------------------------------------------------------------------------------

def _article_number(section_no: str) -> int:
    m = re.fullmatch(rf"第([{CN_NUM}\d]+)条", section_no)
    numeral = m.group(1) if m else section_no
    if re.fullmatch(rf"[{CN_NUM}]+", numeral):
        return cn_to_int(numeral)
    return int(numeral) if numeral.isdigit() else 0


def _leaning(answer: Answer) -> tuple[Citation, ...]:
    """Return an abstention's 可能相关 clauses from the first one's document, when most come from it.

    Only an abstention for doubt leans: one for lack of support (比特币挖矿需要什么许可) found nothing.
    """
    if not answer.abstained or not answer.supported or not answer.related:
        return ()
    leaning = tuple(c for c in answer.related if c.doc_id == answer.related[0].doc_id)
    return leaning if len(leaning) * 2 > len(answer.related) else ()


def next_state(state: dict, resolved: Resolved, answer: Answer, kb: Any) -> dict:
    """Return the state after a turn: what it was about, and the citations so far."""
    documents = kb.index.documents
    # The documents the turn named (在民法典里…, 保险法第十六条, 这个条例…): what later follow-ups stay in.
    # A scope inferred from the previous answer is not one of them.
    named = [] if resolved.inferred else list(resolved.doc_ids)
    scope = list(dict.fromkeys(named or kb.scope(resolved.question)))
    scope += [d.doc_id for d in _names_document(resolved.question, documents) if d.doc_id not in scope]
    # An abstention's 可能相关 sections are not an answer, but when most come from one document the
    # turn leaned on it: 这个条例… / 下一条呢 / 那X呢 then resolve against it (shown in 理解为), while the
    # memo keeps only what was quoted as an answer.
    cited = answer.citations or _leaning(answer)
    articles = [{"doc_id": c.doc_id, "section_no": c.section_no, "article": _article_number(c.section_no),
                 "paragraph": c.paragraph} for c in cited if c.section_no][:3]
    if not articles and answer.mode == "lookup":
        lookup = find_lookup(resolved.question, [kb.docs[d] for d in scope] or documents)
        articles = [{"doc_id": d, "section_no": f"第{int_to_cn(lookup.article)}条", "article": lookup.article,
                     "paragraph": lookup.paragraph} for d in scope] if lookup else []
    answered_by = list(dict.fromkeys(c.doc_id for c in cited))
    about = list(dict.fromkeys(scope + answered_by))  # what this turn named or answered from (or leaned on)
    docs = answered_by
    if not scope and not docs:  # a turn that found nothing (证券法第十六条) leaves the conversation where it was
        scope, docs = list(state.get("doc_ids", [])), list(state.get("docs", []))
    if not articles:  # 这个条例的文号是什么 keeps the article the conversation was at, for 下一条呢
        articles = [a for a in state.get("articles", []) if a["doc_id"] in scope + docs]
    topic = _topic(resolved.question, documents) or (state.get("topic", "") if resolved.kind != "fresh" else "")
    # After a conditional, 那逾期利率呢 (and 那在担保制度解释里呢) asks the question the condition was added to.
    base = state.get("question") if resolved.kind == "conditional" and state.get("question") else resolved.question
    return {"question": base, "last": without_scope(resolved.question, documents), "topic": topic,
            "lang": _language(resolved.question),
            "doc_ids": scope, "docs": docs, "answered_by": answered_by, "articles": articles,
            "citations": unique_citations(list(state.get("citations", [])) + [asdict(c) for c in answer.citations]),
            "recent": ([about] + list(state.get("recent", [])))[:MAX_RECENT]}


class Conversation:
    """A knowledge base and the state of one conversation with it."""

    def __init__(self, kb: Any, state: dict | None = None) -> None:
        self.kb = kb
        self.state = state or new_state()

    def ask(self, message: str, mode: str = "hybrid", doc_ids: Sequence[str] = ()) -> Turn:
        """Resolve a message against the previous turn, answer it and remember the turn.

        Args:
            doc_ids: restrict this turn to these documents (the app's 检索范围, `--doc`);
                they override any scope the resolver would carry over.
        """
        message = readable_question(message)
        resolved = resolve(message, self.state, self.kb)
        if doc_ids:
            resolved = Resolved(resolved.question, tuple(doc_ids), resolved.understood, resolved.kind)
        answer = self.kb.ask(resolved.question, mode=mode, doc_ids=resolved.doc_ids)
        self.state = next_state(self.state, resolved, answer, self.kb)
        return Turn(message, answer, resolved)

    def reset(self) -> None:
        """Start a new conversation: forget the previous turns and their citations."""
        self.state = new_state()

    def citations(self) -> list[dict]:
        """Return the conversation's citations in order, each (cite, quote) once."""
        return list(self.state["citations"])
