"""Chroma + BM25 build/load, the index manifest, freshness checks and the index lock.

index/ layout: manifest.json (what built the index and from which documents),
bm25/ (bm25s matrices over jieba tokens of each section), tokens/ (each
document's section and sentence tokens, so opening needs no re-tokenizing), chroma/ (two Chroma
collections: one vector per section, one per sentence span). In server mode
the collections live in the Chroma server and index/ keeps the rest.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from policykb.ingest.chunk import CHUNKER_VERSION
from policykb.config import Settings
from policykb.ingest.corpus import Reference, load_documents, load_references
from policykb.errors import (IndexCorruptError, IndexLockedError, IndexMismatchError,
                             IndexMissingError, PolicyKBError, VectorStoreUnavailableError)
from policykb.ingest.parse import Document, Section
from policykb.retrieval.retrieve import top_indices
from policykb.tokenize import dictionary_hash, tokenize

INDEX_FORMAT = 1
SECTIONS, SPANS = "policykb_sections", "policykb_spans"
REBUILD_HINT = "run `policykb ingest --rebuild`"


@dataclass(frozen=True)
class IngestReport:
    """What an ingest changed, and how long it took."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    sections: int = 0
    spans: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Return True when the ingest wrote anything."""
        return bool(self.added or self.updated or self.removed)


@dataclass
class LoadedIndex:
    """An index ready for queries: documents, sections, BM25 and (lazily) vectors."""

    settings: Settings
    manifest: dict
    documents: list[Document]
    references: list[Reference]
    sections: dict[str, Section]
    section_ids: list[str]
    bm25: Any
    section_tokens: dict[str, list[str]] = field(default_factory=dict, repr=False)
    span_tokens: dict[str, list[list[str]]] = field(default_factory=dict, repr=False)
    pending: tuple[str, ...] = ()  # documents another process is adding: in corpus/, not yet served
    _vectors: Any = field(default=None, repr=False)

    def vectors(self) -> "VectorStores":
        """Return the Chroma collections, opening them on first use."""
        if self._vectors is None:
            self._vectors = VectorStores.open(self.settings)
            if not self.pending:  # while another process adds documents, the store may already hold theirs
                self._vectors.check_counts(self.manifest)
        return self._vectors


def doc_fingerprint(doc: Document) -> str:
    """Return a hash of everything that decides a document's chunks and metadata."""
    # Status, dates and 文号 are read from corpus/ at load time and embedded nowhere: a document
    # marked 已被替代 is not re-embedded.
    payload = json.dumps([doc.content_hash, doc.title, CHUNKER_VERSION], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def build_settings_fingerprint(settings: Settings, dim: int | None = None) -> dict:
    """Return the settings that an index must have been built with to be usable."""
    out = {"format": INDEX_FORMAT, "embed_backend": settings.embed_backend,
           "embed_model": settings.embed_model, "chunker": CHUNKER_VERSION,
           "tokenizer": "jieba-search", "dictionary": dictionary_hash()}
    if dim is not None:
        out["dim"] = dim
    return out


def read_index_manifest(index_dir: Path) -> dict | None:
    """Return index/manifest.json, None when there is no index, or raise IndexCorruptError."""
    path = index_dir / "manifest.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["build"]["embed_model"], data["documents"], data["section_ids"]  # noqa: B018
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path} is damaged ({exc.__class__.__name__}); {REBUILD_HINT}") from exc
    return data


def check_compatible(manifest: dict, settings: Settings) -> None:
    """Refuse an index built with another embedding model, tokenizer or chunker."""
    built = manifest["build"]
    want = build_settings_fingerprint(settings)
    if (built.get("embed_backend"), built.get("embed_model")) != (want["embed_backend"], want["embed_model"]):
        raise IndexMismatchError(
            f"{settings.index_dir} was built with {built.get('embed_backend')}:{built.get('embed_model')} "
            f"but the settings ask for {want['embed_backend']}:{want['embed_model']}; vectors of two models "
            f"cannot be mixed: {REBUILD_HINT} (or restore POLICYKB_EMBED_BACKEND/POLICYKB_EMBED_MODEL)")
    # A new chunker changes every document fingerprint, so ingest re-chunks by itself.
    for key in ("format", "tokenizer"):
        if built.get(key) != want[key]:
            raise IndexMismatchError(f"{settings.index_dir} was built with another {key} "
                                     f"({built.get(key)} ≠ {want[key]}); {REBUILD_HINT}")


