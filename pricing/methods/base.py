"""The interface every MDE method implements: per-record scores and a total efficacy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np

from ..numerics import linear_head
from ..errors import BadShape, HyperOutOfRange, NonFiniteEfficacy, SchemaMismatch, SpecError
from ..proxies import Network

if TYPE_CHECKING:
    from ..spec import Spec

__all__ = ["Efficacy", "PricingMethod", "HeadMethod", "check_count", "check_at_most"]


def check_count(hyper: Mapping[str, Any], key: str, default: float, lo: int, hi: int) -> None:
    """Raise `HyperOutOfRange` unless hyper `key` (else `default`) is an integer in [lo, hi]: an
    iteration count or size a quote loops over, bounded so no spec can keep the pipeline busy for ever."""
    v = hyper.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not lo <= v <= hi:
        raise HyperOutOfRange(f"hyper.{key}", v, f"an integer in [{lo}, {hi}]")


def check_at_most(name: str, value: int, hi: int, why: str) -> None:
    """Raise `HyperOutOfRange` when a size a spec sets (`name`, e.g. a tensor's dimension) is over
    `hi`; `why` says what the bound protects, for the message."""
    if value > hi:
        raise HyperOutOfRange(name, value, f"at most {hi} ({why})")


def largest_magnitude(x: np.ndarray) -> float:
    """The release's largest |feature| (without a copy of x), for an overflow's error message."""
    return float(max(x.max(initial=0.0), -x.min(initial=0.0)))


@dataclass(frozen=True)
class Efficacy:
    """A method's verdict on a release: total efficacy and one score per record."""

    total: float
    scores: np.ndarray


class PricingMethod(ABC):
    """One MDE method. `efficacy` validates its inputs, then calls the `_efficacy` hook."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, float]] = {}

    def tensor_shapes(self, manifest: Mapping[str, Any], *, d: int, width: int, classes: int,
                      hyper: Mapping[str, float]) -> dict[str, tuple]:
        """Tensors this method needs beyond the proxy's; str dims are free but shared."""
        return {}

    def check_manifest(self, manifest: Mapping[str, Any], tensors: Mapping[str, np.ndarray], *,
                       d: int, classes: int) -> None:
        """Method-specific manifest checks (after tensor shapes were checked)."""

    def efficacy(self, spec: "Spec", x: np.ndarray, y: np.ndarray) -> Efficacy:
        """Efficacy of records (x [m, d], y [m]) for the buyer behind `spec`."""
        if spec.method != self.name:
            raise SpecError(f"spec is for method {spec.method!r}, not {self.name!r}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != spec.n_features:
            raise BadShape("features", x.shape, (x.shape[0] if x.ndim else -1, spec.n_features))
        if y.shape != (x.shape[0],):
            raise BadShape("label", y.shape, (x.shape[0],))
        if spec.classification:
            yi = np.asarray(y)
            if not np.all(yi == np.round(yi)) or yi.min(initial=0) < 0 or yi.max(initial=0) >= spec.classes:
                raise SchemaMismatch(f"labels must be class indices in [0, {spec.classes})")
            y = yi.astype(np.int64)
        else:
            y = np.asarray(y, dtype=np.float64)
        if x.shape[0] == 0:
            return Efficacy(0.0, np.zeros(0))
        out = self._efficacy(spec, x, y)
        if not np.isfinite(out.total) or not np.isfinite(out.scores).all():
            raise NonFiniteEfficacy(self.name, largest_magnitude(x))
        return out

    @abstractmethod
    def _efficacy(self, spec: "Spec", x: np.ndarray, y: np.ndarray) -> Efficacy:
        """The method itself, on validated float64 inputs."""


class HeadMethod(PricingMethod):
    """Methods on a fixed feature extractor (`proxy`) and a linear head (`head.weight`)."""

    uses_probe: ClassVar[bool] = False

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        k = classes if classes else 1
        shapes: dict[str, tuple] = {"head.weight": (k, width + 1)}
        if self.uses_probe:
            shapes["probe.features"] = ("probe", d)
            shapes["probe.label"] = ("probe",)
        return shapes

    def check_manifest(self, manifest, tensors, *, d, classes):
        n = manifest.get("hyper", {}).get("n_train", 0)
        if not n or n < 1:
            raise SpecError(f"hyper.n_train (the buyer's training-set size) must be >= 1, got {n!r}")
        if self.uses_probe and classes:
            lab = tensors["probe.label"]
            if lab.min(initial=0) < 0 or lab.max(initial=0) >= classes or not np.all(lab == np.round(lab)):
                raise SpecError(f"probe.label must hold class indices in [0, {classes})")

    @staticmethod
    def features(spec: "Spec", x: np.ndarray) -> np.ndarray:
        """Extractor output with the bias column: phi(x) of Koh & Liang's last-layer setting."""
        net = Network.from_spec(spec.layers, spec.tensors, "proxy")
        return linear_head.add_bias(net.forward(x))

    @staticmethod
    def head(spec: "Spec") -> np.ndarray:
        return spec.tensors["head.weight"]

    @staticmethod
    def probe(spec: "Spec") -> tuple[np.ndarray, np.ndarray]:
        y = spec.tensors["probe.label"]
        return spec.tensors["probe.features"], (y.astype(np.int64) if spec.classification else y)
