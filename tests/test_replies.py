"""Feedback drafts: the letter (triage.draft_text and its helpers) and the RFC 5322 message
(triage.replies)."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import logging
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from triage.config import DraftsConfig, parse_config
from triage.decide.policy import Decision
from triage.errors import DraftError
from triage.letters.draft_facts import MAX_QUOTE_WORDS, the_ask
from triage.letters.draft_names import first_name
from triage.letters.draft_templates import (
    OFFENSES,
    PART_NAMES,
    PLACEHOLDERS,
    builtin_templates,
    check_templates,
    load_templates,
    parse_variants,
    safe_format,
    template_fields,
    word_count,
)
from triage.letters.draft_text import DECLINES, QUOTE_LENGTHS, WORD_LIMIT, compose_letter
from triage.letters.replies import (
    MAX_REFERENCES,
    build_draft,
    compose_draft,
    draft_message_id,
    draft_message_id_for,
    reply_recipient,
    reply_subject,
    user_templates_dir,
)
from triage.message.headers import Address
from triage.message.parse import Message, parse_message

USER = "sam@example.org"
DRAFTS = DraftsConfig(
    from_name="Sam Lee",
    signature="Sam Lee\nPartner, Example Ventures\nhttps://example.org",
    addresses=(USER, "sam.lee@example.net"),
)
NOW = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)

# Words that make feedback sarcastic, scolding or preachy. None may appear in any draft.
UNKIND = (
    "obviously",
    "clearly",
    "seriously",
    "nice try",
    "spam",
    "lol",
    "surely",
    "genius",
    "pathetic",
    "desperate",
    "lazy",
    "rude",
    "shame",
    "shameless",
    "annoying",
    "ridiculous",
    "should have",
    "you must",
    "you need to",
    "everyone knows",
    "common sense",
    "etiquette",
    "unprofessional",
    "how dare",
    "frankly",
    "stupid",
    "idiot",
    "congratulations",
)
# Plain words that show each offense's paragraph names the behaviour.
BEHAVIOUR = {
    "introduction-ask": ("introduc",),
    "network-harvesting": ("pass", "forward", "share"),
    "referral-bounty": ("reward", "bonus", "paying", "paid"),
    "mlm-recruiting": ("income", "join your business", "sign up"),
    "what-can-you-do-for-me": ("job", "favour", "what you need"),
    "pitch-on-introduction": ("pitch", "sell", "sales", "proposal"),
}


# One ask for every offense, so that a letter about any of them has the sender's words to quote.
ASKS = (
    "We haven't met, but could you introduce me to your contact at Acme? Please forward "
    "this to your network. I pay a $100 bonus for every referral. Join my team and earn "
    "extra income from home. I'm looking for a job, so what openings do you have? Let me "
    "show you a quick demo of our platform, grab 15 minutes on my calendar."
)


def raw_message(
    *,
    sender: str = '"Jane Doe" <jane.doe@startup.example>',
    to: str = USER,
    cc: str = "",
    subject: str = "Quick question",
    message_id: str = "<CAbc123@mail.startup.example>",
    extra: str = "",
    body: str = ASKS,
) -> bytes:
    headers = [f"From: {sender}", f"To: {to}"]
    if cc:
        headers.append(f"Cc: {cc}")
    headers.append(f"Subject: {subject}")
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    headers.append("Date: Mon, 4 Mar 2024 10:00:00 +0000")
    if extra:
        headers.append(extra)
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def message(**kwargs: str) -> Message:
    return parse_message(raw_message(**kwargs))


def decision(*offenses: str) -> Decision:
    return Decision(
        label="solicitation",
        confidence=0.95,
        scores={"solicitation": 0.95, "relationship": 0.03, "other": 0.02},
        offenses=offenses,
        draft=True,
        reasons=(),
        model_version="test",
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(raw: bytes) -> str:
    part = parse(raw).get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def assert_kind(text: str) -> None:
    lowered = text.lower()
    for word in UNKIND:
        assert not re.search(rf"\b{re.escape(word)}\b", lowered), (word, text)
    assert "!" not in text, text


# --------------------------------------------------------------------------- the letter


@pytest.mark.parametrize("main", OFFENSES)
@pytest.mark.parametrize("other", [None, *OFFENSES])
def test_each_offense_and_pair_is_short_kind_specific_and_greets_by_name(
    main: str, other: str | None
) -> None:
    offenses = (main,) if other is None or other == main else (main, other)
    for number in range(12):  # different Message-IDs reach different variants
        msg = message(message_id=f"<m{number}.{main}.{other}@startup.example>")
        letter = compose_letter(msg, offenses, DRAFTS, USER)
        text = letter.text
        # the limit leaves out the signature, which is the user's own
        assert letter.words == word_count(text) - word_count(
            "Sam Lee\nPartner, Example Ventures\nhttps://example.org"
        )
        assert letter.words < WORD_LIMIT
        assert text.startswith("Hi Jane,\n\n")
        assert any(word in text.lower() for word in BEHAVIOUR[main]), (main, text)
        assert "Sam Lee\nPartner, Example Ventures" in text
        assert text.count("Sam Lee") == 1
        assert "{" not in text and "}" not in text
        assert_kind(text)


def test_every_combination_of_offenses_stays_under_the_word_limit() -> None:
    long_signature = dataclasses.replace(
        DRAFTS,
        signature="Sam Lee\n" + " ".join(["word"] * 28),  # a 30-word signature
    )
    contexts = [
        message(),
        message(to="maria@acme.example", cc=USER),  # the user introduced the sender
        message(cc='"Alex Introducer" <alex@third.example>'),  # someone else introduced them
    ]
    checked = 0
    for size in range(1, len(OFFENSES) + 1):
        for combination in itertools.permutations(OFFENSES, size):
            if size > 2 and combination[1:] != tuple(sorted(combination[1:])):
                continue  # beyond the first two, order does not change the letter
            for msg in contexts:
                for number in range(3):
                    msg = dataclasses.replace(msg, message_id=f"<{number}.{combination}@x>")
                    letter = compose_letter(msg, combination, long_signature, USER)
                    assert letter.words < WORD_LIMIT, (combination, letter.text)
                    checked += 1
    assert checked > 1000


def test_every_variant_combination_of_the_longest_parts_fits() -> None:
    """The worst case: the longest variant of every part, with the quote at its shortest and
    no mention of other offenses (what compose_letter gives up first), names included."""
    templates = builtin_templates()

    def longest(part: str) -> int:
        return max(word_count(v) for v in templates.parts[part])

    quote_and_names = QUOTE_LENGTHS[-1] + 16
    advice = max(
        longest(p) for p in PART_NAMES if p.endswith("-suggestion") and p != "introducer-suggestion"
    )
    opening = max(
        longest(p) for p in PART_NAMES if p.startswith("opening") and p != "opening-introducer"
    )
    note = max(longest(p) for p in PART_NAMES if p.endswith("-note"))
    decline = max(longest(p) for p in PART_NAMES if p.startswith("decline-"))
    for main in OFFENSES:
        reason = max(
            longest(p)
            for p in PART_NAMES
            if p == main
            or (p.startswith(f"{main}-") and not p.endswith(("-suggestion", "-introducer")))
        )
        parts = ["what-you-wrote", "closing"]
        assert (
            sum(longest(p) for p in parts)
            + reason
            + opening
            + advice
            + note
            + decline
            + quote_and_names
            < WORD_LIMIT
        ), main
        parts = [
            "opening-introducer",
            "what-you-wrote",
            f"{main}-introducer",
            "introducer-suggestion",
            "decline-meeting",
            "closing",
        ]
        assert sum(longest(p) for p in parts) + note + quote_and_names < WORD_LIMIT, main


def test_every_part_has_at_least_three_distinct_kind_variants() -> None:
    templates = builtin_templates()
    assert set(templates.parts) == set(PART_NAMES)
    for part, variants in templates.parts.items():
        assert len(variants) >= 3, part
        assert len(set(variants)) == len(variants), part
        for variant in variants:
            assert_kind(variant)
            assert set(template_fields(variant)) <= set(PLACEHOLDERS), (part, variant)
    for code in OFFENSES:
        assert code in templates.parts and f"{code}-suggestion" in templates.parts


def test_several_offenses_name_the_main_one_fully_and_the_others_briefly() -> None:
    msg = message()
    letter = compose_letter(
        msg,
        ("referral-bounty", "network-harvesting", "mlm-recruiting", "introduction-ask"),
        DRAFTS,
        USER,
    )
    text = letter.text
    assert letter.main_offense == "referral-bounty"
    assert "referral" in text
    assert "the request to pass your offer along to others" in text
    assert "the invitation to join your business" in text
    assert "asking for introductions before" not in text  # at most two brief mentions
    single = compose_letter(msg, ("referral-bounty",), DRAFTS, USER)
    assert "the request to pass" not in single.text


def test_same_original_same_letter_and_different_originals_different_letters() -> None:
    first = message(message_id="<one@startup.example>")
    again = message(message_id="<one@startup.example>")
    second = message(message_id="<two@startup.example>")
    offenses = ("introduction-ask",)
    assert (
        compose_letter(first, offenses, DRAFTS, USER).text
        == compose_letter(again, offenses, DRAFTS, USER).text
    )
    assert (
        compose_letter(first, offenses, DRAFTS, USER).text
        != compose_letter(second, offenses, DRAFTS, USER).text
    )
    bodies = {
        compose_letter(message(message_id=f"<n{i}@startup.example>"), offenses, DRAFTS, USER).text
        for i in range(40)
    }
    assert len(bodies) >= 30  # the hash spreads originals over the variants


def test_avoid_guarantees_no_two_letters_in_a_run_are_the_same() -> None:
    seen: set[str] = set()
    bodies = set()
    for i in range(60):  # same offense, same name: only the phrasing can differ
        letter = compose_letter(
            message(message_id=f"<run{i}@x.example>"), ("mlm-recruiting",), DRAFTS, USER, avoid=seen
        )
        assert letter.fingerprint not in seen
        seen.add(letter.fingerprint)
        bodies.add(letter.text)
    assert len(bodies) == 60
    # the same original with an empty run gives its usual letter back
    msg = message(message_id="<run0@x.example>")
    assert (
        compose_letter(msg, ("mlm-recruiting",), DRAFTS, USER).text
        == compose_letter(msg, ("mlm-recruiting",), DRAFTS, USER, avoid=set()).text
    )


@pytest.mark.parametrize(
    ("display", "addr", "expected"),
    [
        ("Jane Doe", "jane@x.example", "Jane"),
        ("Doe, Jane", "jane@x.example", "Jane"),
        ("Jane Doe, PhD", "jane@x.example", "Jane"),
        ("Dr. JANE DOE (Acme Corp)", "jd@x.example", "Jane"),
        ("jean-luc picard", "jl@x.example", "Jean-Luc"),
        ("Jane Doe via LinkedIn", "jane@x.example", "Jane"),
        ("José Álvarez", "jose@x.example", "José"),
        ("张伟", "zw@x.example", "张伟"),
        ("🚀 Mike Growth", "mike@x.example", "Mike"),
        ("O'Brien", "ob@x.example", "O'Brien"),
        ("jdoe123", "jdoe123@x.example", ""),
        ("jdoe", "jdoe@x.example", ""),
        ("john.smith", "john.smith@x.example", ""),
        ("jane@x.example", "jane@x.example", ""),
        ("Sales Team", "sales@x.example", ""),
        ("The Acme Team", "hello@x.example", ""),
        ("🚀🚀", "x@x.example", ""),
        ("J.", "j@x.example", ""),
        ("", "jane@x.example", ""),
        ("Jane\r\nBcc: victim@x", "jane@x.example", ""),
        ("Jane\r\nDoe", "jane@x.example", "Jane"),
    ],
)
def test_first_name(display: str, addr: str, expected: str) -> None:
    assert first_name(display, addr) == expected


@pytest.mark.parametrize(
    "sender",
    [
        "jdoe123@startup.example",
        '"jdoe123" <jdoe123@startup.example>',
        '"Growth Team" <growth@startup.example>',
    ],
)
def test_neutral_greeting_without_a_real_name(sender: str) -> None:
    text = compose_letter(message(sender=sender), ("introduction-ask",), DRAFTS, USER).text
    assert text.startswith("Hello,\n\n")
    assert "jdoe" not in text.lower()


def test_introducer_on_cc_gets_its_own_wording() -> None:
    """The sender's ask went to the person you introduced them to: every offense is answered
    as the introducer, whose introduction it reflects on."""
    msg = message(
        to='"Maria Lopez" <maria@acme.example>',
        cc=f'"Sam Lee" <{USER}>',
        subject="Re: Intro: Jane <> Maria",
        body="Thanks Sam. Maria, " + ASKS,
    )
    for number in range(6):
        msg = dataclasses.replace(msg, message_id=f"<intro{number}@startup.example>")
        for code in OFFENSES:
            letter = compose_letter(msg, (code,), DRAFTS, USER)
            assert letter.user_is_introducer
            assert re.search(r"After I introduced you to Maria, you (wrote|said)", letter.text)
            assert re.search(
                r"\b(I introduced|I made that introduction|I was glad to connect"
                r"|introduction to Maria|my introduction|of my reputation"
                r"|I made the introduction|introduction from me)",
                letter.text,
            ), letter.text
            assert letter.words < WORD_LIMIT


def test_a_proposed_meeting_is_declined_and_working_partners_get_their_own_advice() -> None:
    vendor = message(
        body="As your outsourcing partner for the app project, I have a favour. "
        "Could you introduce me to your contact at Acme? Could we do a quick "
        "call on Tuesday about it?"
    )
    letter = compose_letter(vendor, ("introduction-ask",), DRAFTS, USER).text
    assert "already work together" in letter
    templates = builtin_templates()
    assert any(v.split("\n")[0] in letter for v in templates.parts["client-suggestion"])
    assert any(v in letter for v in templates.parts["decline-meeting"])
    assert not any(
        v.split("\n")[0] in letter for v in templates.parts["introduction-ask-suggestion"]
    )
    plain = compose_letter(
        message(body="Could you introduce me to your contact at Acme?"),
        ("introduction-ask",),
        DRAFTS,
        USER,
    ).text
    assert not any(v in plain for v in templates.parts["decline-meeting"])


def test_the_ask_itself_gets_a_plain_no_once() -> None:
    """Blind readers found senders left unsure whether the answer was yes. One no per letter:
    to the meeting when one was proposed, else to the ask; none to an ask that went to the
    person the user introduced, or for details the privacy note already refuses."""
    templates = builtin_templates()
    declines = {name: templates.parts[name] for name in DECLINES.values()}

    def said(letter: str) -> set[str]:
        found = {name for name, variants in declines.items() if any(v in letter for v in variants)}
        if any(v in letter for v in templates.parts["decline-meeting"]):
            found.add("decline-meeting")
        return found

    plain = message(body="We haven't met, but could you introduce me to your contact at Acme?")
    assert said(compose_letter(plain, ("introduction-ask",), DRAFTS, USER).text) == {
        "decline-introduction"
    }
    call = message(body="Could you introduce me to your contact at Acme? A quick call on Tuesday?")
    assert said(compose_letter(call, ("introduction-ask",), DRAFTS, USER).text) == {
        "decline-meeting"
    }
    bounty = message(body="We pay $100 for every referral who books a demo. Know anyone?")
    assert said(compose_letter(bounty, ("referral-bounty",), DRAFTS, USER).text) == {
        "decline-reward"
    }
    details = message(body="Could you send me the emails of five friends who own a bakery?")
    assert not said(compose_letter(details, ("network-harvesting",), DRAFTS, USER).text)
    introduced = message(
        to='"Maria Lopez" <maria@acme.example>',
        cc=f'"Sam Lee" <{USER}>',
        subject="Re: Intro: Jane <> Maria",
        body="Thanks Sam. Maria, could you introduce me to your head of sales?",
    )
    assert not said(compose_letter(introduced, ("introduction-ask",), DRAFTS, USER).text)


def test_another_offense_is_named_only_when_a_sentence_shows_it() -> None:
    """The classifier may name a second offense the message does not show; blind readers
    found "the request to pass your offer along" in letters to people who asked no such
    thing."""
    templates = builtin_templates()
    codes = ("introduction-ask", "network-harvesting")
    only_intro = message(body="We haven't met, but could you introduce me to your contact at Acme?")
    letter = compose_letter(only_intro, codes, DRAFTS, USER)
    assert "also" not in letter.parts, letter.text
    both = message(
        body="We haven't met, but could you introduce me to your contact at Acme? "
        "And please forward this to your whole network."
    )
    letter = compose_letter(both, codes, DRAFTS, USER)
    assert "also" in letter.parts, letter.text
    assert any(
        v.split("{")[0].strip() in letter.text for v in templates.parts["also"] if v.split("{")[0]
    )


@pytest.mark.parametrize(
    ("body", "offense", "part"),
    [
        (
            "I know cold emails are annoying, so here's a $100 gift card for 20 minutes "
            "with our team. Forward this to whoever runs fleet and I'll send you one too.",
            "referral-bounty",
            "referral-bounty-attention",
        ),
        (
            "We pay $100 for every referral who books a demo. Know anyone?",
            "referral-bounty",
            "referral-bounty",
        ),
        (
            "Could you post our job listing in your group and mention it in your newsletter?",
            "network-harvesting",
            "network-harvesting-audience",
        ),
        ("Please forward this to everyone you know.", "network-harvesting", "network-harvesting"),
        (
            "We're hiring 40 warehouse pickers, no experience needed. Please share this with "
            "your temps and on your Facebook page.",
            "network-harvesting",
            "network-harvesting-staff",
        ),
        (
            "Could you post this in your FB group for freelancers?",
            "network-harvesting",
            "network-harvesting-audience",
        ),
    ],
)
def test_the_reason_answers_what_was_asked(body: str, offense: str, part: str) -> None:
    """Blind readers found a gift card for the reader's own time answered as a bounty on
    referrals ("ask the people you've helped to refer you"), a radio host's listeners called
    "my contacts", and an agency's own temps too."""
    letter = compose_letter(message(body=body), (offense,), DRAFTS, USER)
    assert part in letter.parts, letter.text
    assert f"{part}-suggestion" in letter.parts, letter.parts  # the advice fits it too


