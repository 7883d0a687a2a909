"""Add, replace and remove corpus documents: file → corpus/ + manifest.toml → index, under the index lock.

Every change is checked before anything is touched (format, size, encoding,
structure, duplicates), then made while holding store.index_lock, so two
`policykb add` commands never interleave. When indexing fails, the previous
source file and manifest are put back and the index is brought back in line.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import Any, Callable

import tomlkit

from policykb.config import Settings
from policykb.ingest.corpus import (DOC_FIELDS, DOC_ID_RE, MANIFEST, STATUSES, load_documents,
                             load_references, normalize_title, read_manifest)
from policykb.errors import (CorpusError, DocumentError, DuplicateDocumentError, IndexCorruptError,
                             NotFoundError, PolicyKBError)
from policykb.ingest.formats import read_any
from policykb.ingest.docid import derive_doc_id
from policykb.ingest.formats import SUPPORTED_HINT, SUPPORTED_SUFFIXES
from policykb.ingest.parse import Document, is_doc_number, parse_text, sniff_metadata
from policykb.retrieval.store import IngestReport, ingest, index_lock, read_index_manifest

META_FIELDS = ("title", "doc_number", "issuer", "date", "effective_date", "status", "superseded_by")
DATE_FIELDS = ("date", "effective_date")
MANIFEST_ONLY = ("effective_date", "status", "superseded_by")
@dataclass(frozen=True)
class AddReport:
    """What `policykb add` found in the file and what it changed."""

    doc_id: str
    title: str
    doc_number: str
    issuer: str
    date: str
    source: str
    section_nos: tuple[str, ...]
    chapters: tuple[str, ...]
    replaced: bool
    resolves: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    ingest: IngestReport = field(default_factory=IngestReport)
    effective_date: str = ""
    status: str = "现行有效"
    superseded_by: str = ""
    supersedes: str = ""
    amendments: tuple[str, ...] = ()
    first_article: str = ""

    @property
    def sections(self) -> int:
        """Return the number of sections counted."""
        return len(self.section_nos)


@dataclass(frozen=True)
class RemoveReport:
    """What `policykb remove` deleted."""

    doc_id: str
    title: str
    sections: int
    source: str
    ingest: IngestReport = field(default_factory=IngestReport)


def _check_meta(meta: dict[str, str | None]) -> dict[str, str]:
    """Validate metadata flags; return the ones given, as strings."""
    out = {}
    for key, value in meta.items():
        if key not in META_FIELDS:
            raise CorpusError(f"未知的元数据字段 {key!r}（可用 {', '.join(META_FIELDS)}）")
        if value is None or str(value).strip() == "":
            continue
        value = str(value).strip()
        if key in DATE_FIELDS:
            try:
                Date.fromisoformat(value)
            except ValueError:
                raise CorpusError(f"--{key.replace('_', '-')} {value!r} 不是 YYYY-MM-DD 格式的日期，"
                                  f"例如 --{key.replace('_', '-')} 2024-06-15") from None
        if key == "status" and value not in STATUSES:
            raise CorpusError(f"--status 只能是 {' / '.join(STATUSES)}，而不是 {value!r}")
        if key == "doc_number" and not is_doc_number(value):
            raise CorpusError(f"--doc-number {value!r} 不像文号，应形如 示银发〔2024〕7号 或 国务院令第660号")
        out[key] = value
    return out


def prepare_document(settings: Settings, path: Path, doc_id: str | None = None,
                     **meta: str | None) -> tuple[Document, dict[str, str], bytes]:
    """Read, decode and parse a file without touching the corpus; return (document, metadata, bytes).

    Raises DocumentError for an unsupported, empty, binary, oversized, scanned or
    unstructured file, CorpusError for bad metadata or doc_id.
    """
    path = Path(path)
    if not path.exists():
        raise DocumentError(f"找不到文件 {path}；请检查路径后重新运行 `policykb add FILE`")
    given = _check_meta(meta)
    text = read_any(path, settings.max_file_mb * 1024 * 1024)
    data = path.read_bytes()
    found = sniff_metadata(text)
    values = {k: v for k, v in found.items() if k in META_FIELDS and v}
    values.update(given)
    if doc_id is None:
        doc_id = derive_doc_id(values.get("doc_number", ""), values.get("title", ""), path.stem, data)
    if not DOC_ID_RE.match(doc_id):
        raise CorpusError(f"doc_id {doc_id!r} 只能包含字母、数字和 . _ -（以字母或数字开头，最长 80 个字符）；"
                          "请用 --doc-id 指定，例如 --doc-id shi-yin-2024-7")
    source = f"{doc_id}{path.suffix.lower()}"
    try:
        doc = parse_text(text, doc_id, source=source, meta=values)
    except DocumentError as exc:
        raise DocumentError(f"{exc}；{path.name} 中没有可收录的正文，请检查文件内容") from exc
    return doc, values, data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry_values(doc: Document, values: dict[str, str], source: str) -> dict[str, str]:
    """Return the manifest fields of a document, in DOC_FIELDS order."""
    entry = {"doc_id": doc.doc_id, "title": doc.title, "doc_number": doc.doc_number, "issuer": doc.issuer,
             "date": doc.date, "effective_date": values.get("effective_date", ""),
             "status": values.get("status", "现行有效"), "superseded_by": values.get("superseded_by", ""),
             "source": source}
    return {k: entry[k] for k in DOC_FIELDS}


# --- manifest.toml with tomlkit (comments and layout are kept) ------------------------------

def _load_toml(corpus_dir: Path) -> Any:
    return tomlkit.parse((corpus_dir / MANIFEST).read_text(encoding="utf-8"))


def _take_trailer(table: Any) -> list[Any]:
    """Detach the comments and blank lines at the end of a table (they belong to what follows)."""
    body = table.value.body
    out = []
    while body and body[-1][0] is None:
        out.insert(0, body.pop()[1])
    return out


def _give_trailer(table: Any, items: list[Any]) -> None:
    for item in items:
        table.value.append(None, item)


def _set_entry(toml: Any, fields: dict[str, str]) -> None:
    """Update the [[documents]] table of fields['doc_id'] in place, or append a new one."""
    if "documents" not in toml:
        toml.append("documents", tomlkit.aot())
    docs = toml["documents"]
    for table in docs:
        if table.get("doc_id") == fields["doc_id"]:
            trailer = _take_trailer(table)  # a key added to a hand-written entry goes above its comments
            for key, value in fields.items():
                table[key] = value
            _give_trailer(table, trailer)
            return
    table = tomlkit.table()
    for key, value in fields.items():
        table[key] = value
    if len(docs):
        trailer = _take_trailer(docs[-1])
        _give_trailer(docs[-1], [tomlkit.nl()])
        docs.append(table)
        _give_trailer(docs[-1], trailer or [tomlkit.nl()])
    else:
        docs.append(table)


def _drop_entry(toml: Any, doc_id: str) -> None:
    docs = toml["documents"]
    index = next(i for i, t in enumerate(docs) if t.get("doc_id") == doc_id)
    if index == len(docs) - 1 and index > 0:
        trailer = _take_trailer(docs[index])
        _take_trailer(docs[index - 1])
        _give_trailer(docs[index - 1], trailer)
    del docs[index]


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- transactions ----------------------------------------------------------------------------

@dataclass
class _Snapshot:
    """The corpus files a change may touch, to put back when indexing fails."""

    manifest: str
    files: dict[Path, bytes | None]

    @classmethod
    def take(cls, corpus_dir: Path, paths: list[Path]) -> "_Snapshot":
        files = {p: (p.read_bytes() if p.exists() else None) for p in dict.fromkeys(paths)}
        return cls((corpus_dir / MANIFEST).read_text(encoding="utf-8"), files)

    def restore(self, corpus_dir: Path) -> None:
        for path, data in self.files.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.unlink(missing_ok=True)
                path.write_bytes(data)
        _write_text(corpus_dir / MANIFEST, self.manifest)


def _reindex(settings: Settings, snapshot: _Snapshot, embedder: Any,
             progress: Callable[[int], Callable[[int], None]] | None) -> IngestReport:
    """Ingest the changed corpus; on failure restore the snapshot and re-align the index."""
    try:
        return ingest(settings, progress=progress, embedder=embedder, locked=True)
    except BaseException as exc:
        snapshot.restore(settings.corpus_dir)
        try:
            _realign(settings, embedder)
        except PolicyKBError as again:
            raise IndexCorruptError(f"建立索引失败（{exc}），已恢复 corpus/ 中的文件和 manifest.toml，"
                                    f"但索引未能恢复（{again}）；请运行 `policykb ingest --rebuild`") from exc
        if isinstance(exc, PolicyKBError):
            raise type(exc)(f"{exc}（未做任何更改：corpus/ 和索引已恢复原状）") from exc
        raise


def _realign(settings: Settings, embedder: Any) -> None:
    """Bring the index back in line with the restored corpus, rebuilding it if the vectors were touched."""
    from policykb.retrieval.store import VectorStores
    manifest = read_index_manifest(settings.index_dir)
    if manifest is None:
        return
    try:
        VectorStores.open(settings).check_counts(manifest)
        ingest(settings, embedder=embedder, locked=True)
    except IndexCorruptError:
        ingest(settings, rebuild=True, embedder=embedder, locked=True)


def collect_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand directories (recursively, in name order) into supported files; return files and skipped names.

    A folder's README and LICENSE files describe the folder and are skipped; a path
    named on the command line is always taken, so an unsupported one is reported.
    """
    files: list[Path] = []
    skipped: list[str] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.name.startswith(".") or any(part.startswith(".") for part in child.relative_to(path).parts):
                continue
            if child.stem.upper() in ("README", "LICENSE", "LICENCE", "NOTICE", "COPYING") \
                    or child.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(str(child))
                continue
            files.append(child)
    return list(dict.fromkeys(files)), skipped


