"""Quoted history and signatures are split from what the sender wrote now.

The classifier judges `new_text`: a polite reply that quotes a pitch is not a pitch, and a pitch
that quotes a friendly introduction is still a pitch. Each client marks history its own way.
"""

from __future__ import annotations

import pytest

from triage.message.parse import parse_message
from triage.message.quoting import split_reply

OWN = "Thanks, Tuesday at 3 works for me. I'll bring the draft deck."
EARLIER = "Does Tuesday at 3 work? Could you bring the deck?"

ATTRIBUTIONS = {
    "gmail": "On Tue, 4 Mar 2025 at 09:12, Jane Doe <jane@example.com> wrote:",
    "gmail-us": "On Tue, Mar 4, 2025 at 9:12 AM Jane Doe <jane@example.com> wrote:",
    "apple": "> On 4 Mar 2025, at 09:12, Jane Doe <jane@example.com> wrote:",
    "thunderbird": "On 04/03/2025 09:12, Jane Doe wrote:",
    "german-gmail": "Am Di., 4. März 2025 um 09:12 Uhr schrieb Jane Doe <jane@example.com>:",
    "german-apple": "Am 04.03.2025 um 09:12 schrieb Jane Doe <jane@example.com>:",
    "german-thunderbird": "Am 04.03.25 um 09:12 schrieb Jane Doe:",
    "french-gmail": "Le mar. 4 mars 2025 à 09:12, Jane Doe <jane@example.com> a écrit :",
    "spanish-gmail": "El mar, 4 mar 2025 a las 9:12, Jane Doe (<jane@example.com>) escribió:",
    "dutch-gmail": "Op di 4 mrt 2025 om 09:12 schreef Jane Doe <jane@example.com>:",
    "portuguese-gmail": "Em ter., 4 de mar. de 2025 às 09:12, Jane Doe <jane@example.com> "
    "escreveu:",
    "italian-gmail": "Il giorno mar 4 mar 2025 alle ore 09:12 Jane Doe <jane@example.com> ha "
    "scritto:",
}


@pytest.mark.parametrize("style", sorted(ATTRIBUTIONS))
def test_top_posted_reply_with_attribution(style: str) -> None:
    attribution = ATTRIBUTIONS[style]
    body = f"{OWN}\n\n{attribution}\n> {EARLIER}\n> \n> Jane\n"
    new, quoted, _signature = split_reply(body)
    assert new == OWN
    assert EARLIER in quoted
    assert attribution.lstrip("> ") in quoted


def test_gmail_attribution_wrapped_over_two_lines() -> None:
    body = (
        f"{OWN}\n\nOn Tue, 4 Mar 2025 at 09:12, Jane Doe Longname <\n"
        f"jane.doe.longname@example.com> wrote:\n> {EARLIER}\n"
    )
    new, quoted, _signature = split_reply(body)
    assert new == OWN
    assert "wrote:" in quoted and EARLIER in quoted


OUTLOOK = {
    "rule": "________________________________\nFrom: Jane Doe <jane@example.com>\n"
    "Sent: Tuesday, March 4, 2025 9:12 AM\nTo: Sam Reader <sam@example.org>\n"
    "Subject: deck",
    "no-rule": "From: Jane Doe [mailto:jane@example.com]\nSent: Tuesday, March 4, 2025 9:12 AM\n"
    "To: Sam Reader\nSubject: RE: deck",
    "bold": "*From:* Jane Doe <jane@example.com>\n*Sent:* Tuesday, March 4, 2025 9:12 AM\n"
    "*To:* Sam Reader",
    "original-message": "-----Original Message-----\nFrom: Jane Doe\nSent: Tuesday",
    "german": "Von: Jane Doe <jane@example.com>\nGesendet: Dienstag, 4. März 2025 09:12\n"
    "An: Sam Reader",
    "forwarded": "---------- Forwarded message ---------\nFrom: Jane Doe <jane@example.com>\n"
    "Date: Tue, 4 Mar 2025",
}


@pytest.mark.parametrize("style", sorted(OUTLOOK))
def test_outlook_style_history(style: str) -> None:
    body = f"{OWN}\n\n{OUTLOOK[style]}\n\n{EARLIER}\n"
    new, quoted, _signature = split_reply(body)
    assert new == OWN
    assert EARLIER in quoted


