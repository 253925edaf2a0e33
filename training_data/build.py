#!/usr/bin/env python3
"""Build `messages/*.eml` and `labels.csv` from the hand-written records in `source/*.txt`.

`python training_data/build.py` writes the output; `--check` builds in memory and exits 1 when the
committed output differs from what the sources give.

Writers supply only what a person types. This module supplies what a mail client or a sending
service adds, varied the way real mail varies (addresses, dates, Message-IDs, header order, MIME
structure, charsets, transfer encodings, quoting styles, notification wrappers), so that a model
trained on the corpus learns from the words and from headers that really follow the channel, never
from an artefact of this build. MIME structure is chosen by the sender's client, not by the label.

Determinism: everything random comes from a `random.Random` seeded with a SHA-256 of the record id,
so one record's output does not change when others are added, and the bytes are the same on any
machine and Python 3.11+. Nothing reads the clock, the locale or set ordering.

Line endings are "\\n": that is how Maildir and mbox keep mail on disk, git stores it without CRLF
churn, and every parser (Python's included) accepts it; CRLF is a detail of the SMTP/IMAP wire.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import re
import sys
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.charset import BASE64, QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import MIMEPart
from email.policy import EmailPolicy
from email.utils import formataddr
from html import escape
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sources  # noqa: E402

MESSAGES = HERE / "messages"
LABELS = HERE / "labels.csv"


class _Verbatim(EmailPolicy):
    """Stores and returns header values exactly as given, as plain strings. Headers are encoded
    and folded here, because B or Q encoding, charset spelling and folding are part of what
    differs between real clients (and skipping the header registry makes the build 2x faster)."""

    def header_store_parse(self, name, value):
        return (name, str(value))

    def header_fetch_parse(self, name, value):
        return value


POLICY = _Verbatim(
    linesep="\n", max_line_length=76, refold_source="none", cte_type="8bit", mangle_from_=False
)
CONTENT = "<content>"  # where a client puts the MIME entity headers in its header order


# ---------------------------------------------------------------- randomness and small helpers


def rng_for(record_id: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:8], "big"))


def stable(text: str) -> int:
    """A hash of `text` that is the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def pick(rng: random.Random, table):
    """Weighted choice from ((item, weight), ...)."""
    return rng.choices([item for item, _ in table], [w for _, w in table])[0]


def hexs(rng, n):
    return f"{rng.getrandbits(4 * n):0{n}x}"


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def chars(rng, n, alphabet=B64):
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid4(rng):
    h = hexs(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def digits(rng, n):
    return str(rng.randrange(10 ** (n - 1), 10**n))


def ip(rng, *prefix):
    return ".".join(str(p) for p in prefix) + "".join(
        f".{rng.randrange(1, 255)}" for _ in range(4 - len(prefix))
    )


# ---------------------------------------------------------------- people and addresses

READERS = [
    line.split("|")
    for line in """\
Maya Goldberg|maya.goldberg@gmail.com|Brightline Health|Product Lead|pacific
Daniel Okoye|dokoye@northwindanalytics.com|Northwind Analytics|Head of Data|eastern
Sofia Marquez|sofia@marquezdesign.studio|Marquez Design Studio|Founder|central
Kenji Watanabe|kenji.watanabe@outlook.com|Harbor Logistics|Operations Manager|tokyo
Priyanka Rao|prao@cs.lakemont.edu|Lakemont University|Associate Professor|eastern
Liam O'Connell|liam.oconnell@fastmail.com|Greenway Energy|Senior Engineer|london
Amara Nwosu|amara.nwosu@tidepoolhq.com|Tidepool|VP Operations|lagos
Jonas Becker|jonas.becker@posteo.de|Becker & Lang Architekten|Partner|berlin
Chloé Dubois|chloe.dubois@orange.fr|Atelier Lumen|Creative Director|berlin
Ethan Park|ethan@parkventures.vc|Park Ventures|General Partner|pacific
Fatima Haddad|fhaddad@meridianbank.com|Meridian Bank|Risk Director|eastern
Grace Liu|grace.liu@icloud.com|Liu & Partners|Managing Director|pacific
Marcus Johnson|marcus.j@hey.com|Fieldnote|CTO|mountain
Elena Petrova|e.petrova@kestrel-robotics.com|Kestrel Robotics|Engineering Manager|berlin
Samuel Mensah|samuel.mensah@yahoo.com|Accra Digital Hub|Program Director|london
Hannah Schmidt|hannah.schmidt@stadtwerke-nordheim.de|Stadtwerke Nordheim|Head of IT|berlin
Ravi Menon|ravi@menonlaw.in|Menon & Associates|Senior Partner|kolkata
Olivia Bennett|olivia.bennett@proton.me|Bennett Coaching|Executive Coach|london
Tomás Herrera|therrera@vantapay.com|VantaPay|Head of Partnerships|saopaulo
Aiko Tanaka|aiko.tanaka.design@gmail.com|Shoreline Games|Art Director|tokyo
Noah Williams|nwilliams@crestviewschools.org|Crestview School District|Superintendent|central
Zainab Yusuf|z.yusuf@ashgrove.ac.uk|Ashgrove University|Lecturer in Public Health|london
Lucas Moreau|lucas@moreau-conseil.fr|Moreau Conseil|Consultant|berlin
Isabella Rossi|isabella.rossi@outlook.com|Rossi Imports|Owner|eastern
Ahmed Karim|ahmed.karim@quarrylane.io|Quarry Lane|Staff Engineer|eastern
Emily Carter|emily@cartercreative.co|Carter Creative|Brand Strategist|pacific
Mateo Silva|mateo.silva@gmail.com|Orla Foods|Supply Chain Lead|saopaulo
Nadia Kowalski|nkowalski@beaconhill-partners.com|Beacon Hill Partners|Principal|eastern
Seun Adeyemi|seun.adeyemi@gmail.com|Lagos Fintech Collective|Community Lead|lagos
Sarah Thompson|sthompson@riverbendclinic.org|Riverbend Clinic|Practice Manager|central
Wei Zhang|wei.zhang@summitridgecap.com|Summit Ridge Capital|Investment Analyst|singapore
Ingrid Larsen|ingrid.larsen@fastmail.com|Nordlys Consulting|Independent Consultant|berlin
Diego Fernández|diego@cobaltlabs.dev|Cobalt Labs|Co-founder|central
Rebecca Klein|rklein@hollisfoundation.org|Hollis Foundation|Grants Director|eastern
Arjun Patel|arjun.patel92@gmail.com|Evergreen Media|Growth Marketer|kolkata
Megan O'Brien|megan.obrien@outlook.com|Harbourside Dental|Office Manager|london
Youssef Benali|y.benali@atlasfreight.ma|Atlas Freight|Commercial Director|berlin
Charlotte Evans|charlotte@evanshr.co.uk|Evans HR|HR Consultant|london
Kwabena Asare|kasare@westbrook.edu|Westbrook University|Director of Career Services|eastern
Julia Novak|julia.novak@gmail.com|Novak Translation|Translator|berlin
Ben Adler|ben@adlerandco.com|Adler & Co|Managing Partner|pacific
Hiroshi Sato|h.sato@sakura-systems.jp|Sakura Systems|Product Manager|tokyo
Naledi Dlamini|naledi.dlamini@gmail.com|Ubuntu Health|Clinical Researcher|nairobi
Owen Hughes|owen@hughesandfield.com.au|Hughes & Field|Director|sydney
""".splitlines()
]

FREEMAIL = (  # domain, weight, provider
    ("gmail.com", 50, "google"),
    ("outlook.com", 7, "outlookcom"),
    ("hotmail.com", 5, "outlookcom"),
    ("yahoo.com", 6, "yahoo"),
    ("icloud.com", 6, "apple"),
    ("me.com", 1, "apple"),
    ("proton.me", 3, "proton"),
    ("protonmail.com", 1, "proton"),
    ("fastmail.com", 2, "fastmail"),
    ("aol.com", 2, "yahoo"),
    ("hey.com", 1, "other"),
    ("gmx.de", 2, "other"),
    ("web.de", 1, "other"),
    ("yahoo.co.uk", 1, "yahoo"),
    ("hotmail.co.uk", 1, "outlookcom"),
    ("live.com", 1, "outlookcom"),
    ("orange.fr", 1, "other"),
    ("libero.it", 1, "other"),
    ("comcast.net", 1, "other"),
    ("btinternet.com", 1, "other"),
    ("posteo.de", 1, "other"),
)
FREE_PROVIDER = {d: p for d, _, p in FREEMAIL}

# How likely a sender of each subtype writes from a personal free-mail address; "internal" means a
# colleague at the reader's own organisation.
FREEMAIL_P = {
    "family": 0.95,
    "friends-social": 0.9,
    "mlm": 0.85,
    "mlm-disguised": 0.9,
    "favor-from-friend": 0.7,
    "job-seeker-ask": 0.75,
    "reconnect": 0.55,
    "check-in": 0.5,
    "congratulations": 0.5,
    "travel": 0.7,
    "guest-post-pitch": 0.45,
    "podcast-pitch": 0.3,
    "sales-pitch": 0.08,
    "sales-sequence": 0.03,
    "bump-followup": 0.05,
    "agency-pitch": 0.1,
    "recruiter": 0.05,
    "recruiter-personal": 0.15,
    "investment-pitch": 0.2,
    "referral-bounty": 0.15,
    "support-ticket": 0.0,
    "school": 0.05,
    "medical-appointment": 0.0,
    "event-logistics": 0.15,
}
INTERNAL = {"work-thread", "hr-internal", "networking-event-internal"}

_FOLD = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "Ae",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "þ": "th",
        "ð": "d",
        "œ": "oe",
    }
)
TITLES = {
    "dr",
    "prof",
    "professor",
    "mr",
    "mrs",
    "ms",
    "mx",
    "miss",
    "rev",
    "reverend",
    "sister",
    "brother",
    "nurse",
    "coach",
    "principal",
    "assistant",
    "pastor",
    "sir",
    "dame",
    "officer",
    "captain",
    "judge",
    "uncle",
    "aunt",
    "auntie",
    "cousin",
    "grandma",
    "grandpa",
}
KIN = {
    "mum": "f",
    "mom": "f",
    "mama": "f",
    "mummy": "f",
    "mother": "f",
    "grandma": "f",
    "granny": "f",
    "nana": "f",
    "nan": "f",
    "gran": "f",
    "dad": "m",
    "daddy": "m",
    "papa": "m",
    "father": "m",
    "grandpa": "m",
}
NOT_ORG = {
    "phd",
    "md",
    "cfp",
    "mba",
    "cpa",
    "jr",
    "sr",
    "ii",
    "iii",
    "rn",
    "support",
    "helpdesk",
    "customerservice",
    "team",
    "hr",
    "it",
    "billing",
    "sales",
    "she",
    "he",
    "they",
}
NICKNAMES = {
    "robert": "rob",
    "william": "will",
    "michael": "mike",
    "elizabeth": "liz",
    "katherine": "kate",
    "alexander": "alex",
    "jennifer": "jen",
    "christopher": "chris",
    "daniel": "dan",
    "jonathan": "jon",
    "nicholas": "nick",
    "samantha": "sam",
    "benjamin": "ben",
    "matthew": "matt",
    "anthony": "tony",
    "thomas": "tom",
    "joseph": "joe",
    "margaret": "maggie",
    "rebecca": "becca",
    "stephanie": "steph",
    "timothy": "tim",
    "andrew": "andy",
    "james": "jim",
    "richard": "rich",
    "alexandra": "alex",
    "victoria": "tori",
    "gabriel": "gabe",
    "zachary": "zach",
    "patrick": "pat",
    "jessica": "jess",
    "oluwaseun": "seun",
    "abigail": "abby",
}
GIVEN = {
    "f": ("anne", "susan", "linda", "carol", "ruth", "helen", "maria", "joyce", "irene"),
    "m": ("john", "peter", "david", "paul", "george", "frank", "martin", "tom", "raj"),
}
ALL_GIVEN = GIVEN["f"] + GIVEN["m"]
SURNAMES = (
    "smith",
    "garcia",
    "kim",
    "nguyen",
    "muller",
    "rossi",
    "silva",
    "khan",
    "okafor",
    "novak",
    "larsen",
    "cohen",
    "tanaka",
    "martin",
    "brown",
    "mensah",
    "costa",
    "patel",
)
CO_A = (
    "north",
    "bright",
    "clear",
    "blue",
    "iron",
    "silver",
    "summit",
    "harbor",
    "cedar",
    "maple",
    "river",
    "stone",
    "oak",
    "pine",
    "swift",
    "true",
    "open",
    "first",
    "prime",
    "nova",
    "atlas",
    "vector",
    "lumen",
    "civic",
    "keystone",
    "meridian",
    "granite",
    "copper",
    "willow",
    "orbit",
    "beacon",
    "pioneer",
    "tandem",
    "kite",
    "fern",
    "echo",
)
CO_B = (
    "leaf",
    "path",
    "works",
    "labs",
    "point",
    "bridge",
    "field",
    "wave",
    "line",
    "forge",
    "scale",
    "loop",
    "stack",
    "grid",
    "base",
    "mark",
    "craft",
    "hub",
    "sight",
    "way",
    "logic",
    "flow",
    "source",
    "shift",
    "cloud",
    "ledger",
    "metrics",
    "signal",
)
TLDS = (
    (".com", 55),
    (".io", 14),
    (".co", 8),
    (".ai", 4),
    (".net", 4),
    (".org", 3),
    (".co.uk", 4),
    (".de", 3),
    (".app", 2),
    (".dev", 1),
    (".ca", 2),
)


def ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9]", "", folded.decode().lower())


def slug(text: str) -> str:
    words = (ascii_word(w) for w in re.split(r"[\s_/.-]+", text))
    return "-".join(w for w in words if w)


def split_display(display: str) -> tuple[list[str], str]:
    """'Mike @ Outreachly' -> (['mike'], 'Outreachly'); 'Prof. Helen Aldridge' -> (['helen',
    'aldridge'], ''). Titles, credentials and roles in parentheses are dropped."""
    person, org = display, ""
    m = re.match(r"(.+?)\s+(?:@|from|at|\||-|–|—)\s+(.+)$", display) or re.match(
        r"(.+?)\s*[,(]\s*([^)]+)\)?$", display
    )
    if m:
        person, org = m.group(1), m.group(2)
        if ascii_word(org) in NOT_ORG or org.lower().startswith("the ") and len(org) < 6:
            org = ""
    words = [ascii_word(w) for w in person.split()]
    words = [w for w in words if w and w not in TITLES] or [w for w in words if w]
    return words, org


def company_domain(rng, org: str = "") -> str:
    """A plausible domain for a named organisation, or an invented one (brightpath.io)."""
    words = [ascii_word(w) for w in org.split()]
    words = [
        w
        for w in words
        if w
        and w not in {"the", "inc", "llc", "ltd", "gmbh", "co", "corp", "and", "group", "limited"}
    ]
    if not words:
        words = [rng.choice(CO_A), rng.choice(CO_B)]
    base = "-".join(words[:3]) if len(words) > 1 and rng.random() < 0.2 else "".join(words[:3])
    base = pick(
        rng,
        ((base, 80), (base + "hq", 8), ("get" + base, 6), (base + "-group", 3), ("try" + base, 3)),
    )
    return base + pick(rng, TLDS)


def company_name(rng) -> str:
    a, b = rng.choice(CO_A).title(), rng.choice(CO_B)
    return pick(rng, ((a + b, 5), (f"{a} {b.title()}", 3), (f"{a}{b.title()}", 1)))


def local_part(rng, words: list[str], free: bool, family_name: str = "") -> str:
    """The part before @ in the forms people really use; free-mail ones often carry digits."""
    first = words[0] if words else rng.choice(ALL_GIVEN)
    last = words[-1] if len(words) > 1 else ""
    kin = first in KIN
    if kin:  # "Mum" writes from her own name, usually the family's surname
        first = rng.choice(GIVEN[KIN[first]])
    if kin or not last:
        last = family_name or rng.choice(SURNAMES)
    nick = NICKNAMES.get(first, first)
    year = rng.randrange(1958, 2005)
    num = pick(rng, ((f"{year % 100:02d}", 3), (str(year), 2), (str(rng.randrange(1, 999)), 3)))
    if free:
        forms = (
            (f"{first}.{last}", 20),
            (f"{first}{last}", 14),
            (f"{first}.{last}{num}", 14),
            (f"{first}{last}{num}", 12),
            (f"{first[0]}{last}{num}", 8),
            (f"{nick}{last}", 6),
            (f"{first}_{last}", 5),
            (f"{first}{num}", 8),
            (f"{last}.{first}", 3),
            (f"{nick}.{last[:1]}{num}", 3),
        )
    else:
        forms = (
            (f"{first}.{last}", 35),
            (first, 20),
            (f"{first[0]}{last}", 20),
            (f"{first}{last[:1]}", 5),
            (f"{first}_{last}", 3),
            (f"{first}{last}", 7),
            (nick, 5),
            (f"{first[0]}.{last}", 5),
        )
    local = pick(rng, [(f, w) for f, w in forms if f and not f.endswith((".", "_"))])
    return re.sub(r"[._]{2,}", ".", local).strip("._") or first