@dataclass(frozen=True)
class FileFailure:
    """A file of a batch that was not added, and why."""

    path: str
    error: PolicyKBError

    @property
    def message(self) -> str:
        """Return the error message for the user."""
        return str(self.error)


@dataclass(frozen=True)
class BatchReport:
    """What `policykb add PATH...` added, what failed, and the one ingest that indexed it all."""

    added: tuple[AddReport, ...] = ()
    failed: tuple[FileFailure, ...] = ()
    skipped: tuple[str, ...] = ()
    ingest: IngestReport = field(default_factory=IngestReport)
    dry_run: bool = False


def _unique_id(base: str, doc: Document, taken: set[str]) -> str:
    """Return base, or base-YEAR (then base-YEAR-2…) when another version holds base."""
    if base not in taken:
        return base
    year = doc.version_date[:4]
    candidate = f"{base}-{year}" if year else f"{base}-2"
    n = 2
    while candidate in taken:
        n += 1
        candidate = f"{base}-{year}-{n}" if year else f"{base}-{n}"
    return candidate


def _report(doc: Document, values: dict[str, str], replaced: bool, supersedes: str = "",
            refs: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
            ingest_report: IngestReport | None = None) -> AddReport:
    first = next((s for s in doc.sections if s.kind == "article"), None)
    return AddReport(doc.doc_id, doc.title, doc.doc_number, doc.issuer, doc.date, doc.source,
                     tuple(s.section_no for s in doc.sections),
                     tuple(dict.fromkeys(s.chapter for s in doc.sections if s.chapter)),
                     replaced, refs[0], refs[1], ingest_report or IngestReport(),
                     effective_date=values.get("effective_date", "") or doc.effective_date,
                     status=values.get("status", "") or "现行有效",
                     superseded_by=values.get("superseded_by", ""), supersedes=supersedes,
                     amendments=tuple(f"{a.date} {a.action}" for a in doc.amendments),
                     first_article=(f"{first.chapter} › {first.section_no}" if first and first.chapter
                                    else first.section_no if first else ""))


