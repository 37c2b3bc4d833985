"""Privacy budget arithmetic in integer milli-epsilon, exactly as the contract counts it.

The contract (``shared/protocol.md``, rule 3) keeps each dataset's ledger as a
``uint32`` of thousandths of epsilon; ``EXACT = 2**32 - 1`` is both the cap meaning "no
budget, exact releases allowed" and the quote value meaning "this is an exact release".

Conversion. An epsilon is the decimal number its shortest ``repr`` denotes (the same
digits a terms document carries in JSON), so ``0.1`` is one tenth, not the binary
double just above it. The milli-epsilon the hub posts for a release is
``ceil(epsilon * 1000)``, computed exactly in decimal: never rounded down, which would
under-count the privacy spent, and ``to_milli(m / 1000) == m`` for every integer ``m``.

Composition. Basic sequential composition: a release made of parts with epsilons
``e_1..e_k`` on the same records is ``sum(e_i)``-DP (Dwork & Roth 2014, Thm 3.16). The
ledger adds integer milli-epsilons, which is exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Sequence

from .errors import BudgetExceeded, CapRaised, InvalidEpsilon, OverRefund

__all__ = [
    "EXACT",
    "MAX_MILLI",
    "to_milli",
    "from_milli",
    "parse_epsilon",
    "format_epsilon",
    "validate_epsilon",
    "compose",
    "compose_milli",
    "split_epsilon",
    "PrivacyLedger",
]

EXACT: int = 2**32 - 1
"""The contract's ``type(uint32).max``: an exact release, or a cap with no budget."""

MAX_MILLI: int = EXACT - 1
"""Largest milli-epsilon an epsilon release may spend (EXACT itself means exact)."""