def writer_busy(settings: Settings) -> bool:
    """Return True when another process holds the index's write lock (an add, remove or ingest is running)."""
    try:
        handle = open(settings.index_dir / ".lock", "rb")  # read-only: a reader may not write index/
    except OSError:
        return False  # no lock file: nobody has written here
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def index_lock(settings: Settings) -> Iterator[None]:
    """Hold the index's write lock; a second writer waits up to lock_timeout, then fails."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    path = settings.index_dir / ".lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + settings.lock_timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another policykb process is writing {settings.index_dir} "
                        f"(waited {settings.lock_timeout:.0f} s); try again when it has finished") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class VectorStores:
    """The two Chroma collections (sections, spans), written through llama-index ChromaVectorStores.

    Queries read the collections with chromadb alone: llama-index is imported only to write
    (about 1 s of a cold `policykb ask` when it was imported to answer).
    """

    def __init__(self, client: Any, sections: Any, spans: Any) -> None:
        self.client = client
        self.collections = {False: sections, True: spans}  # keyed by "spans?"
        self._writers: dict[bool, Any] = {}
        self._exact: dict[bool, tuple[list[str], Any, Any]] = {}

    def _writer(self, spans: bool) -> Any:
        """Return the llama-index ChromaVectorStore over one collection, made on first use."""
        if spans not in self._writers:
            from llama_index.vector_stores.chroma import ChromaVectorStore
            self._writers[spans] = ChromaVectorStore(chroma_collection=self.collections[spans])
        return self._writers[spans]

    @classmethod
    def open(cls, settings: Settings, create: bool = False) -> "VectorStores":
        """Connect to the persistent store under index/ or to the Chroma server."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        try:
            if settings.uses_chroma_server:
                client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                             settings=chroma_settings)
                client.heartbeat()
            else:
                path = settings.index_dir / "chroma"
                if not create and not path.exists():
                    raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}")
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            collections = []
            for name in (SECTIONS, SPANS):
                if create:
                    col = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})
                else:
                    col = client.get_collection(name)
                collections.append(col)
        except PolicyKBError:
            raise
        except Exception as exc:  # chromadb raises many types for an unreachable or damaged store
            where = (f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
                     if settings.uses_chroma_server else f"{settings.index_dir / 'chroma'}")
            if settings.uses_chroma_server and not isinstance(exc, (ValueError, KeyError)):
                raise VectorStoreUnavailableError(f"cannot reach {where}: {exc}") from exc
            raise IndexCorruptError(f"cannot open {where} ({exc.__class__.__name__}: {exc}); "
                                    f"{REBUILD_HINT}") from exc
        return cls(client, *collections)

    def counts(self) -> tuple[int, int]:
        """Return the number of section and span vectors stored."""
        return self.collections[False].count(), self.collections[True].count()

    def check_counts(self, manifest: dict) -> None:
        """Raise IndexCorruptError when the store does not hold what the manifest says."""
        try:
            counts = self.counts()
        except Exception as exc:
            raise IndexCorruptError(f"the vector store cannot be read ({exc}); {REBUILD_HINT}") from exc
        want = (manifest["counts"]["sections"], manifest["counts"]["spans"])
        if counts != want:
            raise IndexCorruptError(f"the vector store holds {counts[0]} sections and {counts[1]} spans "
                                    f"but the manifest lists {want[0]} and {want[1]}; {REBUILD_HINT}")

    def delete_document(self, doc_id: str) -> None:
        """Delete every vector of one document."""
        self._exact.clear()
        self._writer(False).delete(ref_doc_id=doc_id)
        self._writer(True).delete(ref_doc_id=doc_id)

    def add_document(self, doc: Document, section_vecs: Any, unit_vecs: Any) -> None:
        """Add a document's section and sub-unit vectors (ids are readable: doc#section and doc#section:j-k)."""
        self._exact.clear()
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc.doc_id)}
        nodes, unit_nodes = [], []
        k = 0
        for i, sec in enumerate(doc.sections):
            nodes.append(TextNode(id_=sec.id, text=sec.display, embedding=section_vecs[i].tolist(),
                                  metadata={"doc_id": doc.doc_id, "section_no": sec.section_no},
                                  relationships=source))
            for first, last in vector_units(sec):
                unit_nodes.append(TextNode(id_=unit_id(sec, first, last), text=unit_text(sec, first, last),
                                           embedding=unit_vecs[k].tolist(),
                                           metadata={"doc_id": doc.doc_id, "section_id": sec.id},
                                           relationships=source))
                k += 1
        if nodes:
            self._writer(False).add(nodes)
        if unit_nodes:
            self._writer(True).add(unit_nodes)

    def query(self, vector: list[float], k: int, spans: bool = False,
              doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Return (node id, cosine similarity) pairs, best first, by exact search over the stored vectors.

        Args:
            doc_ids: only these documents' vectors.
        """
        import numpy as np

        ids, matrix, docs = self._exact_matrix(spans)
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        sims = matrix @ (query / (np.linalg.norm(query) or 1.0))
        masked = np.where(np.isin(docs, list(doc_ids)), sims, -np.inf) if doc_ids else sims
        top = top_indices(masked, k)
        top = top[np.isfinite(masked[top])]
        top = top[np.lexsort((top, -sims[top]))]  # ids are stored sorted, so ties go by id
        return [(ids[i], float(sims[i])) for i in top]

    def _exact_matrix(self, spans: bool) -> tuple[list[str], Any, Any]:
        """Return a collection's ids (sorted), unit-length vectors and doc ids, read once.

        Chroma's HNSW search is approximate, and which neighbours it returns differed from one
        process to the next on the same index; an exact search over the stored vectors gives the
        same ranking in every run (about 1.5 KB of memory per vector).
        """
        import numpy as np

        if spans not in self._exact:
            got = read_collection(self.collections[spans])
            order = sorted(range(len(got["ids"])), key=lambda i: got["ids"][i])
            ids = [got["ids"][i] for i in order]
            matrix = np.asarray(got["embeddings"], dtype=np.float32)[order] if ids else np.zeros((0, 1), np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True) if ids else None
            if ids:
                matrix = matrix / np.where(norms == 0, 1.0, norms)
            docs = np.array([(got["metadatas"][i] or {}).get("doc_id", "") for i in order])
            self._exact[spans] = (ids, matrix, docs)
        return self._exact[spans]


def read_collection(collection: Any, page: int = 0) -> dict[str, list]:
    """Return every id, embedding and metadata of a Chroma collection, read a page at a time.

    One get() of a large collection fails inside Chroma's SQLite ("too many SQL variables",
    seen at 100,000 vectors), so the collection is read READ_PAGE records per call.
    """
    page = page or READ_PAGE
    out: dict[str, list] = {"ids": [], "embeddings": [], "metadatas": []}
    while True:
        got = collection.get(include=["embeddings", "metadatas"], limit=page, offset=len(out["ids"]))
        if not len(got["ids"]):
            return out
        out["ids"].extend(got["ids"])
        out["embeddings"].extend(got["embeddings"])
        out["metadatas"].extend(got["metadatas"] or [None] * len(got["ids"]))
        if len(got["ids"]) < page:
            return out


READ_PAGE = 5_000
EMBED_BATCH = 32


def _embed_texts(embedder: Any, texts: list[str], progress: Callable[[int], None] | None) -> Any:
    import numpy as np
    out = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start:start + EMBED_BATCH]
        out.append(embedder.embed_passages(batch))
        if progress:
            progress(len(batch))
    return np.concatenate(out) if out else np.zeros((0, embedder.dim), dtype="float32")


def vector_units(sec: Section) -> list[tuple[int, int]]:
    """Return the (first, last) span ranges that get a vector of their own beside the section's.

    A notice's measure is long and its sentences are separate commitments: each
    sentence gets a vector (a notice is a few dozen). An article's paragraphs (款) are its units of meaning,
    so an article of several paragraphs gets one vector per paragraph, and a
    one-paragraph article none: that vector would repeat the section's.
    """
    if sec.kind != "article":
        # Even a one-sentence preamble keeps its own vector: without the title in front,
        # it matches "what is this notice about" questions better (measured on eval/).
        return [(j, j) for j in range(len(sec.spans))]
    if len(sec.spans) < 2 or sec.paragraphs < 2:
        return []
    units: dict[int, list[int]] = {}
    for j, span in enumerate(sec.spans):
        units.setdefault(span.paragraph, []).append(j)
    return [(js[0], js[-1]) for js in units.values()]


def unit_id(sec: Section, first: int, last: int) -> str:
    """Return a sub-unit's vector id: doc#section:j for one sentence, doc#section:j-k for a paragraph."""
    return f"{sec.id}:{first}" if first == last else f"{sec.id}:{first}-{last}"


