"""Attribution of claims to share chains, and the sharers that matter most (pure: no I/O).

A share is a node of its offer's share tree: `parent` is the share its user arrived through.
A claim made through a share is *attributed* to it; the claim and its redemption are credited
to that share and to every share above it (its chain). A sharer's

- own claims/redemptions are those attributed to the sharer's shares;
- chain claims/redemptions are those attributed to any share in the subtree of one of the
  sharer's shares (each claim counted once per sharer, however many of their shares it passes).

Self-referral: a user who claims through their own share is credited to that share's parent
instead (`attributed_share`): a sharer never earns credit for their own claim at their own
share, and whoever brought them still does. Nearby keeps one share per user of an app and
offer (first touch), so the parent is the share the user arrived through.

The 80% set ("kol")
-------------------
Given each sharer's chain redemptions C(u) (a set) and the T attributed redemptions, the kol is
a smallest set S of sharers with |union of C(u), u in S| >= 4/5 T.

When the sets are laminar (any two are nested or disjoint) this is exact and greedy: sort the
*maximal* sets (those inside no other; equal sets count once) by size, largest first, and take
the shortest prefix that reaches the target. Proof: let S be any feasible set of k sharers.
Every C(u) lies inside some maximal set M(u) (laminar: the sets containing C(u) form a chain, its
top is maximal). The distinct maximal sets {M(u) : u in S} number at most k, and their union
contains the union of S, so they are feasible too. Distinct maximal sets are pairwise disjoint
(laminar, neither inside the other), so the union of any j of them is the sum of their sizes,
and the j largest have the largest sum. Hence the prefix of the j largest reaches the target
for some j <= k: greedy is never larger than an optimum, so it is one. (If there are fewer
maximal sets than k, all of them cover every attributed redemption.)

Within one offer the sets are laminar: a sharer has one share, so C(u) is a subtree, and two
subtrees of a tree are nested or disjoint. The maximal sets are then the chains of the root
shares, as chain credit implies: everyone's redemptions count for the root of their cascade.
Across offers (a merchant's or owner's statistics) one user's shares sit in several trees and
the sets need not be laminar; the general problem is set cover (NP-hard), so there `kol` takes
the classic greedy (each step the sharer adding the most uncovered redemptions; within
ln(n) + 1 of the optimum) and says `exact=False`. `is_laminar` decides which applies, in one
pass over the sets from the largest down.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

KOL_SHARE = Fraction(4, 5)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Share:
    code: str
    parent: str | None
    sharer: Hashable  # who shared: Nearby uses (app_id, user_id)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim attributed to the share `share` (after `attributed_share`)."""

    share: str
    redeemed: bool


@dataclass(frozen=True, slots=True)
class Credit:
    depth: int  # of the sharer's shallowest share
    claims: int
    redemptions: int
    chain_claims: int
    chain_redemptions: int


@dataclass(frozen=True, slots=True)
class Kol:
    sharers: tuple[Hashable, ...]  # the set, largest chain first
    covered: int  # attributed redemptions in the union of their chains
    total: int  # attributed redemptions
    exact: bool  # the smallest such set (laminar chains), or greedy's


def paths(shares: Iterable[Share]) -> dict[str, tuple[str, ...]]:
    """Each share's chain: the codes from its root down to itself. ValueError for a parent
    that is not a share, or a loop (Nearby cannot make either: a share only points at one that
    exists when it is made)."""
    by_code = {s.code: s for s in shares}
    found: dict[str, tuple[str, ...]] = {}
    for start in by_code:
        walk: list[str] = []
        code: str | None = start
        while code is not None and code not in found:
            if code in walk:
                raise ValueError(f"share chain loops at {code}")
            if code not in by_code:
                raise ValueError(f"parent {code} is not a share")
            walk.append(code)
            code = by_code[code].parent
        above = found[code] if code is not None else ()
        for node in reversed(walk):
            above = (*above, node)
            found[node] = above
    return found


def attributed_share(
    shares: Mapping[str, Share], code: str | None, claimant: Hashable
) -> str | None:
    """The share a claim through `code` by `claimant` is attributed to: the share itself, or its
    parent when it is the claimant's own (see the module docstring)."""
    if code is None:
        return None
    share = shares[code]
    return share.parent if share.sharer == claimant else code


