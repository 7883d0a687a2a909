"""corpus/: the manifest of documents (TOML) and the parsed documents it lists."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from policykb.errors import CorpusError, DocumentError, NotFoundError
from policykb.ingest.chunk import int_to_cn
from policykb.ingest.formats import read_any
from policykb.ingest.parse import Document, Section, parse_text

MANIFEST = "manifest.toml"
DOC_FIELDS = ("doc_id", "title", "doc_number", "issuer", "date", "effective_date", "status",
              "superseded_by", "source")
DOC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,79}$")
STATUSES = ("现行有效", "已废止", "已被替代")


def parse_file(path: Path, doc_id: str, meta: dict[str, str] | None = None) -> Document:
    """Read (any supported format) and parse one source file."""
    if not path.exists():
        raise DocumentError(f"source file {path} is missing; restore it or remove the document "
                            f"with `policykb remove {doc_id}`")
    return parse_text(read_any(path), doc_id, source=path.name, meta=meta)


@dataclass(frozen=True)
class Reference:
    """A document cited by title; resolved when a document with a matching title is in the corpus."""

    title: str
    cited_by: tuple[str, ...]
    resolved_doc_id: str = ""

    @property
    def status(self) -> str:
        """Return 'indexed' when the cited document is in the knowledge base, else 'referenced-only'."""
        return "indexed" if self.resolved_doc_id else "referenced-only"


def normalize_title(title: str) -> str:
    """Return a title key that ignores quote styles, bracket widths, spaces, a year range and 中华人民共和国."""
    t = title.translate(str.maketrans({"“": '"', "”": '"', "（": "(", "）": ")", "《": "", "》": "",
                                       "‘": "'", "’": "'", "〔": "[", "〕": "]", "—": "-", "－": "-"}))
    t = re.sub(r"\(\s*\d{4}\s*[-–至]\s*\d{4}\s*年?\s*\)", "", t)
    t = re.sub(r"[\s\"'\u3000<>〈〉]", "", t)
    # A law is cited by its short name as often as by its full one: 《公司法》 is 《中华人民共和国公司法》.
    return t.replace("中华人民共和国", "") or t


def read_manifest(corpus_dir: Path) -> dict:
    """Return the parsed corpus manifest, or raise CorpusError naming the file."""
    path = corpus_dir / MANIFEST
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist; set POLICYKB_CORPUS_DIR "
                          "or run from the project directory")
    if not path.exists():
        raise CorpusError(f"{path} is missing; create it or add a document with `policykb add FILE`")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML: {exc}") from exc
    docs = data.get("documents", [])
    seen = set()
    for i, d in enumerate(docs):
        unknown = set(d) - set(DOC_FIELDS)
        if unknown:
            raise CorpusError(f"{path}: document {i + 1} has unknown keys {sorted(unknown)}")
        for key in ("doc_id", "source"):
            if not d.get(key):
                raise CorpusError(f"{path}: document {i + 1} has no {key}")
        if not DOC_ID_RE.match(d["doc_id"]):
            raise CorpusError(f"{path}: doc_id {d['doc_id']!r} may only use letters, digits, . _ -")
        if d["doc_id"] in seen:
            raise CorpusError(f"{path}: doc_id {d['doc_id']!r} appears twice")
        if d.get("status") and d["status"] not in STATUSES:
            raise CorpusError(f"{path}: status of {d['doc_id']} must be one of {', '.join(STATUSES)}")
        seen.add(d["doc_id"])
    return {"documents": docs, "referenced": data.get("referenced", [])}


def load_documents(corpus_dir: Path) -> list[Document]:
    """Parse every document the manifest lists, in manifest order."""
    manifest = read_manifest(corpus_dir)
    docs = []
    for entry in manifest["documents"]:
        meta = {k: str(entry.get(k, "")) for k in DOC_FIELDS if k not in ("doc_id", "source")}
        try:
            docs.append(parse_file(corpus_dir / entry["source"], entry["doc_id"], meta))
        except DocumentError as exc:
            raise DocumentError(f"corpus document {entry['doc_id']}: {exc}") from exc
    return docs


def load_references(corpus_dir: Path, documents: list[Document]) -> list[Reference]:
    """Return the cited titles from the manifest plus any found in the text, resolved against documents."""
    manifest = read_manifest(corpus_dir)
    by_title = {normalize_title(d.title): d.doc_id for d in documents}
    refs: dict[str, Reference] = {}
    for entry in manifest["referenced"]:
        key = normalize_title(entry["title"])
        refs[key] = Reference(entry["title"], tuple(entry.get("cited_by", ())), by_title.get(key, ""))
    for doc in documents:
        for section in doc.sections:
            for title in section.references:
                key = normalize_title(title)
                old = refs.get(key)
                cited = tuple(dict.fromkeys((old.cited_by if old else ()) + (section.id,)))
                refs[key] = Reference(old.title if old else title, cited, by_title.get(key, ""))
    return list(refs.values())


def find_section(documents: list[Document], section_no: str, doc_id: str | None = None) -> Section:
    """Return one section by number ("二", "第三条", "preamble" or "doc#二"), or raise NotFoundError."""
    if "#" in section_no and doc_id is None:
        doc_id, section_no = section_no.split("#", 1)
    section_no = section_no.strip().rstrip("、.．")
    if doc_id is not None and doc_id not in {d.doc_id for d in documents}:
        raise NotFoundError(f"no document {doc_id!r}; `policykb docs` lists the documents")
    sections = [s for d in documents if doc_id is None or d.doc_id == doc_id for s in d.sections]
    candidates = [s for s in sections if s.section_no == section_no]
    # else 第2条, 2 and 第二条 as staff type them: a law's 第二条 or a notice's 二 (cited as 第二条)
    number = re.fullmatch(r"第?(\d{1,4}|[一二三四五六七八九十百千零〇]+)条?", section_no)
    if not candidates and number:
        numeral = int_to_cn(int(number[1])) if number[1].isdigit() else number[1]
        candidates = [s for s in sections if s.section_no in (numeral, f"第{numeral}条")]
    if not candidates:
        raise NotFoundError(f"no section {section_no!r}" + (f" in {doc_id}" if doc_id else "")
                            + "; `policykb docs` lists documents, `policykb search` finds sections")
    if len(candidates) > 1:
        raise NotFoundError(f"section {section_no!r} exists in several documents "
                            f"({', '.join(s.doc_id for s in candidates)}); add --doc DOC_ID")
    return candidates[0]
