"""Message -> model input: the phrase machinery, each structural signal, and the row layout."""

from __future__ import annotations

import random

import numpy as np
import pytest
from tiny_model import eml

from triage.message.parse import Message, parse_message
from triage.model.features import (
    MAX_MODEL_TEXT,
    SIGNAL_NAMES,
    SIGNALS,
    model_text,
    prepare,
    signal_vector,
)
from triage.model.phrases import Text, phrases


def signals_of(msg: Message) -> dict[str, float]:
    return dict(zip(SIGNAL_NAMES, signal_vector(msg), strict=True))


def message(body: str, headers: str = "", **kwargs: str) -> Message:
    return parse_message(eml(body, extra=headers, **kwargs))


# ---------------------------------------------------------------------------- phrase patterns


def test_phrases_expand_choices_and_optional_words() -> None:
    assert phrases("(could|would) you [please] introduce") == {
        ("could", "you", "please", "introduce"),
        ("could", "you", "introduce"),
        ("would", "you", "please", "introduce"),
        ("would", "you", "introduce"),
    }


def test_phrases_keep_multiword_options_and_lowercase() -> None:
    assert phrases("Put Me (in touch|IN CONTACT) [with|to]") == {
        ("put", "me", "in", "touch"),
        ("put", "me", "in", "contact"),
        ("put", "me", "in", "touch", "with"),
        ("put", "me", "in", "contact", "with"),
        ("put", "me", "in", "touch", "to"),
        ("put", "me", "in", "contact", "to"),
    }


def test_phrases_of_only_optional_words_do_not_yield_the_empty_phrase() -> None:
    assert () not in phrases("[a|b]")
    assert phrases("[a|b]") == {("a",), ("b",)}


def test_text_tokens_are_lower_case_words_with_straight_apostrophes() -> None:
    text = Text.of("I’d LOVE an intro to your CTO, please!")
    assert text.tokens == ("i'd", "love", "an", "intro", "to", "your", "cto", "please")


@pytest.mark.parametrize(
    "body",
    [
        "I’d LOVE an INTRO TO your CTO.",
        "Could you please introduce me to her?",
        "would you\nintroduce me to the team",
    ],
)
def test_phrases_match_across_case_apostrophes_and_line_breaks(body: str) -> None:
    assert signals_of(message(body))["asks_introduction"] > 0


# ------------------------------------------------------------------------------------ signals


def test_signal_names_are_unique_and_described() -> None:
    assert len(set(SIGNAL_NAMES)) == len(SIGNAL_NAMES) == len(SIGNALS)
    assert all(signal.description for signal in SIGNALS)