def person_address(display: str, subtype: str, reader=None) -> str:
    """The same name gets the same address in every record (seeded by the name), so the people
    of related records (an intro and its follow-up) agree."""
    words, org = split_display(display)
    family = reader.last_ascii if reader is not None and subtype == "family" else ""
    kin = bool(words) and words[0] in KIN  # every reader has a different "Mum"
    rng = rng_for(f"person:{display.strip().lower()}:{family if kin else ''}")
    if (
        reader is not None
        and subtype in INTERNAL
        and reader.domain not in FREE_PROVIDER
        and rng.random() < 0.85
    ):
        return f"{local_part(rng, words, False)}@{reader.domain}"
    free = not org and rng.random() < FREEMAIL_P.get(subtype, 0.4)
    domain = pick(rng, [(d, w) for d, w, _ in FREEMAIL]) if free else company_domain(rng, org)
    return f"{local_part(rng, words, free, family)}@{domain}"


def given_address(record) -> str:
    """The writer's `from_addr` when it is a usable address (else one is made up)."""
    addr = record.fields.get("from_addr", "").strip("<> ")
    return addr if re.fullmatch(r"[^@\s<>]+@[\w.-]+\.[A-Za-z]{2,}", addr) else ""


def provider_of(domain: str) -> str:
    """Which mail system a domain's users send from: free-mail is known, companies vary."""
    if domain in FREE_PROVIDER:
        return FREE_PROVIDER[domain]
    return (
        "google",
        "google",
        "google",
        "google",
        "microsoft",
        "microsoft",
        "microsoft",
        "microsoft",
        "other",
    )[stable(domain) % 9]


@dataclass(frozen=True)
class Reader:
    """The mailbox owner: who the mail is to, and what {reader...} placeholders become."""

    first: str
    last: str
    addr: str
    company: str
    title: str
    zone: str

    @property
    def full(self):
        return f"{self.first} {self.last}"

    @property
    def domain(self):
        return self.addr.split("@")[1]

    @property
    def last_ascii(self):
        return ascii_word(self.last)


def pick_reader(rng, record) -> Reader:
    """The mailbox owner for this record: internal mail needs one with a work domain."""
    pool = READERS
    if record.subtype in INTERNAL:
        pool = [r for r in READERS if r[1].split("@")[1] not in FREE_PROVIDER]
    pool = [r for r in pool if r[0] != record.fields.get("from")]
    name, addr, company, title, zone = rng.choice(pool)
    first, last = name.split(" ", 1)
    return Reader(first, last, addr, company, title, zone)


# ---------------------------------------------------------------- dates and time zones

# name: (standard offset in minutes, DST rule, abbreviations, Windows name, Google label)
ZONES = {
    "pacific": (-480, "us", ("PST", "PDT"), "Pacific Standard Time", "Pacific Time - Los Angeles"),
    "mountain": (-420, "us", ("MST", "MDT"), "Mountain Standard Time", "Mountain Time - Denver"),
    "central": (-360, "us", ("CST", "CDT"), "Central Standard Time", "Central Time - Chicago"),
    "eastern": (-300, "us", ("EST", "EDT"), "Eastern Standard Time", "Eastern Time - New York"),
    "saopaulo": (
        -180,
        None,
        ("BRT", "BRT"),
        "E. South America Standard Time",
        "Brasilia Standard Time - Sao Paulo",
    ),
    "london": (0, "eu", ("GMT", "BST"), "GMT Standard Time", "United Kingdom Time - London"),
    "berlin": (
        60,
        "eu",
        ("CET", "CEST"),
        "W. Europe Standard Time",
        "Central European Time - Berlin",
    ),
    "athens": (120, "eu", ("EET", "EEST"), "GTB Standard Time", "Eastern European Time - Athens"),
    "lagos": (
        60,
        None,
        ("WAT", "WAT"),
        "W. Central Africa Standard Time",
        "West Africa Time - Lagos",
    ),
    "nairobi": (180, None, ("EAT", "EAT"), "E. Africa Standard Time", "East Africa Time - Nairobi"),
    "kolkata": (330, None, ("IST", "IST"), "India Standard Time", "India Standard Time - Kolkata"),
    "singapore": (480, None, ("SGT", "SGT"), "Singapore Standard Time", "Singapore Standard Time"),
    "tokyo": (540, None, ("JST", "JST"), "Tokyo Standard Time", "Japan Standard Time - Tokyo"),
    "sydney": (
        600,
        "au",
        ("AEST", "AEDT"),
        "AUS Eastern Standard Time",
        "Eastern Australia Time - Sydney",
    ),
}
ZONE_WEIGHTS = (
    ("pacific", 14),
    ("mountain", 3),
    ("central", 8),
    ("eastern", 18),
    ("saopaulo", 3),
    ("london", 12),
    ("berlin", 12),
    ("athens", 2),
    ("lagos", 4),
    ("nairobi", 2),
    ("kolkata", 7),
    ("singapore", 3),
    ("tokyo", 3),
    ("sydney", 3),
)
START, END = date(2023, 1, 2), date(2026, 10, 31)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FULL_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# When people (or machines) send: acceptance weight per weekday and relative weight per hour.
RHYTHMS = {
    "work": (
        (1, 1, 1, 1, 0.9, 0.15, 0.12),
        (0, 0, 0, 0, 0, 1, 2, 4, 8, 10, 10, 9, 6, 8, 9, 8, 7, 5, 3, 2, 2, 2, 1, 1),
    ),
    "social": (
        (0.6, 0.6, 0.6, 0.7, 0.8, 1, 1),
        (1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 5, 4, 3, 3, 4, 5, 7, 9, 10, 9, 6, 3),
    ),
    "campaign": (
        (1, 1, 1, 1, 0.8, 0.3, 0.35),
        (1, 0, 0, 0, 1, 2, 6, 9, 10, 8, 6, 4, 3, 4, 5, 4, 3, 2, 2, 2, 1, 1, 1, 1),
    ),
    "machine": (
        (1, 1, 1, 1, 1, 0.8, 0.8),
        (2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 4, 3),
    ),
}
SOCIAL = {
    "family",
    "friends-social",
    "mlm",
    "mlm-disguised",
    "favor-from-friend",
    "reconnect",
    "congratulations",
    "travel",
}


