"""The draft rule's guards on what an offense may be named for (triage.decide.policy).

Each test fails when its rule is removed: the offense heads alone would name the offense and
write a draft to someone who did not commit it.
"""

from __future__ import annotations

import pytest

from triage.decide.offenses import OFFENSES, OffenseScores
from triage.decide.policy import Decision, DraftPolicy, SenderContext, decide
from triage.message.parse import Message, parse_message
from triage.model.features import SIGNAL_NAMES

# A message that makes the ask of every offense, so that only the rule under test decides.
ASKS = (
    b"Could you introduce me to your contact at Acme? Please forward this to your network. "
    b"I pay a $100 bonus for every referral. Join my team and earn extra income from home. "
    b"I'm looking for a job, what openings do you have? Let me show you a demo of our "
    b"platform, grab 15 minutes on my calendar."
)
MESSAGE = parse_message(
    b"From: Sam Ortiz <sam@ortiz.example>\nTo: Dana <dana@example.org>\n"
    b"Subject: hello\nMessage-ID: <1@ortiz.example>\n\nHello Dana, " + ASKS + b"\n"
)
SURE = {"relationship": 0.01, "solicitation": 0.98, "other": 0.01}


def _decide(
    offense: str, scores: dict[str, float] = SURE, message: Message = MESSAGE, **signals: float
) -> Decision:
    values = dict.fromkeys(SIGNAL_NAMES, 0.0) | signals
    heads = OffenseScores(
        worst=0.95, by_offense={code: 0.9 if code == offense else 0.05 for code in OFFENSES}
    )
    return decide(message, scores, heads, (), signals=values, model_version="test")


@pytest.mark.parametrize(
    ("offense", "backing", "ruled_out_by"),
    [
        ("introduction-ask", "asks_introduction", "offers_introduction"),
        ("what-can-you-do-for-me", "asks_for_job", "applies_to_posting"),
        ("referral-bounty", "offers_reward", "only_gives"),
        ("introduction-ask", "asks_introduction", "applies_to_posting"),
        ("network-harvesting", "mentions_network", "applies_to_posting"),
    ],
)
def test_an_offense_the_message_rules_out_is_not_named_or_drafted(
    offense: str, backing: str, ruled_out_by: str
) -> None:
    named = _decide(offense, **{backing: 1.0})
    assert named.offenses == (offense,) and named.draft
    ruled_out = _decide(offense, **{backing: 1.0, ruled_out_by: 0.5})
    assert offense not in ruled_out.offenses
    assert not ruled_out.draft
    assert ruled_out.label == "solicitation"  # the label stays; only the draft goes


@pytest.mark.parametrize(
    ("offense", "backing"),
    [("introduction-ask", "asks_introduction"), ("pitch-on-introduction", "introduction_context")],
)
def test_an_easy_no_rules_out_an_introduction_ask_and_making_it_easy_to_say_yes_does_not(
    offense: str, backing: str
) -> None:
    """domain.md: a considerate ask is no offense. "No worries if not" is considerate; "I can
    send you a blurb to forward" (the demo's own introduction ask) only makes yes easier."""

    def with_line(line: bytes) -> Message:
        return parse_message(
            b"From: Sam Ortiz <sam@ortiz.example>\nTo: Dana <dana@example.org>\n"
            b"Subject: hello\nMessage-ID: <5@ortiz.example>\n\nHello Dana, "
            + ASKS
            + b" "
            + line
            + b"\n"
        )

    easy_no = _decide(offense, message=with_line(b"No worries if not!"), **{backing: 1.0})
    assert offense not in easy_no.offenses and not easy_no.draft
    easy_yes = with_line(b"I can send you a blurb you can forward, it takes 30 seconds.")
    assert _decide(offense, message=easy_yes, **{backing: 1.0}).offenses == (offense,)


def test_using_an_introduction_to_pitch_needs_an_introduction_the_message_shows() -> None:
    without = _decide("pitch-on-introduction", sales_language=1.0)
    assert "pitch-on-introduction" not in without.offenses and not without.draft
    shown = _decide("pitch-on-introduction", sales_language=1.0, introduction_context=1.0)
    assert shown.offenses == ("pitch-on-introduction",) and shown.draft


def test_no_draft_when_no_sentence_shows_the_ask() -> None:
    vague = parse_message(
        b"From: Sam Ortiz <sam@ortiz.example>\nTo: Dana <dana@example.org>\n"
        b"Subject: hello\nMessage-ID: <2@ortiz.example>\n\n"
        b"Hello Dana, hope the week is going well for you and the team.\n"
    )
    decision = _decide("introduction-ask", message=vague, asks_introduction=1.0)
    assert decision.offenses == ("introduction-ask",) and decision.label == "solicitation"
    assert not decision.draft and "shows the ask" in decision.no_draft_because
    assert _decide("introduction-ask", asks_introduction=1.0).draft


def test_drafts_need_confidence_of_at_least_0_9_by_default() -> None:
    assert DraftPolicy().min_confidence == pytest.approx(0.9)
    unsure = {"relationship": 0.04, "solicitation": 0.9, "other": 0.06}
    # relationship is weighed 2x before the classes are compared: 0.9 / (0.9 + 0.08 + 0.06)
    decision = _decide("mlm-recruiting", unsure, mlm_language=1.0)
    assert decision.label == "solicitation" and 0.8 < decision.confidence < 0.9
    assert not decision.draft and "below 0.90" in decision.no_draft_because