def unit_span_range(vector_id: str) -> tuple[str, range]:
    """Return the section id and the span indices of a sub-unit vector id."""
    section_id, tail = vector_id.rsplit(":", 1)
    first, _, last = tail.partition("-")
    return section_id, range(int(first), int(last or first) + 1)


def unit_text(sec: Section, first: int, last: int) -> str:
    """Return the verbatim text of spans first..last of a section."""
    return sec.text[sec.spans[first].start:sec.spans[last].end]


def unit_count(doc: Document) -> int:
    """Return the number of sub-unit vectors of a document."""
    return sum(len(vector_units(s)) for s in doc.sections)


def _section_passage(sec: Section, doc: Document) -> str:
    """Return the text embedded for a section: chapter context, title line and body."""
    context = f"{sec.chapter} " if sec.chapter else ""
    return f"{doc.title} {context}{sec.heading}{sec.text}"


def document_tokens(doc: Document) -> dict[str, dict]:
    """Return the jieba tokens of each section (with its chapter) and of each sentence span."""
    return {"sections": {s.id: tokenize(f"{s.chapter} {s.text}") for s in doc.sections},
            "spans": {s.id: [tokenize(sp.text) for sp in s.spans] for s in doc.sections}}


def cached_tokens(index_dir: Path, doc: Document, write: bool = False) -> dict[str, dict]:
    """Return a document's tokens from index/tokens/, recomputing them when missing or stale.

    Tokenizing is the slow part of opening a large index (about a minute at 100k
    sections), so ingest stores the tokens next to the vectors; `write` is only
    set under the index lock.
    """
    path = index_dir / "tokens" / f"{doc.doc_id}.json"
    key = f"{doc_fingerprint(doc)}:{dictionary_hash()}"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["key"] == key:
            return data["tokens"]
    tokens = document_tokens(doc)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "tokens": tokens}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    return tokens