def _sunday(year, month, nth):
    """The nth Sunday of a month (nth=-1: the last)."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta((6 - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(1)
    return last - timedelta((last.weekday() + 1) % 7)


def utc_offset(zone: str, day: date) -> int:
    """Minutes east of UTC on that day. DST rules are written out so no tz database is needed."""
    std, rule, *_ = ZONES[zone]
    y = day.year
    dst = (
        rule == "us"
        and _sunday(y, 3, 2) <= day < _sunday(y, 11, 1)
        or rule == "eu"
        and _sunday(y, 3, -1) <= day < _sunday(y, 10, -1)
        or rule == "au"
        and not _sunday(y, 4, 1) <= day < _sunday(y, 10, 1)
    )
    return std + 60 * dst


def in_zone(moment: datetime, zone: str) -> datetime:
    """The same instant in another zone (a server stamping its own local time)."""
    offset = utc_offset(zone, (moment.astimezone(UTC) + timedelta(minutes=ZONES[zone][0])).date())
    return moment.astimezone(timezone(timedelta(minutes=offset)))


def abbrev(moment: datetime, zone: str) -> str:
    return ZONES[zone][2][moment.utcoffset() != timedelta(minutes=ZONES[zone][0])]


def pick_moment(
    rng, zone: str, rhythm: str, near: date | None = None, days_from: tuple[int, int] = (-6, 0)
) -> datetime:
    """A send time with the rhythm's weekday and hour pattern; `near` a date the text mentions,
    the message is then sent `days_from` that date (before an event, on the day of a receipt)."""
    days, hours = RHYTHMS[rhythm]
    if near:
        options = [near + timedelta(k) for k in range(days_from[0], days_from[1] + 1)]
        day = rng.choices(options, [days[d.weekday()] + 0.01 for d in options])[0]
    else:
        while True:
            day = START + timedelta(rng.randrange((END - START).days))
            if rng.random() < days[day.weekday()]:
                break
    hour = rng.choices(range(24), hours)[0]
    minute = (
        rng.choice((0, 0, 0, 30, rng.randrange(60))) if rhythm == "campaign" else rng.randrange(60)
    )
    tz = timezone(timedelta(minutes=utc_offset(zone, day)))
    return datetime(day.year, day.month, day.day, hour, minute, rng.randrange(60), tzinfo=tz)


_MON = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DATE_MENTION = re.compile(
    r"\b(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
    r"(?:" + _MON + r"\s+(\d{1,2})(?:st|nd|rd|th)?"
    r"|(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MON + r")\b(?:,?\s+(20\d\d)\b)?",
    re.I,
)
TIME_MENTION = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b|\b([01]?\d|2[0-3])[:.](\d{2})\b", re.I
)
ZONE_MENTION = (
    ("pacific", r"\b(PST|PDT|PT|Pacific)\b"),
    ("eastern", r"\b(EST|EDT|ET|Eastern)\b"),
    ("central", r"\b(CST|CDT|CT|Central Time)\b"),
    ("mountain", r"\b(MST|MDT|MT)\b"),
    ("london", r"\b(GMT|BST)\b"),
    ("berlin", r"\bCES?T\b"),
    ("sydney", r"\bAE[SD]T\b"),
)


def mentioned_day(text: str, rng, loose=False) -> tuple[date, int] | None:
    """The first date the text names, and where it ends. Without `loose` only dates with a year
    or a weekday count (a bare "Sept 3" may be past or future); a weekday fixes the year."""
    for m in DATE_MENTION.finditer(text):
        dow, year = m[1], m[6]
        if not (dow or year or loose):
            continue
        month = [mon.lower() for mon in MONTHS].index((m[2] or m[5])[:3].lower()) + 1
        options = []
        for y in [int(year)] if year else range(START.year, END.year + 1):
            try:
                options.append(date(y, month, int(m[3] or m[4])))
            except ValueError:
                continue
        if dow and not year:
            options = [d for d in options if WEEKDAYS[d.weekday()].lower() == dow.lower()]
        if options and START <= options[0] <= END:
            return rng.choice(options), m.end()
    return None


def mentioned_times(text: str) -> list[tuple[int, int]]:
    """Up to two clock times ("3:00 - 4:00 PM", "16:00-17:00", "7pm") in the text."""
    times = []
    for m in TIME_MENTION.finditer(text):
        if m[1]:
            if int(m[1]) > 12:
                continue
            times.append([int(m[1]) % 12 + 12 * (m[3].lower() == "p"), int(m[2] or 0), True])
        else:
            times.append([int(m[4]), int(m[5]), False])
        if len(times) == 2:
            break
    if len(times) == 2 and not times[0][2] and times[1][2] and times[0][0] + 12 <= times[1][0]:
        times[0][0] += 12  # "3:00 - 4:00 PM"
    return [(h, mi) for h, mi, _ in times]


def rfc_date(moment: datetime, pad=False, utc=False, comment="") -> str:
    """An RFC 5322 date as a given client writes it, with English names whatever the locale."""
    if utc:
        moment = moment.astimezone(UTC)
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    day = f"{moment.day:02d}" if pad else str(moment.day)
    text = (
        f"{WEEKDAYS[moment.weekday()]}, {day} {MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} "
        f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    )
    return f"{text} ({comment})" if comment else text


def clock(moment: datetime, seconds=False) -> str:
    hour = moment.hour % 12 or 12
    sec = f":{moment.second:02d}" if seconds else ""
    return f"{hour}:{moment.minute:02d}{sec} {'AM' if moment.hour < 12 else 'PM'}"


# ---------------------------------------------------------------- header encoding


def encode_text(value: str, name: str, charset: str, b: bool, upper: bool) -> str:
    """An unstructured header (Subject): folded, RFC 2047-encoded when not ASCII."""
    if not value:
        return ""
    if value.isascii():
        return Header(value, "us-ascii", header_name=name).encode(linesep="\n")
    return _style(
        Header(value, _charset(value, charset, b), header_name=name).encode(linesep="\n"), upper
    )


def encode_addrs(pairs, charset: str, b: bool, upper: bool) -> str:
    """An address list: display names quoted or RFC 2047-encoded, folded when long."""
    parts = []
    for name, addr in pairs:
        if not name:
            parts.append(addr)
        else:
            parts.append(_style(formataddr((name, addr), _charset(name, charset, b)), upper))
    joined = ", ".join(parts)
    return ",\n ".join(parts) if len(joined) > 70 and len(parts) > 1 else joined


def _charset(text, charset, b):
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    cs = Charset(charset)
    cs.header_encoding = BASE64 if b else QP
    return cs


def _style(encoded: str, upper: bool) -> str:
    return re.sub(
        r"=\?([^?]+)\?([bqBQ])\?",
        lambda m: f"=?{m[1].upper() if upper else m[1]}?{m[2].upper()}?",
        encoded,
    )


def fold_ids(ids) -> str:
    return "\n ".join(ids) if len(" ".join(ids)) > 64 else " ".join(ids)


# ---------------------------------------------------------------- MIME pieces


def leaf(
    text: str,
    subtype: str,
    charset: str,
    cte: str,
    params=None,
    filename=None,
    keep_7bit_header=True,
) -> MIMEPart:
    """One text part. 7bit/8bit only where RFC 5322 allows it (ASCII / lines under 998 bytes)."""
    try:
        data = text.encode(charset)
    except UnicodeEncodeError:
        charset, data = "utf-8", text.encode("utf-8")
    if cte in ("7bit", "8bit"):
        if max(map(len, data.split(b"\n"))) > 990:
            cte = "quoted-printable"
        else:
            cte = "7bit" if data.isascii() else "8bit"
    part = MIMEPart(policy=POLICY)
    part.set_content(
        text,
        subtype=subtype,
        charset=charset,
        cte=cte,
        params=params,
        filename=filename,
        disposition="attachment" if filename else None,
    )
    if cte == "7bit" and not keep_7bit_header:
        del part["Content-Transfer-Encoding"]
    return part


def multipart(subtype: str, parts, boundary: str) -> MIMEPart:
    container = MIMEPart(policy=POLICY)
    container["Content-Type"] = (
        f'multipart/{subtype};\n boundary="{boundary}"'
        if len(boundary) > 40
        else f'multipart/{subtype}; boundary="{boundary}"'
    )
    for part in parts:
        container.attach(part)
    return container


def restyle(part: MIMEPart, unquote=False, upper_charset=False):
    """Apple and Thunderbird write `charset=utf-8` without quotes; Gmail writes "UTF-8"."""
    value = str(part["Content-Type"])
    if unquote:
        value = re.sub(r'="([\w.-]+)"', r"=\1", value)
    if upper_charset:
        value = re.sub(r'charset=("?)([\w-]+)', lambda m: f"charset={m[1]}{m[2].upper()}", value)
    part.replace_header("Content-Type", value)


def serialize(headers, root: MIMEPart) -> bytes:
    """The message as bytes, headers in the given order; CONTENT marks where the MIME entity
    headers of `root` go."""
    content = list(root.raw_items())
    for name, _ in content:
        del root[name]
    for name, value in headers:
        if name == CONTENT:
            for key, raw in content:
                root[key] = raw
        elif value is not None:
            root[name] = value
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=POLICY).flatten(root)
    return out.getvalue()


URL = re.compile(r"\b(https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])")


def tracked(rng, prefix: str):
    """A link rewriter, as click-tracking services rewrite every link in the HTML part."""
    return lambda url: prefix + chars(rng, 32, B64 + "-_")


def html_line(line: str, link=None) -> str:
    """One line of text as HTML, its URLs as links (rewritten by `link` when given)."""
    out, done = [], 0
    for m in URL.finditer(line):
        href = link(m[1]) if link else m[1]
        out += [
            escape(line[done : m.start()], quote=False),
            f'<a href="{escape(href)}">{escape(m[1], quote=False)}</a>',
        ]
        done = m.end()
    return "".join(out) + escape(line[done:], quote=False)


def html_paragraphs(text: str, style: str, link=None) -> str:
    """Paragraphs for service templates: blank lines split, single newlines become <br>."""
    paras = [p for p in re.split(r"\n\s*\n", text.strip("\n")) if p.strip()]
    return "\n".join(
        f'<p style="{style}">' + "<br>\n".join(html_line(ln, link) for ln in p.split("\n")) + "</p>"
        for p in paras
    )


def flowed(text: str) -> str:
    """RFC 3676 format=flowed, as Thunderbird sends plain text: soft breaks end in a space."""
    out = []
    for line in text.split("\n"):
        if line.startswith(">") or line == "-- ":
            out.append(line)
            continue
        line = line.rstrip(" ")
        pieces = (
            [line]
            if len(line) <= 72
            else textwrap.wrap(line, 72, break_long_words=False, break_on_hyphens=False)
        )
        pieces = [p + " " for p in pieces[:-1]] + [pieces[-1]]
        out.extend(" " + p if p.startswith((" ", "From ")) else p for p in pieces)
    return "\n".join(out)


# ---------------------------------------------------------------- mail clients

CLIENTS_BY_PROVIDER = {
    "google": (("gmail", 66), ("iphone", 15), ("apple", 12), ("thunderbird", 7)),
    "microsoft": (("outlook", 78), ("iphone", 12), ("apple", 10)),
    "outlookcom": (("outlookcom", 80), ("iphone", 20)),
    "apple": (("apple", 50), ("iphone", 50)),
    "yahoo": (("yahoo", 85), ("iphone", 15)),
    "fastmail": (("fastmail", 70), ("thunderbird", 20), ("iphone", 10)),
    "proton": (("proton", 85), ("thunderbird", 15)),
    "other": (("thunderbird", 35), ("outlook-smtp", 30), ("apple", 20), ("iphone", 15)),
}
_OUTLOOK_ORDER = (
    "From",
    "To",
    "CC",
    "Subject",
    "Thread-Topic",
    "Thread-Index",
    "Date",
    "Message-ID",
    "References",
    "In-Reply-To",
    "Accept-Language",
    "Content-Language",
    "X-MS-Has-Attach",
    "X-MS-TNEF-Correlator",
    "X-Originating-IP",
    CONTENT,
    "MIME-Version",
)
ORDER = {
    "gmail": (
        "MIME-Version",
        "References",
        "In-Reply-To",
        "From",
        "Date",
        "Message-ID",
        "Subject",
        "To",
        "Cc",
        CONTENT,
    ),
    "outlook": _OUTLOOK_ORDER,
    "outlookcom": _OUTLOOK_ORDER,
    "outlook-smtp": (
        "From",
        "To",
        "Cc",
        "References",
        "In-Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        CONTENT,
        "X-Mailer",
        "Thread-Index",
        "Content-Language",
        "X-Originating-IP",
    ),
    "apple": (
        CONTENT,
        "Mime-Version",
        "Subject",
        "From",
        "In-Reply-To",
        "Date",
        "Cc",
        "Message-Id",
        "References",
        "To",
        "X-Mailer",
    ),
    "iphone": (
        "From",
        CONTENT,
        "Mime-Version",
        "Subject",
        "Date",
        "Message-Id",
        "References",
        "Cc",
        "In-Reply-To",
        "To",
        "X-Mailer",
    ),
    "thunderbird": (
        "Message-ID",
        "Date",
        "MIME-Version",
        "User-Agent",
        "Subject",
        "To",
        "Cc",
        "References",
        "Content-Language",
        "From",
        "In-Reply-To",
        CONTENT,
    ),
    "yahoo": (
        "Date",
        "From",
        "Reply-To",
        "To",
        "Cc",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Subject",
        "MIME-Version",
        CONTENT,
        "X-Mailer",
        "X-Originating-IP",
    ),
    "proton": (
        "Date",
        "To",
        "From",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Feedback-ID",
        "X-Pm-Message-ID",
        "MIME-Version",
        CONTENT,
    ),
    "fastmail": (
        "MIME-Version",
        "Message-Id",
        "In-Reply-To",
        "References",
        "Date",
        "From",
        "To",
        "Cc",
        "Subject",
        CONTENT,
        "User-Agent",
    ),
    "tool": (
        "Date",
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "MIME-Version",
        CONTENT,
        "X-Mailer",
    ),
}
P_HTML = {
    "gmail": 0.9,
    "outlook": 0.97,
    "outlookcom": 0.97,
    "outlook-smtp": 0.85,
    "apple": 0.4,
    "iphone": 0.25,
    "thunderbird": 0.5,
    "yahoo": 1.0,
    "proton": 0.7,
    "fastmail": 0.8,
    "tool": 0.8,
}
# (P of B-encoding, charset name in upper case) for RFC 2047 words
HEADER_STYLE = {
    "gmail": (0.8, True),
    "outlook": (0.85, False),
    "outlookcom": (0.85, False),
    "outlook-smtp": (0.3, False),
    "apple": (0.1, False),
    "iphone": (0.2, False),
    "thunderbird": (0.1, True),
    "yahoo": (0.7, True),
    "proton": (0.5, True),
    "fastmail": (0.3, True),
    "tool": (0.5, True),
}
OUTLOOK_HOSTS = (
    (
        "namprd",
        (
            "DM6PR",
            "BN6PR",
            "SN6PR",
            "CH2PR",
            "MW4PR",
            "PH0PR",
            "SA1PR",
            "BY5PR",
            "CY4PR",
            "MN2PR",
            "IA1PR",
            "DS7PR",
            "LV3PR",
            "SJ0PR",
        ),
    ),
    ("eurprd", ("AM6PR", "DB9PR", "VI1PR", "PA4PR", "AS8PR", "DU0PR", "GV1PR")),
    ("apcprd", ("SG2PR", "TYZPR", "SEZPR", "KL1PR", "PS2PR")),
)
HTML_FRAMES = {  # head, line, blank line, before the quote, tail
    "gmail": ('<div dir="ltr">', "<div>{}</div>", "<div><br></div>", "</div>", "\n"),
    "outlook": (
        '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; '
        'charset={cs}">\n<style type="text/css" style="display:none;"> P {{margin-top:0;'
        'margin-bottom:0;}} </style>\n</head>\n<body dir="ltr">\n<div class='
        '"elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, '
        "Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; "
        'color: rgb(0, 0, 0);">\n',
        "{}<br>\n",
        "<br>\n",
        "</div>\n",
        "</body>\n</html>\n",
    ),
    "word": (
        '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:'
        'office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://'
        'schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">\n'
        '<head>\n<meta http-equiv="Content-Type" content="text/html; charset={cs}">\n<meta '
        'name="Generator" content="Microsoft Word 15 (filtered medium)">\n<style><!--\n'
        "p.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{{margin:0in;\n\tfont-size:11.0pt;\n\t"
        'font-family:"Calibri",sans-serif;}}\n--></style>\n</head>\n<body lang="EN-US" '
        'link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n<div class='
        '"WordSection1">\n',
        '<p class="MsoNormal">{}<o:p></o:p></p>\n',
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n',
        "",
        "</div>\n</body>\n</html>\n",
    ),
    "apple": (
        '<html aria-label="message body"><head><meta http-equiv="content-type" content='
        '"text/html; charset={cs}"></head><body style="overflow-wrap: break-word; '
        '-webkit-nbsp-mode: space; line-break: after-white-space;">',
        "<div>{}</div>",
        "<div><br></div>",
        "",
        "</body></html>",
    ),
    "iphone": (
        '<html><head><meta http-equiv="content-type" content="text/html; charset={cs}">'
        '</head><body dir="auto">',
        '<div dir="ltr">{}</div>',
        '<div dir="ltr"><br></div>',
        "",
        "</body></html>",
    ),
    "thunderbird": (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv="Content-Type" '
        'content="text/html; charset={cs}">\n  </head>\n  <body>\n',
        "    {}<br>\n",
        "    <br>\n",
        "",
        "  </body>\n</html>\n",
    ),
    "yahoo": (
        '<html><head></head><body><div class="yahoo-style-wrap" style="font-family:Helvetica'
        ' Neue, Helvetica, Arial, sans-serif;font-size:13px;">',
        '<div dir="ltr" data-setdir="false">{}</div>',
        '<div dir="ltr" data-setdir="false"><br></div>',
        "</div>",
        "</body></html>",
    ),
    "proton": (
        '<div style="font-family: Arial, sans-serif; font-size: 14px;">',
        "{}<br>",
        "<br>",
        "</div>",
        "",
    ),
    "fastmail": (
        "<!DOCTYPE html><html><head><title></title></head><body>",
        "<div>{}</div>",
        "<div><br></div>",
        "",
        "</body></html>",
    ),
    "tool": ("<div>", "<div>{}</div>", "<div><br></div>", "</div>", ""),
}
MOBILE = {
    "iphone": (("Sent from my iPhone", 75), ("Sent from my iPad", 5), ("", 20)),
    "outlook": (("Get Outlook for iOS", 5), ("Get Outlook for Android", 4), ("", 91)),
    "outlookcom": (("Get Outlook for iOS", 6), ("Get Outlook for Android", 6), ("", 88)),
    "yahoo": (
        ("Sent from Yahoo Mail for iPhone", 12),
        ("Sent from Yahoo Mail on Android", 8),
        ("", 80),
    ),
    "proton": (("Sent with Proton Mail secure email.", 45), ("", 55)),
}


def message_id(client: str, rng, domain: str, moment: datetime) -> str:
    """A Message-ID in the shape the client (or its mail system) generates."""
    ms = int(moment.timestamp() * 1000) + rng.randrange(1000)
    if client == "gmail":
        body = chars(rng, rng.randrange(44, 52), B64 + "+_-")
        return (
            f"<CA{rng.choice('+BDEFGHJKLMNOP')}{body}{rng.choice(('', '=', 'w', 'A'))}"
            "@mail.gmail.com>"
        )
    if client == "outlook":
        region, prefixes = pick(
            rng, ((OUTLOOK_HOSTS[0], 6), (OUTLOOK_HOSTS[1], 3), (OUTLOOK_HOSTS[2], 1))
        )
        n = rng.randrange(1, 23)
        host = f"{rng.choice(prefixes)}{n:02d}MB{rng.randrange(1000, 9999)}"
        return (
            f"<{host}{hexs(rng, rng.randrange(20, 26)).upper()}@{host}.{region}{n:02d}"
            ".prod.outlook.com>"
        )
    if client == "outlookcom":  # consumer Outlook.com: the same shape, upper case
        n = rng.choice((191, 192, 193, 220, 223, 250))
        host = (
            f"{rng.choice(('SN7', 'DM8', 'PH7', 'SJ0', 'AS8', 'DB8', 'PAX'))}P{n}MB"
            f"{rng.randrange(1000, 9999)}"
        )
        region = "EURP" if host[0] in "ADP" else "NAMP"
        return f"<{host}{hexs(rng, 24).upper()}@{host}.{region}{n}.PROD.OUTLOOK.COM>"
    if client == "outlook-smtp":
        return (
            f"<{rng.randrange(16**4):04x}01d{'ab'[moment.year >= 2024]}{hexs(rng, 4)}$"
            f"{hexs(rng, 8)}${hexs(rng, 8)}$@{domain}>"
        )
    if client in ("apple", "iphone"):
        return f"<{uuid4(rng).upper()}@{domain}>"
    if client == "thunderbird":
        return f"<{uuid4(rng)}@{domain}>"
    if client == "yahoo":
        return f"<{digits(rng, 10)}.{digits(rng, 7)}.{ms}@mail.yahoo.com>"
    if client == "proton":
        return f"<{chars(rng, 43, B64 + '_-')}=@{domain}>"
    if client == "fastmail":
        return f"<{uuid4(rng)}@app.fastmail.com>"
    return f"<{hexs(rng, 32)}@{domain}>"


def boundary(client: str, rng, mid: str) -> str:
    """A MIME boundary in the client's style (set explicitly: the email package's is random)."""
    if client == "gmail":
        return "000000000000" + hexs(rng, 16)
    if client in ("outlook", "outlookcom"):
        return "_000_" + re.sub(r"[^A-Za-z0-9]", "", mid)[:58] + "_"
    if client == "outlook-smtp":
        return (
            f"----=_NextPart_000_{hexs(rng, 4).upper()}_{hexs(rng, 8).upper()}."
            f"{hexs(rng, 8).upper()}"
        )
    if client == "apple":
        return "Apple-Mail=_" + uuid4(rng).upper()
    if client == "iphone":
        return "Apple-Mail-" + uuid4(rng).upper()
    if client == "thunderbird":
        return "------------" + chars(rng, 24, B64[26:])
    if client == "yahoo":
        return f"----=_Part_{digits(rng, 7)}_{digits(rng, 9)}.{digits(rng, 13)}"
    if client == "proton":
        return "b1=_" + chars(rng, 40)
    return hexs(rng, 32)


def client_extras(client: str, rng, moment: datetime) -> dict[str, str]:
    """Headers that only some clients write (User-Agent, X-Mailer, Thread-Index...)."""
    year = moment.year
    if client in ("outlook", "outlookcom", "outlook-smtp"):
        extras = {
            "thread-index": "AQH" + chars(rng, 30, B64 + "+/") + "==",
            "accept-language": "en-US",
            "content-language": "en-US",
            "x-ms-has-attach": "",
            "x-ms-tnef-correlator": "",
        }
        if client == "outlook-smtp":
            extras.update(
                {
                    "x-mailer": pick(
                        rng, (("Microsoft Outlook 16.0", 8), ("Microsoft Outlook 15.0", 1))
                    ),
                    "content-language": "en-us",
                }
            )
        if client != "outlook" and rng.random() < 0.25:
            extras["x-originating-ip"] = f"[{ip(rng, rng.choice((73, 24, 86, 92, 98, 174)))}]"
        return extras
    if client == "apple":
        build = rng.choice(
            ("3731.700.6", "3774.600.62", "3776.700.51", "3826.400.131.1.6", "3864.100.1.1.5")[
                min(year - 2023, 3) :
            ][:2]
        )
        return {
            "mime-version": f"1.0 (Mac OS X Mail 16.0 \\({build}\\))",
            "x-mailer": f"Apple Mail (2.{build})",
        }
    if client == "iphone":
        builds = (
            ("20E252", "20G75", "21A351"),
            ("21D61", "21E236", "22A3354"),
            ("22B83", "22D72", "22E240"),
            ("22G86", "23A341", "23B85"),
        )[year - 2023]
        return {"mime-version": "1.0 (1.0)", "x-mailer": f"iPhone Mail ({rng.choice(builds)})"}
    if client == "thunderbird":
        version = rng.choice(
            (
                ("102.15.1", "115.5.0"),
                ("115.8.1", "115.12.2"),
                ("128.6.0", "128.8.1"),
                ("140.1.0", "140.2.1"),
            )[year - 2023]
        )
        ua = "Mozilla Thunderbird"
        if not (version >= "128" or rng.random() < 0.3):
            system = rng.choice(
                (
                    "Windows NT 10.0; Win64; x64",
                    "X11; Linux x86_64",
                    "Macintosh; Intel Mac OS X 10.15",
                )
            )
            ua = (
                f"Mozilla/5.0 ({system}; rv:{version.split('.')[0]}.0) Gecko/20100101 "
                f"Thunderbird/{version}"
            )
        return {"user-agent": ua, "content-language": "en-US"}
    if client == "yahoo":
        extras = {
            "x-mailer": f"WebService/1.1.{digits(rng, 5)} "
            f"{rng.choice(('YMailNorrin', 'YMailNorrin', 'YahooMailIosMobile'))}"
        }
        if rng.random() < 0.3:
            extras["x-originating-ip"] = f"[{ip(rng, rng.choice((73, 24, 99, 107)))}]"
        return extras
    if client == "proton":
        return {
            "feedback-id": f"{digits(rng, 8)}:user:proton",
            "x-pm-message-id": chars(rng, 40, B64 + "_-"),
        }
    if client == "fastmail":
        return {
            "user-agent": f"Cyrus-JMAP/3.{11 + (year > 2024) * 2}.0-alpha0-{digits(rng, 4)}-g"
            f"{hexs(rng, 9)}-fm-{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
            f".001-g{hexs(rng, 8)}"
        }
    return {}


def attribution(client: str, moment: datetime, name: str, addr: str, rng) -> str:
    """The "On ... wrote:" line above a quote, in the client's wording and date format."""
    d, mon, day = moment.day, MONTHS[moment.month - 1], WEEKDAYS[moment.weekday()]
    hm = f"{moment.hour:02d}:{moment.minute:02d}"
    if client == "gmail" and rng.random() < 0.25:
        return f"On {day}, {d} {mon} {moment.year} at {hm}, {name} <{addr}> wrote:"
    if client in ("gmail", "tool"):
        return f"On {day}, {mon} {d}, {moment.year} at {clock(moment)} {name} <{addr}> wrote:"
    if client in ("apple", "iphone"):
        return f"On {mon} {d}, {moment.year}, at {clock(moment)}, {name} <{addr}> wrote:"
    if client == "thunderbird":
        return f"On {moment.month}/{d}/{moment.year % 100:02d} {clock(moment)}, {name} wrote:"
    if client == "yahoo":
        return (
            f"On {FULL_DAYS[moment.weekday()]}, {FULL_MONTHS[moment.month - 1]} {d}, "
            f"{moment.year} at {clock(moment, True)}, {name} <{addr}> wrote:"
        )
    if client == "proton":
        suffix = "th" if 10 < d < 14 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
        return (
            f"On {FULL_DAYS[moment.weekday()]}, {FULL_MONTHS[moment.month - 1]} {d}{suffix}, "
            f"{moment.year} at {clock(moment)}, {name} <{addr}> wrote:"
        )
    return f"On {day}, {d} {mon} {moment.year}, at {hm}, {name} wrote:"


