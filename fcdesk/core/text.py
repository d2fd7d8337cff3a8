"""Plain-text formatting shared by models, views and reports: times, relative times, HTML from Azure.

Nothing here renders markup. Azure sends some texts (Defender remediation descriptions) with
``<a href>`` tags and entities: :func:`html_to_plain` turns them into plain text, keeping a link's
address in parentheses so it is not lost, and views then show the result in plain-text labels.

Pure Python (no Qt): models and views both use it.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

EMPTY = "—"  #: what an unknown value shows as

#: Tags after which a line break belongs in plain text.
_BREAK_TAGS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})


def format_utc(when: datetime | None, *, empty: str = EMPTY) -> str:
    """``2026-11-20 09:30 UTC``; naive datetimes are taken as UTC; ``None`` gives ``empty``."""
    if when is None:
        return empty
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(when: datetime | None, now: datetime | None = None, *, empty: str = EMPTY) -> str:
    """``just now``, ``12 min ago``, ``3 h ago``, ``4 days ago``, or ``in 5 min`` for future times."""
    if when is None:
        return empty
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    secs = (now - when).total_seconds()
    future = secs < 0
    secs = abs(secs)
    if secs < 90:
        return "just now"
    if secs < 5400:
        span = f"{round(secs / 60)} min"
    elif secs < 48 * 3600:
        span = f"{round(secs / 3600)} h"
    else:
        span = f"{round(secs / 86400)} days"
    return f"in {span}" if future else f"{span} ago"


def as_of(when: datetime | None, now: datetime | None = None, *, empty: str = EMPTY) -> str:
    """``2026-11-20 09:30 UTC (3 h ago)``: an absolute stamp with its age."""
    if when is None:
        return empty
    return f"{format_utc(when)} ({relative(when, now)})"


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: list[str | None] = []
        self._link_text: list[int] = []  # index in parts where the current link's text starts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag == "a":
            self._href.append(dict(attrs).get("href"))
            self._link_text.append(len(self.parts))
        elif tag in _BREAK_TAGS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("• ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() in _BREAK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag == "a" and self._href:
            href = self._href.pop()
            start = self._link_text.pop()
            text = "".join(self.parts[start:]).strip()
            if href and href.strip() and href.strip() != text:
                self.parts.append(f" ({href.strip()})")
        elif tag in _BREAK_TAGS and tag not in ("br", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_plain(text: str | None) -> str:
    """Strip tags and unescape entities: ``To fix: <a href="u">follow these steps</a> &amp; retry``
    becomes ``To fix: follow these steps (u) & retry``. Never raises; plain text passes unchanged
    (apart from whitespace tidying).
    """
    if not text:
        return ""
    if "<" not in text and "&" not in text:
        return text.strip()
    parser = _PlainText()
    try:
        parser.feed(text)
        parser.close()
        out = "".join(parser.parts)
    except Exception:  # noqa: BLE001 (malformed markup: fall back to a blunt strip)
        out = html.unescape(re.sub(r"<[^>]*>", "", text))
    out = out.replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in out.splitlines()]
    # collapse runs of blank lines to one
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 deployment``, ``3 deployments``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