def test_evidence_shown_is_what_a_person_would_call_a_reason() -> None:
    """Issue 13, item 12: a thank-you shown as pushing towards solicitation, a platform's own
    unsubscribe footer, and the sender's first name were shown as reasons."""
    from triage.decide.policy import Evidence

    msg = parse_message(
        b"From: Wes Ruiz <wes@ruiz.example>\nTo: Dana <dana@example.org>\nSubject: hi\n"
        b"Message-ID: <2@ruiz.example>\n\nThanks Dana! Join my team, extra income.\n"
    )
    evidence = (
        Evidence("signal:thanks", 0.4, "thanks you"),
        Evidence("words:wes", 0.3, "wes"),
        Evidence("words:and ll", 0.3, "and ll"),
        Evidence("words:extra income", 0.3, "extra income"),
        Evidence("signal:mlm_language", 0.2, "uses multi-level-marketing language"),
    )
    values = dict.fromkeys(SIGNAL_NAMES, 0.0)
    heads = OffenseScores(worst=0.1, by_offense=dict.fromkeys(OFFENSES, 0.1))
    decision = decide(msg, SURE, heads, evidence, signals=values, model_version="test")
    assert [e.feature for e in decision.evidence] == ["words:extra income", "signal:mlm_language"]
    assert "thanks you" not in decision.reasons
    relationship = decide(
        msg,
        {"relationship": 0.9, "solicitation": 0.05, "other": 0.05},
        heads,
        evidence,
        signals=values,
        model_version="test",
    )
    assert "signal:thanks" in [e.feature for e in relationship.evidence]


def _offender(
    headers: bytes = b"",
    sender: bytes = b"Sam Ortiz <sam@ortiz.example>",
    to: bytes = b"Dana <dana@example.org>",
) -> Message:
    return parse_message(
        b"From: " + sender + b"\nTo: " + to + b"\nSubject: hello\n"
        b"Message-ID: <3@ortiz.example>\n" + headers + b"\nHello Dana, " + ASKS + b"\n"
    )


@pytest.mark.parametrize(
    ("why", "message", "context"),
    [
        (
            "own mail",
            _offender(sender=b"Dana <dana.r@gmail.com>", to=b"Dana <dana.r@gmail.com>"),
            SenderContext(is_user=True),
        ),
        (
            "colleague",
            _offender(sender=b"Sam <sam@acme.example>", to=b"Dana <dana@acme.example>"),
            SenderContext(),
        ),
        ("automated", _offender(b"Auto-Submitted: auto-generated\n"), SenderContext()),
        ("mailing list", _offender(b"List-Id: <friends.lists.example>\n"), SenderContext()),
        ("bulk", _offender(b"Precedence: bulk\n"), SenderContext()),
        ("no-reply sender", _offender(sender=b"Acme <noreply@acme.example>"), SenderContext()),
        (
            "no-reply sender, role Reply-To",
            _offender(b"Reply-To: info@acme.example\n", sender=b"Acme <noreply@acme.example>"),
            SenderContext(),
        ),
        (
            "no-reply sender, sales Reply-To",
            _offender(b"Reply-To: sales@acme.example\n", sender=b"Acme <noreply@acme.example>"),
            SenderContext(),
        ),
        ("no sender", _offender(sender=b"undisclosed-recipients:;"), SenderContext()),
        ("cooldown", _offender(), SenderContext(recently_drafted=True)),
    ],
)
def test_every_never_draft_rule_holds(why: str, message: Message, context: SenderContext) -> None:
    """Each case is an offender the rule alone keeps from a draft (the control below drafts)."""
    values = dict.fromkeys(SIGNAL_NAMES, 0.0) | {"asks_introduction": 1.0}
    heads = OffenseScores(
        worst=0.95,
        by_offense={code: 0.9 if code == "introduction-ask" else 0.05 for code in OFFENSES},
    )
    decision = decide(
        message, SURE, heads, (), signals=values, model_version="test", context=context
    )
    assert decision.label == "solicitation" and decision.offenses == ("introduction-ask",)
    assert not decision.draft, why
    assert decision.no_draft_because
    control = decide(_offender(), SURE, heads, (), signals=values, model_version="test")
    assert control.draft


def test_a_contact_form_is_answered_at_the_visitor_s_reply_to() -> None:
    """Contact forms send a visitor's message from a no-reply address with the visitor in
    Reply-To: the draft (addressed by triage.replies to the Reply-To) may be written."""
    values = dict.fromkeys(SIGNAL_NAMES, 0.0) | {"asks_introduction": 1.0}
    heads = OffenseScores(
        worst=0.95,
        by_offense={code: 0.9 if code == "introduction-ask" else 0.05 for code in OFFENSES},
    )
    form = _offender(
        b"Reply-To: Sam Ortiz <sam@ortiz.example>\n", sender=b"Website <noreply@forms.example>"
    )
    decision = decide(form, SURE, heads, (), signals=values, model_version="test")
    assert decision.draft, decision.no_draft_because


def test_drafts_turned_off_write_none() -> None:
    values = dict.fromkeys(SIGNAL_NAMES, 0.0) | {"asks_introduction": 1.0}
    heads = OffenseScores(worst=0.95, by_offense=dict.fromkeys(OFFENSES, 0.9))
    decision = decide(
        _offender(),
        SURE,
        heads,
        (),
        signals=values,
        model_version="test",
        policy=DraftPolicy(enabled=False),
    )
    assert not decision.draft and decision.no_draft_because == "drafts are turned off"
