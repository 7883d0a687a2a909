"""Add, replace and remove corpus documents: file → corpus/ + manifest.toml → index, under the index lock.

Every change is checked before anything is touched (format, size, encoding,
structure, duplicates), then made while holding store.index_lock, so two
`policykb add` commands never interleave. When indexing fails, the previous
source file and manifest are put back and the index is brought back in line.
"""
from __future__ import annotations

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
from policykb.corpus import (DOC_FIELDS, DOC_ID_RE, MANIFEST, STATUSES, load_documents,
                             load_references, normalize_title, read_manifest)
from policykb.errors import (CorpusError, DocumentError, DuplicateDocumentError, IndexCorruptError,
                             NotFoundError, PolicyKBError)
from policykb.formats import read_any
from policykb.parse import DOC_NUMBER_RE, Document, parse_text, sniff_metadata
from policykb.store import IngestReport, ingest, index_lock, read_index_manifest

META_FIELDS = ("title", "doc_number", "issuer", "date", "effective_date", "status", "superseded_by")
DATE_FIELDS = ("date", "effective_date")
MANIFEST_ONLY = ("effective_date", "status", "superseded_by")
DOC_NUMBER_PARTS_RE = re.compile(r"^(?P<prefix>.+?)[〔\[［(（](?P<year>\d{4})[〕\]］)）](?P<no>\d{1,4})号$")

# Pinyin of the characters that make up the issuer prefix of a 文号 (沪银保监发, 银发, 示银沪发…),
# enough to name a document like hu-yin-bao-jian-2023-24 without a pinyin dependency.
# A prefix with any other character falls back to the file name.
PINYIN = dict(pair.split(":") for pair in (
    "京:jing 津:jin 沪:hu 渝:yu 冀:ji 晋:jin 辽:liao 吉:ji 黑:hei 苏:su 浙:zhe 皖:wan 闽:min 赣:gan "
    "鲁:lu 豫:yu 鄂:e 湘:xiang 粤:yue 琼:qiong 川:chuan 蜀:shu 贵:gui 黔:qian 云:yun 滇:dian 陕:shaan "
    "甘:gan 陇:long 青:qing 蒙:meng 桂:gui 藏:zang 宁:ning 新:xin 港:gang 澳:ao 台:tai 深:shen 厦:xia "
    "甬:yong 连:lian 银:yin 保:bao 监:jian 证:zheng 金:jin 融:rong 管:guan 总:zong 局:ju 办:ban 厅:ting "
    "函:han 令:ling 规:gui 财:cai 税:shui 人:ren 行:hang 央:yang 国:guo 务:wu 院:yuan 部:bu 委:wei "
    "会:hui 政:zheng 商:shang 外:wai 汇:hui 科:ke 技:ji 改:gai 审:shen 计:ji 农:nong 工:gong 信:xin "
    "中:zhong 市:shi 省:sheng 区:qu 协:xie 公:gong 司:si 通:tong 告:gao 电:dian 建:jian 交:jiao 招:zhao "
    "民:min 兴:xing 光:guang 浦:pu 华:hua 安:an 平:ping 邮:you 储:chu 业:ye 险:xian 资:zi 贷:dai "
    "普:pu 惠:hui 风:feng 示:shi 例:li 制:zhi 综:zong 合:he 稽:ji 查:cha 统:tong 营:ying 运:yun 济:ji "
    "经:jing 价:jia 贸:mao 易:yi 海:hai 关:guan 质:zhi 检:jian 场:chang 生:sheng 态:tai 环:huan 住:zhu "
    "房:fang 城:cheng 乡:xiang 教:jiao 卫:wei 健:jian 文:wen 旅:lv 体:ti 自:zi 源:yuan 水:shui 利:li "
    "能:neng 网:wang 上:shang 北:bei 南:nan 东:dong 西:xi 广:guang 天:tian 山:shan 河:he 湖:hu "
    "江:jiang 福:fu 长:chang 重:chong 庆:qing 州:zhou 特:te 字:zi 清:qing 算:suan 付:fu 结:jie "
    "租:zu 期:qi 货:huo 基:ji 投:tou 托:tuo 债:zhai 券:quan 所:suo 理:li").split())


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


