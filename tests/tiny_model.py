"""A small model trained in seconds on synthetic mail, for tests of the plumbing around the model.

The CLI, filter and model-file tests check contracts (fields, bytes, errors), not accuracy, so
they must not wait for the shipped model or for a two-minute training run. The messages below are
clearly separable, which makes the tiny model's labels predictable enough for the tests that
need one (an obvious pitch comes out `solicitation`), while every message is still a real
RFC 822 byte string that goes through `parse_message` like any other.
"""

from __future__ import annotations

from pathlib import Path

from triage.message.parse import parse_message
from triage.training import pipeline as model_store

NAMES = (
    "Priya Natarajan",
    "Tom Becker",
    "Ana Souza",
    "Wei Chen",
    "Olu Adeyemi",
    "Maria Rossi",
    "Jonas Berg",
    "Fatima Khan",
    "Liam Walsh",
    "Yuki Sato",
    "Carlos Mendez",
    "Hannah Cole",
    "Ivan Petrov",
    "Grace Lee",
    "Noah Fischer",
)

RELATIONSHIP = (
    "Thank you so much for the introduction to {x}. We had coffee on {day} and it was the most "
    "useful conversation I have had about {topic} in months. I owe you one, truly grateful.",
    "Congratulations on the new role at {x}! So well deserved after everything you did on "
    "{topic}. Happy for you, let's celebrate over lunch on {day} when you settle in.",
    "It has been too long since we caught up. I was thinking about our chat on {topic} and "
    "wondered how things are going at {x}. No agenda, just wanted to say hi. Coffee on {day}?",
    "I read your post about {topic} and it reminded me of the paper I mentioned when we met. "
    "Here it is in case it's useful, no need to reply. Hope {x} is treating you well.",
)
SOLICITATION = (
    "Hope this email finds you well. I came across your profile and would love an introduction "
    "to your contacts at {x}. Could you introduce me to the head of {topic}? Our platform helps "
    "teams grow revenue. Can you share this with your network?",
    "Are you looking for extra income? Join my team and be your own boss, financial freedom "
    "from your phone! Forward this to friends who might be interested. Reply by {day}.",
    "Quick question: we offer a referral bonus of $500 for every client you send our way. "
    "Do you know anyone at {x} who needs help with {topic}? Book a 15 minute call on my calendar.",
    "Just bumping this to the top of your inbox. Did you get a chance to look at our pricing for "
    "{topic}? Our solution has case studies with {x}. Grab a slot on my calendar before {day}.",
)
OTHER = (
    "Your order #{n} has shipped and will arrive on {day}. Track your package in your account. "
    "Items: {topic} starter kit from {x}. This is an automated message, do not reply.",
    "Reminder: the {topic} planning meeting moves to {day} at 10:00 in room {n}. Please update "
    "the agenda doc for {x} before then. Minutes from last week are attached.",
    "Weekly digest: {n} new posts in the {topic} forum this week. Top thread: migrating {x} "
    "to the new build system. Manage your email preferences or unsubscribe at any time.",
    "Hi, the invoice for {x} ({topic}) is now available. Amount due: {n} EUR by {day}. Payment "
    "will be collected automatically from the card on file.",
)
TOPICS = (
    "data pipelines",
    "hiring",
    "design systems",
    "pricing",
    "accessibility",
    "climate tech",
    "compilers",
    "fundraising",
)
COMPANIES = ("Acme", "Brightleaf", "Northwind", "Globex", "Initech", "Umbrella", "Hooli")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


# Mail the tiny model calls `other` and a user may call relationship: the learning tests
# correct its label and check that the personal model learns it.
CLUB_NOTICE = (
    "Hi! The vintage synthesizer repair club meets again on {day} in the back room of the "
    "Moog workshop. Bring your broken oscillators and patch cables; we will solder, swap "
    "schematics and share coffee. {name}"
)
CLUB_PEOPLE = (
    ("Monday", "Ana"),
    ("Tuesday", "Tom"),
    ("Friday", "Wei"),
    ("Sunday", "Olu"),
    ("Thursday", "Liam"),
    ("Wednesday", "Maria"),
    ("Saturday", "Jonas"),
)
# The labels and offense codes of domain.md, written out here rather than taken from triage,
# so that the CLI tests hold the output to the documented contract.
LABELS = {"relationship", "solicitation", "other"}
OFFENSE_CODES = {
    "introduction-ask",
    "network-harvesting",
    "referral-bounty",
    "mlm-recruiting",
    "what-can-you-do-for-me",
    "pitch-on-introduction",
}


def eml(
    body: str,
    *,
    sender: str = "Priya Natarajan <priya@brightleaf.io>",
    subject: str = "hello",
    message_id: str = "<test-1@example.com>",
    extra: str = "",
    newline: str = "\n",
) -> bytes:
    """A plain-text RFC 822 message as bytes."""
    lines = [
        f"From: {sender}",
        "To: Sam Reader <sam@example.org>",
        f"Subject: {subject}",
        "Date: Tue, 04 Mar 2025 09:12:00 +0100",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if extra:
        lines += extra.strip("\n").split("\n")
    text = newline.join(lines) + newline + newline + body.replace("\n", newline) + newline
    return text.encode("utf-8")


def corpus() -> tuple[list[bytes], list[str], list[tuple[str, ...]]]:
    """Deterministic synthetic messages, 24 per class, with offenses on the pitches."""
    raws: list[bytes] = []
    labels: list[str] = []
    offenses: list[tuple[str, ...]] = []
    # every offense code occurs, and one pitch in four names none (a plain sales bump)
    offense_of = (
        ("introduction-ask", "pitch-on-introduction"),
        ("mlm-recruiting", "network-harvesting"),
        ("referral-bounty", "what-can-you-do-for-me"),
        (),
    )
    for label, templates in (
        ("relationship", RELATIONSHIP),
        ("solicitation", SOLICITATION),
        ("other", OTHER),
    ):
        for i in range(24):
            template = templates[i % len(templates)]
            body = template.format(
                x=COMPANIES[i % len(COMPANIES)],
                topic=TOPICS[i % len(TOPICS)],
                day=DAYS[i % len(DAYS)],
                n=1000 + 37 * i,
            )
            name = NAMES[(i * 7 + len(label)) % len(NAMES)]
            domain = COMPANIES[(i + 3) % len(COMPANIES)].lower()
            addr = f"{name.split()[0].lower()}@{domain}.com"
            extra = (
                "List-Id: <digest.example.com>\nPrecedence: bulk"
                if (label == "other" and i % 4 == 2)
                else ""
            )
            raws.append(
                eml(
                    body + f"\n\n{name.split()[0]}",
                    sender=f"{name} <{addr}>",
                    subject=body.split(".")[0][:60],
                    message_id=f"<{label}-{i}@example.com>",
                    extra=extra,
                )
            )
            labels.append(label)
            offenses.append(offense_of[i % len(offense_of)] if label == "solicitation" else ())
    return raws, labels, offenses


def train_tiny_model(path: Path) -> Path:
    """Train on the synthetic corpus and save to `path` with the real `model.save`."""
    raws, labels, offenses = corpus()
    model = model_store.train([parse_message(r) for r in raws], labels, offenses)
    model.metadata.update(version="tiny-test-model", training_messages=len(raws))
    model_store.save(model, path)
    return path
