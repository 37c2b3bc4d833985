"""A dataset's privacy budget spent, as the hub enforces it: the chain's ledger (the epsilon of
every quoted release) plus the DP draws the chain has not charged: counted from the draw until the
quote is prepared, and for good when the deal is declined or fails after its draw. A decline that
follows the price discloses one bit of a fresh release (its price was 0, or pricing failed on it),
and the chain never sees it, so without this count a buyer could ask for draw after draw, each with
a new spec, and learn from the declines what the public ledger never charges."""

from __future__ import annotations

from client.chain import Exchange
from client.chain.exchange import EXACT

from .store import Store

__all__ = ["budget_refusal", "spent_milli"]


def spent_milli(store: Store, exchange: Exchange, seller: str, dataset_id: str) -> int:
    """Milli-epsilon the dataset has spent: the chain's counter plus the draws it has not charged
    (`Store.declined_spent`); EXACT stays EXACT (an exact dataset fully disclosed)."""
    chain = exchange.epsilon_spent(seller, bytes.fromhex(dataset_id[2:]))
    if chain >= EXACT:
        return chain
    return min(chain + store.declined_spent(dataset_id), EXACT - 1)


def budget_refusal(name: str, cap: int, spent: int, milli: int) -> str | None:
    """Why dataset `name` (cap and spent in milli-epsilon, `spent_milli`) cannot pay for a release
    of `milli` now, or None when it can: the one rule `PUT /v1/terms` (422) and the quote pipeline
    (a decline before any draw) both apply."""
    if cap == EXACT:
        return None
    if milli == EXACT:
        return (f"dataset {name} has a budget of {cap} milli-epsilon: an exact release needs a dataset registered "
                "with an EXACT cap")
    if spent + milli > cap:
        left = max(0, cap - spent)
        fix = ("choose an offer of a smaller epsilon" if left > 0 else
               "the budget is spent, so no DP release of this dataset can be sold any more (a cap may only be "
               "lowered)")
        return (f"dataset {name}'s privacy budget has {left} milli-epsilon left (the chain's ledger and the draws "
                f"it has not charged); this release needs {milli}: {fix}")
    return None