def outlook_sent(moment: datetime, rng) -> str:
    if rng.random() < 0.7:
        return (
            f"{FULL_DAYS[moment.weekday()]}, {FULL_MONTHS[moment.month - 1]} {moment.day}, "
            f"{moment.year} {clock(moment)}"
        )
    return (
        f"{moment.day:02d} {FULL_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}"
    )


@dataclass
class Quote:
    """The earlier message a reply quotes."""

    text: str
    author: tuple[str, str]
    to: list
    moment: datetime
    subject: str
    mid: str


def quote_plain(client: str, q: Quote, moment: datetime, rng) -> str:
    """The quoted parent in text/plain: Outlook's header block, or an attribution and "> " lines."""
    when = q.moment.astimezone(moment.tzinfo)
    name, addr = q.author
    if client.startswith("outlook"):
        head = (
            "From: {n} <{a}>\nSent: {s}\nTo: {t}\nSubject: {j}"
            if rng.random() < 0.75
            else "From: {n} [mailto:{a}]\nSent: {s}\nTo: {t}\nSubject: {j}"
        )
        rule = pick(
            rng,
            (
                ("________________________________\n", 6),
                ("", 3),
                ("-----Original Message-----\n", 2 if client == "outlook-smtp" else 0),
            ),
        )
        to = "; ".join(f"{n} <{a}>" if n else a for n, a in q.to)
        return (
            rule
            + head.format(n=name, a=addr, s=outlook_sent(when, rng), t=to, j=q.subject)
            + "\n\n"
            + q.text
        )
    attr = attribution(client, when, name, addr, rng)
    if client == "gmail" and len(attr) > 78:
        attr = "\n".join(textwrap.wrap(attr, 78, break_long_words=False, break_on_hyphens=False))
    if client == "yahoo":
        return f"{attr}\n\n{q.text}"
    lines = [(">" if ln.startswith(">") else "> ") + ln if ln else ">" for ln in q.text.split("\n")]
    if client in ("apple", "iphone"):
        return "> " + attr + "\n> \n" + "\n".join(lines)
    return attr + "\n\n" + "\n".join(lines)


def quote_html(client: str, q: Quote, moment: datetime, rng) -> str:
    """The quoted parent in the client's own HTML markup (gmail_quote, blockquote type=cite...)."""
    when = q.moment.astimezone(moment.tzinfo)
    name, addr = q.author
    body = "".join(
        f"<div>{html_line(ln)}</div>" if ln.strip() else "<div><br></div>"
        for ln in q.text.split("\n")
    )
    attr = escape(attribution(client, when, name, addr, rng), quote=False)
    if client.startswith("outlook"):
        to = "; ".join(escape(f"{n} <{a}>" if n else a, quote=False) for n, a in q.to)
        return (
            '<div id="appendonsend"></div>\n<hr style="display:inline-block;width:98%" '
            'tabindex="-1">\n<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-'
            f'serif" style="font-size:11pt" color="#000000"><b>From:</b> {escape(name)} '
            f"&lt;{addr}&gt;<br>\n<b>Sent:</b> {outlook_sent(when, rng)}<br>\n<b>To:</b> {to}"
            f"<br>\n<b>Subject:</b> {escape(q.subject)}</font>\n<div>&nbsp;</div>\n</div>\n"
            f"<div>{body}</div>\n"
        )
    if client in ("gmail", "tool"):
        return (
            '<br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class='
            f'"gmail_attr">{attr}<br></div><blockquote class="gmail_quote" style="margin:0px'
            ' 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
            f"{body}</blockquote></div>"
        )
    if client in ("apple", "iphone"):
        return (
            f'<div><br><blockquote type="cite"><div>{attr}</div><br class="Apple-interchange'
            f'-newline"><div>{body}</div></blockquote></div>'
        )
    if client == "thunderbird":
        return (
            f'    <div class="moz-cite-prefix">{attr}<br>\n    </div>\n    <blockquote '
            f'type="cite" cite="mid:{q.mid.strip("<>")}">{body}</blockquote>\n'
        )
    if client == "yahoo":
        return (
            f'<div id="yahoo_quoted_{digits(rng, 10)}" class="yahoo_quoted"><div style="font-'
            "family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;color:"
            f'#26282a;"><div>{attr}</div><div><br></div><div><br></div>{body}</div></div>'
        )
    if client == "proton":
        return (
            f'<div class="protonmail_quote">{attr}<br><br><blockquote class="protonmail_quote"'
            f' type="cite">{body}</blockquote><br></div>'
        )
    return f'<div>{attr}<br></div><blockquote type="cite" id="qt">{body}</blockquote>'


def client_html(
    client: str, text: str, quote: str, charset: str, link=None, extra: str = ""
) -> str:
    """The HTML alternative a client generates from what was typed."""
    head, line, blank, mid, tail = HTML_FRAMES[client]
    body = "".join(
        line.format(html_line(ln, link)) if ln.strip() else blank for ln in text.split("\n")
    )
    return (
        head.replace("{cs}", charset).replace("{{", "{").replace("}}", "}")
        + body
        + extra
        + mid
        + quote
        + tail
    )


def text_encoding(client: str, rng, text: str) -> tuple[str, str]:
    """(charset, transfer encoding) for a client's text part, legacy charsets where they fit."""
    charset = "utf-8"
    if client in ("outlook", "outlook-smtp", "thunderbird", "apple", "tool") and rng.random() < 0.2:
        for legacy in rng.choice((("iso-8859-1", "windows-1252"), ("windows-1252", "iso-8859-1"))):
            try:
                text.encode(legacy)
                charset = legacy
                break
            except UnicodeEncodeError:
                pass
    elif text.isascii() and client in ("apple", "iphone", "outlook-smtp") and rng.random() < 0.7:
        charset = "us-ascii"
    if client in ("outlook", "outlookcom"):
        cte = pick(rng, (("quoted-printable", 6), ("base64", 4)))
    elif client == "proton":
        cte = pick(rng, (("base64", 6), ("quoted-printable", 4)))
    elif client in ("apple", "iphone"):
        cte = (
            "7bit"
            if text.isascii() and max(map(len, text.split("\n"))) <= 76
            else "quoted-printable"
        )
    elif client == "thunderbird":
        cte = "8bit"
    elif client in ("gmail", "yahoo", "fastmail", "tool"):
        cte = "7bit" if text.isascii() else pick(rng, (("quoted-printable", 8), ("base64", 2)))
    else:
        cte = pick(rng, (("quoted-printable", 6), ("7bit", 4)))
    return charset, cte


# ---------------------------------------------------------------- delivery: Received, Return-Path

LOWER_DIGITS = B64[26:]


def outbound_host(rng, provider: str, domain: str) -> tuple[str, str]:
    """The sending side's outbound server for a personal address: (host name, IP)."""
    if provider == "google":
        return (
            f"mail-{rng.choice(('ej1', 'wm1', 'qk1', 'pl1', 'lf1', 'yw1', 'io1', 'ed1'))}-f"
            f"{rng.randrange(41, 200)}.google.com",
            ip(rng, 209, 85),
        )
    if provider in ("microsoft", "outlookcom"):
        return (
            f"{rng.choice(('NAM12', 'NAM10', 'NAM11', 'EUR05', 'EUR03', 'APC01'))}-"
            f"{rng.choice(('BN8', 'DM6', 'MW2', 'CO1', 'DB5', 'AM7'))}-obe.outbound.protection"
            ".outlook.com",
            ip(rng, 40, 107),
        )
    if provider == "apple":
        return f"st43p00im-ztfb{digits(rng, 8)}.me.com", ip(rng, 17, 58)
    if provider == "yahoo":
        return (
            f"sonic{rng.randrange(300, 330)}-{rng.randrange(1, 60)}.consmr.mail."
            f"{rng.choice(('gq1', 'ne1', 'bf2'))}.yahoo.com",
            ip(rng, 66, 163),
        )
    if provider == "fastmail":
        return f"fout-{rng.choice('ab')}{rng.randrange(1, 8)}-smtp.messagingengine.com", ip(
            rng, 103, 168, 172
        )
    if provider == "proton":
        return f"mail-{digits(rng, 5)}.protonmail.ch", ip(rng, 185, 70)
    return (
        f"{rng.choice(('mail', 'smtp', 'mx1', 'out', 'mta'))}.{domain}",
        ip(rng, rng.choice((5, 31, 46, 62, 78, 85, 91, 104, 138, 144, 162, 185, 195, 212))),
    )


def received_by_reader(rng, reader: Reader, host: str, addr: str, moment: datetime) -> list[str]:
    """The reader's mail server accepting the message (and Gmail's internal hop on top)."""
    t = moment + timedelta(seconds=rng.randrange(1, 40))
    provider = provider_of(reader.domain)
    if provider == "google":
        t = in_zone(t, "pacific")
        stamp = f"{rfc_date(t, pad=True)} ({abbrev(t, 'pacific')})"
        sid = (
            f"{chars(rng, 10, LOWER_DIGITS)}.{rng.randrange(100, 999)}.{t.year}.{t.month:02d}."
            f"{t.day:02d}.{t.hour:02d}.{t.minute:02d}.{t.second:02d}"
        )
        lines = [
            f"from {host} ({host}. [{addr}])\n        by mx.google.com with ESMTPS id {sid}"
            f"\n        for <{reader.addr}>\n        (Google Transport Security);\n"
            f"        {stamp}"
        ]
        if rng.random() < 0.6:
            lines.insert(
                0,
                f"by 2002:a05:{hexs(rng, 4)}:{hexs(rng, 3)}:b0:{hexs(rng, 3)}:"
                f"{hexs(rng, 6)}:{hexs(rng, 4)} with SMTP id "
                f"{chars(rng, 9, B64[26:52])}csp{digits(rng, 7)};\n        {stamp}",
            )
        return lines
    if provider in ("microsoft", "outlookcom"):
        edge = (
            f"{rng.choice(('BN2PEPF', 'CO1PEPF', 'DS3PEPF', 'AM4PEPF', 'SN1PEPF'))}"
            f"{digits(rng, 8)}.{rng.choice(('namprd', 'eurprd'))}{rng.randrange(2, 21):02d}"
            ".prod.outlook.com"
        )
        return [
            f"from {host} ({addr}) by\n {edge} ({ip(rng, 10)}) with Microsoft SMTP Server "
            f"(version=TLS1_3,\n cipher=TLS_AES_256_GCM_SHA384) id 15.20.{digits(rng, 4)}."
            f"{rng.randrange(10, 40)} via Frontend Transport; {rfc_date(t, utc=True)}"
        ]
    mx = {
        "fastmail": f"mx{rng.randrange(1, 7)}.messagingengine.com",
        "apple": f"mx0{rng.randrange(1, 7)}.mail.icloud.com",
        "yahoo": f"mta{rng.randrange(4000, 5000)}.mail.{rng.choice(('gq1', 'bf1'))}.yahoo.com",
        "proton": f"mailin0{rng.randrange(1, 3)}.protonmail.ch",
    }.get(provider, f"mx.{reader.domain}")
    t = in_zone(t, reader.zone)
    tls = (
        (
            "\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\t key-exchange "
            "X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n\t(No client "
            "certificate requested)"
        )
        if rng.random() < 0.6
        else ""
    )
    return [
        f"from {host} ({host} [{addr}]){tls}\n\tby {mx} (Postfix) with ESMTPS id "
        f"{chars(rng, 11, B64[:26] + B64[52:])}\n\tfor <{reader.addr}>; {rfc_date(t)}"
    ]


def submitted(rng, provider: str, client: str, host: str, moment: datetime, rcpt: str) -> str:
    """The sender's own server taking the message from the sender's client."""
    if provider == "google":
        t = in_zone(moment, "pacific")
        return (
            f"by {host} with SMTP id {chars(rng, 22, LOWER_DIGITS)}.{rng.randrange(1, 30)}\n"
            f"        for <{rcpt}>; {rfc_date(t, pad=True)} ({abbrev(t, 'pacific')})"
        )
    if provider in ("microsoft", "outlookcom"):
        box = (
            f"{rng.choice(('DM6PR', 'PH0PR', 'AM6PR', 'SN6PR'))}{rng.randrange(10, 20)}MB"
            f"{rng.randrange(1000, 9999)}.{rng.choice(('namprd', 'eurprd'))}"
            f"{rng.randrange(2, 21):02d}.prod.outlook.com"
        )
        v6 = ":".join(hexs(rng, 4) for _ in range(4))
        return (
            f"from {box}\n ([fe80::{v6}]) by {box}\n ([fe80::{v6}%{rng.randrange(3, 7)}]) with "
            f"mapi id 15.20.{digits(rng, 4)}.{digits(rng, 3)}; {rfc_date(moment, utc=True)}"
        )
    helo = (
        "smtpclient.apple"
        if client in ("apple", "iphone")
        else f"[192.168.{rng.randrange(0, 5)}.{rng.randrange(2, 250)}]"
    )
    home = ip(rng, rng.choice((73, 24, 86, 92, 98, 174, 81, 2)))
    return (
        f"from {helo} (unknown [{home}])\n\tby {host} (Postfix) with ESMTPSA id "
        f"{chars(rng, 11, B64[:26] + B64[52:])}\n\tfor <{rcpt}>; {rfc_date(moment)}"
    )


@dataclass
class Envelope:
    """What a bulk/transactional sending service puts around a message."""

    mid: str
    return_path: str
    host: str
    ip: str
    boundary: str
    headers: dict
    order: tuple


ESP_ORDER = {
    "ses": (
        "From",
        "Reply-To",
        "To",
        "Subject",
        "MIME-Version",
        CONTENT,
        "Message-ID",
        "Date",
        "<extra>",
        "Feedback-ID",
        "X-SES-Outgoing",
    ),
    "sendgrid": (
        CONTENT,
        "Date",
        "From",
        "Mime-Version",
        "Message-ID",
        "Subject",
        "Reply-To",
        "<extra>",
        "X-SG-EID",
        "X-SG-ID",
        "To",
        "X-Entity-ID",
    ),
    "mailchimp": (
        "Subject",
        "From",
        "Reply-To",
        "To",
        "Date",
        "Message-ID",
        "X-Mailer",
        "X-Campaign",
        "X-campaignid",
        "X-Report-Abuse",
        "X-MC-User",
        "Feedback-ID",
        "<extra>",
        "MIME-Version",
        CONTENT,
    ),
    "mailgun": (
        "Mime-Version",
        CONTENT,
        "Subject",
        "From",
        "Reply-To",
        "To",
        "Date",
        "Message-Id",
        "<extra>",
        "X-Mailgun-Sid",
        "Sender",
    ),
    "postmark": (
        "Date",
        "From",
        "Reply-To",
        "To",
        "Message-ID",
        "Subject",
        "MIME-Version",
        CONTENT,
        "<extra>",
        "X-PM-Message-Id",
        "X-PM-RCPT",
        "Feedback-ID",
        "X-Complaints-To",
    ),
    "inhouse": (
        "Date",
        "From",
        "Reply-To",
        "To",
        "Message-ID",
        "Subject",
        "MIME-Version",
        CONTENT,
        "<extra>",
        "X-Mailer",
    ),
    "linkedin": (
        "Date",
        "From",
        "Sender",
        "To",
        "Message-ID",
        "Subject",
        "MIME-Version",
        CONTENT,
        "X-LinkedIn-Class",
        "X-LinkedIn-Template",
        "X-LinkedIn-fbl",
        "X-LinkedIn-Id",
        "<extra>",
        "Feedback-ID",
    ),
}