def slugify(text: str) -> str:
    """Return a lowercase ASCII id fragment (letters, digits, hyphens), or '' when none is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-")


def derive_doc_id(doc_number: str, stem: str, content: bytes) -> str:
    """Pick a stable ASCII doc_id from the 文号 (shi-yin-hu-2024-7), else the file name, else the content."""
    m = DOC_NUMBER_PARTS_RE.match(doc_number.replace(" ", ""))
    if m:
        prefix = m.group("prefix")
        prefix = prefix[:-1] if prefix.endswith("发") and len(prefix) > 1 else prefix
        if all(ch in PINYIN or ch.isascii() and ch.isalnum() for ch in prefix):
            parts = [PINYIN.get(ch, ch.lower()) for ch in prefix]
            return f"{'-'.join(parts)}-{m.group('year')}-{int(m.group('no'))}"
    slug = slugify(stem)
    if len(slug) >= 2:
        return slug
    if m:
        return f"doc-{m.group('year')}-{int(m.group('no'))}"
    return "doc-" + hashlib.sha256(content).hexdigest()[:8]


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
        if key == "doc_number" and not DOC_NUMBER_RE.fullmatch(value.replace(" ", "")):
            raise CorpusError(f"--doc-number {value!r} 不像文号，应形如 示银发〔2024〕7号")
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
        doc_id = derive_doc_id(values.get("doc_number", ""), path.stem, data)
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
    from policykb.store import VectorStores
    manifest = read_index_manifest(settings.index_dir)
    if manifest is None:
        return
    try:
        VectorStores.open(settings).check_counts(manifest)
        ingest(settings, embedder=embedder, locked=True)
    except IndexCorruptError:
        ingest(settings, rebuild=True, embedder=embedder, locked=True)


def add_document(settings: Settings, path: Path, doc_id: str | None = None, *, embedder: Any = None,
                 progress: Callable[[int], Callable[[int], None]] | None = None,
                 **meta: str | None) -> AddReport:
    """Copy a file into the corpus, record it in the manifest and index it (replacing a same-id document).

    Metadata (title, 文号, issuer, date) is read from the document; keyword
    arguments override it. Nothing is changed when the file is rejected.
    """
    path = Path(path)
    explicit_id = doc_id is not None
    doc, values, data = prepare_document(settings, path, doc_id, **meta)
    corpus = settings.corpus_dir
    with index_lock(settings):
        entries = read_manifest(corpus)["documents"]
        digest = _sha(data)
        for entry in entries:
            existing = corpus / entry["source"]
            if existing.exists() and _sha(existing.read_bytes()) == digest:
                raise DuplicateDocumentError(
                    f"{path.name} 与已收录的 {entry['doc_id']}（{entry['source']}）内容完全相同，未做更改；"
                    f"如需修改元数据请编辑 {corpus / MANIFEST} 后运行 `policykb ingest`")
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
        snapshot = _Snapshot.take(corpus, [target] + ([old_source] if old_source else []))
        try:
            if not (target.exists() and target.samefile(path)):  # the file may already sit in corpus/
                target.unlink(missing_ok=True)
                shutil.copyfile(path, target)
            if old_source and old_source != target:
                old_source.unlink(missing_ok=True)
            toml = _load_toml(corpus)
            _set_entry(toml, _entry_values(doc, values, doc.source))
            _write_text(corpus / MANIFEST, tomlkit.dumps(toml))
        except OSError as exc:
            snapshot.restore(corpus)
            raise CorpusError(f"无法写入 {corpus}：{exc.strerror}；请检查目录权限后重试") from exc
        report = _reindex(settings, snapshot, embedder, progress)
    docs = load_documents(corpus)
    refs = load_references(corpus, docs)
    resolves = tuple(r.title for r in refs if r.resolved_doc_id == doc.doc_id and r.cited_by)
    unresolved = tuple(r.title for r in refs if not r.resolved_doc_id
                       and any(c.startswith(f"{doc.doc_id}#") for c in r.cited_by))
    return AddReport(doc.doc_id, doc.title, doc.doc_number, doc.issuer, doc.date, doc.source,
                     tuple(s.section_no for s in doc.sections),
                     tuple(dict.fromkeys(s.chapter for s in doc.sections if s.chapter)),
                     old is not None, resolves, unresolved, report)


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
