"""The board's order: share of each city's own target, exactly, whatever the sizes."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from twestival.ledger.leaderboard import rank_rows

amounts = st.integers(min_value=-10**15, max_value=10**15)
targets = st.integers(min_value=1, max_value=10**15)
rows = st.lists(st.tuples(amounts, targets, st.integers(0, 3)), max_size=30)


def reference(cities):
    """Fractions, sorted and ranked the slow, obvious way."""
    ordered = sorted(cities, key=lambda c: (-Fraction(c["raised_minor"], c["target_minor"]),
                                            -c["raised_reporting_minor"], c["name"]))
    ranks, previous = [], None
    for position, city in enumerate(ordered, start=1):
        share = Fraction(city["raised_minor"], city["target_minor"])
        if share != previous:
            rank, previous = position, share
        ranks.append((city["name"], rank))
    return ranks


@given(rows)
def test_order_and_ranks_follow_the_exact_share(specs):
    cities = [{"name": f"c{i:02d}", "raised_minor": raised, "target_minor": target,
               "raised_reporting_minor": tie} for i, (raised, target, tie) in enumerate(specs)]
    expected = reference([dict(c) for c in cities])
    assert [(c["name"], c["rank"]) for c in rank_rows(cities)] == expected


def test_shares_a_float_cannot_tell_apart_are_ranked_apart():
    big = 10**15
    cities = [{"name": "a", "raised_minor": big - 1, "target_minor": big,
               "raised_reporting_minor": 0},
              {"name": "b", "raised_minor": big - 2, "target_minor": big - 1,
               "raised_reporting_minor": 5}]
    assert float(Fraction(big - 1, big)) == float(Fraction(big - 2, big - 1))
    assert [(c["name"], c["rank"]) for c in rank_rows(cities)] == [("a", 1), ("b", 2)]