def test_how_they_found_you_is_never_quoted_as_the_ask() -> None:
    """A blind reader: the letter quoted "saw your group on Meetup" as if finding the group were
    the problem, and missed the ask (announce a paid workshop, keep a cut)."""
    msg = message(
        body="hi Sam, found your group on Meetup. I coach people on pricing their freelance "
        "work, I can run an evening session for your members at 25 euros each and you keep "
        "15%. I do all the work, you just announce it to your members. ok?"
    )
    quote = the_ask(msg, "network-harvesting")
    assert "announce it to your members" in quote and "you keep 15%" in quote
    assert "found your group" not in quote


def test_a_sentence_wrapped_over_two_lines_is_quoted_whole() -> None:
    """Mail clients wrap plain text at about 72 characters; a blind reader was shown the
    fragment "everything, you just announce it" because the line break cut the sentence."""
    msg = message(
        body="hi Sam, I coach people on pricing their freelance work and can run an\n"
        "evening session for your members at 25 euros each, you keep 15%. I handle\n"
        "everything, you just announce it to your members. ok?\n\nRafa\nOrtiz Coaching"
    )
    quote = the_ask(msg, "network-harvesting")
    assert "I handle everything, you just announce it to your members." in quote, quote


def test_a_meeting_already_booked_is_declined_too() -> None:
    """'I've put a demo in for Thursday, just accept the invite' asks as much as a question;
    both blind readers missed a no to it."""
    templates = builtin_templates()
    booked = message(
        body="Thanks Olamide! Megan, our rostering platform cuts agency spend by 30%. "
        "I've put a 30 min demo in for Thursday 2pm, just accept the invite."
    )
    letter = compose_letter(booked, ("pitch-on-introduction",), DRAFTS, USER).text
    assert any(v in letter for v in templates.parts["decline-meeting"]), letter
    mentioned = message(
        body="Thanks Olamide! Megan, our rostering platform cuts agency spend by 30%. "
        "Our last demo day was a hit with care homes, and the pricing is on our site."
    )
    letter = compose_letter(mentioned, ("pitch-on-introduction",), DRAFTS, USER).text
    assert not any(v in letter for v in templates.parts["decline-meeting"]), letter


