"""Registry of MDE pricing methods; each module implements `PricingMethod`."""

from __future__ import annotations

from ..errors import UnknownMethod
from .base import Efficacy, HeadMethod, PricingMethod
from .distilled import Distilled
from .feature_newton import FeatureNewton
from .group_influence import GroupInfluence
from .influence import Influence
from .network_newton import NetworkNewton
from .network_retrain import NetworkRetrain
from .tree import TreeExtraction

__all__ = ["METHODS", "get_method", "Efficacy", "PricingMethod", "HeadMethod"]

METHODS: dict[str, PricingMethod] = {
    m.name: m for m in (Influence(), GroupInfluence(), TreeExtraction(), Distilled(), FeatureNewton(), NetworkNewton(),
                        NetworkRetrain())
}


def get_method(name: object) -> PricingMethod:
    """The registered method called `name`; raises `UnknownMethod` otherwise."""
    if not isinstance(name, str) or name not in METHODS:
        raise UnknownMethod(name, tuple(METHODS))
    return METHODS[name]