def credit(shares: Iterable[Share], claims: Iterable[Claim]) -> dict[Hashable, Credit]:
    """Own and chain counts of every sharer (every sharer appears, with zeros if need be)."""
    shares = list(shares)
    chain = paths(shares)
    sharer_of = {s.code: s.sharer for s in shares}
    depth: dict[Hashable, int] = {}
    for s in shares:
        depth[s.sharer] = min(depth.get(s.sharer, len(chain[s.code]) - 1), len(chain[s.code]) - 1)
    own = {u: [0, 0] for u in depth}
    whole = {u: [0, 0] for u in depth}
    for claim in claims:
        counts = own[sharer_of[claim.share]]
        counts[0] += 1
        counts[1] += claim.redeemed
        for u in {sharer_of[c] for c in chain[claim.share]}:
            whole[u][0] += 1
            whole[u][1] += claim.redeemed
    return {u: Credit(depth[u], *own[u], *whole[u]) for u in depth}


def chain_redemptions(
    shares: Iterable[Share], claims: Iterable[Claim]
) -> tuple[dict[Hashable, frozenset[int]], int]:
    """Each sharer's chain redemptions (as indexes of `claims`) and how many were attributed."""
    shares = list(shares)
    chain = paths(shares)
    sharer_of = {s.code: s.sharer for s in shares}
    sets: dict[Hashable, set[int]] = {s.sharer: set() for s in shares}
    total = 0
    for n, claim in enumerate(claims):
        if claim.redeemed:
            total += 1
            for code in chain[claim.share]:
                sets[sharer_of[code]].add(n)
    return {u: frozenset(s) for u, s in sets.items()}, total


def is_laminar(sets: Mapping[K, frozenset[int]]) -> bool:
    """Whether any two of the sets are nested or disjoint.

    Largest first, each element remembers the smallest set taken so far that holds it. The
    family is laminar iff every set's elements all remember the same set (or none all): then it
    lies inside that one and meets no other taken set except those around it.
    """
    holder: dict[int, int] = {}
    ordered = sorted(sets.values(), key=len, reverse=True)
    for n, elements in enumerate(ordered):
        if len({holder.get(e) for e in elements}) > 1:
            return False
        for e in elements:
            holder[e] = n
    return True


def kol(sets: Mapping[K, frozenset[int]], total: int, share: Fraction = KOL_SHARE) -> Kol:
    """A smallest set of sharers whose chains hold at least `share` of the `total` attributed
    redemptions (exact for laminar chains, greedy otherwise: see the module docstring). Ties
    go to the sharer that sorts first by repr, so the answer is reproducible."""
    need = share * total
    order = sorted(sets, key=lambda u: (-len(sets[u]), repr(u)))
    chosen: list[K] = []
    covered: set[int] = set()
    if is_laminar(sets):
        for u in order:  # a set meeting a larger one taken lies inside it: not maximal
            if len(covered) >= need or not sets[u]:
                break
            if covered.isdisjoint(sets[u]):
                chosen.append(u)
                covered |= sets[u]
        return Kol(tuple(chosen), len(covered), total, True)
    left = [u for u in order if sets[u]]
    while len(covered) < need and left:
        best = max(left, key=lambda u: len(sets[u] - covered))  # the first of the best
        if sets[best] <= covered:
            break
        chosen.append(best)
        covered |= sets[best]
        left.remove(best)
    return Kol(tuple(chosen), len(covered), total, False)


def kol_of_offer(credits: Mapping[K, Credit], share: Fraction = KOL_SHARE) -> Kol:
    """`kol` for one offer's sharers from their counts alone (one share per sharer, as Nearby
    keeps them): the maximal chains are the roots', each attributed redemption lies under
    exactly one root, so the set is the roots with the most chain redemptions, largest first,
    until `share` of their sum. Same answer as `kol` on the sets, without them."""
    roots = sorted(
        (u for u, c in credits.items() if c.depth == 0 and c.chain_redemptions),
        key=lambda u: (-credits[u].chain_redemptions, repr(u)),
    )
    total = sum(credits[u].chain_redemptions for u in roots)
    chosen: list[K] = []
    covered = 0
    for u in roots:
        if covered >= share * total:
            break
        chosen.append(u)
        covered += credits[u].chain_redemptions
    return Kol(tuple(chosen), covered, total, True)
