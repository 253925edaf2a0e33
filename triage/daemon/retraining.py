"""The daemon's side of personal models: per account the classifier that follows the
`current` pointer, the corrections watcher, and the background retraining it starts once
enough corrections came in (the versions themselves: `triage.store.personal`)."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from triage.config import Config, LearningConfig
from triage.daemon.corrections import CorrectionWatcher
from triage.decide.lists import SenderLists
from triage.model.classifier import Classifier
from triage.store.corrections import CorrectionStore
from triage.store.personal import AccountClassifier, base_model_path, correction_store
from triage.store.schema import db_path

log = logging.getLogger(__name__)


# A retraining that takes longer than this is stuck; the lock is freed when the child dies.
RETRAIN_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class RetrainOutcome:
    status: str  # what triage.training.learning.LearnResult says ("saved", "rejected", "nothing"),
    # "busy" (another process is training) or "failed"
    message: str


class AutoLearner:
    """Retrains an account's model in the background once `retrain_after` new corrections
    have come in. One training at a time per account (a lock file across processes); the
    daemon's `AccountClassifier` picks the new version up before its next batch.

    The training runs in a child process (`python -m triage.training.learning`) at a lower priority,
    watched by a thread: scikit-learn and the training's memory (several times the daemon's
    own) are given back when the child exits, and the daemon keeps labelling meanwhile.
    """

    _threads: dict[tuple[str, str], threading.Thread] = {}
    _threads_lock = threading.Lock()

    def __init__(self, state_dir: Path, account: str, learning: LearningConfig) -> None:
        self.state_dir = Path(state_dir)
        self.account = account
        self.learning = learning
        self.last_result: RetrainOutcome | None = None

    def due(self, store: CorrectionStore) -> bool:
        after = self.learning.retrain_after
        return after > 0 and store.since_learn(self.account) >= after

    def maybe_start(self, store: CorrectionStore) -> threading.Thread | None:
        """Start a retraining thread when enough new corrections came in."""
        if not self.due(store):
            return None
        key = (str(self.state_dir), self.account)
        with self._threads_lock:
            running = self._threads.get(key)
            if running is not None and running.is_alive():
                return None
            thread = threading.Thread(
                target=self._run, name=f"triage-learn-{self.account}", daemon=True
            )
            self._threads[key] = thread
            thread.start()
            return thread

    def _run(self) -> None:
        log.info(
            "account %s: %d new corrections; training a personal model",
            self.account,
            self.learning.retrain_after,
        )
        command = [
            sys.executable,
            "-m",
            "triage.training.learning",
            str(self.state_dir),
            self.account,
            str(base_model_path(self.learning)),
            str(self.learning.correction_weight),
        ]
        try:
            # stderr is inherited: the child's log lines join the daemon's
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                text=True,
                check=False,
                timeout=RETRAIN_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.last_result = RetrainOutcome("failed", f"cannot run {command[:3]}: {exc}")
        else:
            self.last_result = _outcome_of(done)
        if self.last_result.status == "busy":
            log.info("%s; not training again", self.last_result.message)
        elif self.last_result.status == "failed":
            log.error(
                "account %s: training a personal model failed: %s",
                self.account,
                self.last_result.message,
            )
            with contextlib.suppress(Exception), correction_store(self.state_dir) as store:
                if store is not None:
                    store.mark_run(
                        self.account,
                        store.last_id(self.account),
                        f"failed: {self.last_result.message}",
                        datetime.now(UTC),
                    )
        else:
            log.info("account %s: %s", self.account, self.last_result.message)


def _outcome_of(done: subprocess.CompletedProcess[str]) -> RetrainOutcome:
    """What the training child printed last, or why it printed nothing usable."""
    try:
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        return RetrainOutcome(str(outcome["status"]), str(outcome["message"]))
    except (ValueError, KeyError, IndexError, TypeError):
        return RetrainOutcome(
            "failed",
            f"the training process exited with code {done.returncode}; its log lines above say why",
        )


class Personal:
    """Everything `triage run` takes from the personal models, per account: the classifier (personal
    model, lists, pointer checks), the corrections watcher, and the background retraining.

    With `personal_models` false (`triage run --model FILE`) every account classifies with the
    given model and lists only; corrections are still recorded, but nothing is retrained.
    """

    def __init__(
        self,
        config: Config,
        base: Classifier,
        *,
        personal_models: bool = True,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.base = base
        self.personal_models = personal_models
        self.state_dir = Path(state_dir or config.state_dir)
        self._classifiers: dict[str, AccountClassifier] = {}
        self._lock = threading.Lock()

    def classifier(self, account: str) -> AccountClassifier:
        """One per account, shared by its folder workers."""
        with self._lock:
            if account not in self._classifiers:
                self._classifiers[account] = AccountClassifier(
                    self.base,
                    lists=SenderLists(self.config.lists),
                    state_dir=self.state_dir if self.personal_models else None,
                    account=account if self.personal_models else "",
                )
            return self._classifiers[account]

    def watcher(self, account: str) -> CorrectionWatcher:
        auto = (
            AutoLearner(self.state_dir, account, self.config.learning)
            if self.personal_models
            else None
        )
        return CorrectionWatcher(
            db_path(self.state_dir),
            account,
            watch_days=self.config.learning.watch_days,
            on_recorded=auto.maybe_start if auto is not None else None,
        )