def add_documents(settings: Settings, paths: list[Path], doc_id: str | None = None, *, embedder: Any = None,
                  progress: Callable[[int], Callable[[int], None]] | None = None, dry_run: bool = False,
                  keep_both: bool = False, **meta: str | None) -> BatchReport:
    """Add files and folders in one batch: parse all, copy the good ones, write the manifest and index once.

    A file that cannot be read or parsed, or duplicates a document already in the
    knowledge base, is reported in `failed` and skipped while the others land.
    A document with the title of an indexed one and another version date is added
    under its own id, and the older of the two is marked 已被替代 (unless keep_both).
    Metadata flags override what a document states; title, 文号 and doc_id name one
    document, so they are refused for a batch of several files.
    """
    files, skipped = collect_files(paths)
    if not files:
        raise DocumentError(f"{', '.join(map(str, paths))} 中没有可收录的文件（{SUPPORTED_HINT}）")
    single = {"doc_id": doc_id, "title": meta.get("title"), "doc_number": meta.get("doc_number")}
    given = [k for k, v in single.items() if v]
    if len(files) > 1 and given:
        raise CorpusError(f"--{given[0].replace('_', '-')} 只能用于一个文件，而这次要收录 {len(files)} 个文件；"
                          "请逐个收录，或去掉该参数")
    failed: list[FileFailure] = []
    prepared: list[tuple[Path, Document, dict[str, str], bytes]] = []
    for path in files:
        try:
            prepared.append((path, *prepare_document(settings, path, doc_id, **meta)))
        except PolicyKBError as exc:
            failed.append(FileFailure(str(path), exc))
    if dry_run:
        return BatchReport(tuple(_report(d, v, False) for _, d, v, _ in prepared), tuple(failed),
                           tuple(skipped), dry_run=True)
    corpus = settings.corpus_dir
    done: list[tuple[Document, dict[str, str], bool, str]] = []
    with index_lock(settings):
        entries = read_manifest(corpus)["documents"]
        current = {d.doc_id: d for d in load_documents(corpus)}
        digests = {_sha((corpus / e["source"]).read_bytes()): e["doc_id"] for e in entries
                   if (corpus / e["source"]).exists()}
        snapshot = _Snapshot.take(corpus, [corpus / e["source"] for e in entries])
        toml = _load_toml(corpus)
        try:
            for path, doc, values, data in prepared:
                try:
                    step = _place(settings, toml, entries, current, digests, snapshot, path, doc, values, data,
                                  explicit_id=doc_id is not None, keep_both=keep_both, meta=meta)
                except PolicyKBError as exc:
                    failed.append(FileFailure(str(path), exc))
                    continue
                done.append(step)
            if done:
                _write_text(corpus / MANIFEST, tomlkit.dumps(toml))
        except OSError as exc:
            snapshot.restore(corpus)
            raise CorpusError(f"无法写入 {corpus}：{exc.strerror}；请检查目录权限后重试") from exc
        report = _reindex(settings, snapshot, embedder, progress) if done else IngestReport()
    docs = load_documents(corpus) if done else []
    refs = load_references(corpus, docs) if done else []
    added = []
    for doc, values, replaced, supersedes in done:
        resolves = tuple(r.title for r in refs if r.resolved_doc_id == doc.doc_id and r.cited_by)
        unresolved = tuple(r.title for r in refs if not r.resolved_doc_id
                           and any(c.startswith(f"{doc.doc_id}#") for c in r.cited_by))
        added.append(_report(doc, values, replaced, supersedes, (resolves, unresolved), report))
    return BatchReport(tuple(added), tuple(failed), tuple(skipped), report)


