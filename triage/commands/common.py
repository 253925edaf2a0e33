"""Arguments and loading shared by the commands that classify.

Which model a command uses:

- `--model FILE`: exactly that model (with `--config`, plus that config's lists and draft
  settings);
- `--config PATH` and/or `--account NAME`: the account's current personal model (`triage learn`),
  or the config's `[learning] base_model` / the shipped model while it has none, plus the
  config's `[lists]` and `[drafts]` settings; `--account` without `--config` reads the default
  config file;
- neither: the shipped model, no config read at all.
"""

from __future__ import annotations

from pathlib import Path

from triage.errors import ConfigError

# typing.TYPE_CHECKING without importing typing: a served `triage filter` imports this module,
# and the heavy modules are imported in the functions that use them
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from triage.config import Config
    from triage.model.classifier import Classifier


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, metavar="FILE", help="use this model file instead of the shipped one"
    )


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config PATH` and `--account NAME`: classify as the daemon does for that account."""
    from triage.config import add_config_argument

    add_config_argument(parser)
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="use this account's personal model and the config's lists "
        "(default with --config: its only account)",
    )


def wants_config(args: argparse.Namespace) -> bool:
    return getattr(args, "config", None) is not None or getattr(args, "account", None) is not None


def pick_account(config: Config, name: str | None) -> str:
    """The account named, or the config's only account."""
    if name:
        return config.account(name).name
    if len(config.accounts) == 1:
        return config.accounts[0].name
    names = ", ".join(a.name for a in config.accounts)
    where = f"{config.source}: " if config.source else ""
    raise ConfigError(f"config error: {where}several accounts ({names}); pass --account NAME")


def load_classifier(args: argparse.Namespace) -> Classifier:
    from triage.model.classifier import Classifier

    if not wants_config(args):
        return Classifier.load(args.model)
    from triage.config import load_config
    from triage.store.personal import account_classifier, draft_policy

    config = load_config(getattr(args, "config", None))
    if args.model:
        base = Classifier.load(args.model, policy=draft_policy(config))
        return account_classifier(config, None, base=base)
    return account_classifier(config, pick_account(config, getattr(args, "account", None)))
