"""HTML -> readable text: nothing fetched, nothing executed, structure kept where it matters."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from triage.message.htmltext import MAX_HTML_CHARS, html_to_text


def text_of(markup: str) -> str:
    return html_to_text(markup)[0]


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert('GONE')</script>kept",
        "<SCRIPT type='text/javascript'>GONE()</SCRIPT >kept",
        "<style>p { content: 'GONE' }</style>kept",
        "<head><title>GONE</title><meta charset=utf-8></head>kept",
        "<!-- GONE -->kept",
        "<!--[if mso]>GONE<![endif]-->kept",
        "<noscript>GONE</noscript>kept",
        "<template><p>GONE</p></template>kept",
        "<svg><text>GONE</text></svg>kept",
        "<scr<script>GONE</script>ipt>kept",
    ],
)
def test_invisible_content_is_dropped(markup: str) -> None:
    text = text_of(markup)
    assert "GONE" not in text
    assert text.endswith("kept")


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("Caf&eacute; &amp; cr&#232;me", "Café & crème"),
        ("&lt;not a tag&gt;", "<not a tag>"),
        ("&#x263A; &#9731; &hearts;", "☺ ☃ ♥"),
        ("a&nbsp;&nbsp;b", "a b"),
        ("&ldquo;quoted&rdquo; &mdash; done", "“quoted” — done"),
        ("&bogus; &#xZZ; &", "&bogus; &#xZZ; &"),
    ],
)
def test_entities_are_decoded(markup: str, expected: str) -> None:
    assert text_of(markup) == expected


def test_block_elements_become_lines() -> None:
    text = text_of(
        "<div>one</div><p>two</p>three<br>four<br/>five<ul><li>six</li>"
        "<li>seven</li></ul><table><tr><td>eight</td></tr><tr><td>nine</td></tr>"
        "</table>"
    )
    lines = [line for line in text.split("\n") if line]
    assert lines == ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_inline_elements_do_not_split_words() -> None:
    assert text_of("<p>un<b>believ</b><i>able</i> <span>news</span></p>") == "unbelievable news"


def test_source_line_breaks_are_not_text_line_breaks() -> None:
    assert text_of("<p>one\nlong\r\nparagraph</p>") == "one long paragraph"


def test_blockquote_becomes_quote_prefix() -> None:
    text = text_of(
        "<p>My answer.</p><blockquote type='cite'><p>Earlier line one</p>"
        "<p>Earlier line two</p><blockquote>Even earlier</blockquote>"
        "</blockquote><p>After.</p>"
    )
    lines = [line for line in text.split("\n") if line]
    assert lines == [
        "My answer.",
        "> Earlier line one",
        "> Earlier line two",
        "> > Even earlier",
        "After.",
    ]


def test_unbalanced_blockquotes_do_not_break_the_rest() -> None:
    text = text_of("</blockquote></blockquote>before<blockquote>inside")
    lines = [line for line in text.split("\n") if line]
    assert lines == ["before", "> inside"]


def test_private_use_marker_characters_in_input_cannot_fake_quotes() -> None:
    assert text_of("\ue000not a quote\ue001") == "not a quote"


def test_links_are_collected_and_keep_their_text() -> None:
    text, links = html_to_text(
        "<a href=\"https://example.com/a\">first</a> <a href='http://example.org/b'>second</a>"
        ' <a href=https://example.net/c>third</a> <a href="javascript:alert(1)">js</a>'
        ' <a href="mailto:x@example.com">mail</a> <img src="https://tracker.example/p.gif">'
    )
    assert text == "first second third js mail"
    assert links == ("https://example.com/a", "http://example.org/b", "https://example.net/c")


def test_link_count_is_capped() -> None:
    _text, links = html_to_text('<a href="https://example.com/x">x</a>' * 500)
    assert len(links) == 50


def test_input_is_capped() -> None:
    text = text_of("<p>" + "word " * MAX_HTML_CHARS + "</p>")
    assert len(text) <= MAX_HTML_CHARS


def test_nothing_is_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("html_to_text tried to open a connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    text = text_of(
        '<link rel="stylesheet" href="https://example.com/s.css">'
        '<img src="https://example.com/open.gif"><iframe src="https://example.com/f"></iframe>'
        '<object data="https://example.com/o"></object><p style="background:url(https://x)">'
        "visible</p>"
    )
    assert text == "visible"


# Unclosed elements are what a hostile sender writes to make a parser do quadratic work: each
# opening tag would scan to the end of the document for its closing tag. Near the input cap a
# quadratic pass takes minutes; a linear one takes milliseconds. The timeout is a hang guard
# with a margin of about a thousand, not a speed target.
@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "opening",
    [
        "<script>",
        "<style ",
        "<!--",
        "<head>",
        "<title>",
        '<a href="http://',
        "<a ",
        "<",
        "<b",
        "<br",
        "<blockquote",
    ],
)
def test_unclosed_elements_take_bounded_time(opening: str) -> None:
    markup = opening * (MAX_HTML_CHARS // len(opening))
    text, links = html_to_text(markup)
    assert isinstance(text, str) and len(links) <= 50