@pytest.mark.parametrize(
    ("signal", "fires", "quiet"),
    [
        (
            "asks_introduction",
            "Could you introduce me to your CTO? A warm intro would be great.",
            "I introduced the two of them last year at the conference.",
        ),
        (
            "mentions_network",
            "Do you know anyone who might be interested? Please forward this to your network.",
            "The network was down all morning, the router is being replaced.",
        ),
        (
            "offers_reward",
            "We pay a $500 referral bonus for every client you send our way.",
            "The invoice is attached, thanks for the quick turnaround.",
        ),
        (
            "mlm_language",
            "Be your own boss and earn passive income from your phone!",
            "The phone bill came in higher than expected this month.",
        ),
        (
            "asks_for_job",
            "I am looking for a job. Any openings? Please refer me.",
            "The job finished overnight and the report is ready.",
        ),
        (
            "shows_homework",
            "I read your article on feature stores and your talk at PyData.",
            "Attached is the agenda for Thursday.",
        ),
        (
            "offers_help",
            "Happy to help if it's useful, no pressure at all.",
            "The build failed again on the main branch.",
        ),
        (
            "offers_help",
            "Could we talk for 20 minutes? If you're too busy I totally get it.",
            "Could we talk for 20 minutes? I am busy this week.",
        ),
        ("thanks", "Thank you so much, I'm really grateful.", "The build failed again."),
        (
            "congratulates",
            "Congratulations on the new role, so well deserved!",
            "The build failed again.",
        ),
        (
            "shared_history",
            "Great seeing you last week, let's catch up soon.",
            "Please review the attached contract.",
        ),
        (
            "template_markers",
            "Hi {{FirstName}}, hope this email finds you well. Quick question.",
            "Hi Sam, the kids loved the zoo.",
        ),
        (
            "calendar_link",
            "Grab a 15 minute slot here: https://calendly.com/mike/intro",
            "Lunch on Tuesday?",
        ),
        (
            "bump_followup",
            "Just bumping this to the top of your inbox, did you get a chance?",
            "Lunch on Tuesday?",
        ),
        (
            "sales_language",
            "Our platform helps teams grow revenue, book a demo for pricing.",
            "Lunch on Tuesday?",
        ),
        ("emoji", "Congrats!! 🎉🚀", "Congrats!!"),
        (
            "offers_introduction",
            "Want me to connect you with Priya at Fernhill? No pressure.",
            "Could you connect me with Priya at Fernhill?",
        ),
        (
            "asks_of_you",
            "Would you be open to a quick chat? Could you send me the deck?",
            "Thanks again for the deck, it was great.",
        ),
        (
            "stranger_opening",
            "We haven't met, my name is Jo and I came across your blog.",
            "Great seeing you at Anna's party last week.",
        ),
        (
            "only_gives",
            "Congrats on the promotion, so well deserved!",
            "Congrats on the promotion! Would you be open to a quick call about our platform?",
        ),
        (
            "written_to_group",
            "Hi all, thanks everyone for coming last night.",
            "Hi Sam, thanks for coming last night.",
        ),
        (
            "applies_to_posting",
            "Please find attached my application for the analyst role you posted.",
            "Do you have any openings for an analyst? I am looking for a job.",
        ),
        (
            "applies_to_posting",
            "I saw on Instagram you're hiring baristas, and I noticed the role on your careers "
            "page too.",
            "Do you know anyone hiring baristas? I am looking for a job.",
        ),
    ],
)
def test_phrase_signals_fire_on_their_words_only(signal: str, fires: str, quiet: str) -> None:
    assert signals_of(message(fires))[signal] > 0
    assert signals_of(message(quiet))[signal] == 0


def test_signals_read_the_new_text_not_the_quoted_history() -> None:
    body = (
        "Thanks for thinking of me but I'll pass. Take care!\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Tammy <tammy@example.com> wrote:\n"
        "> Be your own boss! Passive income from your phone, join my team!\n"
        "> Forward this to your network, I pay a $100 referral bonus.\n"
    )
    values = signals_of(message(body))
    assert values["mlm_language"] == 0
    assert values["offers_reward"] == 0
    assert values["mentions_network"] == 0
    assert values["reply_context"] == 1


@pytest.mark.parametrize(
    ("headers", "bulk"),
    [
        ("List-Id: <news.example.com>", 1.0),
        ("Precedence: bulk", 1.0),
        ("Precedence: list", 1.0),
        ("Auto-Submitted: auto-generated", 1.0),
        ("Auto-Submitted: no", 0.0),
        ("Feedback-ID: 123:campaign:esp", 1.0),
        ("X-Mailer: Thunderbird", 0.0),
        ("", 0.0),
    ],
)
def test_bulk_headers(headers: str, bulk: float) -> None:
    assert signals_of(message("Hello there, see below.", headers))["bulk_headers"] == bulk


def test_unsubscribe_in_header_or_footer() -> None:
    assert (
        signals_of(message("Hi.", "List-Unsubscribe: <mailto:u@example.com>"))["unsubscribe"] == 1
    )
    assert signals_of(message("News.\n\nTo unsubscribe click here."))["unsubscribe"] == 1
    assert signals_of(message("Just a note."))["unsubscribe"] == 0


def test_noreply_sender() -> None:
    assert (
        signals_of(message("Your code is 1234.", sender="Bank <no-reply@bank.example>"))[
            "noreply_sender"
        ]
        == 1
    )
    assert signals_of(message("Hi!", sender="Ana <ana@example.com>"))["noreply_sender"] == 0


def test_reply_and_introduction_context() -> None:
    plain = signals_of(message("Hi Sam, nice to meet you."))
    assert plain["reply_context"] == 0 and plain["introduction_context"] == 0
    reply = signals_of(
        message(
            "Thanks Ana (moving you to bcc). Sam, when suits you for coffee?\n\n"
            "On Mon, 3 Mar 2025 at 10:00, Ana <ana@example.org> wrote:\n"
            "> Sam, I'd like to introduce Mike. You two should talk.\n",
            "In-Reply-To: <intro@example.org>\nCc: Ana <ana@example.org>",
            subject="Re: Intro: Sam <> Mike",
        )
    )
    assert reply["reply_context"] == 1
    assert reply["introduction_context"] == 1


