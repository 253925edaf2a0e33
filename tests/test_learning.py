"""Learning from the user: lists, the corrections logic and store, personal models, rollback,
the retrain trigger, and the commands `learn`, `classify --config` and `explain MESSAGE-ID`.

No IMAP here: label changes are fed to the pure `detect` and to `CorrectionWatcher` through an
in-memory keyword mailbox; `tests/test_learning_imap.py` does the round trip on a real Dovecot.
A tiny model (trained in half a second) is the base model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from tiny_model import CLUB_NOTICE, CLUB_PEOPLE, eml

from triage.cli import main
from triage.config import (
    LabelNames,
    LabelSet,
    LearningConfig,
    ListsConfig,
    load_config,
    parse_config,
)
from triage.daemon import retraining
from triage.daemon.corrections import CorrectionWatcher, detect, view
from triage.decide.lists import ListMatch, SenderLists, override
from triage.decide.policy import Decision
from triage.errors import ConfigError, ModelError, TriageError
from triage.mail.protocol import FetchedMessage
from triage.message.parse import parse_message
from triage.model import modelfile
from triage.model.classifier import Classifier, shipped_model_path
from triage.store import personal
from triage.store.corrections import CorrectionStore, Watched
from triage.store.records import Intent
from triage.store.state import State
from triage.training import learning

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
KW = LabelNames().for_style("keywords")
REL, SOL, REV = KW.relationship, KW.solicitation, KW.review


@pytest.fixture(autouse=True)
def base_model_written_by_triage(tmp_path: Path, tiny_model_path: Path) -> None:
    """The tiny base model stands for one `triage train` wrote: recorded as such in the state
    directory these tests use, or `triage learn` refuses to unpickle it."""
    modelfile.record_trusted(tiny_model_path, tmp_path / "state", shipped_model_path())


def club_mail(i: int) -> bytes:
    day, name = CLUB_PEOPLE[i % len(CLUB_PEOPLE)]
    return eml(
        CLUB_NOTICE.format(day=day, name=name),
        sender=f"{name} <{name.lower()}{i}@synthclub.example>",
        subject=f"Synth repair night {i}",
        message_id=f"<club{i}@synthclub.example>",
    )


def config_text(state: Path, extra: str = "", accounts: int = 1, top: str = "") -> str:
    text = f'state_dir = "{state}"\n{top}'
    for n in range(accounts):
        text += (
            f'[[account]]\nname = "acct{n or ""}"\nhost = "imap.example.org"\n'
            f'username = "me{n}@example.org"\n'
        )
    return text + extra


def write_config(tmp_path: Path, extra: str = "", accounts: int = 1, top: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path / "state", extra, accounts, top))
    return path


# --------------------------------------------------------------------------- config


def test_config_reads_learning_lists_and_mode(tmp_path: Path, tiny_model_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"[learning]\nretrain_after = 3\n"
        f"correction_weight = 8\nwatch_days = 7\nreview_target = 5\n"
        f'base_model = "{tiny_model_path}"\n'
        '[lists]\nrelationship = ["alice@x.org", "@partner.com"]\n'
        'ignore = ["@news.example"]\n'
        '[labels]\nreview = "Check/This"\nkeyword_review = "$check"\n',
        accounts=2,
        top='mode = "shadow"\n',
    )
    text = path.read_text().replace('name = "acct1"', 'name = "acct1"\nmode = "active"')
    path.write_text(text)
    config = load_config(path)
    assert config.mode == "shadow"
    assert [a.mode for a in config.accounts] == ["shadow", "active"]
    assert config.learning == LearningConfig(3, 8.0, 7, 5, tiny_model_path)
    assert config.lists == ListsConfig(("alice@x.org", "@partner.com"), (), ("@news.example",))
    assert config.labels.for_style("folders").review == "Check/This"
    assert config.labels.for_style("keywords").review == "$check"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (
            '[[account]]\nname = "b"\nhost = "h.org"\nusername = "u"\nmode = "loud"\n',
            ["account 'b' key 'mode'", '"active" or "shadow"'],
        ),
        ('[lists]\nrelationship = ["Alice@X.org"]\n', ["[lists]", "'relationship'", "lower-case"]),
        ('[lists]\nrelationship = ["@x.org"]\nignore = ["@x.org"]\n', ["also in 'relationship'"]),
        ('[lists]\nsolicitation = ["x.org"]\n', ["'solicitation'", '"x.org"']),
        ("[lists]\nallow = []\n", ["unknown key 'allow'"]),
        ("[learning]\nretrain_after = -1\n", ["'retrain_after'", ">= 0"]),
        ("[learning]\ncorrection_weight = 0\n", ["'correction_weight'"]),
        ('[labels]\nkeyword_review = "triage-drafted"\n', ["four keyword names must differ"]),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, extra: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_text(tmp_path, extra), tmp_path / "c.toml")
    for word in words:
        assert word in str(info.value)


def test_example_config_documents_the_new_keys() -> None:
    text = (REPO / "config.example.toml").read_text()
    config = parse_config(text, REPO / "config.example.toml")
    assert config.mode == "active"
    for cls in (LearningConfig, ListsConfig):
        for field in dataclasses.fields(cls):
            assert f"{field.name} =" in text, field.name
    for key in ("mode =", "review =", "keyword_review ="):
        assert key in text


# --------------------------------------------------------------------------- lists


def _decision(
    label: str = "solicitation", offenses: tuple[str, ...] = ("mlm-recruiting",), draft: bool = True
) -> Decision:
    return Decision(
        label=label,
        confidence=0.8,  # type: ignore[arg-type]
        scores={label: 0.8},
        offenses=offenses,
        draft=draft,
        reasons=("model reason",),
        model_version="m",
    )


def test_lists_match_the_most_specific_entry() -> None:
    lists = SenderLists(
        ListsConfig(
            relationship=("boss@corp.com", "@partner.com"),
            solicitation=("@corp.com",),
            ignore=("@news.partner.com",),
        )
    )
    assert lists.match("Boss@Corp.com") == ListMatch("relationship", "boss@corp.com")
    assert lists.match("sales@corp.com") == ListMatch("solicitation", "@corp.com")
    assert lists.match("x@eu.corp.com") == ListMatch("solicitation", "@corp.com")
    assert lists.match("ann@partner.com") == ListMatch("relationship", "@partner.com")
    assert lists.match("bot@news.partner.com") == ListMatch("ignore", "@news.partner.com")
    assert lists.match("x@notpartner.com") is None
    assert lists.match("") is None
    assert not SenderLists()


def test_list_overrides_say_why() -> None:
    friend = override(_decision(), ListMatch("relationship", "@partner.com"))
    assert (friend.label, friend.confidence, friend.offenses, friend.draft) == (
        "relationship",
        1.0,
        (),
        False,
    )
    assert friend.reasons[0].startswith("you listed @partner.com as always relationship")
    assert "the model alone says solicitation (0.80)" in friend.reasons
    pitch = override(_decision("relationship", (), False), ListMatch("solicitation", "x@y.com"))
    assert (pitch.label, pitch.draft, pitch.offenses) == ("solicitation", False, ())
    kept = override(_decision(), ListMatch("solicitation", "x@y.com"))
    assert kept.draft and kept.offenses == ("mlm-recruiting",) and kept.confidence == 1.0
    ignored = override(_decision(), ListMatch("ignore", "@news.com"))
    assert (ignored.label, ignored.draft) == ("other", False)
    assert "never touched" in ignored.no_draft_because


# --------------------------------------------------------------------------- detect (pure)


def watched(predicted: str, expected: set[str], uid: int = 1) -> Watched:
    return Watched(
        uid=uid,
        uidvalidity=7,
        message_key=f"<k{uid}@x>",
        message_id=f"<k{uid}@x>",
        sender="a@b.c",
        predicted=predicted,
        expected=frozenset(expected),
        shadow=REV in expected,
    )


@pytest.mark.parametrize(
    ("predicted", "expected", "present", "result"),
    [
        # active mode
        ("solicitation", {SOL}, {SOL, "\\Seen"}, None),
        ("solicitation", {SOL}, {REL}, ("correction", "solicitation", "relationship")),
        ("solicitation", {SOL}, set(), ("correction", "solicitation", "other")),
        ("solicitation", {SOL}, {SOL, REL}, ("correction", "solicitation", "relationship")),
        ("other", set(), {SOL}, ("correction", "other", "solicitation")),
        ("other", set(), {SOL, REL}, None),  # both added: undecided until one goes
        ("relationship", {REL}, {REL, "triage-drafted", "\\Flagged"}, None),
        # shadow mode: only the review label was applied
        ("solicitation", {REV}, {REV}, None),
        ("solicitation", {REV}, {REV, SOL}, ("confirmation", "solicitation", "solicitation")),
        ("solicitation", {REV}, {SOL}, ("confirmation", "solicitation", "solicitation")),
        ("relationship", {REV}, {REV, SOL}, ("correction", "relationship", "solicitation")),
        ("relationship", {REV}, set(), ("correction", "relationship", "other")),
        # after a review, later changes are corrections against the user's own label
        ("relationship", {REV, SOL}, {SOL}, ("labels", "solicitation", "solicitation")),
        ("relationship", {SOL}, {REL}, ("correction", "solicitation", "relationship")),
    ],
)
def test_detect(
    predicted: str, expected: set[str], present: set[str], result: tuple[str, str, str] | None
) -> None:
    change = detect(watched(predicted, expected), present, KW)
    if result is None:
        assert change is None
    else:
        assert change is not None
        assert (change.kind, change.old_label, change.new_label) == result
        assert change.labels == frozenset(present) & {REL, SOL, REV}


def test_view_reads_labels_as_a_class() -> None:
    assert view({REL}, KW).label == "relationship"
    assert view(set(), KW).label == "other"
    assert view({REV}, KW).unreviewed
    assert view({REL, SOL}, KW).label is None
    assert view({REL, SOL}, KW, was="relationship").label == "solicitation"
    no_review = LabelSet("R", "S", "D")
    assert view({"x"}, no_review).label == "other"


# --------------------------------------------------------------------------- the store


def ledger(
    state_dir: Path,
    rows: list[tuple[int, str, str, tuple[str, ...]]],
    *,
    account: str = "acct",
    folder: str = "INBOX",
    uidvalidity: int = 7,
    now: datetime = NOW,
) -> None:
    """Ledger rows as the daemon writes them: (uid, Message-ID, label, labels applied)."""
    with State.open(state_dir) as state:
        state.record_intents(
            account,
            folder,
            uidvalidity,
            [
                Intent(
                    uid=uid,
                    message_key=mid,
                    message_id=mid,
                    sender=f"s{uid}@x.org",
                    label=label,
                    confidence=0.9,
                    model_version="tiny",
                    labels=labels,
                )
                for uid, mid, label, labels in rows
            ],
            drafts_folder="Drafts",
            daily_cap=10,
            cooldown_days=90,
            now=now,
        )
        state.settle(
            account,
            folder,
            uidvalidity,
            [(uid, "done", "") for uid, *_ in rows],
            checkpoint_uid=None,
            highestmodseq=None,
            now=now,
        )


class MemoryBox:
    """A keyword mailbox in memory: just what the corrections check uses."""

    label_style = "keywords"

    def __init__(self, messages: dict[int, tuple[bytes, set[str]]]) -> None:
        self.messages = messages
        self.fetches = 0

    def fetch(self, folder: str, uids: list[int]) -> list[FetchedMessage]:
        self.fetches += 1
        return [
            FetchedMessage(uid, self.messages[uid][0], frozenset(self.messages[uid][1]))
            for uid in uids
            if uid in self.messages
        ]


def test_watcher_records_corrections_once_and_remembers_the_users_labels(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    raws = {uid: club_mail(uid) for uid in range(1, 5)}
    ledger(
        state_dir,
        [
            (1, "<club1@synthclub.example>", "other", ()),
            (2, "<club2@synthclub.example>", "solicitation", (SOL,)),
            (3, "<club3@synthclub.example>", "solicitation", (SOL,)),
            (4, "<club4@synthclub.example>", "relationship", (REL,)),
        ],
    )
    box = MemoryBox(
        {
            1: (raws[1], {REL}),
            2: (raws[2], {REL}),
            3: (raws[3], set()),
            4: (raws[4], {REL, "\\Seen"}),
        }
    )
    recorded: list[int] = []
    with CorrectionStore.open(state_dir) as store:
        watcher = CorrectionWatcher(
            store,
            "acct",
            now=lambda: NOW + timedelta(hours=1),
            on_recorded=lambda s: recorded.append(s.last_id("acct")),
        )
        changes = watcher.check(box, "INBOX", KW, 7, None)
        assert [(c.watched.uid, c.old_label, c.new_label) for c in changes] == [
            (1, "other", "relationship"),
            (2, "solicitation", "relationship"),
            (3, "solicitation", "other"),
        ]
        assert recorded == [3]
        # Seen again: nothing new is recorded; the user's labels are now the expected ones.
        assert watcher.check(box, "INBOX", KW, 7, None) == []
        assert store.user_labels("acct", "INBOX", "<club3@synthclub.example>") == frozenset()
        assert store.user_labels("acct", "INBOX", "<club2@synthclub.example>") == {REL}
        assert store.user_labels("acct", "INBOX", "<club4@synthclub.example>") is None
        examples = store.examples("acct")
        assert [(e.uid, e.new_label) for e in examples] == [
            (1, "relationship"),
            (2, "relationship"),
            (3, "other"),
        ]
        assert examples[0].raw == raws[1]
        assert store.since_learn("acct") == 3
        # The user changes their mind about UID 3: one message, the latest label counts.
        box.messages[3] = (raws[3], {REL})
        (change,) = watcher.check(box, "INBOX", KW, 7, None)
        assert (change.old_label, change.new_label) == ("other", "relationship")
        assert [(e.uid, e.new_label) for e in store.examples("acct")] == [
            (1, "relationship"),
            (2, "relationship"),
            (3, "relationship"),
        ]


def test_watcher_skips_reading_when_the_modseq_has_not_moved(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    ledger(state_dir, [(1, "<a@x>", "solicitation", (SOL,))])
    box = MemoryBox({1: (club_mail(1), {SOL})})
    with CorrectionStore.open(state_dir) as store:
        watcher = CorrectionWatcher(store, "acct", now=lambda: NOW)
        watcher.check(box, "INBOX", KW, 7, 100)
        reads = box.fetches
        watcher.check(box, "INBOX", KW, 7, 100)
        assert box.fetches == reads  # HIGHESTMODSEQ unchanged: no FETCH at all
        box.messages[1] = (club_mail(1), {REL})
        assert len(watcher.check(box, "INBOX", KW, 7, 101)) == 1


def test_watcher_ignores_mail_older_than_watch_days(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    ledger(state_dir, [(1, "<a@x>", "solicitation", (SOL,))], now=NOW - timedelta(days=40))
    box = MemoryBox({1: (club_mail(1), set())})
    with CorrectionStore.open(state_dir) as store:
        assert (
            CorrectionWatcher(store, "acct", now=lambda: NOW).check(box, "INBOX", KW, 7, None) == []
        )


def test_review_summary_counts_shadow_reviews_per_class(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    ledger(
        state_dir,
        [
            (1, "<1@x>", "solicitation", (REV,)),
            (2, "<2@x>", "solicitation", (REV,)),
            (3, "<3@x>", "relationship", (REV,)),
            (4, "<4@x>", "relationship", (REV,)),
            (5, "<5@x>", "solicitation", (SOL,)),
        ],
    )
    box = MemoryBox(
        {
            1: (b"x", {REV, SOL}),
            2: (b"x", {REV, REL}),
            3: (b"x", {REL}),
            4: (b"x", {REV}),
            5: (b"x", set()),
        }
    )
    with CorrectionStore.open(state_dir) as store:
        CorrectionWatcher(store, "acct", now=lambda: NOW).check(box, "INBOX", KW, 7, None)
        summary = store.review_summary("acct")
    assert summary.reviewed == {"relationship": 1, "solicitation": 2, "other": 0}
    assert summary.precision("solicitation") == 0.5
    assert summary.precision("relationship") == 1.0
    assert summary.precision("other") is None
    assert summary.corrections == 2  # UID 2 (shadow) and UID 5 (active)


# --------------------------------------------------------------------------- personal models


def corrections_for(state_dir: Path, uids: range, *, label: str = "relationship") -> None:
    """The user relabelled club mail triage called "other" as `label`."""
    ledger(state_dir, [(u, f"<club{u}@synthclub.example>", "other", ()) for u in uids])
    box = MemoryBox({u: (club_mail(u), {KW.for_class(label)}) for u in uids})
    with CorrectionStore.open(state_dir) as store:
        CorrectionWatcher(store, "acct", now=lambda: NOW).check(box, "INBOX", KW, 7, None)


def labels_of(classifier: Classifier, raws: list[bytes]) -> list[str]:
    return [d.label for d in classifier.classify([parse_message(r) for r in raws])]


def test_learn_saves_a_version_that_agrees_with_the_user(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    state_dir = tmp_path / "state"
    base = Classifier.load(tiny_model_path)
    unseen = [club_mail(i) for i in range(20, 24)]
    assert set(labels_of(base, unseen)) == {"other"}
    corrections_for(state_dir, range(1, 7))
    result = learning.learn(state_dir, "acct", base_path=tiny_model_path, now=NOW)
    assert result.status == "saved", result.message
    assert result.version == "personal-0001.model" and result.previous == "shipped"
    assert result.examples == 6 and result.corrections == 6 and result.new == 6
    assert result.reference is not None and result.candidate is not None
    assert result.candidate.examples == 1  # a quarter of six, held out for the check
    path = personal.current_model_path(state_dir, "acct")
    assert path == personal.account_dir(state_dir, "acct") / "personal-0001.model"
    personal_classifier = AccountOf(state_dir, tiny_model_path)
    assert personal_classifier.personal_model == "personal-0001.model"
    assert personal_classifier.version == "personal-acct-0001"
    assert (
        labels_of(personal_classifier, [club_mail(i) for i in range(1, 7)]) == ["relationship"] * 6
    )
    assert labels_of(personal_classifier, unseen) == ["relationship"] * 4
    # Nothing new: nothing trained; a model file's metadata says what it was made from.
    again = learning.learn(state_dir, "acct", base_path=tiny_model_path, now=NOW)
    assert again.status == "nothing"
    (version,) = personal.versions(state_dir, "acct")
    assert version.current and version.metadata["personal"]["examples"] == 6
    assert version.metadata["personal"]["corrections_through_id"] == 6


class _RunsACommand:
    """What a hostile pickle holds: unpickling it runs a shell command."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.canary}",))


