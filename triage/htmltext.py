"""HTML to readable text with the standard library parser.

Mail HTML is written by strangers, so nothing here fetches, executes or trusts anything: scripts,
styles and heads are dropped, images become nothing, links keep their text. Block elements become
line breaks so that paragraphs, quoted replies and signatures can still be told apart, and
`<blockquote>` content is prefixed with "> " the way a plain-text client would quote it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 300_000

_BLOCK_TAGS = frozenset(
    "p div br tr li ul ol table h1 h2 h3 h4 h5 h6 hr pre section article header footer "
    "center dd dt dl form address".split()
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
# Gmail and Outlook wrap the quoted history in these even without a <blockquote>.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")
_SPACES = re.compile(r"[ \t\u00a0\u200b\u200c\u200d\ufeff]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.links: list[str] = []
        self._skip_depth = 0
        self._quote_depth = 0
        # Stack of flags: did this open <div> start a quote? Lets us close the right one.
        self._div_quotes: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith(("http://", "https://")):
                self.links.append(href[:300])
        if tag == "blockquote":
            self._quote_depth += 1
            self._newline()
        elif tag == "div":
            css = dict(attrs).get("class") or ""
            is_quote = any(name in css for name in _QUOTE_CLASSES)
            self._div_quotes.append(is_quote)
            if is_quote:
                self._quote_depth += 1
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
            self._newline()
        elif tag == "div":
            if self._div_quotes and self._div_quotes.pop():
                self._quote_depth = max(0, self._quote_depth - 1)
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        data = _SPACES.sub(" ", data.replace("\r", " ").replace("\n", " "))
        if not data.strip():
            if self.chunks and not self.chunks[-1].endswith((" ", "\n")):
                self.chunks.append(" ")
            return
        if self._quote_depth and (not self.chunks or self.chunks[-1].endswith("\n")):
            data = "> " * self._quote_depth + data.lstrip()
        self.chunks.append(data)

    def _newline(self) -> None:
        if self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")


def html_to_text(html: str) -> tuple[str, tuple[str, ...]]:
    """Readable text of an HTML body, and the http(s) links it contained (for features)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html[:MAX_HTML_CHARS])
        extractor.close()
    except (AssertionError, ValueError):
        # HTMLParser can choke on pathological markup; keep whatever text came before.
        pass
    lines = (line.strip() for line in "".join(extractor.chunks).split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text, tuple(extractor.links)
