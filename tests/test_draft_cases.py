"""Drafts for offender messages in our own words (tests/draft_cases.txt): every letter names
the offense its sender committed, the situation the message shows, and the specific ask.

Each case says what a good draft must mention: the contact, company, reward or number of names
the sender asked about, copied from their ask, or the event where they met. Some say what it
must not contain (their broken English quoted back) and which parts it must use (an opening for
someone out of work, a note on someone's leave). The letters of one run must also read as
written for their recipient: no sentence of ours in more than a fifth of them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from triage.config import DraftsConfig
from triage.letters.draft_text import WORD_LIMIT, compose_letter
from triage.message.parse import parse_message

CASES_FILE = Path(__file__).with_name("draft_cases.txt")
USER = "sam@example.org"
DRAFTS = DraftsConfig(from_name="Sam Reader", addresses=(USER,))
# What a letter says for each situation the message shows. A first message that does not say
# so ("we haven't met", "I came across your profile") is "You wrote" (or "In your message,"
# when the ask is said plainly): the letter never claims a first contact it cannot see.
SITUATION_WORDS = {
    "cold": ("first message", "You wrote", "In your message,"),
    "event": ("met briefly",),
    "acquaintance": ("after all this time", "Getting back in touch"),
    "client": ("already work together",),
    "thread": ("reply",),
    "intro-introduced": ("introduced us",),
    "intro-introducer": ("I introduced you",),
}
# Words of ours that name each offense's harm in every variant of its paragraph
OFFENSE_WORDS = {
    "introduction-ask": ("introduc",),
    "network-harvesting": ("shar", "forward", "pass", "spread", "endorse"),
    "referral-bounty": ("paid", "pay", "reward", "money", "transaction"),
    "mlm-recruiting": ("business", "recruit", "sign up", "opportunity"),
    "what-can-you-do-for-me": ("help", "favour", "homework", "ask", "point you"),
    "pitch-on-introduction": ("pitch", "sell", "sales", "proposal"),
}


@dataclass(frozen=True)
class Case:
    name: str
    fields: dict[str, str]
    body: str

    def raw(self) -> bytes:
        f = self.fields
        headers = [f"From: {f['from']}", f"To: {f['to']}"]
        if f.get("cc"):
            headers.append(f"Cc: {f['cc']}")
        headers += [
            f"Subject: {f['subject']}",
            f"Message-ID: <{self.name}@cases.example>",
            "Date: Mon, 7 Dec 2026 09:00:00 +0000",
            "Content-Type: text/plain; charset=utf-8",
        ]
        return ("\r\n".join(headers) + "\r\n\r\n" + self.body + "\r\n").encode("utf-8")


def load_cases() -> list[Case]:
    cases = []
    for block in re.split(r"(?m)^=== ", CASES_FILE.read_text(encoding="utf-8"))[1:]:
        name, _, rest = block.partition("\n")
        head, _, body = rest.partition("\n---\n")
        fields = {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in head.splitlines() if ":" in line)
        }
        cases.append(Case(name.strip(), fields, body.strip()))
    return cases


CASES = load_cases()


def listed(case: Case, key: str) -> list[str]:
    """A case's optional list: `absent` (phrases the letter must not contain, such as the
    sender's broken English quoted back) or `parts` (template parts it must use, such as
    `opening-job-loss`)."""
    value = case.fields.get(key, "")
    return [item.strip() for item in value.split(" | ")] if value else []


def sentences(letter: str) -> list[str]:
    """Our sentences: without the greeting, the quote and the signature block."""
    text = re.sub(r"“[^”]*”", "", letter.split("\n", 1)[1])
    text = text.rsplit("\n\n", 1)[0]  # the sign-off and signature
    return [s.strip() for s in re.split(r"(?<=[.?])\s+", text) if len(s.split()) > 3]


def test_the_cases_cover_every_offense_and_situation() -> None:
    assert len(CASES) >= 40
    assert set(Counter(c.fields["offense"] for c in CASES)) == set(OFFENSE_WORDS)
    assert set(Counter(c.fields["context"] for c in CASES)) == set(SITUATION_WORDS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_draft_names_the_offense_the_situation_and_the_ask(case: Case) -> None:
    msg = parse_message(case.raw())
    offense = case.fields["offense"]
    letter = compose_letter(msg, (offense,), DRAFTS, USER)
    text = letter.text
    assert letter.main_offense == offense
    assert any(word in text.lower() for word in OFFENSE_WORDS[offense]), text
    assert any(words in text for words in SITUATION_WORDS[case.fields["context"]]), text
    for phrase in case.fields["mention"].split(" | "):
        assert phrase in text, (phrase, text)
    for phrase in listed(case, "absent"):
        assert phrase not in text, (phrase, text)
    for part in listed(case, "parts"):
        assert part in letter.parts, (part, letter.parts, text)
    signed = case.fields["signed"]
    if signed != "-":
        assert text.startswith(f"Hi {signed},\n"), text
    assert letter.words < WORD_LIMIT


def test_no_sentence_of_ours_is_in_more_than_a_fifth_of_the_letters() -> None:
    letters = [
        compose_letter(parse_message(c.raw()), (c.fields["offense"],), DRAFTS, USER).text
        for c in CASES
    ]
    counts = Counter(s for letter in letters for s in set(sentences(letter)))
    common = [(s, n) for s, n in counts.most_common(5) if n > len(letters) / 5]
    assert not common, common


def test_preview_shows_the_letter_or_why_none_with_no_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from triage.cli import main

    (offender,) = [c for c in CASES if c.name == "intro-ask-cold-01"]
    (tmp_path / "offender.eml").write_bytes(offender.raw())
    (tmp_path / "thanks.eml").write_bytes(
        b"From: Tom Becker <tom@northwind.example>\r\nTo: Sam Reader <sam@example.org>\r\n"
        b"Subject: Thank you\r\nMessage-ID: <t1@northwind.example>\r\n\r\n"
        b"Thank you so much for the introduction to Ana last week. Truly grateful.\r\n"
    )
    assert main(["drafts", "--preview", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    letter, other = out.split("== ")[1:]
    assert letter.startswith(str(tmp_path / "offender.eml"))
    assert "To: tomasz@routelark.io" in letter and "Offenses: introduction-ask" in letter
    assert "“" in letter and "Helen Okafor" in letter and "Hi Tomasz," in letter
    assert other.startswith(str(tmp_path / "thanks.eml")) and "no draft: " in other


def test_a_reply_in_a_thread_is_not_thanked_for_reaching_out() -> None:
    replies = [c for c in CASES if c.fields["context"] == "thread"]
    for case in replies:
        letter = compose_letter(parse_message(case.raw()), (case.fields["offense"],), DRAFTS, USER)
        assert "reaching out" not in letter.text and "getting in touch" not in letter.text
        assert letter.parts[0] in ("opening-reply", "opening-answer", "opening-kind-words"), (
            letter.text
        )


def test_an_ask_for_other_peoples_details_gets_a_word_on_privacy() -> None:
    from triage.letters.draft_templates import builtin_templates

    notes = builtin_templates().parts["privacy-note"]
    asked = [c for c in CASES if c.name in ("harvest-event-03", "harvest-client-05")]
    assert len(asked) == 2
    for case in asked:
        text = compose_letter(
            parse_message(case.raw()), (case.fields["offense"],), DRAFTS, USER
        ).text
        assert any(note in text for note in notes), text
    (intro,) = [c for c in CASES if c.name == "intro-ask-cold-01"]
    text = compose_letter(parse_message(intro.raw()), ("introduction-ask",), DRAFTS, USER).text
    assert not any(note in text for note in notes)


@pytest.mark.parametrize(
    ("ask", "wants_details"),
    [
        ("Could you send me the names and emails of five friends who own a bakery?", True),
        ("could you send me the emails of the three other team leads on your floor?", True),
        ("share your friends' emails with me", True),
        ("can I get your contact list?", True),
        ("send me phone numbers for anyone who might be interested", True),
        ("in exchange for a slot and the attendee list with emails", True),
        ("Could you forward my message or share his contact?", True),
        ("Just reply with their names and emails", True),
        ("the numbers look great for Q3, so let's talk", False),
        ("big names in the industry already read it", False),
        ("I got your email from Dana", False),
        ("forward this email to your network", False),
        ("share my email with your friends", False),
    ],
)
def test_only_an_ask_for_peoples_details_is_one(ask: str, wants_details: bool) -> None:
    """Blind readers found the privacy note answering "the numbers" and "big names"."""
    from triage.letters.draft_facts import asks_for_contact_details

    assert asks_for_contact_details(ask) is wants_details


@pytest.mark.parametrize(
    "says_why",
    [
        "I read your article on warehouse robotics and loved it.",
        "I've been following your podcast for a year.",
        "Our mutual friend Lucia suggested I write to you.",
    ],
)
def test_a_sender_who_says_what_brought_them_is_never_asked_why_me(says_why: str) -> None:
    """A blind reader marked "why me" to a sender who had cited the user's article as not
    having listened. Across the variants a message's wording picks, none asks it."""
    for n in range(12):
        raw = (
            f"From: Kai Moreno <kai@moreno.example>\r\nTo: Sam Reader <{USER}>\r\n"
            f"Subject: a question {n}\r\nMessage-ID: <why{n}@moreno.example>\r\n\r\n"
            f"Hi Sam, {says_why} I'm looking for a job in logistics. What can you do for me? "
            "Could you introduce me to your contact at Acme Freight?\r\n"
        ).encode()
        for offense in ("what-can-you-do-for-me", "introduction-ask"):
            letter = compose_letter(parse_message(raw), (offense,), DRAFTS, USER)
            text = letter.text
            if "your" in says_why:  # their work, not a friend, brought them: say thanks first
                assert letter.parts[0] == "opening-your-work", letter.parts
            assert not re.search(
                r"why me|why you thought of me|right person|know of my work", text
            ), text


