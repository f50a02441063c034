"""Hash-stable train / validation / test split.

A file's split depends only on ``(seed, split_key)`` (the split key is its relative path unless a
source says otherwise, e.g. a scene id that keeps a scene's chips together), so the split of the
existing files does not change when a dataset grows. ``--stratify`` ranks each class's split keys by
the same hash and cuts exact per-class counts: a file then moves only when it sits at a boundary. A
split key is decided once (in the stratum of its majority class), so it never straddles splits.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from satrec.documents import SPLITS
from satrec.errors import UsageError

_SCALE = float(1 << 64)


@dataclass(frozen=True)
class Ratios:
    train: float
    validation: float
    test: float

    @classmethod
    def resolve(cls, train: float, validation: float | None, test: float) -> Ratios:
        """Validate the command-line ratios; the validation ratio defaults to what is left."""
        for name, value in (("--train-ratio", train), ("--val-ratio", validation), ("--test-ratio", test)):
            if value is not None and not (0.0 <= value <= 1.0 and math.isfinite(value)):
                raise UsageError(f"{name} {value} is outside 0..1")
        rest = 1.0 - train - test
        if rest < -1e-9:
            raise UsageError(f"--train-ratio {train} + --test-ratio {test} is more than 1; give both explicitly "
                             "(the default --train-ratio is 0.8)")
        if validation is None:
            validation = rest if rest > 1e-9 else 0.0   # 0.8 + 0.2 leaves 5e-17, not a split
        elif abs(train + validation + test - 1.0) > 1e-6:
            raise UsageError(f"--train-ratio {train} + --val-ratio {validation} + --test-ratio {test} must add up "
                             "to 1")
        if train + validation + test <= 0:
            raise UsageError("all split ratios are 0: nothing would be packed")
        return cls(train, validation, test)

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.train, self.validation, self.test)

    def used(self) -> list[str]:
        return [name for name, r in zip(SPLITS, self.as_tuple(), strict=True) if r > 0]

    def to_dict(self) -> dict[str, float]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def unit_hash(seed: int, purpose: str, key: str) -> float:
    """A uniform number in [0, 1) from the seed and a key (stable across runs, machines, Pythons)."""
    digest = hashlib.blake2b(f"{seed}\0{purpose}\0{key}".encode("utf-8", "surrogateescape"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def assign(u: float, ratios: Ratios) -> str:
    """Map a unit hash to a split: [0, train) train, then test, then validation (the remainder)."""
    if u < ratios.train:
        return "train"
    if u < ratios.train + ratios.test:
        return "test"
    if ratios.validation > 0:
        return "validation"
    # Rounding at the top of the range: fall back to the last split that has a share.
    return "test" if ratios.test > 0 else "train"


def split_of(split_key: str, seed: int, ratios: Ratios) -> str:
    return assign(unit_hash(seed, "split", split_key), ratios)


def split_all(keys: Sequence[str], seed: int, ratios: Ratios, *,
              strata: Sequence[str | None] | None = None) -> list[str]:
    """The split of every key. With ``strata`` (a class per key), exact proportions per class of
    distinct split keys, each split key counted under its majority class.

    Keys that share a split key always land together (both modes), whatever their classes.
    """
    used = ratios.used()
    if len(used) == 1:
        return [used[0]] * len(keys)   # one split has every share: no hash to compute (assign agrees)
    units = [unit_hash(seed, "split", k) for k in keys]
    if strata is None:
        return [assign(u, ratios) for u in units]
    # Stratified: decide per split key, never per (class, key) pair: a scene whose chips hold
    # several classes (a label raster) would otherwise straddle splits. Each split key joins the
    # stratum of its majority class; distinct keys are ranked per stratum by their hash and cut
    # at exact counts.
    hashes: dict[str, float] = {}
    votes: dict[str, Counter[str | None]] = defaultdict(Counter)
    for key, u, stratum in zip(keys, units, strata, strict=True):
        hashes.setdefault(key, u)
        votes[key][stratum] += 1
    groups: dict[str | None, list[str]] = defaultdict(list)
    for key, counts in votes.items():
        groups[_majority(counts)].append(key)
    decided: dict[str, str] = {}
    for members in groups.values():
        ranked = sorted(members, key=lambda k: (hashes[k], k))
        counts3 = _apportion(len(ranked), ratios)
        names = ["train"] * counts3[0] + ["test"] * counts3[2] + ["validation"] * counts3[1]
        decided.update(zip(ranked, names, strict=True))
    return [decided[k] for k in keys]


def _majority(counts: Counter[str | None]) -> str | None:
    """The most frequent class; ties go to the smallest name (None, unlabelled, sorts first)."""
    return min(counts, key=lambda s: (-counts[s], s is not None, s or ""))


def _apportion(n: int, ratios: Ratios) -> tuple[int, int, int]:
    """Split n into (train, validation, test) by largest remainder; ties favour train, then validation."""
    shares = [n * r for r in ratios.as_tuple()]
    counts = [math.floor(s) for s in shares]
    order = sorted(range(3), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts[0], counts[1], counts[2]