def envelope(esp: str, rng, domain: str, reader: Reader, moment: datetime) -> Envelope:
    """Message-ID, bounce address, outbound server and tracking headers of a sending service."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    rcpt = reader.addr.replace("@", "=")
    if esp == "ses":
        local = f"0100019{hexs(rng, 9)}-{uuid4(rng)}-000000"
        return Envelope(
            f"<{local}@email.amazonses.com>",
            f"<{local}@amazonses.com>",
            f"a8-{rng.randrange(10, 99)}.smtp-out.amazonses.com",
            ip(rng, 54, 240, 8),
            f"----=_Part_{digits(rng, 7)}_{digits(rng, 9)}.{digits(rng, 13)}",
            {
                "feedback-id": f"::1.us-east-1.{chars(rng, 43, B64 + '+/')}=:AmazonSES",
                "x-ses-outgoing": f"{moment.year}.{moment.month:02d}.{moment.day:02d}-"
                f"54.240.8.{rng.randrange(1, 255)}",
            },
            ESP_ORDER[esp],
        )
    if esp == "sendgrid":
        em = f"em{rng.randrange(1000, 9999)}.{domain}"
        return Envelope(
            f"<{chars(rng, 22, B64 + '-_')}@geopod-ismtpd-{rng.randrange(1, 40)}>",
            f"<bounces+{digits(rng, 8)}-{hexs(rng, 4)}-{rcpt}@{em}>",
            f"o{rng.randrange(1, 9)}.ptr{rng.randrange(1000, 9999)}.{domain}",
            ip(rng, *rng.choice(((149, 72), (167, 89)))),
            hexs(rng, 64),
            {
                "x-sg-eid": chars(rng, 120, B64 + "+/") + "==",
                "x-sg-id": chars(rng, 80, B64 + "+/") + "=",
                "x-entity-id": chars(rng, 22, B64 + "+/") + "==",
            },
            ESP_ORDER[esp],
        )
    if esp == "mailchimp":
        user, camp, dc = hexs(rng, 25), hexs(rng, 10), rng.randrange(2, 22)
        host = (
            f"mail{rng.randrange(10, 250)}.{rng.choice(('atl', 'sea', 'suw', 'wdc'))}"
            f"{rng.randrange(11, 250)}.mcdlv.net"
        )
        return Envelope(
            f"<{hexs(rng, 25)}.{camp}.{stamp}.{hexs(rng, 10)}.{hexs(rng, 8)}@"
            f"{host.replace('mcdlv', 'mcsv')}>",
            f"<bounce-mc.us{dc}_{digits(rng, 8)}.{digits(rng, 7)}-{hexs(rng, 10)}@{host}>",
            host,
            ip(rng, 198, 2, rng.randrange(128, 192)),
            f"_----------=_MCPart_{digits(rng, 10)}",
            {
                "x-mailer": f"MailChimp Mailer - **CID{camp}{hexs(rng, 10)}**",
                "x-campaign": f"mailchimp{user}.{camp}",
                "x-campaignid": f"mailchimp{user}.{camp}",
                "x-report-abuse": "Please report abuse for this campaign here: https://"
                f"mailchimp.com/contact/abuse/?u={user}&id={camp}&e="
                f"{hexs(rng, 10)}",
                "x-mc-user": user,
                "feedback-id": f"{digits(rng, 8)}:{digits(rng, 8)}.{digits(rng, 6)}:us{dc}:mc",
            },
            ESP_ORDER[esp],
        )
    if esp == "mailgun":
        return Envelope(
            f"<{stamp}.{hexs(rng, 16)}@{domain}>",
            f"<bounce+{hexs(rng, 6)}.{hexs(rng, 7)}-{rcpt}@mg.{domain}>",
            f"m{rng.randrange(30, 250)}-{rng.randrange(10, 99)}.mailgun.net",
            ip(rng, 159, 135, rng.randrange(224, 240)),
            hexs(rng, 32),
            {"x-mailgun-sid": chars(rng, 60, B64 + "+/") + "=", "sender": f"bounce@mg.{domain}"},
            ESP_ORDER[esp],
        )
    if esp == "postmark":
        pm = uuid4(rng)
        return Envelope(
            f"<{pm}@mtasv.net>",
            f"<pm_bounces@pm-bounces.{domain}>",
            f"mta{rng.randrange(10, 40)}.mta.postmarkapp.com",
            ip(rng, 50, 31, rng.randrange(156, 208)),
            "mk3-" + hexs(rng, 32),
            {
                "x-pm-message-id": pm,
                "x-pm-rcpt": "|" + chars(rng, 48, B64 + "+/") + "|",
                "feedback-id": f"s{rng.randrange(1000, 9999)}-{hexs(rng, 12)}:s"
                f"{rng.randrange(1000, 9999)}:a{digits(rng, 6)}:postmark",
                "x-complaints-to": "abuse@postmarkapp.com",
            },
            ESP_ORDER[esp],
        )
    if esp == "linkedin":
        ms = int(moment.timestamp() * 1000) + rng.randrange(1000)
        return Envelope(
            f"<{digits(rng, 10)}.{digits(rng, 7)}.{ms}@ltx1-app"
            f"{rng.randrange(1000, 9999)}.prod.linkedin.com>",
            f"<s-{chars(rng, 40, LOWER_DIGITS)}@bounce.linkedin.com>",
            f"mail{rng.choice('abcdefgh')}-a{rng.choice('cde')}.linkedin.com",
            ip(rng, 108, 174, rng.randrange(0, 8)),
            f"----=_Part_{digits(rng, 7)}_{digits(rng, 9)}.{ms}",
            {
                "x-linkedin-fbl": f"m2-{chars(rng, 60, B64 + '-_')}",
                "x-linkedin-id": f"{chars(rng, 12, B64 + '-_')}-{hexs(rng, 6)}",
                "sender": "messages-noreply@linkedin.com" if rng.random() < 0.5 else None,
            },
            ESP_ORDER[esp],
        )
    host = f"{rng.choice(('mail', 'smtp-out', 'mta', 'notify'))}{rng.randrange(1, 9)}.{domain}"
    mid = pick(
        rng,
        (
            (
                f"<{digits(rng, 9)}.{digits(rng, 5)}.{digits(rng, 13)}.JavaMail."
                f"{rng.choice(('svc_mail', 'appuser', 'notify'))}@{host.split('.')[0]}>",
                4,
            ),
            (f"<{hexs(rng, 16)}.{hexs(rng, 8)}@{host}>", 3),
            (f"<{uuid4(rng)}@{domain}>", 3),
        ),
    )
    mailer = pick(
        rng,
        (
            (None, 5),
            ("PHPMailer 6.8.1 (https://github.com/PHPMailer/PHPMailer)", 2),
            ("Microsoft CDO for Windows 2000", 1),
        ),
    )
    return Envelope(
        mid,
        f"<bounce-{hexs(rng, 12)}@{domain}>",
        host,
        ip(rng, rng.randrange(20, 220)),
        f"----=_Part_{digits(rng, 6)}_{digits(rng, 9)}.{digits(rng, 13)}",
        {"x-mailer": mailer},
        ESP_ORDER["inhouse"],
    )


# ---------------------------------------------------------------- channels: personal mail


@dataclass
class Ctx:
    """One record being built: its generator, its reader and its texts with placeholders filled."""

    rec: sources.Record
    rng: random.Random
    reader: Reader
    body: str
    quoted: str
    subject: str
    near: date | None  # a date the message names, so that its Date header agrees with it


TOOLS = (
    ("Outboundly", "outboundly.io"),
    ("Pipeforge", "pipeforge.com"),
    ("ReachLoop", "reachloop.app"),
    ("Cadenza Sales", "cadenzasales.com"),
    ("Leadpulse", "leadpulse.io"),
    ("Sendwave Sequences", "sendwave.co"),
)
STREETS = (
    "220 Harbor Way, Suite 300, Portland, OR 97209",
    "14 Canal Street, Manchester M1 3HE, UK",
    "Friedrichstrasse 88, 10117 Berlin, Germany",
    "401 Congress Ave, Suite 1540, Austin, TX 78701",
    "55 Water Street, 3rd Floor, Brooklyn, NY 11201",
    "Level 5, 80 George St, Sydney NSW 2000, Australia",
    "2100 Elm Street, Unit 4, Denver, CO 80205",
    "7 Quayside, Cork T12 X2Y4, Ireland",
    "1550 Wewatta St, Denver, CO 80202",
    "88 Queen Street West, Toronto, ON M5H 2M5, Canada",
)
# Bodies that already end in the sender's own footer get no second one.
HAS_FOOTER = re.compile(
    r"(?i)unsubscribe|opt[ -]?out|reply (\"?stop|\"?no\b)|remove you|manage "
    r"(your )?(email|notification|preference|setting)|you('re| are) receiving|"
    r"you received this|do not reply|don't reply|©"
)


def names_in(value: str) -> list[str]:
    return [n.strip() for n in re.split(r"[;,]|\s+and\s+|\s+&\s+", value) if n.strip()]


def sender_wrote_quote(rec: sources.Record) -> bool:
    """A quoted part addressed to the reader (or a merge field) is the sender's own earlier mail."""
    first = next((ln for ln in rec.quoted.split("\n") if ln.strip()), "")
    return (
        rec.channel == "sequence"
        or rec.subtype == "bump-followup"
        or bool(re.search(r"\{reader|\{\{|\[name\]|%first", first, re.I))
    )


def reply_subject(rng, client: str, subject: str) -> str:
    if re.match(r"(?i)^(re|aw|sv|fw|fwd|wg)\s*:", subject):
        return subject
    prefix = "RE: " if client.startswith("outlook") and rng.random() < 0.75 else "Re: "
    return pick(rng, ((prefix, 94), ("Re: Re: ", 4), ("AW: ", 2))) + subject


def thread(rng, author: tuple[str, str], moment: datetime, hours: tuple[float, float]):
    """A made-up parent message (and older ones) for In-Reply-To/References."""
    parent_at = moment - timedelta(minutes=rng.randrange(int(hours[0] * 60), int(hours[1] * 60)))
    domain = author[1].rsplit("@", 1)[1]
    client = pick(rng, CLIENTS_BY_PROVIDER[provider_of(domain)])
    refs = [
        message_id(pick(rng, CLIENTS_BY_PROVIDER[provider_of(domain)]), rng, domain, parent_at)
        for _ in range(pick(rng, ((0, 70), (1, 20), (2, 10))))
    ]
    return parent_at, refs + [message_id(client, rng, domain, parent_at)]


@dataclass
class MailingList:
    """The list a `list` post goes through: its address, servers, headers and footer."""

    addr: str
    desc: str
    kind: str
    headers: list
    footer: str
    prefix: str
    bounce: str
    inbound: str  # the list server that receives the post ...
    outbound: tuple[str, str]  # ... and the one that sends it on: (host, IP)


def mailing_list(c: Ctx, subject: str) -> MailingList:
    rng, reader = c.rng, c.reader
    m = re.match(r"(?:(?:re|aw|fwd?):\s*)*\[([^\]]+)\]", subject, re.I)
    name = (m and slug(m.group(1))) or rng.choice(
        (
            "members",
            "discuss",
            "community",
            "general",
            "neighbours",
            "parents",
            "alumni",
            "makers",
            "devs",
            "volunteers",
        )
    )
    desc = name.replace("-", " ").title()
    internal = c.rec.subtype in INTERNAL and reader.domain not in FREE_PROVIDER
    if internal:  # a company's own lists live on its own mail system
        kind = "googlegroups" if provider_of(reader.domain) == "google" else "mailman3"
    else:
        kind = pick(rng, (("mailman2", 3), ("mailman3", 3), ("googlegroups", 3), ("groupsio", 2)))
    org = reader.domain if internal else company_domain(rng).rsplit(".", 1)[0] + ".org"
    if kind == "googlegroups":
        host = org if internal else "googlegroups.com"
        addr = f"{name}@{host}"
        headers = [
            ("Precedence", "list"),
            ("Mailing-list", f"list {addr}; contact {name}+owners@{host}"),
            ("List-ID", f"<{name}.{host}>"),
            ("X-Google-Group-Id", digits(rng, 12)),
            (
                "List-Post",
                f"<https://groups.google.com/a/{host}/group/{name}/post>,\n <mailto:{addr}>",
            ),
            (
                "List-Help",
                f"<https://support.google.com/a/{host}/bin/topic.py?topic="
                f"25838>,\n <mailto:{name}+help@{host}>",
            ),
            (
                "List-Unsubscribe",
                f"<mailto:googlegroups-manage+{digits(rng, 12)}+"
                f"unsubscribe@googlegroups.com>,\n <https://groups.google."
                f"com/a/{host}/group/{name}/subscribe>",
            ),
        ]
        footer = (
            f"-- \nYou received this message because you are subscribed to the Google Groups"
            f' "{desc}" group.\nTo unsubscribe from this group and stop receiving emails '
            f"from it, send an email to {name}+unsubscribe@{host}."
        )
        return MailingList(
            addr,
            desc,
            kind,
            headers,
            footer,
            "",
            addr,
            "mx.google.com",
            (
                f"mail-{rng.choice(('sor', 'yw1', 'qk1'))}-f{rng.randrange(50, 200)}.google.com",
                ip(rng, 209, 85),
            ),
        )
    if kind == "groupsio":
        addr = f"{name}@groups.io"
        n = rng.randrange(100, 9000)
        headers = [
            ("Sender", addr),
            ("List-Id", f"<{name}.groups.io>"),
            ("Mailing-List", f"list {addr}; contact {name}+owner@groups.io"),
            ("List-Post", f"<mailto:{addr}>"),
            ("List-Unsubscribe", f"<mailto:{name}+unsubscribe@groups.io>"),
            ("Precedence", "Bulk"),
        ]
        footer = (
            "-=-=-=-=-=-=-=-=-=-=-=-\nGroups.io Links: You receive all messages sent to "
            f"this group.\nView/Reply Online (#{n}): https://groups.io/g/{name}/message/{n}\n"
            f"Leave Group: https://groups.io/g/{name}/leave/{digits(rng, 7)}\n"
            "-=-=-=-=-=-=-=-=-=-=-=-"
        )
        return MailingList(
            addr,
            desc,
            kind,
            headers,
            footer,
            f"[{name}] ",
            f"bounce+{digits(rng, 5)}+{n}@groups.io",
            "mx.groups.io",
            (f"mail0{rng.randrange(1, 4)}.groups.io", ip(rng, 66, 175, 222)),
        )
    host = f"lists.{org}"
    addr = f"{name}@{host}"
    mm3 = kind == "mailman3"
    headers = [
        ("X-BeenThere", addr),
        ("X-Mailman-Version", "3.3.9" if mm3 else "2.1.39"),
        ("Precedence", "list"),
        ("List-Id", f"<{name}.{host}>" if mm3 else f"{desc} <{name}.{host}>"),
        (
            "List-Unsubscribe",
            f"<mailto:{name}-leave@{host}>"
            if mm3
            else f"<https://{host}/mailman/options/{name}>,\n <mailto:{name}-request@{host}?"
            "subject=unsubscribe>",
        ),
        (
            "List-Archive",
            f"<https://{host}/archives/list/{addr}/>"
            if mm3
            else f"<https://{host}/pipermail/{name}/>",
        ),
        ("List-Post", f"<mailto:{addr}>"),
        ("List-Help", f"<mailto:{name}-request@{host}?subject=help>"),
        ("Errors-To", f"{name}-bounces@{host}"),
        ("Sender", f'"{desc}" <{name}-bounces@{host}>'),
    ]
    footer = (
        f"_______________________________________________\n{desc} mailing list -- {addr}\n"
        f"To unsubscribe send an email to {name}-leave@{host}"
        if mm3
        else f"_______________________________________________\n{desc} mailing list\n{addr}\n"
        f"https://{host}/mailman/listinfo/{name}"
    )
    prefix = "" if rng.random() < 0.4 else f"[{desc}] "
    server = (host, ip(rng, rng.choice((45, 104, 162, 178)), rng.randrange(1, 255)))
    return MailingList(
        addr, desc, kind, headers, footer, prefix, f"{name}-bounces@{host}", host, server
    )


