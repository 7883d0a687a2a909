"""The single jieba tokenizer (+ policy user dictionary), used at index AND query time."""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from functools import lru_cache
from importlib import resources

DATA = resources.files("policykb") / "data"
WORD_RE = re.compile(r"[a-z0-9][a-z0-9.\-]*|[\u4e00-\u9fff]+")
POSSESSIVE_RE = re.compile(r"(?<=[a-z])['’]s\b")  # Shanghai's → shanghai, not shanghai and "s"
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    words = []
    for line in (DATA / "stopwords.txt").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.extend(line.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """Return the bilingual glossary: lower-case term → policy terms to add to the query."""
    out: dict[str, tuple[str, ...]] = {}
    for line in (DATA / "glossary.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        term, expansion = line.split("\t", 1)
        out[term.strip().lower()] = tuple(expansion.split())
    return out


def dictionary_hash() -> str:
    """Return a hash of what decides document tokens (user dictionary, stopwords) for the manifest.

    The glossary only expands questions, so editing it needs no re-index.
    """
    h = hashlib.sha256()
    for name in ("userdict.txt", "stopwords.txt"):
        h.update((DATA / name).read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def _jieba():
    # jieba's default dictionary splits 续贷 into 续/贷 and 纾困融资 into 纾困/融资,
    # so policy terms are added from the user dictionary.
    import jieba
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    with resources.as_file(DATA / "userdict.txt") as path:
        tk.load_userdict(str(path))
    return tk


def segment(text: str) -> list[str]:
    """Cut text into words with the project's jieba tokenizer (policy user dictionary, no log output)."""
    with _LOCK:
        return _jieba().lcut(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of the words jieba cuts a text into."""
    with _LOCK:
        return [(start, end) for _, start, end in _jieba().tokenize(text)]


def tokenize(text: str) -> list[str]:
    """Split text into lower-case search tokens (jieba search mode), without stopwords."""
    tk = _jieba()
    stop = _stopwords()
    tokens: list[str] = []
    with _LOCK:  # jieba's Tokenizer initialises lazily and is not thread-safe on first use
        for chunk in WORD_RE.findall(POSSESSIVE_RE.sub("", text.lower())):
            if chunk[0].isascii():
                if chunk not in stop:
                    tokens.append(chunk)
                continue
            for word in tk.cut_for_search(chunk, HMM=True):
                if len(word) > 1 and word not in stop:
                    tokens.append(word)
    return [t for t in tokens if t not in stop]


@lru_cache(maxsize=1)
def _glossary_patterns() -> tuple[tuple[str, tuple[str, ...], re.Pattern | None], ...]:
    """Return each glossary entry with the pattern that finds an English term as a whole word, singular or plural
    (compiled once: the glossary has more entries than the re module's cache)."""
    return tuple((term, expansion, re.compile(rf"(?<![a-z]){re.escape(term)}(?:e?s)?(?![a-z])") if term.isascii()
                  else None) for term, expansion in glossary().items())


def glossary_matches(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Return the glossary entries (term, expansion) found in a question; English terms as whole words,
    singular or plural."""
    lowered = text.lower()
    return [(term, expansion) for term, expansion, pattern in _glossary_patterns()
            if (pattern.search(lowered) if pattern is not None else term in text)]


def glossary_terms(text: str) -> list[str]:
    """Return the policy terms the glossary adds for English or colloquial words in a question."""
    extra: list[str] = []
    for _, expansion in glossary_matches(text):
        extra.extend(t for t in expansion if t not in extra)
    return extra


def expand_query(text: str) -> list[str]:
    """Tokenize a question and add the glossary's policy terms for English or colloquial words."""
    tokens = tokenize(text)
    for term in glossary_terms(text):
        tokens.extend(t for t in tokenize(term) if t not in tokens)
    return tokens


def term_groups(text: str) -> dict[str, set[str]]:
    """Map each search token of a question to the policy-term tokens its glossary entries add.

    Used to judge how much of a question a section covers: a word counts as covered
    when it, or a term the glossary gives for it, occurs, so that the expansions of one
    word (外地人 → 新市民) never count as more of the question than that word. A
    glossary phrase that yields no token of its own (办卡) is a word of its own.
    """
    out: dict[str, set[str]] = {t: set() for t in tokenize(text)}
    for term, expansion in glossary_matches(text):
        tokens = {t for e in expansion for t in tokenize(e)}
        if term.isascii():
            own = [form for w in term.split() for form in (w, w + "s", w + "es") if form in out]
        else:
            own = [t for t in tokenize(term) if t in out] or [term]
        for word in own:  # English "first loans" is the glossary's "first loan"
            out.setdefault(word, set()).update(tokens)
    return out


def word_expansions(text: str) -> dict[str, set[str]]:
    """Map each English word of a question to the policy-term tokens its glossary entries add."""
    return {w: e for w, e in term_groups(text).items() if w.isascii()}