def test_inline_reply_keeps_the_answers_between_quotes() -> None:
    body = (
        f"{ATTRIBUTIONS['gmail']}\n> Can you do Tuesday?\nYes, Tuesday works.\n"
        "> And can you bring the slides?\nI'll bring them.\n"
    )
    new, quoted, _signature = split_reply(body)
    assert new.split("\n") == ["Yes, Tuesday works.", "I'll bring them."]
    assert "Can you do Tuesday?" in quoted and "bring the slides?" in quoted


def test_bottom_posted_reply() -> None:
    body = (
        f"{ATTRIBUTIONS['thunderbird']}\n> Can you do Tuesday?\n> Bring slides.\n\n"
        "Yes to both. See you then.\n"
    )
    new, quoted, _signature = split_reply(body)
    assert new == "Yes to both. See you then."
    assert "Bring slides." in quoted


def test_quote_markers_without_attribution() -> None:
    new, quoted, _signature = split_reply("> an old line\n>> an older line\nMy answer.")
    assert new == "My answer."
    assert "an old line" in quoted and "an older line" in quoted


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("-- \nSam Reader\nHead of Data, Acme\n+1 555 0100", "-- \nSam Reader"),
        ("--\nSam", "--\nSam"),
        ("Sent from my iPhone", "Sent from my iPhone"),
        ("Get Outlook for Android", "Get Outlook for Android"),
    ],
)
def test_signature_is_split_off(signature: str, expected: str) -> None:
    new, _quoted, sig = split_reply(f"{OWN}\n\n{signature}")
    assert new == OWN
    assert sig.startswith(expected.strip())


def test_valediction_starts_the_signature_block() -> None:
    new, _quoted, sig = split_reply(f"{OWN}\n\nBest regards,\nSam Reader\nHead of Data, Acme")
    assert new.startswith(OWN)
    assert "Head of Data" in sig and "Head of Data" not in new


def test_signature_and_history_together() -> None:
    body = f"{OWN}\n\n-- \nSam Reader\nAcme\n\n{ATTRIBUTIONS['gmail']}\n> {EARLIER}\n"
    new, quoted, sig = split_reply(body)
    assert new == OWN
    assert "Sam Reader" in sig and EARLIER not in sig
    assert EARLIER in quoted


@pytest.mark.parametrize(
    "text",
    [
        "Just one line.",
        "From: the team's point of view this is fine.\nSecond line with no header in it.",
        "On balance I think we should go ahead.\nLet me know.",
        "Regards to everyone at the office who helped, it meant a lot to all of us here.\n"
        "Talk to you next week about the plan for the spring.",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert split_reply(text) == (text.strip(), "", "")


def test_a_pitch_quoting_a_friendly_introduction_is_judged_on_the_pitch() -> None:
    raw = (
        b"From: Mike <mike@outreachly.example>\nTo: Sam <sam@example.org>\n"
        b"Cc: Ana <ana@example.org>\nSubject: Re: Intro: Sam <> Mike\n"
        b"In-Reply-To: <intro@example.org>\n\n"
        b"Thanks Ana (moving you to bcc)! Sam, do you have 15 minutes this week for a demo of our "
        b"platform?\n\n"
        b"On Mon, 3 Mar 2025 at 10:00, Ana <ana@example.org> wrote:\n"
        b"> Sam, meet Mike, an old friend. You two should talk, I think you'd get on well.\n"
    )
    msg = parse_message(raw)
    assert "demo of our platform" in msg.new_text
    assert "old friend" not in msg.new_text
    assert "old friend" in msg.quoted_text


def test_a_polite_reply_quoting_a_pitch_is_judged_on_the_reply() -> None:
    raw = (
        b"From: Sam <sam@example.org>\nSubject: Re: extra income\n\n"
        b"Thanks for thinking of me, but I'll pass. Hope you're well!\n\n"
        b"On Mon, 3 Mar 2025 at 10:00, Tammy <tammy@example.com> wrote:\n"
        b"> Join my team and earn extra income from your phone! Be your own boss!\n"
    )
    msg = parse_message(raw)
    assert msg.new_text == "Thanks for thinking of me, but I'll pass. Hope you're well!"
    assert "extra income" in msg.quoted_text