def _write_bm25(index_dir: Path, documents: list[Document]) -> list[str]:
    import bm25s
    ids, tokens = [], []
    for doc in documents:
        cached = cached_tokens(index_dir, doc, write=True)["sections"]
        for sec in doc.sections:
            ids.append(sec.id)
            tokens.append(cached[sec.id] or ["∅"])
    keep = {f"{d.doc_id}.json" for d in documents}
    for stale in (index_dir / "tokens").glob("*.json"):
        if stale.name not in keep:
            stale.unlink()
    target = index_dir / "bm25"
    tmp = index_dir / "bm25.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    model.save(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return ids


def _reset_store(settings: Settings) -> None:
    """Remove every vector and index file (for --rebuild or a damaged index)."""
    if settings.uses_chroma_server:
        stores = VectorStores.open(settings, create=True)
        for name in (SECTIONS, SPANS):
            stores.client.delete_collection(name)
    else:
        with contextlib.suppress(Exception):
            from chromadb.api.shared_system_client import SharedSystemClient
            SharedSystemClient.clear_system_cache()
        shutil.rmtree(settings.index_dir / "chroma", ignore_errors=True)
    shutil.rmtree(settings.index_dir / "bm25", ignore_errors=True)
    shutil.rmtree(settings.index_dir / "tokens", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (settings.index_dir / "manifest.json").unlink()


def plan_ingest(settings: Settings, documents: list[Document], manifest: dict | None) -> dict[str, list[str]]:
    """Compare the corpus with the index manifest: which documents to add, update, remove, keep."""
    old = (manifest or {}).get("documents", {})
    plan: dict[str, list[str]] = {"added": [], "updated": [], "removed": [], "unchanged": []}
    current = {d.doc_id: d for d in documents}
    for doc_id, doc in current.items():
        if doc_id not in old:
            plan["added"].append(doc_id)
        elif old[doc_id]["fingerprint"] != doc_fingerprint(doc):
            plan["updated"].append(doc_id)
        else:
            plan["unchanged"].append(doc_id)
    plan["removed"] = [d for d in old if d not in current]
    # A changed user dictionary or stopword list changes the BM25 tokens but not the vectors.
    if manifest is not None and manifest["build"].get("dictionary") != dictionary_hash():
        plan["retokenize"] = ["*"]
    return plan


def ingest(settings: Settings, rebuild: bool = False,
           progress: Callable[[int, int], Callable[[int], None]] | None = None,
           embedder: Any = None, locked: bool = False) -> IngestReport:
    """Build or refresh the index; unchanged documents are never re-embedded.

    Args:
        progress: called with (total passages to embed, ...) and returns a per-batch
            callback; the CLI passes a progress bar.
        embedder: an already loaded PolicyEmbedding to reuse.
        locked: the caller already holds index_lock (policykb add/remove hold it across
            the corpus change and the ingest; a second flock in one process would block).
    """
    started = time.perf_counter()
    documents = load_documents(settings.corpus_dir)
    with (contextlib.nullcontext() if locked else index_lock(settings)):
        try:
            manifest = None if rebuild else read_index_manifest(settings.index_dir)
        except IndexCorruptError:
            raise
        if manifest is not None:
            check_compatible(manifest, settings)
        plan = plan_ingest(settings, documents, manifest)
        if manifest is not None and not (plan["added"] or plan["updated"] or plan["removed"]
                                         or plan.get("retokenize")):
            return IngestReport(unchanged=tuple(plan["unchanged"]),
                                sections=manifest["counts"]["sections"], spans=manifest["counts"]["spans"],
                                seconds=time.perf_counter() - started)
        if manifest is None:
            _reset_store(settings)
        if embedder is None:
            from policykb.retrieval.embed import create_embedding
            embedder = create_embedding(settings)
        stores = VectorStores.open(settings, create=True)
        if manifest is not None:
            stores.check_counts(manifest)
        by_id = {d.doc_id: d for d in documents}
        todo = [by_id[i] for i in plan["added"] + plan["updated"]]
        total = sum(len(d.sections) + unit_count(d) for d in todo)
        tick = progress(total) if progress else None
        # Embed first, delete after: a failure while embedding leaves the old vectors in place.
        vectors = {}
        for doc in todo:
            vectors[doc.doc_id] = (
                _embed_texts(embedder, [_section_passage(s, doc) for s in doc.sections], tick),
                _embed_texts(embedder, [unit_text(s, a, b) for s in doc.sections for a, b in vector_units(s)], tick))
        entries = dict((manifest or {}).get("documents", {}))
        for doc_id in plan["removed"] + plan["updated"]:
            stores.delete_document(doc_id)
            entries.pop(doc_id, None)
        for doc in todo:
            stores.delete_document(doc.doc_id)
            stores.add_document(doc, *vectors[doc.doc_id])
            entries[doc.doc_id] = {"fingerprint": doc_fingerprint(doc), "source": doc.source,
                                   "sections": len(doc.sections),
                                   "spans": unit_count(doc)}
        entries = {d.doc_id: entries[d.doc_id] for d in documents}
        section_ids = _write_bm25(settings.index_dir, documents)
        counts = {"documents": len(documents), "sections": len(section_ids),
                  "spans": sum(e["spans"] for e in entries.values())}
        new_manifest = {"build": build_settings_fingerprint(settings, embedder.dim),
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "chroma": (f"{settings.chroma_host}:{settings.chroma_port}"
                                   if settings.uses_chroma_server else "index/chroma"),
                        "documents": entries, "counts": counts, "section_ids": section_ids}
        stores.check_counts(new_manifest)
        tmp = settings.index_dir / "manifest.json.tmp"
        tmp.write_text(json.dumps(new_manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, settings.index_dir / "manifest.json")
    return IngestReport(tuple(plan["added"]), tuple(plan["updated"]), tuple(plan["removed"]),
                        tuple(plan["unchanged"]), counts["sections"], counts["spans"],
                        time.perf_counter() - started)


def load_index(settings: Settings, auto_ingest: bool = True,
               on_ingest: Callable[[str], None] | None = None, embedder: Any = None) -> LoadedIndex:
    """Open the index for queries; build or refresh it first when missing or stale.

    Args:
        auto_ingest: when False, a missing or stale index raises instead of being built.
        on_ingest: told why an automatic ingest runs (for a notice to the user).
        embedder: an already loaded PolicyEmbedding for that ingest, so the model loads once.
    """
    import bm25s

    documents = load_documents(settings.corpus_dir)
    manifest = read_index_manifest(settings.index_dir)
    reason = ""
    pending: list[str] = []
    if manifest is None:
        reason = f"no index in {settings.index_dir}; building it"
    else:
        check_compatible(manifest, settings)
        plan = plan_ingest(settings, documents, manifest)
        stale = plan["added"] + plan["updated"] + plan["removed"] + plan.get("retokenize", [])
        if stale:
            reason = f"corpus changed ({', '.join(stale)}); refreshing the index"
        if stale == plan["added"] and auto_ingest and writer_busy(settings):
            # `policykb add` is indexing new documents (a minute for a code): answer from the index as it
            # stands, without them, instead of queueing behind it as a second writer.
            pending, reason = plan["added"], ""
            documents = [d for d in documents if d.doc_id not in pending]
            if on_ingest:
                on_ingest(f"another process is adding {', '.join(pending)}; answering without them until it is done")
    if reason:
        if not auto_ingest:
            if manifest is None:
                raise IndexMissingError(f"no index in {settings.index_dir}; run `policykb ingest`")
            raise IndexCorruptError(f"the index is out of date ({reason}); run `policykb ingest`")
        if on_ingest:
            on_ingest(reason)
        ingest(settings, embedder=embedder)
        manifest = read_index_manifest(settings.index_dir)
        assert manifest is not None
    try:
        bm25 = bm25s.BM25.load(str(settings.index_dir / "bm25"))
        n_docs = int(bm25.scores["num_docs"])
    except Exception as exc:  # bm25s raises FileNotFoundError, ValueError, KeyError…
        raise IndexCorruptError(f"{settings.index_dir / 'bm25'} is damaged or missing "
                                f"({exc.__class__.__name__}); {REBUILD_HINT}") from exc
    if n_docs != len(manifest["section_ids"]):
        raise IndexCorruptError(f"the BM25 index holds {n_docs} sections but the manifest lists "
                                f"{len(manifest['section_ids'])}; {REBUILD_HINT}")
    sections = {s.id: s for d in documents for s in d.sections}
    if set(manifest["section_ids"]) != set(sections):
        raise IndexCorruptError(f"the index lists other sections than the corpus; {REBUILD_HINT}")
    tokens = [cached_tokens(settings.index_dir, d) for d in documents]
    return LoadedIndex(settings, manifest, documents, load_references(settings.corpus_dir, documents),
                       sections, list(manifest["section_ids"]), bm25,
                       {sid: t for d in tokens for sid, t in d["sections"].items()},
                       {sid: t for d in tokens for sid, t in d["spans"].items()}, tuple(pending))