def test_learn_never_unpickles_a_base_model_triage_did_not_write(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """A base model whose payload runs a command, with both checksums recomputed, is refused
    before it is unpickled (issue 10, item 7)."""
    state_dir, canary = tmp_path / "state", tmp_path / "canary"
    metadata, arrays = modelfile.read_arrays(tiny_model_path)
    hostile = tmp_path / "hostile.model"
    modelfile.write(hostile, metadata, arrays, pickle.dumps(_RunsACommand(canary)))
    corrections_for(state_dir, range(1, 7))
    with pytest.raises(ModelError, match="triage did not write it"):
        learning.learn(state_dir, "acct", base_path=hostile, now=NOW)
    assert not canary.exists()
    # the model triage wrote (recorded by the fixture above) is read as before
    assert learning.learn(state_dir, "acct", base_path=tiny_model_path, now=NOW).status == "saved"


def test_model_arrays_with_nan_or_infinity_are_refused(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    metadata, arrays = modelfile.read_arrays(tiny_model_path)
    _header, payload = modelfile.read_payload(tiny_model_path)
    for bad in (np.nan, np.inf):
        coef = np.array(arrays["svm.coef"], dtype=np.float64)
        coef[0, 0] = bad
        path = tmp_path / f"bad-{bad}.model"
        modelfile.write(path, metadata, {**arrays, "svm.coef": coef}, payload)
        with pytest.raises(ModelError, match="NaN or infinity"):
            Classifier.load(path)


def AccountOf(
    state_dir: Path, model: Path, lists: ListsConfig | None = None
) -> personal.AccountClassifier:
    return personal.AccountClassifier(
        Classifier.load(model), lists=SenderLists(lists), state_dir=state_dir, account="acct"
    )


def test_only_the_newest_versions_are_kept_and_never_the_one_in_use(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    state_dir = tmp_path / "state"
    corrections_for(state_dir, range(1, 5))
    for _ in range(personal.KEPT_VERSIONS + 2):
        assert (
            learning.learn(state_dir, "acct", base_path=tiny_model_path, force=True).status
            == "saved"
        )
    names = [v.name for v in personal.versions(state_dir, "acct")]
    assert names == [personal.version_name(n) for n in range(3, personal.KEPT_VERSIONS + 3)]
    assert personal.current_model_path(state_dir, "acct").name == names[-1]
    # a rollback to the oldest kept version protects it from the next pruning
    directory = personal.account_dir(state_dir, "acct")
    personal.write_pointer(directory, names[0])
    assert personal.prune_versions(state_dir, "acct", keep=2) == names[1:-2]
    assert [v.name for v in personal.versions(state_dir, "acct")] == [names[0], *names[-2:]]
    assert personal.current_model_path(state_dir, "acct").name == names[0]


def test_rollback_returns_to_the_previous_version_and_the_classifier_follows(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    state_dir = tmp_path / "state"
    corrections_for(state_dir, range(1, 5))
    classifier = AccountOf(state_dir, tiny_model_path)
    assert classifier.personal_model == ""
    assert learning.learn(state_dir, "acct", base_path=tiny_model_path).status == "saved"
    corrections_for(state_dir, range(5, 9))
    assert (
        learning.learn(state_dir, "acct", base_path=tiny_model_path, force=True).status == "saved"
    )
    directory = personal.account_dir(state_dir, "acct")
    assert sorted(p.name for p in directory.glob("*.model")) == [
        "personal-0001.model",
        "personal-0002.model",
    ]
    classifier.classify([parse_message(club_mail(1))])  # looks at the pointer first
    assert classifier.personal_model == "personal-0002.model"
    step = personal.rollback(state_dir, "acct")
    assert (step.previous, step.now) == ("personal-0002.model", "personal-0001.model")
    classifier.classify([parse_message(club_mail(1))])
    assert classifier.personal_model == "personal-0001.model"
    assert personal.rollback(state_dir, "acct").now == "shipped"
    assert labels_of(classifier, [club_mail(1)]) == ["other"]  # the base model again
    assert classifier.personal_model == ""
    with pytest.raises(TriageError, match="already uses the base model"):
        personal.rollback(state_dir, "acct")
    # Old versions stay; a rollback does not make the daemon retrain from the same data.
    assert len(list(directory.glob("*.model"))) == 2
    with CorrectionStore.open(state_dir) as store:
        assert store.since_learn("acct") == 0


def test_a_broken_pointer_or_model_keeps_the_model_in_use(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    state_dir = tmp_path / "state"
    directory = personal.account_dir(state_dir, "acct")
    directory.mkdir(parents=True)
    (directory / "personal-0001.model").write_bytes(b"not a model")
    personal.write_pointer(directory, "personal-0001.model")
    classifier = AccountOf(state_dir, tiny_model_path)
    assert classifier.personal_model == "" and classifier.version == "tiny-test-model"
    (directory / "current").write_text("../../evil.model\n")
    assert classifier.refresh() is False


def test_verdict_refuses_a_worse_model() -> None:
    ref = learning.Scores(0.90, 0.9, 100, examples_right=2, examples=3)
    assert learning.verdict(ref, learning.Scores(0.89, 0.9, 100, 2, 3))[0]
    ok, why = learning.verdict(ref, learning.Scores(0.85, 0.86, 100, 3, 3))
    assert not ok and "0.900 to 0.850" in why
    ok, why = learning.verdict(ref, learning.Scores(0.95, 0.95, 100, 1, 3))
    assert not ok and "fewer held-out corrections" in why


def test_learn_rejects_a_worse_model_and_keeps_the_current_one(
    tmp_path: Path, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    corrections_for(state_dir, range(1, 5))
    monkeypatch.setattr(learning, "verdict", lambda ref, cand: (False, "worse, for the test"))
    result = learning.learn(state_dir, "acct", base_path=tiny_model_path)
    assert result.status == "rejected" and "worse, for the test" in result.message
    assert personal.versions(state_dir, "acct") == []
    assert personal.current_model_path(state_dir, "acct") is None
    with CorrectionStore.open(state_dir) as store:
        assert store.since_learn("acct") == 0  # no retraining loop on the same data


def test_lists_apply_on_top_of_the_account_model(tmp_path: Path, tiny_model_path: Path) -> None:
    classifier = AccountOf(
        tmp_path / "state", tiny_model_path, ListsConfig(solicitation=("@synthclub.example",))
    )
    (decision,) = classifier.classify([parse_message(club_mail(1))])
    assert decision.label == "solicitation" and decision.confidence == 1.0
    assert decision.reasons[0] == (
        "you listed @synthclub.example as always solicitation ([lists] solicitation)"
    )


def retrained(auto: retraining.AutoLearner, store: CorrectionStore) -> retraining.RetrainOutcome:
    """Start the background retraining (it must be due) and wait for its outcome."""
    thread = auto.maybe_start(store)
    assert thread is not None
    thread.join(timeout=60)
    assert auto.last_result is not None
    return auto.last_result


def test_auto_learner_retrains_after_retrain_after_corrections(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    state_dir = tmp_path / "state"
    settings = LearningConfig(retrain_after=4, base_model=tiny_model_path)
    auto = retraining.AutoLearner(state_dir, "acct", settings)
    corrections_for(state_dir, range(1, 4))
    with CorrectionStore.open(state_dir) as store:
        assert auto.maybe_start(store) is None  # 3 < 4
    corrections_for(state_dir, range(4, 5))
    with CorrectionStore.open(state_dir) as store:
        assert retrained(auto, store).status == "saved"
        assert auto.maybe_start(store) is None  # counted again from zero
    assert personal.current_model_path(state_dir, "acct") is not None
    assert LearningConfig().retrain_after == 20
    off = retraining.AutoLearner(state_dir, "acct", LearningConfig(retrain_after=0))
    corrections_for(state_dir, range(10, 40))
    with CorrectionStore.open(state_dir) as store:
        assert off.maybe_start(store) is None


def test_a_failed_background_retraining_is_logged_and_not_retried_at_once(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    missing = tmp_path / "no-such.model"
    auto = retraining.AutoLearner(
        state_dir, "acct", LearningConfig(retrain_after=2, base_model=missing)
    )
    corrections_for(state_dir, range(1, 3))
    with CorrectionStore.open(state_dir) as store:
        outcome = retrained(auto, store)
        assert outcome.status == "failed" and str(missing) in outcome.message
        assert store.since_learn("acct") == 0  # the same corrections do not retrigger it
    assert personal.current_model_path(state_dir, "acct") is None


# The daemon's side of a retraining, in a process of its own that imports nothing else
RETRAIN_IN_DAEMON = """
import json, sys
from pathlib import Path
from triage.daemon import retraining
from triage.config import LearningConfig
from triage.store.corrections import CorrectionStore
state_dir, model = Path(sys.argv[1]), Path(sys.argv[2])
auto = retraining.AutoLearner(state_dir, "acct", LearningConfig(retrain_after=4, base_model=model))
with CorrectionStore.open(state_dir) as store:
    auto.maybe_start(store).join(timeout=120)
print(json.dumps({"status": auto.last_result.status,
                  "sklearn": any(m.split(".")[0] == "sklearn" for m in sys.modules)}))
"""


def test_background_retraining_keeps_scikit_learn_out_of_the_daemon(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """The daemon's process stays small: training (and scikit-learn) lives in a child."""
    state_dir = tmp_path / "state"
    corrections_for(state_dir, range(1, 5))
    done = subprocess.run(
        [sys.executable, "-c", RETRAIN_IN_DAEMON, str(state_dir), str(tiny_model_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": "saved", "sklearn": False}
    assert personal.current_model_path(state_dir, "acct") is not None


def test_learn_waits_for_no_one_in_the_daemon(tmp_path: Path, tiny_model_path: Path) -> None:
    state_dir = tmp_path / "state"
    corrections_for(state_dir, range(1, 5))
    with (
        personal.locked(personal.account_dir(state_dir, "acct")),
        pytest.raises(personal.LearnBusy),
    ):
        learning.learn(state_dir, "acct", base_path=tiny_model_path, wait=False)


# --------------------------------------------------------------------------- the commands


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_learn_command_classify_with_config_and_rollback(
    tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f'[learning]\nbase_model = "{tiny_model_path}"\n')
    state_dir = load_config(config).state_dir
    corrections_for(state_dir, range(1, 6))
    mail = tmp_path / "club.eml"
    mail.write_bytes(club_mail(30))

    code, out, _ = run_cli(capsys, "learn", "--config", str(config), "--list")
    assert code == 0 and "current model shipped; 5 corrections recorded, 5 since" in out
    code, out, _ = run_cli(capsys, "learn", "--config", str(config))
    assert code == 0, out
    assert "acct: saved personal-0001.model" in out and "held-out check" in out
    assert "`triage learn --rollback` returns to it" in out
    code, out, _ = run_cli(capsys, "classify", "--json", "--config", str(config), str(mail))
    record = json.loads(out)
    assert (record["label"], record["model_version"]) == ("relationship", "personal-acct-0001")
    code, out, _ = run_cli(capsys, "classify", "--json", "--model", str(tiny_model_path), str(mail))
    assert json.loads(out)["label"] == "other"  # without a config: the base model
    code, out, _ = run_cli(capsys, "learn", "--config", str(config), "--json")
    assert json.loads(out)["status"] == "nothing"
    code, out, _ = run_cli(capsys, "learn", "--config", str(config), "--rollback")
    assert code == 0 and "now using shipped (was personal-0001.model)" in out
    code, out, _ = run_cli(capsys, "classify", "--json", "--config", str(config), str(mail))
    assert json.loads(out)["model_version"] == "tiny-test-model"


def test_classify_with_several_accounts_needs_account(
    tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f'[learning]\nbase_model = "{tiny_model_path}"\n', accounts=2)
    mail = tmp_path / "club.eml"
    mail.write_bytes(club_mail(1))
    code, _, err = run_cli(capsys, "classify", "--config", str(config), str(mail))
    assert code == 2 and "several accounts (acct, acct1); pass --account NAME" in err
    code, out, _ = run_cli(
        capsys, "classify", "--json", "--config", str(config), "--account", "acct1", str(mail)
    )
    assert code == 0 and json.loads(out)["label"] == "other"


def test_explain_message_id_shows_the_record_and_the_correction(
    tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f'[learning]\nbase_model = "{tiny_model_path}"\n')
    state_dir = load_config(config).state_dir
    corrections_for(state_dir, range(1, 3))
    code, out, _ = run_cli(
        capsys, "explain", "<club1@synthclub.example>", "--config", str(config), "--no-fetch"
    )
    assert code == 0, out
    assert "acct/INBOX UID 1 (UIDVALIDITY 7)" in out
    assert "decision: other (0.90), model tiny" in out
    assert "labels applied: none" in out and "draft: none" in out
    assert "corrected: other -> relationship" in out
    assert "the copy kept with your correction; not fetched (--no-fetch)" in out
    assert "Class: other" in out and "What pushed it towards other" in out
    assert "Sender: you have never written to them" in out
    code, _, err = run_cli(capsys, "explain", "<nobody@x.org>", "--config", str(config))
    assert code == 1 and "not in triage's records" in err