@pytest.mark.parametrize(
    ("body", "offense", "false_here"),
    [
        (
            "Congratulations on the new role!! So proud of you. Also, I just joined an amazing "
            "business, join my team and earn from home with me!",
            "mlm-recruiting",
            r"opening with it",
        ),
        (
            "Hey, how's life in Toronto these days? I'm looking for a job, what openings do you "
            "have at your company? Send me anything you have.",
            "what-can-you-do-for-me",
            r"before showing any (curiosity|interest)",
        ),
        (
            "We have never met, but join my team and earn extra income from home with our "
            "wellness business! Sign up with my link.",
            "mlm-recruiting",
            r"as friends",
        ),
    ],
)
def test_no_sentence_says_what_the_message_shows_is_false(
    body: str, offense: str, false_here: str
) -> None:
    """Blind readers: "opening with it" to a sender who opened with congratulations, "before
    showing any curiosity" to one who asked after the reader, "as friends" to a stranger."""
    for n in range(12):
        raw = (
            f"From: Jo Banks <jo@banks.example>\r\nTo: Sam Reader <{USER}>\r\n"
            f"Subject: hello {n}\r\nMessage-ID: <unfit{n}@banks.example>\r\n\r\n"
            f"Hi Sam, {body}\r\n"
        ).encode()
        text = compose_letter(parse_message(raw), (offense,), DRAFTS, USER).text
        assert not re.search(false_here, text), text


def test_someone_introduced_by_a_friend_is_never_asked_why_me() -> None:
    """The introducer already said why; across every variant a message's wording picks, the
    letter does not ask it again (compose_letter picks variants by a hash of the message)."""
    introduced = [
        c
        for c in CASES
        if c.fields["context"] == "intro-introduced"
        and c.fields["offense"] in ("what-can-you-do-for-me", "introduction-ask")
    ]
    assert introduced
    for case in introduced:
        for n in range(12):
            varied = Case(
                case.name, {**case.fields, "subject": f"{case.fields['subject']} {n}"}, case.body
            )
            text = compose_letter(
                parse_message(varied.raw()), (case.fields["offense"],), DRAFTS, USER
            ).text
            assert "why me" not in text and "why you thought of me" not in text, text
