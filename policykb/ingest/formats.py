"""Source formats → plain text lines that parse.py understands.

Every reader returns one line per paragraph, with the numbering that the format
keeps outside the text (Word numbering, HTML ordered lists, Markdown headings)
turned into the 第X章 / 第X条 / 一、 / （一） markers that chunk.py recognises, so
the same content gives the same sections whatever the format.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from policykb.ingest.chunk import int_to_cn, is_heading
from policykb.ingest.glyphs import is_wide
from policykb.errors import DocumentError

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SUPPORTED_HINT = "支持 supported: " + " ".join(SUPPORTED_SUFFIXES)

def decode_bytes(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM), GBK/GB18030, or UTF-16 with its BOM; reject binary data by name."""
    if not data.strip():
        raise DocumentError(f"{name} is empty")
    encodings: tuple[str, ...] = ("utf-8-sig", "gb18030")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # saved as "Unicode" by Windows Notepad: UTF-16, NUL-rich
        encodings = ("utf-16",)
    elif b"\x00" in data[:4096]:
        raise DocumentError(f"{name} looks like a binary file, not text (it contains NUL bytes)")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not text.strip():
            raise DocumentError(f"{name} is empty")
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t\f")
        if controls > max(3, len(text) // 200):
            break
        return text
    raise DocumentError(f"{name} is neither UTF-8, GBK/GB18030 nor UTF-16 text; save it as UTF-8 and try again")


def check_file(path: Path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> int:
    """Check type, existence and size (unless max_bytes is None) of a source file; return its size."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = "；旧版 .doc 请在 Word 中另存为 .docx" if suffix == ".doc" else ""
        raise DocumentError(f"{path.name}：不支持的文件类型 {suffix or '（无扩展名）'}（{SUPPORTED_HINT}）{hint}；"
                            "请另存为支持的格式后再运行 `policykb add`")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"无法读取 {path}：{exc.strerror}；请检查路径后重试") from exc
    if not path.is_file():
        raise DocumentError(f"{path} 不是文件；`policykb add` 需要一个文件路径")
    if size == 0:
        raise DocumentError(f"{path.name} 是空文件（0 字节），没有可收录的内容")
    if max_bytes is not None and size > max_bytes:
        raise DocumentError(f"{path.name} 大小为 {size / 2**20:.1f} MB，超过单个文件上限 "
                            f"{max_bytes / 2**20:.0f} MB（file too large; limit set by POLICYKB_MAX_FILE_MB）；"
                            "请拆分文件，或调大 POLICYKB_MAX_FILE_MB 后重试")
    return size


def read_any(path: Path, max_bytes: int | None = None) -> str:
    """Return the text of a supported file, or raise DocumentError naming the file.

    `policykb add` passes the size limit (POLICYKB_MAX_FILE_MB); files already in
    the corpus were checked when they were added, so reading them has no limit.
    """
    check_file(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        from policykb.ingest.formats_office import read_docx
        return read_docx(path)
    if suffix == ".pdf":
        from policykb.ingest.formats_pdf import read_pdf
        return read_pdf(path)
    data = path.read_bytes()
    if suffix in (".html", ".htm"):
        return html_to_text(decode_html(data, path.name))
    text = decode_bytes(data, path.name)
    return markdown_to_text(text) if suffix == ".md" else text


# --- Markdown ---------------------------------------------------------------------------

MD_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
MD_BULLET_RE = re.compile(r"^\s{0,3}(?:[-*+]|>+)\s+")
MD_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
MD_LINK_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]+)\]\([^)]*\)")
MD_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
MD_RULE_RE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def _md_level(line: str) -> int:
    """Return the level of a Markdown heading line (1 for `# `)."""
    return len(line.strip()) - len(line.strip().lstrip("#"))


def _part_heading(name: str, n: int) -> str:
    """Return a code's part heading as 第N编: `# 物权编` is the second part, 第二编 物权.

    A heading that already has its number, or a closing 附则, is kept as printed.
    """
    name = name.strip()
    if re.match(r"^第.+编", name) or not (name.endswith("编") or name == "总则"):
        return name
    return f"第{int_to_cn(n)}编 {name.removesuffix('编')}"


def markdown_to_text(text: str) -> str:
    """Strip Markdown markup (headings, emphasis, links, bullets, fences) and keep the words."""
    out = []
    parts = 0
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw
        if MD_FENCE_RE.match(line) or MD_RULE_RE.match(line):
            out.append("")
            continue
        m = MD_HEADING_RE.match(line)
        if m:
            line = m.group(1)
            if _md_level(raw) == 1:
                parts += 1
                if parts > 1:  # the first `# ` line is the title; later ones are the parts (编) of a code
                    line = _part_heading(line, parts - 1)
        else:
            line = MD_BULLET_RE.sub("", line)
        line = MD_LINK_RE.sub(lambda m: m.group(1) or "", line)
        line = MD_EMPHASIS_RE.sub(lambda m: m.group(2) or m.group(3) or "", line)
        line = re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", line).rstrip()
        out.append(line.rstrip("\\").rstrip())
    return "\n".join(out)


# --- HTML -------------------------------------------------------------------------------

HTML_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "tr", "table", "section",
              "article", "header", "footer", "blockquote", "pre", "dt", "dd", "dl", "main", "nav",
              "aside", "figure", "figcaption", "center", "address", "body", "caption", "hr", "form"}
SKIP_TAGS = {"script", "style", "head", "noscript", "template", "svg", "math", "iframe", "object"}
CELL_TAGS = {"td", "th"}



def decode_html(data: bytes, name: str) -> str:
    """Decode an HTML page by its declared charset, else as UTF-8 or GBK."""
    m = HTML_CHARSET_RE.search(data[:4096])
    if m and b"\x00" not in data[:4096]:
        try:
            return data.decode(m.group(1).decode("ascii").lower().replace("gb2312", "gb18030"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(data, name)


def collapse_html_space(text: str) -> str:
    """Collapse HTML white space; a line break between two Chinese characters disappears (CSS Text 3)."""
    def segment(m: re.Match) -> str:
        before = m.string[m.start() - 1] if m.start() else ""
        after = m.string[m.end()] if m.end() < len(m.string) else ""
        if "\n" in m.group(0) and before and after and is_wide(before) and is_wide(after):
            return ""
        return " "
    return re.sub(r"[ \t\r\n\f]+", segment, text).strip(" ")


class _TextExtractor(HTMLParser):
    """Collect the visible text of an HTML page, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.skip = 0
        self.lists: list[list] = []  # [ordered?, counter, cjk?]
        self.pending_label = ""
        self.pre = 0

    def flush(self) -> None:
        raw = "".join(self.buffer)
        self.buffer = []
        text = raw.strip("\n") if self.pre else collapse_html_space(raw)
        if text.strip():
            if self.pending_label and not is_heading(text.strip()):
                text = self.pending_label + text.strip()
            self.lines.extend(text.split("\n") if self.pre else [text])
        self.pending_label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self.buffer.append("\n" if self.pre else "\x00")
            return
        if tag in CELL_TAGS:
            self.buffer.append(" ")
            return
        if tag in BLOCK_TAGS:
            self.flush()
        if tag == "pre":
            self.pre += 1
        if tag in ("ol", "ul"):
            style = " ".join(v or "" for k, v in attrs if k in ("style", "type"))
            self.lists.append([tag == "ol", 0, "cjk" in style])
        elif tag == "li" and self.lists:
            lst = self.lists[-1]
            lst[1] += 1
            if lst[0]:
                self.pending_label = f"{int_to_cn(lst[1])}、" if lst[2] else f"{lst[1]}."

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in BLOCK_TAGS:
            self.flush()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in ("ol", "ul") and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buffer.append(data)


def html_to_text(markup: str) -> str:
    """Return the visible text of an HTML page: block elements become lines; scripts and styles go."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    parser.flush()
    lines = []
    for line in parser.lines:
        # <br> was kept as NUL so white-space collapsing could not eat it.
        lines.extend(part.strip() for part in line.split("\x00"))
    return "\n".join(line for line in lines if line)