def validate_epsilon(epsilon: object) -> float:
    """Return ``epsilon`` as a float, or raise :class:`InvalidEpsilon`.

    Accepts finite positive reals (not ``bool``); ``"exact"`` is not an epsilon.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise InvalidEpsilon(
            f"epsilon ({epsilon!r}) must be a positive finite number; use the string "
            "'exact' only where an exact release is meant",
            epsilon=epsilon,
        )
    value = float(epsilon)
    if not math.isfinite(value) or value <= 0.0:
        raise InvalidEpsilon(f"epsilon ({epsilon!r}) must be positive and finite", epsilon=epsilon)
    return value


def to_milli(epsilon: float | str) -> int:
    """Milli-epsilon the hub posts on chain: ``ceil(epsilon * 1000)``, or ``EXACT``.

    ``epsilon`` is a positive number or the string ``"exact"``. Rounds up, so the chain
    never records less privacy spent than the release consumed.
    """
    if epsilon == "exact":
        return EXACT
    value = validate_epsilon(epsilon)
    milli = math.ceil(Decimal(repr(value)) * 1000)
    if milli > MAX_MILLI:
        raise InvalidEpsilon(
            f"epsilon ({epsilon!r}) is {milli} milli-epsilon, more than a uint32 ledger "
            f"holds ({MAX_MILLI}); use an exact release instead",
            epsilon=epsilon,
        )
    return milli


_EPSILON_TEXT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?\Z")


def format_epsilon(epsilon: float | str) -> str:
    """The terms document's string for an epsilon (protocol.md): ``"exact"``, or the decimal its
    shortest ``repr`` denotes in plain notation (``0.25 -> "0.25"``, ``1.0 -> "1"``, ``1e-05 -> "0.00001"``)."""
    if epsilon == "exact":
        return "exact"
    value = validate_epsilon(epsilon)
    return format(Decimal(repr(value)).normalize(), "f")


def parse_epsilon(text: str) -> float | str:
    """Inverse of :func:`format_epsilon`: a terms document's ``release.epsilon`` as this package's
    epsilon, ``"exact"`` or the float whose shortest ``repr`` is that decimal.

    Raises :class:`InvalidEpsilon` for a non-string, a string outside the protocol's
    ``(0|[1-9][0-9]*)(\\.[0-9]+)?``, zero, more milli-epsilon than a uint32 ledger holds, or more
    digits than a float64 keeps (then the chain's ``ceil(1000 × epsilon)`` of the string and of
    the float could differ, so the release would not be the one the terms name)."""
    if text == "exact":
        return "exact"
    if not isinstance(text, str) or not _EPSILON_TEXT.match(text):
        raise InvalidEpsilon(f"epsilon ({text!r}) must be a decimal string such as \"1\" or \"0.25\" (no sign, "
                             "exponent, leading zeros or white space), or \"exact\"", epsilon=text)
    exact = Fraction(text)
    if exact == 0:
        raise InvalidEpsilon(f"epsilon ({text!r}) is zero; a release always spends some epsilon", epsilon=text)
    try:
        value = float(exact)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise InvalidEpsilon(f"epsilon ({text[:40]!r}...) is beyond any float64; offer an exact release instead",
                             epsilon=text)
    if Fraction(Decimal(repr(value))) != exact:
        raise InvalidEpsilon(f"epsilon ({text!r}) has more digits than a float64 epsilon keeps; write "
                             f"{format_epsilon(value)!r}", epsilon=text)
    to_milli(value)  # within a uint32 ledger
    return value


def from_milli(milli: int) -> float | str:
    """Inverse of :func:`to_milli` on its image: ``milli / 1000``, or ``"exact"`` for EXACT."""
    _check_milli(milli, "milli")
    if milli == EXACT:
        return "exact"
    if milli == 0:
        raise InvalidEpsilon("milli-epsilon (0) is not a release; a release spends at least 1", epsilon=milli)
    return milli / 1000


def compose(epsilons: Iterable[float]) -> float:
    """Sequential composition of epsilon-DP releases on the same records: the sum."""
    values = [validate_epsilon(e) for e in epsilons]
    return math.fsum(values)


def compose_milli(millis: Iterable[int]) -> int:
    """Sequential composition in milli-epsilon; any EXACT part makes the whole EXACT."""
    total = 0
    for m in millis:
        _check_milli(m, "milli")
        if m == EXACT:
            return EXACT
        total += m
    return total


def split_epsilon(epsilon: float, parts: int | Sequence[float]) -> list[float]:
    """Split ``epsilon`` over parts for sequential composition, consuming all of it.

    ``parts`` is a count (equal split) or positive weights. The returned epsilons sum,
    in exact rational arithmetic of the floats, to at most ``epsilon`` and to within a
    few ulps of it; the last part absorbs the rounding.
    """
    eps = validate_epsilon(epsilon)
    if isinstance(parts, int) and not isinstance(parts, bool):
        if parts < 1:
            raise InvalidEpsilon(f"cannot split epsilon over {parts} parts; need at least 1", epsilon=epsilon)
        weights = [1.0] * parts
    else:
        weights = [float(w) for w in parts]
        if not weights or any(not math.isfinite(w) or w <= 0 for w in weights):
            raise InvalidEpsilon(f"split weights ({list(parts)!r}) must be positive and finite", epsilon=epsilon)
    total_w = math.fsum(weights)
    shares = [eps * w / total_w for w in weights]
    # make the exact (rational) sum <= eps without leaving a visible remainder
    budget = Fraction(eps)
    excess = sum(map(Fraction, shares)) - budget
    if excess > 0:
        target = Fraction(shares[-1]) - excess
        last = float(target)
        if Fraction(last) > target:  # float() rounded up: step down one ulp
            last = math.nextafter(last, 0.0)
        shares[-1] = last
    if any(s <= 0 for s in shares):
        raise InvalidEpsilon(f"epsilon ({epsilon!r}) is too small to split into {len(shares)} parts", epsilon=epsilon)
    return shares


def _check_milli(milli: object, what: str) -> int:
    if isinstance(milli, bool) or not isinstance(milli, int) or not 0 <= milli <= EXACT:
        raise InvalidEpsilon(f"{what} ({milli!r}) must be an integer in [0, {EXACT}] (a uint32)", epsilon=milli)
    return milli


@dataclass
class PrivacyLedger:
    """One dataset's privacy budget, kept in step with the contract's ``epsilonSpent``.

    ``cap_milli`` mirrors ``registerDataset``'s ``epsilonCapMilli`` and ``spent_milli``
    the chain's ``epsilonSpent``. The hub calls :meth:`charge` *before* it draws any
    noise (a refused charge raises :class:`BudgetExceeded` and changes nothing), and
    :meth:`sync` with the chain's figure whenever it reads it. The ledger never lowers
    what it counts as spent: a charge the chain has not yet recorded (the quote is not
    mined, or was never posted) stays charged, since the release was already drawn.

    Under an EXACT cap nothing is refused and exact releases are allowed; epsilon
    charges still add up (saturating below EXACT) so the owner can see what was spent,
    and an exact release sets the spent figure to EXACT for good, exactly as the
    contract's ledger does ("fully disclosed"). As on chain, a cap lowered below what
    was already spent is valid and simply refuses every further charge.
    """

    cap_milli: int
    spent_milli: int = 0

    def __post_init__(self) -> None:
        _check_milli(self.cap_milli, "cap_milli")
        _check_milli(self.spent_milli, "spent_milli")
        if self.cap_milli == 0:
            raise InvalidEpsilon("cap_milli (0) allows no release; register a positive cap or EXACT", epsilon=0)
        self._spent_before_exact: int | None = None

    @property
    def is_exact_cap(self) -> bool:
        """True when the dataset has no budget (cap EXACT) and exact releases are allowed."""
        return self.cap_milli == EXACT

    @property
    def remaining_milli(self) -> int:
        """Milli-epsilon still available (EXACT when the cap is EXACT)."""
        if self.is_exact_cap:
            return EXACT
        return max(0, self.cap_milli - self.spent_milli)

    def can_spend(self, epsilon_milli: int) -> bool:
        """Whether a release of ``epsilon_milli`` (EXACT for an exact release) is allowed now."""
        _check_milli(epsilon_milli, "epsilon_milli")
        if epsilon_milli == 0:
            return False
        if self.is_exact_cap:
            return True
        if epsilon_milli == EXACT:
            return False
        return self.spent_milli + epsilon_milli <= self.cap_milli

    def charge(self, epsilon_milli: int) -> int:
        """Record a release of ``epsilon_milli``; return the new spent total.

        Raises :class:`BudgetExceeded` (and records nothing) past the cap, or for an
        exact release under a finite cap, mirroring the contract's rule 3.
        """
        _check_milli(epsilon_milli, "epsilon_milli")
        if epsilon_milli == 0:
            raise InvalidEpsilon("epsilon_milli (0) is not a release; use to_milli(epsilon)", epsilon=0)
        if not self.can_spend(epsilon_milli):
            if epsilon_milli == EXACT:
                msg = (f"an exact release needs an EXACT cap, but the cap is {self.cap_milli} "
                       "milli-epsilon; offer an epsilon release instead")
            else:
                msg = (f"release of {epsilon_milli} milli-epsilon would bring spent to "
                       f"{self.spent_milli + epsilon_milli}, past the cap of {self.cap_milli} "
                       f"({self.remaining_milli} left); offer a smaller epsilon")
            raise BudgetExceeded(msg, requested_milli=epsilon_milli, spent_milli=self.spent_milli,
                                 cap_milli=self.cap_milli)
        if epsilon_milli == EXACT:
            if self.spent_milli != EXACT:
                self._spent_before_exact = self.spent_milli
            self.spent_milli = EXACT
        elif self.spent_milli != EXACT:
            self.spent_milli = min(self.spent_milli + epsilon_milli, MAX_MILLI)
        return self.spent_milli

    def refund(self, epsilon_milli: int) -> int:
        """Undo a :meth:`charge` whose release was never produced (the mechanism raised
        before returning anything, so nothing about the data left it). Never call it for
        a release that was drawn: a drawn release is spent whether or not it is quoted."""
        _check_milli(epsilon_milli, "epsilon_milli")
        if epsilon_milli == EXACT:
            if self._spent_before_exact is not None:
                self.spent_milli, self._spent_before_exact = self._spent_before_exact, None
        elif self.spent_milli != EXACT:
            if epsilon_milli > self.spent_milli:
                raise OverRefund(refund_milli=epsilon_milli, spent_milli=self.spent_milli)
            self.spent_milli -= epsilon_milli
        return self.spent_milli

    def sync(self, chain_spent_milli: int, *, chain_cap_milli: int | None = None) -> int:
        """Adopt the chain's ``epsilonSpent`` (and cap, which may only go down).

        Returns the milli-epsilon charged here but not yet on chain (pending quotes).
        If the chain shows more spent than this ledger knows, the chain wins.
        """
        _check_milli(chain_spent_milli, "chain_spent_milli")
        if chain_cap_milli is not None:
            _check_milli(chain_cap_milli, "chain_cap_milli")
            if chain_cap_milli > self.cap_milli:
                raise CapRaised(chain_cap_milli=chain_cap_milli, cap_milli=self.cap_milli)
            self.cap_milli = chain_cap_milli
        pending = max(self.spent_milli - chain_spent_milli, 0)
        self.spent_milli = max(self.spent_milli, chain_spent_milli)
        return pending