def test_introducer_name_unknown_falls_back_to_a_phrase() -> None:
    msg = message(to="m.lopez@acme.example", cc=USER)
    letter = compose_letter(msg, ("pitch-on-introduction",), DRAFTS, USER)
    assert letter.user_is_introducer
    assert "my contact" in letter.text


def test_pitch_on_introduction_names_whoever_made_the_introduction() -> None:
    msg = message(cc='"Alex Kim" <alex@third.example>', subject="Re: Intro Jane <> Sam")
    texts = [
        compose_letter(
            dataclasses.replace(msg, message_id=f"<p{i}@x>"),
            ("pitch-on-introduction",),
            DRAFTS,
            USER,
        ).text
        for i in range(6)
    ]
    assert all("Alex" in text for text in texts)
    no_cc = compose_letter(message(), ("pitch-on-introduction",), DRAFTS, USER).text
    assert "our mutual contact" in no_cc or "introduc" in no_cc


def test_signature_and_from_name() -> None:
    msg = message()
    only_name = compose_letter(msg, ("referral-bounty",), DraftsConfig(from_name="Sam Lee"), USER)
    assert only_name.text.rstrip().endswith("\nSam Lee")
    both = compose_letter(
        msg,
        ("referral-bounty",),
        DraftsConfig(from_name="Sam", signature="-- \nSam | Example"),
        USER,
    )
    assert both.text.rstrip().endswith("-- \nSam | Example")
    assert both.text.count("Sam") == 1
    different = compose_letter(
        msg,
        ("referral-bounty",),
        DraftsConfig(from_name="Sam Lee", signature="Example Ventures"),
        USER,
    )
    assert different.text.rstrip().endswith("Sam Lee\nExample Ventures")
    neither = compose_letter(msg, ("referral-bounty",), DraftsConfig(), USER)
    assert neither.text.rstrip().endswith(",")  # the sign-off line, for the user to sign