def test_platform_without_note_signal() -> None:
    without = parse_message(
        eml(
            "Jane Doe has invited you to connect\n\nJane Doe\nProduct Lead\n",
            sender="Jane Doe <invitations@linkedin.com>",
        )
    )
    with_note = parse_message(
        eml(
            "Jane Doe\n\n“Loved your PyData talk on feature stores, would be glad to stay in "
            "touch.”\n",
            sender="Jane Doe <invitations@linkedin.com>",
        )
    )
    assert without.platform == with_note.platform == "linkedin"
    assert signals_of(without)["platform_without_note"] == 1
    assert signals_of(with_note)["platform_without_note"] == 0
    assert signals_of(message("Hi"))["platform_without_note"] == 0  # short, but not a platform


def test_calendar_invite_signal() -> None:
    raw = (
        b"From: a@example.com\nSubject: Invitation: sync\nContent-Type: multipart/mixed; "
        b"boundary=b\n\n--b\nContent-Type: text/plain\n\nSync on Tuesday.\n--b\n"
        b"Content-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n"
        b"--b--\n"
    )
    assert signals_of(parse_message(raw))["calendar_invite"] == 1
    assert signals_of(message("Sync on Tuesday."))["calendar_invite"] == 0


def test_you_focus_and_questions() -> None:
    about_you = signals_of(message("How was your trip? Did your talk go well? How are you?"))
    about_me = signals_of(message("I built our product. We grew our revenue. My team is great."))
    assert about_you["you_focus"] > about_me["you_focus"]
    assert about_you["questions_for_you"] == 1
    assert about_me["questions_for_you"] == 0


def test_questions_are_the_runs_that_end_in_a_question_mark() -> None:
    body = "Thanks. How are you? I wonder\nwhether your team is hiring? No. And you!"
    # "How are you?" and "whether your team is hiring?" ask about the reader; nothing else
    assert signals_of(message(body))["questions_for_you"] == pytest.approx(2 / 3)
    assert signals_of(message("Is it? Is it? Was it?"))["questions_for_you"] == 0


def test_generic_greeting() -> None:
    assert signals_of(message("Hi there,\n\nWe help companies."))["generic_greeting"] == 1
    assert signals_of(message("Hi Sam,\n\nGreat to see you."))["generic_greeting"] == 0


def test_length_and_links_grow_and_saturate() -> None:
    short = signals_of(message("Thanks!"))
    long = signals_of(message(" https://a.example/x " * 20 + "word " * 5_000))
    assert 0 < short["length"] < long["length"] <= 1
    assert short["links"] == 0 and long["links"] == 1


@pytest.mark.parametrize("seed", range(20))
def test_every_signal_is_between_0_and_1_on_hostile_text(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab $€£{}[]%_?!.\n>:@/🎉’'\"" + "".join(
        chr(rng.randrange(32, 0x2FFF)) for _ in range(50)
    )
    body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20_000)))
    values = signal_vector(message(body))
    assert len(values) == len(SIGNALS)
    assert all(0.0 <= v <= 1.0 and np.isfinite(v) for v in values), values


# ---------------------------------------------------------------------------- model input


def test_model_text_is_subject_new_text_and_a_little_signature() -> None:
    msg = message(
        "Great to see you at PyCon!\n\n-- \nSam Reader\nHead of Data\n\n"
        "On Mon, 3 Mar 2025, Ana wrote:\n> quoted words here\n",
        subject="PyCon follow-up",
    )
    text = model_text(msg)
    assert text.startswith("PyCon follow-up\nGreat to see you at PyCon!")
    assert "Sam Reader" in text
    assert "quoted words" not in text


def test_model_text_is_capped() -> None:
    assert len(model_text(message("word " * 10_000))) == MAX_MODEL_TEXT


def test_model_text_falls_back_to_the_body_when_no_new_text() -> None:
    msg = message("> only a quote\n> and nothing else")
    assert msg.new_text == ""
    assert "only a quote" in model_text(msg)


def test_prepare_rows() -> None:
    messages = [message("Thank you!"), message("Join my team, extra income!")]
    rows = prepare(messages)
    assert rows.shape == (2, 1 + len(SIGNALS))
    assert rows[0, 0] == model_text(messages[0])
    assert list(rows[1, 1:]) == signal_vector(messages[1])
    assert prepare([]).shape == (0, 1 + len(SIGNALS))