def threading(c: Ctx, client: str, sender: tuple[str, str], moment: datetime, to, cc):
    """Subject, quoted parent, References and recipients of a reply or an intro follow-up."""
    rec, rng, reader = c.rec, c.rng, c.reader
    me = (reader.full, reader.addr)
    subject, quote, refs = c.subject, None, []
    if rec.channel == "intro-followup":
        introducer = fill(rec.fields.get("introducer", ""), reader) or (cc[0][0] if cc else "")
        if not introducer:  # the intro's sign-off, or a stand-in
            last = [ln.strip() for ln in c.quoted.split("\n") if ln.strip()][-1:] or [""]
            introducer = (
                last[0]
                if re.fullmatch(r"[A-Z][\w.' -]{1,30}", last[0])
                else rng.choice(ALL_GIVEN).title()
            )
        author = (introducer, person_address(introducer, "introducer"))
        cc = [p for p in cc if p[0] != introducer]
        quote_to, hours = [me, sender], (1, 120)
        if introducer == reader.full and cc:  # the reader made the intro and is on Cc
            author, to, quote_to, cc = me, cc[:1], cc[:1] + [sender], [me] + cc[1:]
        elif not re.search(r"(?i)\bbcc\b", c.body):  # "moving you to bcc" means it happened
            cc.insert(0, author)
    elif c.quoted and sender_wrote_quote(rec):
        author, quote_to, hours = sender, [me], (40, 240)
    elif c.quoted or rec.channel == "reply":
        author, quote_to, hours = me, [sender], (0.1, 72)
    else:
        return subject, quote, refs, to, cc
    parent_at, refs = thread(rng, author, moment, hours)
    base = re.sub(r"(?i)^((re|aw|fwd?)\s*:\s*)+", "", subject)
    if rec.channel != "sequence":  # a tool's follow-up step keeps the subject it was given
        subject = reply_subject(rng, client, subject)
    if c.quoted:
        quote = Quote(
            c.quoted,
            author,
            quote_to,
            parent_at,
            ("Re: " if len(refs) > 1 else "") + base,
            refs[-1],
        )
    return subject, quote, refs, to, cc


def sequence_extras(c: Ctx, client: str, domain: str):
    """What a sales-engagement tool adds: headers, an opt-out footer, tracked links, a pixel."""
    rng = c.rng
    tool, tool_domain = rng.choice(TOOLS)
    track = pick(rng, ((f"t.{tool_domain}", 4), (f"track.{domain}", 3), (f"go.{domain}", 1)))
    token = chars(rng, 22, B64 + "-_")
    unsub = f"https://{track}/unsubscribe/{token}"
    headers, footer, link, pixel = [], "", None, ""
    if rng.random() < (0.8 if client == "tool" else 0.1):
        headers.append(("X-Mailer", tool))
    if rng.random() < 0.35:
        headers.append(("List-Unsubscribe", f"<{unsub}>"))
        if rng.random() < 0.5:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if not HAS_FOOTER.search(c.body):
        footer = pick(
            rng,
            (
                ("", 40),
                ("Reply STOP to opt out.", 8),
                ('P.S. Not the right person? Just reply "no" and I\'ll stop reaching out.', 6),
                (f"Unsubscribe: {unsub}", 14),
                (f"Don't want to hear from me again? Click here: {unsub}", 8),
                (f"{rng.choice(STREETS)}\nUnsubscribe: {unsub}", 10),
            ),
        )
    if rng.random() < 0.6:
        link = tracked(rng, f"https://{track}/c/")
    if rng.random() < 0.85:
        pixel = (
            f'<img src="https://{track}/o/{token}" width="1" height="1" alt="" '
            'style="display:none" border="0">'
        )
    return headers, footer, link, pixel


def personal(c: Ctx) -> bytes:
    """Mail a person writes in a mail client (email, reply, intro, intro-followup, list) or
    sends through a sales-engagement tool (sequence)."""
    rec, rng, reader = c.rec, c.rng, c.reader
    channel, name = rec.channel, rec.fields["from"]
    addr = given_address(rec) or person_address(name, rec.subtype, reader)
    domain = addr.rsplit("@", 1)[1]
    provider = provider_of(domain)
    client, esp = pick(rng, CLIENTS_BY_PROVIDER[provider]), None
    if channel == "sequence":  # through the rep's own mailbox (API) or the tool's own servers
        if rng.random() < 0.45:
            client = "outlook" if provider == "microsoft" else "gmail"
        else:
            client, esp = "tool", pick(rng, (("mailgun", 4), ("sendgrid", 4), ("ses", 2)))
    zone = reader.zone if rng.random() < 0.55 else pick(rng, ZONE_WEIGHTS)
    rhythm = "campaign" if channel == "sequence" else "social" if rec.subtype in SOCIAL else "work"
    moment = pick_moment(rng, zone, rhythm, c.near)
    to = [(reader.full if rng.random() < 0.7 else "", reader.addr)]
    cc = [
        (n, person_address(n, rec.subtype, reader))
        for n in names_in(rec.fields.get("cc", ""))
        if n != name
    ]
    subject, quote, refs, to, cc = threading(c, client, (name, addr), moment, to, cc)

    # the text: body, mobile signature, tool or list footer, quoted history
    text, extra_headers, footer, link, pixel = c.body, [], "", None, ""
    sig = pick(rng, MOBILE.get(client, (("", 1),)))
    if (
        sig
        and channel in ("email", "reply", "intro-followup")
        and not re.search(r"(?i)sent from|get outlook", text)
    ):
        text += "\n\n" + sig
    if channel == "sequence":
        extra_headers, footer, link, pixel = sequence_extras(c, client, domain)
    wants_html = rng.random() < P_HTML[client]
    ml = mailing_list(c, subject) if channel == "list" else None
    from_pair = (name, addr)
    if ml:
        if not subject.startswith("["):
            subject = re.sub(
                r"^((?i:re|aw):\s*)?", lambda m: m.group(0) + ml.prefix, subject, count=1
            )
        to = [("", ml.addr)] if rng.random() < 0.6 else [(ml.desc, ml.addr)]
        extra_headers, footer = ml.headers, ml.footer
        if ml.kind in ("googlegroups", "groupsio") and domain in FREE_PROVIDER:
            # these lists rewrite From for senders whose domain publishes a strict DMARC policy
            from_pair = (
                f"'{name}' via {ml.desc}" if ml.kind == "googlegroups" else f"{name} via groups.io",
                ml.addr,
            )
            extra_headers = extra_headers + [
                ("Reply-To", encode_addrs([(name, addr)], "utf-8", True, True)),
                ("X-Original-From", encode_addrs([(name, addr)], "utf-8", True, True)),
            ]
    footer_part = ml is not None and ml.kind == "mailman2" and wants_html
    if footer and not footer_part:  # Mailman 2 adds its footer to MIME mail as a part of its own
        text += "\n\n" + footer
    plain, bottom = text, False
    if quote:
        qtext = quote_plain(client, quote, moment, rng)
        bottom = rng.random() < (0.4 if ml else {"thunderbird": 0.35}.get(client, 0.04))
        plain = f"{qtext}\n\n{text}" if bottom else f"{text}\n\n{qtext}"

    # MIME: plain text, or plain + an HTML rendering in the client's own markup
    charset, cte = text_encoding(client, rng, plain)
    unquote, upper = (
        client in ("apple", "iphone", "thunderbird"),
        client in ("gmail", "thunderbird", "yahoo"),
    )
    params = None
    if client == "thunderbird":
        plain, params = flowed(plain), {"format": "flowed"}
    root = leaf(plain + "\n", "plain", charset, cte, params, keep_7bit_header=client != "gmail")
    restyle(root, unquote, upper)
    esp_env = envelope(esp, rng, domain, reader, moment) if esp else None
    mid = esp_env.mid if esp_env else message_id(client, rng, domain, moment)
    if wants_html and not bottom:
        word = client == "outlook-smtp" or client == "outlook" and rng.random() < 0.35
        frame = "word" if word else "outlook" if client == "outlookcom" else client
        body = client_html(
            frame,
            text,
            quote_html(client, quote, moment, rng) if quote else "",
            charset if charset != "us-ascii" else "utf-8",
            link,
            pixel,
        )
        hcte = (
            cte
            if client in ("proton", "outlook", "outlookcom")
            else {"gmail": "quoted-printable", "thunderbird": "8bit"}.get(client)
            or pick(rng, (("quoted-printable", 8), ("7bit", 2)))
        )
        html = leaf(body + "\n", "html", charset, hcte, keep_7bit_header=client != "gmail")
        restyle(html, unquote, upper)
        root = multipart(
            "alternative", [root, html], esp_env.boundary if esp_env else boundary(client, rng, mid)
        )
        if footer_part:
            root = multipart(
                "mixed",
                [root, leaf(footer + "\n", "plain", "us-ascii", "7bit")],
                f"==============={digits(rng, 19)}==",
            )

    # headers, in the order the client (or the tool's sending service) writes them
    b = rng.random() < HEADER_STYLE[client][0]
    upper_cs, hcs = HEADER_STYLE[client][1], charset if charset != "us-ascii" else "utf-8"
    if client in ("outlook", "outlookcom", "tool"):
        date_value = rfc_date(moment, utc=client != "tool")
    elif client == "yahoo":
        date_value = rfc_date(moment, utc=True, comment="UTC")
    else:
        date_value = rfc_date(moment, pad=client in ("proton", "fastmail"))
    values = {
        "from": encode_addrs([from_pair], hcs, b, upper_cs),
        "to": encode_addrs(to, hcs, b, upper_cs),
        "cc": encode_addrs(cc, hcs, b, upper_cs) if cc else None,
        "subject": encode_text(subject, "Subject", hcs, b, upper_cs),
        "thread-topic": encode_text(
            re.sub(r"(?i)^((re|aw)\s*:\s*)+", "", subject) or " ", "Thread-Topic", hcs, b, upper_cs
        ),
        "date": date_value,
        "message-id": mid,
        "mime-version": "1.0",
        "in-reply-to": refs[-1] if refs else None,
        "references": fold_ids(refs) if refs else None,
    }
    # (a list that rewrites From sets its own Reply-To, which replaces the client's)
    if client == "yahoo" and rng.random() < 0.5 and "Reply-To" not in dict(extra_headers):
        values["reply-to"] = values["from"]
    values.update(client_extras(client, rng, moment))
    if esp_env:
        values.update(esp_env.headers)
        host, hop_ip = esp_env.host, esp_env.ip
        top = [("Return-Path", esp_env.return_path)]
    else:
        host, hop_ip = outbound_host(rng, provider, domain)
        top = [("Return-Path", f"<{addr}>")]
    headers = [
        (h, None if h == CONTENT else values.get(h.lower()))
        for h in (esp_env.order if esp_env else ORDER[client])
        if h != "<extra>"
    ]

    # the path it took: sender's server, the list server if any, the reader's server
    hops = (
        []
        if esp_env or rng.random() < 0.3
        else [submitted(rng, provider, client, host, moment, ml.addr if ml else reader.addr)]
    )
    if ml:
        hops.insert(
            0,
            f"from {host} ({host} [{hop_ip}])\n\tby {ml.inbound} with ESMTPS id "
            f"{chars(rng, 12, B64)}\n\tfor <{ml.addr}>; "
            f"{rfc_date(moment + timedelta(seconds=2), utc=True)}",
        )
        (host, hop_ip), top = ml.outbound, [("Return-Path", f"<{ml.bounce}>")]
    if provider_of(reader.domain) == "google" and rng.random() < 0.6:
        top.insert(0, ("Delivered-To", reader.addr))
    received = (received_by_reader(rng, reader, host, hop_ip, moment) + hops)[:3]
    return serialize(top + [("Received", r) for r in received] + headers + extra_headers, root)


# ---------------------------------------------------------------- channels: services

HEADLINES = {
    "recruit": (
        "Technical Recruiter at {co}",
        "Talent Acquisition Partner | {co}",
        "Senior Recruiter @ {co} | We're hiring!",
        "Executive Search Consultant at {co}",
    ),
    "sales": (
        "Account Executive at {co}",
        "Helping B2B teams grow pipeline | Founder @ {co}",
        "Business Development Manager at {co}",
        "Growth Partner | {co}",
        "Sales Director, EMEA at {co}",
    ),
    "mlm": (
        "Entrepreneur | Wellness Coach | Mom of 3",
        "Helping people build time freedom",
        "Independent Business Owner",
        "Health & Wellness Advocate | Team Leader",
    ),
    "money": (
        "Managing Partner at {co} Capital",
        "Founder & CEO at {co} | Raising our seed",
        "Wealth Advisor at {co}",
    ),
    "seeker": (
        "Aspiring Product Manager | Open to work",
        "MBA Candidate | Strategy & Operations",
        "Software Engineer | Open to new opportunities",
        "Recent graduate seeking roles",
    ),
    "any": (
        "Product Manager at {co}",
        "Senior Software Engineer at {co}",
        "Founder at {co}",
        "Director of Operations at {co}",
        "Marketing Lead at {co}",
        "UX Researcher at {co}",
        "Data Scientist at {co}",
        "Program Manager at {co}",
        "Partner at {co}",
        "Consultant at {co}",
        "Engineering Manager at {co}",
        "Head of People at {co}",
        "Research Fellow",
        "Freelance Designer",
        "Operations Analyst at {co}",
    ),
}
HEADLINE_KIND = {
    "recruiter": "recruit",
    "recruiter-personal": "recruit",
    "sales-pitch": "sales",
    "agency-pitch": "sales",
    "invite-pitch": "sales",
    "canned-connection": "sales",
    "mlm": "mlm",
    "mlm-disguised": "mlm",
    "investment-pitch": "money",
    "job-seeker-ask": "seeker",
    "intro-ask": "seeker",
}
LI_EU = {"london", "berlin", "athens"}


LINKEDIN_HTML = Template("""\
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en"><head>\
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\
<meta name="viewport" content="width=device-width"><title></title></head>
<body style="margin:0;padding:0;background-color:#f3f2ef">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#f3f2ef"><tr><td align="center">
<table role="presentation" width="512" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#ffffff;font-family:-apple-system,system-ui,BlinkMacSystemFont,'Segoe UI',\
Roboto,'Helvetica Neue','Fira Sans',Ubuntu,Oxygen,'Oxygen Sans',Cantarell,'Droid Sans',\
'Apple Color Emoji','Segoe UI Emoji','Segoe UI Symbol','Lucida Grande',Helvetica,Arial,sans-serif">
<tr><td style="padding:24px"><a href="https://www.linkedin.com/comm/feed/$trk">\
<img src="https://static.licdn.com/aero-v1/sc/h/$logo" alt="LinkedIn" width="84" height="21" \
style="border:0"></a></td></tr>
<tr><td style="padding:0 24px"><h2 style="margin:0 0 16px 0;font-size:20px;font-weight:600;\
color:#000000e6">$heading</h2>
<table role="presentation"><tr><td><img src="https://media.licdn.com/dms/image/v2/$photo" \
width="56" height="56" alt="$person" style="border-radius:50%"></td>\
<td style="padding-left:12px"><a href="$profile" style="font-size:16px;font-weight:600;\
color:#000000e6;text-decoration:none">$person</a>\
<p style="margin:0;font-size:14px;color:#00000099">$headline</p>$mutual</td></tr></table>\
</td></tr>
$note<tr><td style="padding:24px"><table role="presentation"><tr>\
<td style="background-color:#0a66c2;border-radius:24px"><a href="$action" \
style="display:inline-block;padding:8px 20px;color:#ffffff;font-size:16px;font-weight:600;\
text-decoration:none">$button</a></td><td style="padding-left:12px"><a href="$profile" \
style="color:#0a66c2;font-size:16px;font-weight:600;text-decoration:none">View profile</a></td>\
</tr></table></td></tr>
<tr><td style="padding:24px;background-color:#f3f2ef;font-size:12px;color:#00000099">$intended\
<br><a href="https://www.linkedin.com/help/linkedin/answer/4788" style="color:#0a66c2">\
Learn why we included this.</a><br>$kind_line <a href="$unsub" style="color:#0a66c2">\
Unsubscribe</a><br><br>$copyright</td></tr>
</table>
</td></tr></table>
<img src="https://www.linkedin.com/emimp/ip_$pixel.gif" style="width:1px;height:1px" alt="">
</body></html>
""")


