"""PolicyKBError and subclasses named for the condition.

Each message says what happened and the next command to run.
"""
from __future__ import annotations


class PolicyKBError(Exception):
    """Base class: a condition the user can act on (never a bug)."""

    exit_code = 1


class ConfigError(PolicyKBError):
    """A setting or environment variable is invalid or unknown."""

    exit_code = 2


class EmptyQuestionError(PolicyKBError):
    """The question is empty or whitespace only."""

    exit_code = 2


class UnreadableQuestionError(EmptyQuestionError):
    """The question's bytes are not text in UTF-8 or GBK (handled wherever an empty question is)."""


class CorpusError(PolicyKBError):
    """The corpus directory or its manifest is missing or invalid."""


class DocumentError(PolicyKBError):
    """A source document cannot be read, decoded or parsed."""


class DuplicateDocumentError(DocumentError):
    """The file is already in the corpus, or its doc_id belongs to another document."""


class IndexMissingError(PolicyKBError):
    """No index has been built yet."""


class IndexCorruptError(PolicyKBError):
    """The index directory is damaged or incomplete."""


class IndexMismatchError(PolicyKBError):
    """The index was built with other settings (embedding model, tokenizer, chunker)."""


class IndexLockedError(PolicyKBError):
    """Another process holds the index lock."""


class EmbeddingUnavailableError(PolicyKBError):
    """The embedding backend cannot be loaded (missing package or model)."""


class VectorStoreUnavailableError(PolicyKBError):
    """The Chroma store or server cannot be reached."""


class NotFoundError(PolicyKBError):
    """A document or section id does not exist."""


class QuizError(PolicyKBError):
    """A quiz cannot be made as asked (too few items, or nothing to ask about)."""

    exit_code = 2


class MemoError(PolicyKBError):
    """A memo cannot be written: an unsupported file type or an unwritable path."""

    exit_code = 2