def test_the_letter_quotes_the_senders_ask_and_nothing_else_of_theirs() -> None:
    body = (
        "I loved your talk on supply chains last week and have a small favour to ask. "
        "Share this with anyone you know who could use extra income from their phone. "
        "It only takes ten minutes a day and my whole family is doing it now."
    )
    msg = message(body=body, subject="Extra income from your phone")
    for code in ("network-harvesting", "mlm-recruiting"):
        text = compose_letter(msg, (code,), DRAFTS, USER).text
        (quote,) = re.findall(r"“([^”]*)”", text)
        assert "Share this with anyone you know who could use extra income" in quote, text
        assert quote in body and len(quote.split()) <= MAX_QUOTE_WORDS
        outside = re.sub(r"“[^”]*”", "", text).lower()
        words = body.lower().split()
        for start in range(len(words) - 5):
            assert " ".join(words[start : start + 6]) not in outside


@pytest.mark.parametrize(
    ("body", "offense", "whole"),
    [
        (
            "Ravi, I'll be brief: our tool writes grant applications in minutes. "
            "Here's my calendar for a demo this week: calendly.com/kieran-grantly/30",
            "pitch-on-introduction",
            "calendly.com/kieran-grantly/30",
        ),
        (
            "We're raising a $2M seed and have $1.3M committed, let me know if you'd like a call "
            "before the round closes.",
            "pitch-on-introduction",
            "$1.3M committed",
        ),
        (
            "Great to meet you. Our card processing costs 0.9%, so can I pop into the shop Tuesday "
            "to show you a demo of our pricing?",
            "pitch-on-introduction",
            "costs 0.9%, so can I",
        ),
    ],
)
def test_a_quote_keeps_dots_inside_links_and_numbers(body: str, offense: str, whole: str) -> None:
    """A full stop ends a sentence only before a space: a quote cut at "calendly." or
    "$1." is nonsense to its reader."""
    msg = message(body=body, subject="Re: intro")
    text = compose_letter(msg, (offense,), DRAFTS, USER).text
    (quote,) = re.findall(r"“([^”]*)”", text)
    assert whole in quote, text
    assert quote.rstrip(".") in body, (quote, body)