def linkedin(c: Ctx) -> bytes:
    """A LinkedIn invitation or message notification around the person's note or message."""
    rec, rng, reader = c.rec, c.rng, c.reader
    person = re.sub(r"(?i)\s+via linkedin$", "", rec.fields["from"]).strip()
    if person.lower() == "linkedin":
        person = f"{rng.choice(ALL_GIVEN).title()} {company_name(rng).split()[0]}"
    first = next((w for w in person.split() if ascii_word(w) not in TITLES), person)
    kind = HEADLINE_KIND.get(rec.subtype, "any") if rng.random() < 0.6 else "any"
    headline = rng.choice(HEADLINES[kind]).format(co=company_name(rng))
    invite, note = rec.channel == "linkedin-invite", c.body.strip()
    moment = pick_moment(rng, reader.zone, "machine", c.near)

    def token(n=22):
        return chars(rng, n, B64 + "-_")

    trk = (
        f"?midToken={token(30)}&trk=eml-{'invite' if invite else 'msg'}-{token(8)}"
        f"&trkEmail=eml-{token(10)}&lipi=urn%3Ali%3Apage%3Aemail_{token(8)}%3B{token(22)}%3D%3D"
    )
    profile = f"https://www.linkedin.com/comm/in/{slug(person)}-{hexs(rng, 8)}{trk}"
    action = (
        f"https://www.linkedin.com/comm/mynetwork/invite-accept/{digits(rng, 19)}/"
        if invite
        else f"https://www.linkedin.com/comm/messaging/thread/2-{token(40)}==/"
    ) + trk
    unsub = f"https://www.linkedin.com/comm/psettings/email-unsubscribe{trk}"
    if invite:
        subject = c.subject or pick(
            rng,
            (
                (f"{person} wants to connect", 4),
                ("I want to connect", 2),
                ("Invitation to connect", 1),
                (f"{reader.first}, please add me to your LinkedIn network", 1),
            ),
        )
        from_addr, cls, template = (
            "invitations@linkedin.com",
            "INVITE-GUEST",
            "email_m2m_invite_single_01",
        )
        heading = pick(
            rng,
            (
                (f"{person} has invited you to connect", 3),
                (f"{first} wants to connect with you", 2),
                ("You have an invitation", 1),
            ),
        )
        button, kind_line = "Accept", "You are receiving Invitation emails."
    else:
        inmail = bool(c.subject)  # only InMail has a subject of its own
        subject = c.subject or pick(
            rng,
            (
                (f"{person} sent you a message", 4),
                (f"{first} just messaged you", 2),
                (f"New message from {person}", 2),
            ),
        )
        from_addr = (
            "inmail-hit-reply@linkedin.com"
            if inmail
            else pick(
                rng,
                (
                    ("messages-noreply@linkedin.com", 5),
                    ("messaging-digest-noreply@linkedin.com", 2),
                ),
            )
        )
        cls, template = ("INMAIL", "email_inmail_01") if inmail else ("MSG", "email_m2m_msg_01")
        heading = pick(
            rng,
            (
                (f"{person} sent you a message", 3),
                ("You have a new message", 2),
                (f"{first} just messaged you", 1),
            ),
        )
        button, kind_line = (
            rng.choice(("View message", "Reply")),
            "You are receiving notification emails.",
        )
    quoted = invite or rng.random() < 0.3
    marks = rng.choice((("“", "”"), ('"', '"'))) if quoted else ("", "")
    shown = f"{marks[0]}{note}{marks[1]}" if note else ""
    copyright_line = (
        f"© {moment.year} LinkedIn Ireland Unlimited Company, Wilton Plaza, Wilton "
        "Place, Dublin 2. LinkedIn is a registered business name of LinkedIn Ireland"
        " Unlimited Company."
        if reader.zone in LI_EU
        else f"© {moment.year} LinkedIn Corporation, 1000 West Maude Avenue, Sunnyvale, CA 94085."
    ) + " LinkedIn and the LinkedIn logo are registered trademarks of LinkedIn."
    mutual = rng.choice((0, 0, 1, 2, 3, 5, 8, 12, 21))
    card = [person, headline] + (
        [f"{mutual} mutual connection{'s' * (mutual != 1)}"] if mutual else []
    )
    intended = f"This email was intended for {reader.full} ({reader.title} at {reader.company})"
    text = "\n".join(
        [heading, "", *card, ""]
        + ([shown, ""] if shown else [])
        + [
            f"{button}: {action}",
            "",
            f"View profile: {profile}",
            "",
            "-----------------------------------------",
            "",
            intended,
            "Learn why we included this: https://www.linkedin.com/help/linkedin/answer/4788",
            kind_line,
            f"Unsubscribe: {unsub}",
            "Help: https://www.linkedin.com/help/linkedin/answer/67",
            "",
            copyright_line,
        ]
    )
    note_html = "<br>".join(html_line(ln) for ln in note.split("\n"))
    html = LINKEDIN_HTML.substitute(
        trk=escape(trk),
        logo=chars(rng, 25, LOWER_DIGITS),
        heading=escape(heading),
        photo=f"{token(15)}/profile-displayphoto-shrink_100_100/0/{digits(rng, 13)}",
        person=escape(person),
        profile=escape(profile),
        headline=escape(headline),
        mutual=f'<p style="margin:0;font-size:12px;color:#00000099">{card[2]}</p>'
        if mutual
        else "",
        action=escape(action),
        button=button,
        intended=escape(intended),
        kind_line=kind_line,
        unsub=escape(unsub),
        copyright=escape(copyright_line),
        pixel=token(40),
        note=(
            '<tr><td style="padding:12px 24px 0 24px"><p style="margin:0;font-size:16px;line-'
            f'height:1.5;color:#000000e6">{escape(marks[0])}{note_html}{escape(marks[1])}</p>'
            "</td></tr>\n"
        )
        if note
        else "",
    )
    env = envelope("linkedin", rng, "linkedin.com", reader, moment)
    cte = pick(rng, (("quoted-printable", 6), ("base64", 2), ("8bit", 2)))
    parts = [leaf(text + "\n", "plain", "utf-8", cte), leaf(html, "html", "utf-8", cte)]
    for part in parts:
        restyle(part, unquote=True, upper_charset=True)
    display = f"{person} via LinkedIn" if rng.random() < (0.7 if invite else 0.85) else "LinkedIn"
    b = rng.random() < 0.6
    values = {
        **env.headers,
        "date": rfc_date(moment, utc=True, comment="UTC"),
        "from": encode_addrs([(display, from_addr)], "utf-8", b, True),
        "to": encode_addrs([(reader.full, reader.addr)], "utf-8", b, True),
        "message-id": env.mid,
        "subject": encode_text(subject, "Subject", "utf-8", b, True),
        "mime-version": "1.0",
        "x-linkedin-class": cls,
        "x-linkedin-template": template,
        "feedback-id": f"{template}:{cls.lower()}:linkedin",
    }
    extra = [
        ("List-Unsubscribe", f"<{unsub}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    return service_message(
        rng, reader, env, values, extra, multipart("alternative", parts, env.boundary), moment
    )


BULK_FOOTERS = (
    "You're receiving this email because you subscribed to {brand}.\nUnsubscribe: {unsub}\n"
    "Update your preferences: {prefs}\n\n{street}",
    "Don't want these emails anymore? Unsubscribe here: {unsub}\n{brand} · {street}",
    "Copyright © {year} {brand}, All rights reserved.\nYou are receiving this email because you "
    "opted in via our website.\n\nOur mailing address is:\n{street}\n\nWant to change how you "
    "receive these emails?\nYou can update your preferences ({prefs}) or unsubscribe from this "
    "list ({unsub}).",
    "{brand}\n{street}\nUnsubscribe {unsub}",
)
NOTE_FOOTERS = (
    "This is an automated message. Please do not reply to this email.",
    "You're receiving this email because of your account settings. Manage notifications: {prefs}",
    "© {year} {brand}. All rights reserved.\n{street}",
    "Questions? Visit our help center: https://{domain}/help\n\n© {year} {brand}",
    "Please do not reply to this message; this address is not monitored.",
)
SERVICE_LOCAL = {
    "bulk": ("newsletter", "news", "hello", "digest", "updates", "team"),
    "notification": ("no-reply", "noreply", "notifications", "alerts", "donotreply", "notify"),
    "receipt": ("receipts", "orders", "no-reply", "billing", "auto-confirm", "noreply"),
}


SERVICE_TEMPLATES = (
    Template("""\
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=$cs">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>$title</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
bgcolor="#f4f4f5">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"
 style="max-width:600px;background-color:#ffffff;">
<tr><td style="padding:20px 32px;border-bottom:3px solid $accent;font-family:$font;font-size:20px;\
font-weight:bold;color:$accent;">$brand</td></tr>
<tr><td style="padding:28px 32px;">
$paras
</td></tr>
<tr><td style="padding:16px 32px;background-color:#fafafa;">
$foot
</td></tr>
</table>
</td></tr></table>
$pixel
</body>
</html>
"""),
    Template("""\
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=$cs">
</head>
<body style="font-family:$font;">
<div style="max-width:640px;margin:0 auto;padding:16px;">
$paras
<hr style="border:none;border-top:1px solid #dddddd;margin:24px 0;">
$foot
</div>
$pixel
</body>
</html>
"""),
    Template("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="$cs">
<meta name="viewport" content="width=device-width">
<title>$title</title>
<style>
@media only screen and (max-width:620px) { .wrapper { width:100% !important; } }
</style>
</head>
<body style="background:#eef1f4;margin:0;">
<span style="display:none;font-size:1px;color:#eef1f4;max-height:0;overflow:hidden;">$preheader\
</span>
<div class="wrapper" style="width:580px;margin:0 auto;background:#ffffff;padding:32px;">
$paras
</div>
<div style="width:580px;margin:0 auto;padding:16px 32px;">
$foot
</div>
$pixel
</body>
</html>
"""),
)


def service_html(
    rng, title: str, text: str, brand: str, footer: str, cs: str, link=None, pixel: str = ""
) -> str:
    """A newsletter/notification HTML body in one of three common template shapes."""
    font = rng.choice(
        (
            "Helvetica, Arial, sans-serif",
            "Georgia, 'Times New Roman', serif",
            "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Arial, sans-serif",
            "Arial, sans-serif",
        )
    )
    size = rng.choice((14, 15, 16, 17))
    paras = html_paragraphs(
        text,
        f"margin:0 0 16px 0;font-family:{font};font-size:{size}px;line-height:1.5;color:#222222",
        link,
    )
    foot = (
        html_paragraphs(
            footer,
            f"margin:0 0 8px 0;font-family:{font};font-size:12px;line-height:1.4;color:#888888",
            link,
        )
        if footer
        else ""
    )
    return rng.choice(SERVICE_TEMPLATES).substitute(
        cs=cs,
        title=escape(title),
        brand=escape(brand),
        font=font,
        paras=paras,
        foot=foot,
        pixel=pixel,
        preheader=escape(" ".join(text.split())[:90]),
        accent=rng.choice(("#1a73e8", "#0f766e", "#7c3aed", "#d9480f", "#111827", "#2b6cb0")),
    )


def automated(c: Ctx) -> bytes:
    """Bulk mail (newsletters) and automated notices and receipts sent through a mail service."""
    rec, rng, reader = c.rec, c.rng, c.reader
    channel, brand = rec.channel, rec.fields["from"]
    addr = given_address(rec)
    if not addr:
        org = split_display(brand)[1]
        domain = company_domain(rng, org or brand)
        sub = pick(rng, (("", 6), ("mail.", 2), ("e.", 1), ("email.", 1)))
        addr = f"{rng.choice(SERVICE_LOCAL[channel])}@{sub}{domain}"
    domain = addr.rsplit("@", 1)[1]
    root_domain = ".".join(
        domain.split(".")[-3 if domain.endswith((".co.uk", ".com.au")) else -2 :]
    )
    bulk = channel == "bulk"
    esp = pick(
        rng,
        (("mailchimp", 3), ("sendgrid", 2), ("ses", 2), ("mailgun", 1), ("inhouse", 2))
        if bulk
        else (("ses", 3), ("sendgrid", 2.5), ("postmark", 2), ("mailgun", 1), ("inhouse", 1.5)),
    )
    if root_domain == "linkedin.com":
        esp = "linkedin"
    moment = pick_moment(
        rng,
        reader.zone,
        "campaign" if bulk else "machine",
        c.near,
        (0, 1) if channel == "receipt" else (-6, 0),
    )
    env = envelope(esp, rng, root_domain, reader, moment)
    token = chars(rng, 24, B64 + "-_")
    unsub = (
        f"https://{slug(brand) or 'list'}.us{rng.randrange(2, 22)}.list-manage.com/"
        f"unsubscribe?u={hexs(rng, 25)}&id={hexs(rng, 10)}&e={hexs(rng, 10)}"
        if esp == "mailchimp"
        else f"https://{rng.choice(('', '', 'email.'))}{root_domain}/unsubscribe/{token}"
    )
    prefs = f"https://{root_domain}/account/email-preferences"
    text, extra = c.body, []
    fields = {
        "brand": brand,
        "unsub": unsub,
        "prefs": prefs,
        "street": rng.choice(STREETS),
        "year": moment.year,
        "domain": root_domain,
    }
    footer = ""
    if bulk and not HAS_FOOTER.search(text):
        footer = rng.choice(BULK_FOOTERS).format(**fields)
    elif not bulk and not HAS_FOOTER.search(text) and rng.random() < 0.55:
        footer = rng.choice(NOTE_FOOTERS).format(**fields)
    link = None
    if rng.random() < (0.6 if bulk else 0.3):
        click = (
            f"click.{root_domain}"
            if esp != "sendgrid"
            else f"u{digits(rng, 7)}.ct.sendgrid.net/ls/click"
        )
        link = tracked(rng, f"https://{click}?upn=")
    pixel = (
        f'<img src="https://{"open." + root_domain}/o/{token}.gif" width="1" height="1" '
        'alt="" border="0">'
        if rng.random() < (0.8 if bulk else 0.3)
        else ""
    )
    shape = pick(
        rng,
        (("alt", 60), ("html", 35), ("plain", 5))
        if bulk
        else (("alt", 60), ("html", 25), ("plain", 15)),
    )
    charset = "utf-8"
    if rng.random() < 0.1:
        try:
            (text + footer).encode("iso-8859-1")
            charset = "iso-8859-1"
        except UnicodeEncodeError:
            pass
    full = text + ("\n\n" + footer if footer else "")
    cte = pick(rng, (("quoted-printable", 5), ("base64", 3), ("8bit", 1), ("7bit", 1)))
    parts = []
    if shape != "html":
        parts.append(leaf(full + "\n", "plain", charset, cte))
    if shape != "plain":
        html = service_html(rng, c.subject, text, brand, footer, charset.upper(), link, pixel)
        parts.append(
            leaf(
                html,
                "html",
                charset,
                pick(rng, (("quoted-printable", 6), ("base64", 3), ("7bit", 1))),
            )
        )
    root = parts[0] if len(parts) == 1 else multipart("alternative", parts, env.boundary)
    b, upper, utc = rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.6
    values = {
        "from": encode_addrs([(brand, addr)], charset, b, upper),
        "to": encode_addrs(
            [(reader.full if rng.random() < 0.5 else "", reader.addr)], charset, b, upper
        ),
        "subject": encode_text(c.subject, "Subject", charset, b, upper),
        "date": rfc_date(
            moment,
            pad=rng.random() < 0.6,
            utc=utc,
            comment="UTC" if utc and rng.random() < 0.4 else "",
        ),
        "message-id": env.mid,
        "mime-version": "1.0",
        "reply-to": encode_addrs([("", f"support@{root_domain}")], charset, b, upper)
        if rng.random() < 0.2
        else None,
    }
    values.update(env.headers)
    if esp == "linkedin":
        values.update(
            {
                "x-linkedin-class": "DIGEST" if bulk else "NOTIFICATIONS",
                "x-linkedin-template": "email_weekly_digest_01"
                if bulk
                else "email_notification_single_01",
                "feedback-id": f"email_{'digest' if bulk else 'notification'}:linkedin",
            }
        )
    if bulk:
        if rng.random() < 0.6 or esp == "mailchimp":
            list_id = (
                f"{hexs(rng, 25)}mc list <{hexs(rng, 25)}.{digits(rng, 6)}.list-id.mcsv.net>"
                if esp == "mailchimp"
                else f"{brand} <{slug(brand) or 'news'}.{root_domain}>"
            )
            extra.append(
                (
                    "List-Id",
                    encode_text(list_id, "List-Id", "utf-8", True, True)
                    if not list_id.isascii()
                    else list_id,
                )
            )
        mailto = f"mailto:unsubscribe-{hexs(rng, 12)}@{root_domain}?subject=unsubscribe"
        extra.append(
            (
                "List-Unsubscribe",
                pick(
                    rng, ((f"<{unsub}>", 35), (f"<{mailto}>,\n <{unsub}>", 45), (f"<{mailto}>", 20))
                ),
            )
        )
        if "https" in extra[-1][1] and rng.random() < (0.5 if moment.year == 2023 else 0.85):
            extra.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        if rng.random() < 0.6:
            extra.append(("Precedence", "bulk"))
        if "feedback-id" not in values and rng.random() < 0.6:
            extra.append(
                ("Feedback-ID", f"{digits(rng, 6)}:{slug(brand) or 'news'}:newsletter:{esp}")
            )
    else:
        if rng.random() < 0.45:
            extra.append(("Auto-Submitted", "auto-generated"))
        if rng.random() < 0.25:
            extra.append(
                (
                    "X-Auto-Response-Suppress",
                    rng.choice(("All", "OOF, AutoReply", "DR, RN, NRN, OOF, AutoReply")),
                )
            )
        if rng.random() < 0.2:
            extra.append(("List-Unsubscribe", f"<{unsub}>"))
        if rng.random() < 0.08:
            extra.append(("Precedence", "bulk"))
    return service_message(rng, reader, env, values, extra, root, moment)


def service_message(
    rng, reader: Reader, env: Envelope, values: dict, extra: list, root: MIMEPart, moment: datetime
) -> bytes:
    """Headers in the sending service's order (channel headers at its `<extra>`), then bytes."""
    headers = [("Return-Path", env.return_path)] + [
        ("Received", r) for r in received_by_reader(rng, reader, env.host, env.ip, moment)
    ]
    for name in env.order:
        if name == "<extra>":
            headers += extra
        else:
            headers.append((name, None if name == CONTENT else values.get(name.lower())))
    return serialize(headers, root)


# ---------------------------------------------------------------- channels: calendar invitations

DST_RRULES = {
    "us": ("BYDAY=1SU;BYMONTH=11", "BYDAY=2SU;BYMONTH=3"),
    "eu": ("BYDAY=-1SU;BYMONTH=10", "BYDAY=-1SU;BYMONTH=3"),
    "au": ("BYDAY=1SU;BYMONTH=4", "BYDAY=1SU;BYMONTH=10"),
}


def ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def ics_fold(line: str) -> list[str]:
    """RFC 5545 folding: at most 75 octets per line, continuation lines start with a space."""
    out, current, limit = [], "", 75
    for ch in line:
        if len((current + ch).encode()) > limit:
            out.append(current)
            current, limit = " ", 75
        current += ch
    return out + [current]


def ics_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics_offset(minutes: int) -> str:
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def calendar(c: Ctx) -> bytes:
    """A meeting invitation as Google Calendar or Exchange sends it, with a METHOD:REQUEST part."""
    rec, rng, reader = c.rec, c.rng, c.reader
    name = rec.fields["from"]
    addr = given_address(rec) or person_address(name, rec.subtype, reader)
    provider = provider_of(addr.rsplit("@", 1)[1])
    titled = re.match(
        r"(?i)^(invitation|updated invitation|canceled event)\s*:\s*(.*?)(\s+@\s+.*)?$", c.subject
    )
    google = (
        bool(titled)
        or provider == "google"
        or provider not in ("microsoft", "outlookcom")
        and rng.random() < 0.5
    )
    summary = (titled[2] if titled else c.subject) or "Meeting"
    zone = next(
        (z for z, pattern in ZONE_MENTION if re.search(pattern, c.subject + c.body)),
        reader.zone if rng.random() < 0.7 else pick(rng, ZONE_WEIGHTS),
    )
    text = f"{c.subject}\n{c.body}"
    named = mentioned_day(text, rng, loose=True)
    times = mentioned_times(text[named[1] : named[1] + 80]) if named else []
    if named:
        day = named[0]
        moment = pick_moment(rng, zone, "work", day, (-14, -1))
    else:
        moment = pick_moment(rng, zone, "work")
        day = moment.date() + timedelta(days=rng.randrange(1, 15))
        day += timedelta(days=(7 - day.weekday()) % 7 if day.weekday() > 4 else 0)
    tz = timezone(timedelta(minutes=utc_offset(zone, day)))
    hour, minute = (
        times[0] if times else (rng.choice((9, 10, 11, 13, 14, 15, 16)), rng.choice((0, 0, 30)))
    )
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    end = start + timedelta(minutes=rng.choice((30, 30, 45, 60, 60, 90)))
    if len(times) == 2:
        end_at = start.replace(hour=times[1][0], minute=times[1][1])
        end_at += timedelta(hours=12) if end_at <= start and times[1][0] < 12 else timedelta(0)
        end = end_at if end_at > start else end
    cancel = c.subject.lower().startswith("canceled")
    guests = [(reader.full, reader.addr)] + [
        (n, person_address(n, rec.subtype, reader)) for n in names_in(rec.fields.get("cc", ""))
    ]
    std, rule, _, winzone, glabel = ZONES[zone]
    meet = (
        f"https://meet.google.com/{chars(rng, 3, B64[26:52])}-{chars(rng, 4, B64[26:52])}-"
        f"{chars(rng, 3, B64[26:52])}"
        if google and rng.random() < 0.6
        else ""
    )
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN"
        if google
        else "PRODID:Microsoft Exchange Server 2010",
        "VERSION:2.0",
    ]
    method = "CANCEL" if cancel else "REQUEST"
    lines += ["CALSCALE:GREGORIAN", f"METHOD:{method}"] if google else [f"METHOD:{method}"]
    if not google:
        dst = std + 60 * bool(rule)
        lines += [
            "BEGIN:VTIMEZONE",
            f"TZID:{winzone}",
            "BEGIN:STANDARD",
            f"DTSTART:16010101T0{'3' if rule == 'eu' else '2'}0000",
            f"TZOFFSETFROM:{ics_offset(dst)}",
            f"TZOFFSETTO:{ics_offset(std)}",
        ]
        lines += (
            [
                f"RRULE:FREQ=YEARLY;INTERVAL=1;{DST_RRULES[rule][0]}",
                "END:STANDARD",
                "BEGIN:DAYLIGHT",
                "DTSTART:16010101T020000",
                f"TZOFFSETFROM:{ics_offset(std)}",
                f"TZOFFSETTO:{ics_offset(dst)}",
                f"RRULE:FREQ=YEARLY;INTERVAL=1;{DST_RRULES[rule][1]}",
                "END:DAYLIGHT",
            ]
            if rule
            else ["END:STANDARD"]
        )
        lines += ["END:VTIMEZONE"]
    lines += ["BEGIN:VEVENT"]
    lines += (
        [f"DTSTART:{ics_utc(start)}", f"DTEND:{ics_utc(end)}"]
        if google
        else [
            f"DTSTART;TZID={winzone}:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={winzone}:{end:%Y%m%dT%H%M%S}",
        ]
    )
    lines += [
        f"DTSTAMP:{ics_utc(moment)}",
        f"ORGANIZER;CN={name}:mailto:{addr}",
        f"UID:{chars(rng, 26, LOWER_DIGITS)}@google.com"
        if google
        else f"UID:040000008200E00074C5B7101A82E00800000000{hexs(rng, 16).upper()}"
        f"000000000000000010000000{hexs(rng, 32).upper()}",
    ]
    lines += [
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;"
        f"CN={n or a};X-NUM-GUESTS=0:mailto:{a}"
        for n, a in guests
    ]
    description = c.body + (f"\n\nJoin with Google Meet: {meet}" if meet else "")
    lines += [
        f"DESCRIPTION:{ics_text(description)}",
        f"LOCATION:{'' if google else 'Microsoft Teams Meeting' if rng.random() < 0.5 else ''}",  # noqa: E501
        f"SEQUENCE:{int(c.subject.lower().startswith(('updated', 'canceled')))}",
        f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}",
        f"SUMMARY:{ics_text(summary)}",
        "TRANSP:OPAQUE",
    ]
    if not google:
        lines += [
            "CLASS:PUBLIC",
            "PRIORITY:5",
            "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
            "X-MICROSOFT-CDO-IMPORTANCE:1",
            "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    ics = "\n".join(folded for line in lines for folded in ics_fold(line)) + "\n"

    def ampm(t):
        return (
            f"{t.hour % 12 or 12}{f':{t.minute:02d}' if t.minute else ''}"
            f"{'am' if t.hour < 12 else 'pm'}"
        )

    when = f"{WEEKDAYS[start.weekday()]} {MONTHS[start.month - 1]} {start.day}, {start.year}"
    if google:
        subject = (
            f"{c.subject} ({reader.addr})"
            if titled and titled[3]
            else f"Invitation: {summary} @ {when} {ampm(start)} - {ampm(end)} "
            f"({abbrev(start, zone)}) ({reader.addr})"
        )
        eid = chars(rng, 60, B64)
        text = "\n".join(
            [
                summary,
                f"{FULL_DAYS[start.weekday()]} {MONTHS[start.month - 1]} "
                f"{start.day}, {start.year} ⋅ {ampm(start)} – {ampm(end)}",
                glabel,
                "",
            ]
            + ([f"Join with Google Meet\n{meet}", ""] if meet else [])
            + ["Organizer", name, addr, "", "Guests", f"{name} - organizer"]
            + [a for _, a in guests]
            + [
                f"View all guest info https://calendar.google.com/calendar/event?"
                f"action=VIEW&eid={eid}",
                "",
                c.body,
                "",
                f"Reply for {reader.addr}",
                "",
                "Invitation from Google Calendar: https://calendar.google.com/calendar/",
                "",
                "You are receiving this email because you are an "
                "attendee on the event. To stop receiving future updates for this "
                "event, decline this event.",
            ]
        )
        html = service_html(rng, summary, text, "Google Calendar", "", "UTF-8")
        cal = leaf(
            ics, "calendar", "utf-8", pick(rng, (("7bit", 1), ("base64", 1))), {"method": method}
        )
        alt = multipart(
            "alternative",
            [
                leaf(text + "\n", "plain", "utf-8", "quoted-printable"),
                leaf(html, "html", "utf-8", "quoted-printable"),
                cal,
            ],
            "000000000000" + hexs(rng, 16),
        )
        root = multipart(
            "mixed",
            [alt, leaf(ics, "ics", "utf-8", "base64", filename="invite.ics")],
            "000000000000" + hexs(rng, 16),
        )
        ics_part = root.get_payload()[1]
        ics_part.replace_header("Content-Type", 'application/ics; name="invite.ics"')
        mid = f"<calendar-{uuid4(rng)}@google.com>"
        headers = [
            ("MIME-Version", "1.0"),
            ("Reply-To", encode_addrs([(name, addr)], "utf-8", True, True)),
            ("Sender", "Google Calendar <calendar-notification@google.com>"),
            ("Auto-Submitted", "auto-generated"),
            ("Message-ID", mid),
            ("Date", rfc_date(moment)),
            ("Subject", encode_text(subject, "Subject", "utf-8", True, True)),
            ("From", encode_addrs([(name, addr)], "utf-8", True, True)),
            ("To", encode_addrs([(n, a) for n, a in guests], "utf-8", True, True)),
            (CONTENT, None),
        ]
        host = f"mail-sor-f{rng.randrange(41, 200)}.google.com"
        host_ip = ip(rng, 209, 85)
    else:
        teams = (
            (
                "\n\n" + "_" * 80 + "\nMicrosoft Teams meeting\nJoin on your computer, mobile app "
                "or room device\nClick here to join the meeting<https://teams.microsoft.com/l/"
                f"meetup-join/19%3ameeting_{chars(rng, 40, B64)}%40thread.v2/0>\nMeeting ID: "
                f"{digits(rng, 3)} {digits(rng, 3)} {digits(rng, 3)} {digits(rng, 3)}\nPasscode: "
                f"{chars(rng, 6, B64)}\n" + "_" * 80
            )
            if rng.random() < 0.5
            else ""
        )
        text = c.body + teams
        mid = message_id("outlook", rng, addr.rsplit("@", 1)[1], moment)
        cte = pick(rng, (("quoted-printable", 6), ("base64", 4)))
        parts = [
            leaf(text + "\n", "plain", "utf-8", cte),
            leaf(client_html("word", text, "", "utf-8"), "html", "utf-8", cte),
            leaf(ics, "calendar", "utf-8", "base64", {"method": method}),
        ]
        root = multipart("alternative", parts, boundary("outlook", rng, mid))
        values = {
            "from": encode_addrs([(name, addr)], "utf-8", True, False),
            "to": encode_addrs(guests, "utf-8", True, False),
            "subject": encode_text(summary, "Subject", "utf-8", True, False),
            "thread-topic": encode_text(summary, "Thread-Topic", "utf-8", True, False),
            "date": rfc_date(moment, utc=True),
            "message-id": mid,
            "mime-version": "1.0",
        }
        values.update(client_extras("outlook", rng, moment))
        headers = [
            (CONTENT, None) if h == CONTENT else (h, values.get(h.lower())) for h in _OUTLOOK_ORDER
        ]
        headers.insert(-2, ("Content-class", "urn:content-classes:calendarmessage"))
        host, host_ip = outbound_host(rng, "microsoft", "")
    received = received_by_reader(rng, reader, host, host_ip, moment)
    return serialize(
        [("Return-Path", f"<{addr}>")] + [("Received", r) for r in received] + headers, root
    )


# ---------------------------------------------------------------- building the corpus

BUILDERS = {
    "email": personal,
    "reply": personal,
    "intro": personal,
    "intro-followup": personal,
    "sequence": personal,
    "list": personal,
    "linkedin-invite": linkedin,
    "linkedin-message": linkedin,
    "bulk": automated,
    "notification": automated,
    "receipt": automated,
    "calendar": calendar,
}


def fill(text: str, reader: Reader) -> str:
    return (
        text.replace("{reader_full}", reader.full)
        .replace("{reader_company}", reader.company)
        .replace("{reader}", reader.first)
    )


def build_message(record: sources.Record) -> bytes:
    """One record as an RFC 822 message; depends on nothing but the record."""
    rng = rng_for(record.id)
    reader = pick_reader(rng, record)
    body, subject = fill(record.body, reader), fill(record.fields["subject"], reader)
    near = mentioned_day(f"{subject}\n{body}", rng)
    ctx = Ctx(
        record, rng, reader, body, fill(record.quoted, reader), subject, near[0] if near else None
    )
    return BUILDERS[record.channel](ctx)


def build(records) -> dict[str, bytes]:
    """Every output file, relative to training_data/, as bytes."""
    out = {f"messages/{r.id}.eml": build_message(r) for r in records}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["path", "label", "offenses", "subtype"])
    for r in sorted(records, key=lambda r: f"messages/{r.id}.eml"):
        writer.writerow([f"messages/{r.id}.eml", r.label, ";".join(r.offenses), r.subtype])
    out["labels.csv"] = table.getvalue().encode()
    return out


def committed() -> dict[str, bytes]:
    """The output files as they are on disk, in the shape build() returns."""
    files = {f"messages/{p.name}": p.read_bytes() for p in sorted(MESSAGES.glob("*.eml"))}
    if LABELS.exists():
        files["labels.csv"] = LABELS.read_bytes()
    return files


def main(argv=None) -> int:
    """Build, or with --check compare; refuses to build from sources that have problems."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="build in memory; exit 1 if the committed output differs",
    )
    args = parser.parse_args(argv)
    records, problems = sources.read_records()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            f"build.py: {len(problems)} problem(s) in the sources; nothing built", file=sys.stderr
        )
        return 1
    wanted = build(records)
    have = committed()
    if args.check:
        missing = sorted(wanted.keys() - have.keys())
        stale = sorted(have.keys() - wanted.keys())
        changed = sorted(k for k in wanted.keys() & have.keys() if wanted[k] != have[k])
        for kind, paths in (("missing", missing), ("stale", stale), ("out of date", changed)):
            if paths:
                print(
                    f"{len(paths)} {kind}: "
                    + ", ".join(paths[:8])
                    + (" ..." if len(paths) > 8 else "")
                )
        if missing or stale or changed:
            print("run: python training_data/build.py")
            return 1
        print(f"up to date: {len(records)} messages")
        return 0
    MESSAGES.mkdir(exist_ok=True)
    for path in have.keys() - wanted.keys():
        (HERE / path).unlink()
    written = 0
    for path, data in wanted.items():
        if have.get(path) != data:
            (HERE / path).write_bytes(data)
            written += 1
    print(
        f"{len(records)} messages; {written} file(s) written, "
        f"{len(have.keys() - wanted.keys())} stale removed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
