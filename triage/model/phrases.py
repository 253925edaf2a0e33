"""Phrases as word tuples: "(could|would) you [please] introduce" expanded once into the word
sequences it stands for, and a message's text tokenised once so that every phrase list is one
set intersection instead of dozens of regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import compress, product

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NOT_TOKEN_TO_SPACE = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))
_ALTERNATIVES = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|(\S+)")


# First word of every phrase any signal looks for -> the phrase lengths starting with it.
_PHRASE_STARTS: dict[str, set[int]] = {}


def phrases(*patterns: str) -> frozenset[tuple[str, ...]]:
    """Expand "(could|would) you [please] introduce" into the word tuples it stands for.

    `(a|b)` is a choice, `[a|b]` an optional choice. Matching whole words against a set is far
    faster than running dozens of regular expressions, and the lists stay readable.
    """
    expanded: set[tuple[str, ...]] = set()
    for pattern in patterns:
        choices: list[list[tuple[str, ...]]] = []
        for choice, optional, word in _ALTERNATIVES.findall(pattern.lower()):
            options = (choice or optional or word).split("|")
            alternatives = [tuple(option.split()) for option in options]
            if optional:
                alternatives.append(())
            choices.append(alternatives)
        for combination in product(*choices):
            words = tuple(w for part in combination for w in part)
            if words:
                expanded.add(words)
                _PHRASE_STARTS.setdefault(words[0], set()).add(len(words))
    return frozenset(expanded)


@dataclass(frozen=True)
class Text:
    """A message's new text, tokenised once for every phrase signal."""

    raw: str
    lower: str
    tokens: tuple[str, ...]
    grams: frozenset[tuple[str, ...]]  # the word n-grams that could be a known phrase

    @classmethod
    def of(cls, raw: str) -> Text:
        lower = raw.lower().replace("\u2019", "'")
        if lower.isascii() and "'" not in lower:
            # TOKEN's runs of [a-z0-9], found by one bytes.translate and a split
            tokens = tuple(
                lower.encode("ascii").translate(_NOT_TOKEN_TO_SPACE).decode("ascii").split()
            )
        else:
            tokens = tuple(TOKEN.findall(lower))
        grams: set[tuple[str, ...]] = set()
        starts = _PHRASE_STARTS
        # only the positions of words that start a phrase reach Python code
        for i in compress(range(len(tokens)), map(starts.__contains__, tokens)):
            for n in starts[tokens[i]]:
                grams.add(tokens[i : i + n])
        return cls(raw, lower, tokens, frozenset(grams))