def test_no_letter_without_an_ask_to_quote() -> None:
    msg = message(body="Hope your week is going well. The weather here has been lovely.")
    with pytest.raises(DraftError, match="no ask"):
        compose_letter(msg, ("introduction-ask",), DRAFTS, USER)


def test_unknown_offense_codes_are_an_error() -> None:
    with pytest.raises(DraftError):
        compose_letter(message(), ("something-else",), DRAFTS, USER)


# --------------------------------------------------------------------------- templates


def test_safe_format_fills_only_plain_placeholders() -> None:
    values = {"first_name": "Jane", "subject": "Hi"}
    assert safe_format("Hi {first_name}", values) == "Hi Jane"
    assert safe_format("{unknown} {first_name}", values) == "{unknown} Jane"
    assert safe_format("{first_name.__class__}", values) == "{first_name.__class__}"
    assert (
        safe_format("{first_name.__class__.__mro__[1]}", values)
        == "{first_name.__class__.__mro__[1]}"
    )
    assert safe_format("{first_name[0]}", values) == "{first_name[0]}"
    assert safe_format("{0} {} {first_name!r}", values) == "{0} {} {first_name!r}"
    assert safe_format("{first_name:>99999999}", values) == "{first_name:>99999999}"
    assert safe_format("{{literal}} {", values) == "{literal} {"
    assert safe_format("a } b {x{first_name}y}", values) == "a } b {xJaney}"
    # substituted values are never formatted again
    assert safe_format("{subject}", {"subject": "{first_name.__init__}"}) == "{first_name.__init__}"


def test_template_files_parse_variants_and_comments() -> None:
    text = "# a comment\nFirst {first_name}.\n---\n\nSecond.\n-----\n# only a comment\n---\n"
    assert parse_variants(text) == ("First {first_name}.", "Second.")


def test_user_template_overrides_the_wording(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "referral-bounty.txt").write_text(
        "# my own words\n"
        "{first_name}, I don't pass people on for money ({sender_email}, {subject}). "
        "{x.__class__} {first_name!r} {nope}\n"
        "---\n"
        "Second variant for {sender_name}.\n",
        encoding="utf-8",
    )
    (folder / "opening.txt").write_text("Dear {first_name},", encoding="utf-8")
    (folder / "closing.txt").write_text(
        "Cheers,\n{your_name} <{your_email}>\n{signature}", encoding="utf-8"
    )
    (folder / "notes.md").write_text("ignored", encoding="utf-8")
    templates = load_templates(folder)
    assert templates.overridden == {"referral-bounty", "opening", "closing"}
    msg = message(subject="Fwd: Earn $100 per referral")  # a forward: not a reply in a thread
    texts = {
        compose_letter(
            dataclasses.replace(msg, message_id=f"<t{i}@x>"),
            ("referral-bounty",),
            DRAFTS,
            USER,
            templates=templates,
        ).text
        for i in range(20)
    }
    first = next(t for t in texts if "for money" in t)
    assert first.startswith("Dear Jane,\n\n")
    assert (
        "Jane, I don't pass people on for money (jane.doe@startup.example, "
        "Earn $100 per referral)." in first
    )
    assert "{x.__class__} {first_name!r} {nope}" in first
    assert "Cheers,\nSam Lee <sam@example.org>\nSam Lee\nPartner" in first
    assert any("Second variant for Jane Doe." in t for t in texts)
    # parts the user did not override keep the built-in wording
    builtin_suggestions = builtin_templates().parts["referral-bounty-suggestion"]
    assert any(s.split(":")[0] in first for s in builtin_suggestions)


def test_template_dir_comes_from_the_config_location(tmp_path: Path) -> None:
    config = parse_config(
        '[[account]]\nname = "a"\nhost = "h"\nusername = "u@h.example"\n',
        tmp_path / "triage" / "config.toml",
    )
    assert user_templates_dir(config) == tmp_path / "triage" / "templates"


def test_an_override_that_breaks_the_word_limit_gives_way_to_the_builtin(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "mlm-recruiting.txt").write_text("word " * 250, encoding="utf-8")
    letter = compose_letter(
        message(), ("mlm-recruiting",), DRAFTS, USER, templates=load_templates(folder)
    )
    assert letter.words < WORD_LIMIT
    assert not letter.used_overrides
    assert "word word word" not in letter.text


