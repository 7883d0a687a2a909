"""The page's own <head>: title and link-preview tags that name policykb and point only at this server.

Gradio's index.html hard-codes og:/twitter: tags ("Gradio", "Click to try out the app!", an
image on raw.githubusercontent.com) and sets <title> only from script, so a chat client or
intranet portal that unfurls the link would show Gradio and fetch from the internet. `head=`
is inserted by the page's script too, too late for a previewer; so the served HTML is rewritten.
"""
from __future__ import annotations

import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable

PRODUCT = "policykb 政策知识库"
DESCRIPTION = "离线银行业政策知识库：回答逐字引用文件条款，并给出可直接写入签报的出处（文件名、文号、第几条）。"
FAVICON = Path(str(resources.files("policykb") / "data" / "favicon.svg"))
# Relative to the page's <base href="./">, so it resolves to this server wherever it is mounted.
IMAGE = "favicon.ico"

PREVIEW_TAG_RE = re.compile(r'<meta\s+(?:property|name)="(?:og|twitter):[^"]*"\s+content="[^"]*"\s*/?>\s*')
TITLE_RE = re.compile(r"<title>.*?</title>\s*", re.S)
HEAD_RE = re.compile(r'(<meta charset="utf-8"\s*/?>)', re.I)

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def head_tags(title: str = PRODUCT, description: str = DESCRIPTION, image: str = IMAGE) -> str:
    """Return the <title>, description and og:/twitter: tags for the page."""
    t, d, i = (escape(v, quote=True) for v in (title, description, image))
    tags = [f"<title>{t}</title>", f'<meta name="description" content="{d}" />',
            f'<meta property="og:title" content="{t}" />', f'<meta property="og:site_name" content="{t}" />',
            '<meta property="og:type" content="website" />', f'<meta property="og:description" content="{d}" />',
            f'<meta property="og:image" content="{i}" />', '<meta name="twitter:card" content="summary" />',
            f'<meta name="twitter:title" content="{t}" />', f'<meta name="twitter:description" content="{d}" />',
            f'<meta name="twitter:image" content="{i}" />']
    return "\n\t\t".join(tags)


def rewrite_head(html: str, tags: str) -> str:
    """Replace Gradio's preview tags and any <title> with ours; mark the page as Chinese."""
    html = TITLE_RE.sub("", PREVIEW_TAG_RE.sub("", html))
    html = html.replace('<html\n\tlang="en"', '<html\n\tlang="zh-CN"', 1).replace('<html lang="en"', '<html lang="zh-CN"', 1)
    if HEAD_RE.search(html):
        return HEAD_RE.sub(lambda m: m.group(1) + "\n\t\t" + tags, html, count=1)
    return html.replace("<head>", "<head>\n\t\t" + tags, 1)


class PageHeadMiddleware:
    """ASGI middleware that rewrites the head of every HTML page the app serves.

    Passed to Gradio through launch(app_kwargs={"middleware": [...]}), it sits inside
    Gradio's compression middleware and so sees the page uncompressed.
    """

    def __init__(self, app: ASGIApp, tags: str | None = None) -> None:
        self.app = app
        self.tags = tags if tags is not None else head_tags()

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if headers.get(b"content-type", b"").startswith(b"text/html") \
                        and b"content-encoding" not in headers:
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = rewrite_head(b"".join(chunks).decode("utf-8"), self.tags).encode("utf-8")
                if scope["method"] == "HEAD":
                    body = b""
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                if scope["method"] == "GET":
                    headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, capture)