def _place(settings: Settings, toml: Any, entries: list[dict], current: dict[str, Document],
           digests: dict[str, str], snapshot: "_Snapshot", path: Path, doc: Document,
           values: dict[str, str], data: bytes, *,
           explicit_id: bool, keep_both: bool, meta: dict[str, str | None]) -> tuple[Document, dict, bool, str]:
    """Copy one prepared file into corpus/ and record it in the (unsaved) manifest; return what was done."""
    corpus = settings.corpus_dir
    digest = _sha(data)
    if digest in digests:
        holder = digests[digest]
        raise DuplicateDocumentError(
            f"{path.name} 与已收录的 {holder} 内容完全相同，未做更改；"
            f"如需修改元数据请编辑 {corpus / MANIFEST} 后运行 `policykb ingest`")
    supersedes = ""
    if not explicit_id:
        key = normalize_title(doc.title)
        versions = [d for d in current.values() if normalize_title(d.title) == key]
        other = [d for d in versions if d.version_date and doc.version_date and d.version_date != doc.version_date]
        replacing = any(d.doc_id == doc.doc_id and d.version_date == doc.version_date for d in versions)
        if other and not replacing:  # another version of the same document: both stay, the older one is marked
            new_id = _unique_id(doc.doc_id, doc, set(current))
            if new_id != doc.doc_id:
                doc = dataclasses.replace(doc, doc_id=new_id, source=f"{new_id}{path.suffix.lower()}")
            newest = max(other, key=lambda d: d.version_date)
            if not keep_both and not meta.get("status"):
                if newest.version_date < doc.version_date:
                    supersedes = ", ".join(o.doc_id for o in other)
                else:
                    values.update(status="已被替代", superseded_by=newest.doc_id)
    old = next((e for e in entries if e["doc_id"] == doc.doc_id), None)
    if old and not explicit_id and old.get("title") and \
            normalize_title(old["title"]) != normalize_title(doc.title):
        raise DuplicateDocumentError(
            f"doc_id {doc.doc_id} 已属于《{old['title']}》，而 {path.name} 的标题是《{doc.title}》；"
            f"要替换它请加 --doc-id {doc.doc_id}，要另行收录请用 --doc-id 指定新的编号")
    target = corpus / doc.source
    clash = next((e for e in entries if e["source"] == doc.source and e["doc_id"] != doc.doc_id), None)
    if clash:
        raise CorpusError(f"{target} 已是 {clash['doc_id']} 的源文件；请用 --doc-id 指定其他编号")
    old_source = corpus / old["source"] if old else None
    if old:  # status fields live only in the manifest: a new version keeps them unless overridden
        values.update({k: str(old.get(k, "")) for k in MANIFEST_ONLY if not meta.get(k) and old.get(k)})
    snapshot.files.setdefault(target, target.read_bytes() if target.exists() else None)
    if not (target.exists() and target.samefile(path)):  # the file may already sit in corpus/
        target.unlink(missing_ok=True)
        shutil.copyfile(path, target)
    if old_source and old_source != target:
        old_source.unlink(missing_ok=True)
    for older in filter(None, supersedes.split(", ")):
        _mark_superseded(toml, entries, older, doc.doc_id)
    fields = _entry_values(doc, values, doc.source)
    _set_entry(toml, fields)
    if old:
        entries[entries.index(old)] = fields
    else:
        entries.append(fields)
    current[doc.doc_id] = doc
    digests[digest] = doc.doc_id
    return doc, values, old is not None, supersedes