def test_unusable_template_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "opening.txt").write_bytes(b"\xff\xfe not utf-8 \xc3")
    (folder / "closing.txt").write_text("# only a comment\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="triage.letters.draft_text"):
        templates = load_templates(folder)
    assert templates.overridden == frozenset()
    assert "not UTF-8" in caplog.text and "no text" in caplog.text
    assert load_templates(tmp_path / "missing").overridden == frozenset()


def test_check_templates_reports_problems(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "referal-bounty.txt").write_text("typo in the name", encoding="utf-8")
    (folder / "opening.txt").write_text("Hi {frist_name} {first_name.upper}", encoding="utf-8")
    (folder / "closing.txt").write_text("Bye,\n{signature}", encoding="utf-8")
    problems = "\n".join(check_templates(folder))
    assert "referal-bounty.txt: not a template name" in problems
    assert "unknown placeholder {frist_name}" in problems
    assert "{first_name.upper} is left as text" in problems
    assert "closing.txt" not in problems


def test_every_placeholder_is_documented_and_filled() -> None:
    every = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    openings = {name: (every,) for name in PART_NAMES if name.startswith("opening")}
    templates = dataclasses.replace(
        builtin_templates(),
        parts={**builtin_templates().parts, **openings},
        overridden=frozenset(openings),
    )
    msg = message(cc='"Alex Kim" <alex@third.example>')
    letter = compose_letter(
        msg, ("pitch-on-introduction", "referral-bounty"), DRAFTS, USER, templates=templates
    )
    opening = letter.text.split("\n\n")[0]
    assert "{" not in opening, opening
    assert "Jane" in opening and "Alex" in opening and "sam@example.org" in opening
    for name, description in PLACEHOLDERS.items():
        assert description, name


# --------------------------------------------------------------------------- the draft message


def test_draft_is_a_threaded_reply_from_the_user_to_the_offender() -> None:
    msg = message(
        subject="RE: Quick question",
        extra="References: <root@startup.example> <mid@startup.example>",
    )
    raw = compose_draft(msg, decision("introduction-ask"), DRAFTS, USER, now=NOW)
    parsed = parse(raw)
    assert list(parsed.keys()) == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    assert str(parsed["From"]) == "Sam Lee <sam@example.org>"
    assert str(parsed["To"]) == "Jane Doe <jane.doe@startup.example>"
    assert str(parsed["Subject"]) == "Re: Quick question"
    assert str(parsed["In-Reply-To"]) == "<CAbc123@mail.startup.example>"
    assert str(parsed["References"]).split() == [
        "<root@startup.example>",
        "<mid@startup.example>",
        "<CAbc123@mail.startup.example>",
    ]
    assert str(parsed["Message-ID"]) == draft_message_id("<CAbc123@mail.startup.example>", USER)
    assert parsed["Date"].datetime == NOW
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert "Bcc" not in parsed and "Cc" not in parsed
    text = body_of(raw)
    assert text.startswith("Hi Jane,")
    assert word_count(text) < WORD_LIMIT
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_same_original_gives_the_same_bytes() -> None:
    msg = message()
    one = compose_draft(msg, decision("referral-bounty"), DRAFTS, USER, now=NOW)
    two = compose_draft(message(), decision("referral-bounty"), DRAFTS, USER, now=NOW)
    assert one == two


def test_build_draft_reports_what_the_daemon_tracks() -> None:
    draft = build_draft(
        message(), decision("referral-bounty", "network-harvesting"), DRAFTS, USER, now=NOW
    )
    assert draft.message_id == draft_message_id_for(message(), USER)
    assert draft.to == "jane.doe@startup.example"
    assert draft.subject == "Re: Quick question"
    assert draft.letter.offenses == ("referral-bounty", "network-harvesting")
    assert body_of(draft.raw) == draft.body
    other = build_draft(
        message(message_id="<another@x>"),
        decision("referral-bounty"),
        DRAFTS,
        USER,
        now=NOW,
        avoid={draft.letter.fingerprint},
    )
    assert other.letter.fingerprint != draft.letter.fingerprint


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Quick question", "Re: Quick question"),
        ("Re: Quick question", "Re: Quick question"),
        ("RE: Quick question", "Re: Quick question"),
        ("re:Quick question", "Re: Quick question"),
        ("Aw: Quick question", "Re: Quick question"),
        ("AW: WG: Quick question", "Re: Quick question"),
        ("Fwd: Quick question", "Re: Quick question"),
        ("FW: Re: Quick question", "Re: Quick question"),
        ("Re: Fwd: Re: Quick question", "Re: Quick question"),
        ("Re[2]: Quick question", "Re: Quick question"),
        ("Re (3): Quick question", "Re: Quick question"),
        ("SV: Quick question", "Re: Quick question"),
        ("Antw: Quick question", "Re: Quick question"),
        ("Regarding: the role", "Re: Regarding: the role"),
        ("Referral program", "Re: Referral program"),
        ("", "Re: your message"),
        ("Re: ", "Re: your message"),
    ],
)
def test_reply_subject_is_not_doubled(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_reply_to_is_honoured_when_it_is_a_person() -> None:
    msg = message(extra='Reply-To: "Jane Doe" <jane@personal.example>')
    parsed = parse(compose_draft(msg, decision("mlm-recruiting"), DRAFTS, USER, now=NOW))
    assert [a.addr_spec for a in parsed["To"].addresses] == ["jane@personal.example"]
    assert body_of(parsed.as_bytes()).startswith("Hi Jane,")


@pytest.mark.parametrize(
    "reply_to",
    [
        "noreply@startup.example",
        "no-reply+x1@mailer.example",
        "sales@startup.example",
        USER,
        "Sam <SAM.LEE@example.net>",
        "not an address",
    ],
)
def test_reply_to_is_ignored_when_it_is_a_robot_a_role_or_the_user(reply_to: str) -> None:
    msg = message(extra=f"Reply-To: {reply_to}")
    assert reply_recipient(msg, {USER, "sam.lee@example.net"}).addr == "jane.doe@startup.example"


@pytest.mark.parametrize("reply_to", ["sales@forms.example", "Sam <SAM.LEE@example.net>"])
def test_a_no_reply_sender_is_never_the_recipient(reply_to: str) -> None:
    """When no Reply-To is a person, the fallback to the sender stops at a no-reply sender,
    whatever the policy decided."""
    msg = message(sender="Forms <noreply@forms.example>", extra=f"Reply-To: {reply_to}")
    with pytest.raises(DraftError, match="no personal reply address"):
        reply_recipient(msg, {USER, "sam.lee@example.net"})


def test_the_first_personal_reply_to_wins_and_takes_the_senders_name() -> None:
    msg = message(extra="Reply-To: noreply@startup.example, jane@startup.example, b@c.example")
    assert reply_recipient(msg) == Address("Jane Doe", "jane@startup.example")


def test_no_draft_without_offense_or_usable_sender() -> None:
    with pytest.raises(DraftError):
        compose_draft(message(), decision(), DRAFTS, USER)
    with pytest.raises(DraftError):
        compose_draft(message(sender=USER), decision("referral-bounty"), DRAFTS, USER)
    with pytest.raises(DraftError):
        compose_draft(
            dataclasses.replace(message(), sender=None, reply_to=()),
            decision("referral-bounty"),
            DRAFTS,
            USER,
        )
    with pytest.raises(DraftError):
        compose_draft(message(), decision("referral-bounty"), DRAFTS, "not-an-address")


def test_draft_message_id_is_stable_and_in_the_users_domain() -> None:
    one = draft_message_id("<abc@x.example>", "sam@example.org")
    assert one == draft_message_id("abc@x.example", "Sam@Example.org".lower())
    assert one == draft_message_id(" <abc@x.example> ", "other@example.org")
    assert re.fullmatch(r"<triage\.[0-9a-f]{32}@example\.org>", one)
    assert one != draft_message_id("<abd@x.example>", "sam@example.org")
    assert draft_message_id("<abc@x.example>", "sam@bücher.example").endswith(
        "@xn--bcher-kva.example>"
    )
    assert draft_message_id("<abc@x.example>", "weird").endswith("@triage.invalid>")


def test_message_without_message_id_still_gets_a_stable_draft() -> None:
    msg = message(message_id="")
    raw = compose_draft(msg, decision("introduction-ask"), DRAFTS, USER, now=NOW)
    parsed = parse(raw)
    assert "In-Reply-To" not in parsed and "References" not in parsed
    assert str(parsed["Message-ID"]) == draft_message_id_for(message(message_id=""), USER)


def test_long_message_ids_are_never_encoded_and_references_are_bounded() -> None:
    outlook = (
        "<BN8PR12MB3362C7A8A6F1B6F3E1D2A9B7D4B09C1E5F@BN8PR12MB3362.namprd12.prod.outlook.com>"
    )
    refs = " ".join(f"<ref{i:03d}@l.example>" for i in range(40))
    msg = message(message_id=outlook, extra=f"References: {refs}")
    raw = compose_draft(msg, decision("pitch-on-introduction"), DRAFTS, USER, now=NOW)
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]
    parsed = parse(raw)
    assert str(parsed["In-Reply-To"]) == outlook
    references = str(parsed["References"]).split()
    assert len(references) == MAX_REFERENCES
    assert references[0] == "<ref000@l.example>" and references[-1] == outlook
    assert references[-2] == "<ref039@l.example>"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_non_ascii_names_and_bodies_are_encoded() -> None:
    msg = message(
        sender="=?utf-8?b?"
        + base64.b64encode("Zoë Müller".encode()).decode()
        + "?= <zoe@bücher.example>"
    )
    drafts = dataclasses.replace(DRAFTS, from_name="Sám Lée", signature="")
    raw = compose_draft(msg, decision("network-harvesting"), drafts, USER, now=NOW)
    assert raw.isascii()
    parsed = parse(raw)
    assert str(parsed["From"]) == "Sám Lée <sam@example.org>"
    assert parsed["To"].addresses[0].display_name == "Zoë Müller"
    assert parsed["To"].addresses[0].addr_spec == "zoe@xn--bcher-kva.example"
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    text = body_of(raw)
    assert text.startswith("Hi Zoë,") and text.rstrip().endswith("Sám Lée")


