"""app/attribution.py against brute force: chain credit by walking parents, laminarity by
comparing every pair, and the smallest 80% set by enumerating every subset of sharers."""

from __future__ import annotations

from collections.abc import Hashable
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.attribution import (
    KOL_SHARE,
    Claim,
    Share,
    attributed_share,
    chain_redemptions,
    credit,
    is_laminar,
    kol,
    kol_of_offer,
    paths,
)


@st.composite
def forests(draw: st.DrawFn, *, one_share_each: bool) -> tuple[list[Share], list[Claim]]:
    """Up to 9 shares (a parent is an earlier share or none) and up to 25 attributed claims."""
    n = draw(st.integers(1, 9))
    shares: list[Share] = []
    for i in range(n):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        sharer = f"u{i}" if one_share_each else f"u{draw(st.integers(0, 3))}"
        shares.append(Share(f"s{i}", None if parent is None else f"s{parent}", sharer))
    claims = draw(
        st.lists(
            st.builds(Claim, st.sampled_from([s.code for s in shares]), st.booleans()),
            max_size=25,
        )
    )
    return shares, claims


def ancestors_or_self(shares: list[Share], code: str) -> set[str]:
    by_code = {s.code: s for s in shares}
    found: set[str] = set()
    node: str | None = code
    while node is not None:
        found.add(node)
        node = by_code[node].parent
    return found


def brute_sets(shares: list[Share], claims: list[Claim]) -> dict[Hashable, frozenset[int]]:
    return {
        u: frozenset(
            n
            for n, c in enumerate(claims)
            if c.redeemed
            and any(s.sharer == u for s in shares if s.code in ancestors_or_self(shares, c.share))
        )
        for u in {s.sharer for s in shares}
    }


def smallest_cover(sets: dict[Hashable, frozenset[int]], total: int) -> int:
    for k in range(len(sets) + 1):
        for chosen in combinations(sets.values(), k):
            if len(frozenset().union(*chosen)) >= KOL_SHARE * total:
                return k
    raise AssertionError("every sharer together covers every attributed redemption")


@given(forests(one_share_each=False))
def test_credit_counts_own_and_chain_claims_once_per_sharer(
    forest: tuple[list[Share], list[Claim]],
) -> None:
    shares, claims = forest
    got = credit(shares, claims)
    assert set(got) == {s.sharer for s in shares}
    for u, c in got.items():
        mine = {s.code for s in shares if s.sharer == u}
        own = [x for x in claims if x.share in mine]
        chain = [x for x in claims if mine & ancestors_or_self(shares, x.share)]
        assert (c.claims, c.redemptions) == (len(own), sum(x.redeemed for x in own))
        assert (c.chain_claims, c.chain_redemptions) == (
            len(chain),
            sum(x.redeemed for x in chain),
        )
        assert c.depth == min(len(ancestors_or_self(shares, code)) - 1 for code in mine)


@given(forests(one_share_each=True))
def test_one_share_per_sharer_gives_the_smallest_80_percent_set(
    forest: tuple[list[Share], list[Claim]],
) -> None:
    shares, claims = forest
    sets, total = chain_redemptions(shares, claims)
    assert sets == brute_sets(shares, claims)
    assert total == sum(c.redeemed for c in claims)
    assert is_laminar(sets)
    got = kol(sets, total)
    assert got.exact
    assert len(got.sharers) == smallest_cover(sets, total)
    union = frozenset().union(*(sets[u] for u in got.sharers))
    assert got.covered == len(union) >= KOL_SHARE * total
    # within one offer the set is made of root shares' sharers, found from the counts alone
    roots = {s.sharer for s in shares if s.parent is None}
    assert set(got.sharers) <= roots
    from_counts = kol_of_offer(credit(shares, claims))
    assert (from_counts.covered, from_counts.total) == (got.covered, got.total)
    assert len(from_counts.sharers) == len(got.sharers)


@given(forests(one_share_each=False))
def test_any_sharers_laminarity_and_a_sufficient_set(
    forest: tuple[list[Share], list[Claim]],
) -> None:
    shares, claims = forest
    sets, total = chain_redemptions(shares, claims)
    assert sets == brute_sets(shares, claims)
    pairwise = all(a <= b or b <= a or not a & b for a, b in combinations(sets.values(), 2))
    assert is_laminar(sets) == pairwise
    got = kol(sets, total)
    assert got.exact == pairwise
    union = frozenset().union(*(sets[u] for u in got.sharers))
    assert got.covered == len(union) >= KOL_SHARE * total
    if got.exact:
        assert len(got.sharers) == smallest_cover(sets, total)


def test_kol_of_no_redemptions_is_empty() -> None:
    shares = [Share("a", None, "u")]
    sets, total = chain_redemptions(shares, [Claim("a", False)])
    assert kol(sets, total) == kol({}, 0) == type(kol({}, 0))((), 0, 0, True)


def test_exactly_eighty_percent_is_enough() -> None:
    sets = {
        "a": frozenset({0, 1, 2, 3}),
        "b": frozenset({4}),
    }
    assert kol(sets, 5).sharers == ("a",)
    assert kol(sets, 5, Fraction(81, 100)).sharers == ("a", "b")


def test_greedy_when_one_users_shares_cross_chains() -> None:
    # u's chain crosses v's: not laminar; two sharers are needed, greedy finds them
    sets = {"u": frozenset({0, 1, 2}), "v": frozenset({2, 3, 4}), "w": frozenset({4})}
    got = kol(sets, 5)
    assert not got.exact and set(got.sharers) == {"u", "v"} and got.covered == 5


def test_paths_refuse_loops_and_unknown_parents() -> None:
    with pytest.raises(ValueError, match="loops"):
        paths([Share("a", "b", "u"), Share("b", "a", "v")])
    with pytest.raises(ValueError, match="not a share"):
        paths([Share("a", "zz", "u")])
    assert paths([Share("a", None, "u"), Share("b", "a", "v"), Share("c", "b", "u")]) == {
        "a": ("a",),
        "b": ("a", "b"),
        "c": ("a", "b", "c"),
    }


def test_a_claim_through_ones_own_share_goes_to_its_parent() -> None:
    shares = {"a": Share("a", None, "u"), "b": Share("b", "a", "v")}
    assert attributed_share(shares, "b", "v") == "a"
    assert attributed_share(shares, "b", "w") == "b"
    assert attributed_share(shares, "a", "u") is None
    assert attributed_share(shares, None, "u") is None
