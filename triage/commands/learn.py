"""`triage learn`: a personal model from the shipped training data plus the user's corrections.

See `triage.training.learning` for how a version is made and checked. Without `--account`
every account of the config is handled in turn.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from triage.config import Config, add_config_argument, load_config
from triage.errors import TriageError
from triage.store import personal
from triage.store.corrections import CorrectionStore
from triage.store.schema import db_path

if TYPE_CHECKING:
    from triage.training.learning import LearnResult

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "learn",
        help="train a personal model from your corrections (or --rollback)",
        description="Train a personal model: the shipped training data plus every correction "
        "you made to triage's labels in your mail client (each weighted [learning] "
        "correction_weight). It is saved as a new version only when it is not worse than the "
        "current model on held-out mail; older versions are kept. A running `triage run` "
        "switches to it before its next batch.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--account", metavar="NAME", help="only this account (default: every account in the config)"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--rollback",
        action="store_true",
        help="go back to the previous version (after the oldest: the shipped model)",
    )
    action.add_argument(
        "--list", action="store_true", help="list the versions and the corrections, change nothing"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="train even without new corrections, and save without the check",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per account")
    parser.set_defaults(func=run)


def _accounts(config: Config, name: str | None) -> list[str]:
    return [config.account(name).name] if name else [a.name for a in config.accounts]


def _listing(config: Config, account: str) -> dict[str, Any]:
    found = personal.versions(config.state_dir, account)
    corrections = since = 0
    path = db_path(config.state_dir)
    if path.exists():
        with CorrectionStore(path, readonly=True) as store:
            summary = store.review_summary(account)
            corrections, since = summary.corrections, summary.since_learn
    current = next((v.name for v in found if v.current), personal.BASE)
    return {
        "account": account,
        "current": current,
        "corrections": corrections,
        "new_corrections": since,
        "versions": [
            {
                "version": v.name,
                "current": v.current,
                "problem": v.problem,
                "trained_at": v.metadata.get("personal", {}).get("trained_at"),
                "examples": v.metadata.get("personal", {}).get("examples"),
                "check": v.metadata.get("personal", {}).get("check", {}).get("verdict"),
            }
            for v in found
        ],
    }


def _print_listing(info: dict[str, Any]) -> None:
    print(
        f"{info['account']}: current model {info['current']}; {info['corrections']} "
        f"correction{'s' if info['corrections'] != 1 else ''} recorded, "
        f"{info['new_corrections']} since the last `triage learn`"
    )
    marker = {True: "*", False: " "}
    print(f"  {marker[info['current'] == personal.BASE]} {personal.BASE} (the base model)")
    for v in info["versions"]:
        detail = (
            v["problem"]
            or f"trained {v['trained_at']} on {v['examples']} of your labels; {v['check']}"
        )
        print(f"  {marker[v['current']]} {v['version']}: {detail}")


def _print_result(result: LearnResult) -> None:
    print(f"{result.account}: {result.message}")
    if result.examples:
        print(
            f"  trained on the base model's training data plus {result.examples} message"
            f"{'s' if result.examples != 1 else ''} you labelled ({result.corrections} "
            f"correction{'s' if result.corrections != 1 else ''}, {result.new} new)"
        )
    ref, cand = result.reference, result.candidate
    if ref and cand:
        print(f"  held-out check ({ref.n} training messages, {ref.examples} of your corrections):")
        print(f"    {'':28} {'current':>9} {'new':>9}")
        print(f"    {'macro-F1':28} {ref.macro_f1:>9.3f} {cand.macro_f1:>9.3f}")
        print(f"    {'accuracy':28} {ref.accuracy:>9.3f} {cand.accuracy:>9.3f}")
        if ref.examples:
            print(f"    {'corrections right':28} {ref.examples_right:>9} {cand.examples_right:>9}")
    for problem in result.skipped:
        print(f"  skipped (unreadable): {problem}")
    if result.status == "saved":
        print(f"  previous: {result.previous}; `triage learn --rollback` returns to it")


def run(args: argparse.Namespace) -> int:
    # Training imports scikit-learn; importing it here, not at the top, keeps it out of
    # every other command (the CLI imports all command modules to build its parser).
    from triage.training import learning

    config = load_config(args.config)
    code = 0
    for account in _accounts(config, args.account):
        if args.list:
            info = _listing(config, account)
            if args.json:
                print(json.dumps(info))
            else:
                _print_listing(info)
            continue
        if args.rollback:
            result = personal.rollback(config.state_dir, account)
            if args.json:
                print(
                    json.dumps(
                        {
                            "account": account,
                            "status": "rolled-back",
                            "previous": result.previous,
                            "current": result.now,
                        }
                    )
                )
            else:
                print(f"{account}: now using {result.now} (was {result.previous})")
            continue
        try:
            outcome = learning.learn(
                config.state_dir,
                account,
                base_path=personal.base_model_path(config.learning),
                weight=config.learning.correction_weight,
                force=args.force,
            )
        except TriageError as exc:
            if args.json:
                print(json.dumps({"account": account, "status": "error", "message": str(exc)}))
            else:
                print(f"{account}: {exc}", file=sys.stderr)
            code = max(code, exc.exit_code)
            continue
        if args.json:
            print(json.dumps(outcome.as_json()))
        else:
            _print_result(outcome)
        if outcome.status == "rejected":
            code = max(code, 1)
    sys.stdout.flush()
    return code