# --------------------------------------------------------------------------- header injection


def b64word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


HOSTILE_RAW = {
    "encoded CRLF in subject": dict(subject="=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?="),
    "encoded CRLF in base64 subject": dict(subject=b64word("hi\r\nBcc: victim@evil.example")),
    "double-encoded subject": dict(subject=b64word("=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?=")),
    "folded subject": dict(subject="hi\r\n Bcc: victim@evil.example"),
    "encoded CRLF in name": dict(
        sender=b64word("Jane\r\nBcc: victim@evil.example") + " <jane@startup.example>"
    ),
    "double-encoded name": dict(
        sender=b64word("=?utf-8?q?Jane=0D=0ABcc:_victim@evil.example?=") + " <jane@startup.example>"
    ),
    "quotes and commas": dict(
        sender='"Doe, Jane \\"JD\\" <ceo@evil.example>, victim@evil.example" <jane@startup.example>'
    ),
    "long name": dict(sender='"' + "Jane " * 1000 + '" <jane@startup.example>'),
    "long non-ascii name": dict(sender=b64word("Zoë " * 400) + " <jane@startup.example>"),
    "emoji name": dict(sender=b64word("🚀💰 Jane 👩‍💻 Doe 🔥" * 10) + " <jane@startup.example>"),
    "NUL in name": dict(
        sender=b64word("Jane\x00Bcc: victim@evil.example") + " <jane@startup.example>"
    ),
    "bidi override": dict(sender=b64word("Jane \u202egnp.exe") + " <jane@startup.example>"),
    "hostile reply-to": dict(
        extra="Reply-To: " + b64word("x\r\nBcc: victim@evil.example") + " <jane@personal.example>"
    ),
    "long subject": dict(subject="Opportunity " * 400),
    "long non-ascii subject": dict(subject=b64word("Überraschung 🎉 " * 300)),
}