def _mark_superseded(toml: Any, entries: list[dict], doc_id: str, by: str) -> None:
    """Mark an indexed document 已被替代 by another in the manifest."""
    entry = next(e for e in entries if e["doc_id"] == doc_id)
    entry.update(status="已被替代", superseded_by=by)
    _set_entry(toml, {k: str(entry.get(k, "")) for k in DOC_FIELDS})


def add_document(settings: Settings, path: Path, doc_id: str | None = None, *, embedder: Any = None,
                 progress: Callable[[int], Callable[[int], None]] | None = None,
                 keep_both: bool = False, **meta: str | None) -> AddReport:
    """Add or replace one file (see add_documents); raise its error instead of reporting it."""
    batch = add_documents(settings, [Path(path)], doc_id, embedder=embedder, progress=progress,
                          keep_both=keep_both, **meta)
    if batch.failed:
        raise batch.failed[0].error
    return batch.added[0]


def remove_document(settings: Settings, doc_id: str, *, embedder: Any = None,
                    progress: Callable[[int], Callable[[int], None]] | None = None) -> RemoveReport:
    """Remove a document from the manifest, corpus/ and the index (every vector and BM25 entry)."""
    corpus = settings.corpus_dir
    with index_lock(settings):
        entries = read_manifest(corpus)["documents"]
        entry = next((e for e in entries if e["doc_id"] == doc_id), None)
        if entry is None:
            known = ", ".join(e["doc_id"] for e in entries) or "（无）"
            raise NotFoundError(f"知识库中没有 doc_id 为 {doc_id!r} 的文件（已收录：{known}）；"
                                "`policykb docs` 列出全部文件")
        if len(entries) == 1:
            raise CorpusError(f"{doc_id} 是知识库中唯一的文件，删除后知识库为空、无法检索；"
                              "请先用 `policykb add` 收录其他文件再删除它")
        source = corpus / entry["source"]
        shared = any(e["source"] == entry["source"] for e in entries if e is not entry)
        sections = 0
        try:
            sections = len(next(d for d in load_documents(corpus) if d.doc_id == doc_id).sections)
        except DocumentError:
            pass  # the source file is missing or unreadable: removing the entry is the fix
        snapshot = _Snapshot.take(corpus, [] if shared else [source])
        try:
            toml = _load_toml(corpus)
            _drop_entry(toml, doc_id)
            _write_text(corpus / MANIFEST, tomlkit.dumps(toml))
            if not shared:
                source.unlink(missing_ok=True)
        except OSError as exc:
            snapshot.restore(corpus)
            raise CorpusError(f"无法写入 {corpus}：{exc.strerror}；请检查目录权限后重试") from exc
        report = _reindex(settings, snapshot, embedder, progress)
    return RemoveReport(doc_id, entry.get("title", ""), sections, entry["source"], report)