def hostile_direct() -> dict[str, Message]:
    """Messages built without the parser, carrying what the parser would have removed."""
    base = message()
    evil = "Jane\r\nBcc: victim@evil.example\r\n\r\nInjected body"
    return {
        "raw CRLF subject": dataclasses.replace(base, subject="hi\r\nBcc: victim@evil.example"),
        "raw LF subject": dataclasses.replace(base, subject="hi\nBcc: victim@evil.example"),
        "raw CR subject": dataclasses.replace(base, subject="hi\rBcc: victim@evil.example"),
        "NUL subject": dataclasses.replace(base, subject="hi\x00Bcc: victim@evil.example"),
        "encoded word subject": dataclasses.replace(
            base, subject="=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?="
        ),
        "raw CRLF name": dataclasses.replace(base, sender=Address(evil, "jane@startup.example")),
        "encoded word name": dataclasses.replace(
            base,
            sender=Address("=?utf-8?q?J=0D=0ABcc:_victim@evil.example?=", "jane@startup.example"),
        ),
        "5000-char name": dataclasses.replace(
            base, sender=Address("J" * 5000, "jane@startup.example")
        ),
        "5000-char emoji name": dataclasses.replace(
            base, sender=Address("🚀" * 5000, "jane@startup.example")
        ),
        "quoted name": dataclasses.replace(
            base,
            sender=Address(
                'Jane "The Closer" Doe, CEO <ceo@evil.example>; x@evil.example',
                "jane@startup.example",
            ),
        ),
        "hostile message id": dataclasses.replace(
            base, message_id="<a@b>\r\nBcc: victim@evil.example"
        ),
        "hostile references": dataclasses.replace(
            base, references=("<ok@x.example>", "<bad\r\nBcc: v@evil.example>")
        ),
        "hostile reply-to name": dataclasses.replace(
            base, reply_to=(Address(evil, "jane@personal.example"),)
        ),
    }


def _assert_clean_draft(raw: bytes, expected_to: set[str]) -> None:
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    parsed = parse(raw)
    names = [n.lower() for n in parsed]
    assert set(names) <= {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }, names
    assert len(names) == len(set(names)), names
    assert {"from", "to", "subject", "date", "message-id"} <= set(names)
    assert "bcc" not in names and "cc" not in names
    addresses = parsed["To"].addresses
    assert len(addresses) == 1 and addresses[0].addr_spec in expected_to
    assert [a.addr_spec for a in parsed["From"].addresses] == [USER]
    for name in ("Subject", "To", "From"):
        value = str(parsed[name])
        assert "\r" not in value and "\n" not in value and "\x00" not in value, (name, value)
    assert str(parsed["Subject"]).startswith("Re: ")
    assert not parsed.defects
    header_lines = raw.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert not [line for line in header_lines if line.lower().startswith(b"bcc")]
    body = body_of(raw)
    assert word_count(body) - word_count(DRAFTS.signature) < WORD_LIMIT
    assert "Injected body" not in body


@pytest.mark.parametrize("case", sorted(HOSTILE_RAW))
def test_hostile_raw_messages_cannot_inject_headers(case: str) -> None:
    msg = message(**HOSTILE_RAW[case])
    raw = compose_draft(
        msg, decision("referral-bounty", "pitch-on-introduction"), DRAFTS, USER, now=NOW
    )
    _assert_clean_draft(
        raw, {"jane@startup.example", "jane.doe@startup.example", "jane@personal.example"}
    )


@pytest.mark.parametrize("case", sorted(hostile_direct()))
def test_hostile_values_cannot_inject_headers(case: str) -> None:
    msg = hostile_direct()[case]
    raw = compose_draft(msg, decision("mlm-recruiting"), DRAFTS, USER, now=NOW)
    _assert_clean_draft(
        raw, {"jane@startup.example", "jane.doe@startup.example", "jane@personal.example"}
    )


def test_encoded_crlf_subject_decodes_to_one_line_with_its_text() -> None:
    msg = message(subject="=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?=")
    parsed = parse(compose_draft(msg, decision("referral-bounty"), DRAFTS, USER, now=NOW))
    assert str(parsed["Subject"]) == "Re: hi Bcc: victim@evil.example"
    double = message(subject=b64word("=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?="))
    parsed = parse(compose_draft(double, decision("referral-bounty"), DRAFTS, USER, now=NOW))
    subject = str(parsed["Subject"])
    assert subject.startswith("Re: = ?utf-8?q?hi=0D=0ABcc")  # shown, never decoded again
    assert "Bcc" not in parsed


def test_long_names_are_capped_and_folded() -> None:
    msg = hostile_direct()["5000-char emoji name"]
    raw = compose_draft(msg, decision("mlm-recruiting"), DRAFTS, USER, now=NOW)
    header_block = raw.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in header_block.split(b"\r\n"))
    name = parse(raw)["To"].addresses[0].display_name.replace(" ", "")  # the parser adds spaces
    assert 0 < len(name) <= 120 and set(name) == {"🚀"}


def test_hostile_message_ids_are_dropped_from_threading() -> None:
    parsed = parse(
        compose_draft(
            hostile_direct()["hostile references"],
            decision("mlm-recruiting"),
            DRAFTS,
            USER,
            now=NOW,
        )
    )
    assert str(parsed["References"]).split() == ["<ok@x.example>", "<CAbc123@mail.startup.example>"]
    parsed = parse(
        compose_draft(
            hostile_direct()["hostile message id"],
            decision("mlm-recruiting"),
            DRAFTS,
            USER,
            now=NOW,
        )
    )
    assert "In-Reply-To" not in parsed


def test_many_long_references_keep_the_first_and_the_latest() -> None:
    refs = tuple(f"<ref{i:03d}.{'x' * 60}@lists.example>" for i in range(40))
    msg = dataclasses.replace(message(), references=refs)
    parsed = parse(compose_draft(msg, decision("referral-bounty"), DRAFTS, USER, now=NOW))
    references = str(parsed["References"]).split()
    assert references == [refs[0], *refs[-(MAX_REFERENCES - 2) :], "<CAbc123@mail.startup.example>"]


def test_date_keeps_the_given_offset() -> None:
    from datetime import timedelta, timezone

    berlin = datetime(2024, 3, 5, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    raw = compose_draft(message(), decision("referral-bounty"), DRAFTS, USER, now=berlin)
    assert str(parse(raw)["Date"]) == "Tue, 05 Mar 2024 10:30:00 +0100"
