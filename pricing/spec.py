"""The pricing spec bundle: one safetensors file whose metadata holds a JSON manifest.

Bytes in, a validated `Spec` out. The manifest (metadata key ``spartacus-spec``, canonical
JSON) names the method, the proxy architecture (allow-listed layers only), the feature
schema a release must match, hyper-parameters and seeds; the tensors carry the proxy's
weights and whatever the method needs (an inverse-Hessian-vector product, eigenpairs, a
probe set). ``specHash = keccak256(bundle bytes)``. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from eth_hash.auto import keccak

from common.canonical_json import canonical_json
from common.safetensors_bytes import MalformedSafetensors, read_safetensors, write_safetensors

from .errors import (
    BadDtype, BadShape, BundleTooLarge, MalformedBundle, MissingTensor, NonFiniteValue, NonPositiveScale,
    SchemaMismatch, SpecError,
)
from .proxies import layer_tensor_shapes

__all__ = [
    "SPEC_FORMAT", "MANIFEST_KEY", "DEFAULT_MAX_BYTES", "Spec", "parse_spec", "make_spec",
    "spec_hash", "canonical_json", "COPIES", "DEFAULT_COPIES", "check_copies",
]

SPEC_FORMAT = "spartacus-spec-v1"
MANIFEST_KEY = "spartacus-spec"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# How price() counts duplicate records (spec manifest `dedup.copies`, docs/pricing.md "Duplicates")
COPIES = ("lower", "drop")
DEFAULT_COPIES = "lower"


def check_copies(copies: object) -> None:
    """Raise `SpecError` unless `copies` is a rule of `COPIES` for how price() counts duplicates."""
    if copies not in COPIES:
        raise SpecError(f"dedup.copies {copies!r} is not one of {list(COPIES)}: 'lower' prices a release with "
                        "copies at the lower of its distinct records and the release as delivered, 'drop' at its "
                        "distinct records (for a buyer whose training drops duplicates)")


_TOP_KEYS = {"format", "method", "schema", "proxy", "hyper", "seeds", "dedup", "tree"}


def spec_hash(bundle: bytes) -> str:
    """``specHash``: 0x-prefixed lower-case keccak256 of the bundle bytes."""
    return "0x" + keccak(bytes(bundle)).hex()


@dataclass(frozen=True)
class Spec:
    """A parsed, validated spec: the manifest, its tensors (float64 unless a label) and its hash."""

    manifest: dict[str, Any]
    tensors: dict[str, np.ndarray]
    hash: str
    size: int
    hyper: dict[str, float] = field(default_factory=dict)
    # what a method derives from the spec alone (feature maps, the probe's loss at theta*,
    # factorisations), computed on the first quote and reused: the hub parses a bundle once,
    # at upload, and quotes many releases against it. Deterministic functions of the
    # tensors, computed with BLAS on one thread like the rest of pricing.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def method(self) -> str:
        return self.manifest["method"]

    @property
    def n_features(self) -> int:
        return len(self.manifest["schema"]["features"])

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.manifest["schema"]["features"]]

    @property
    def classes(self) -> int:
        """Number of classes; 0 for a continuous label (regression)."""
        label = self.manifest["schema"]["label"]
        return int(label["classes"]) if label["kind"] == "categorical" else 0

    @property
    def classification(self) -> bool:
        return self.classes > 0

    @property
    def layers(self) -> list[dict]:
        return list(self.manifest.get("proxy", {}).get("layers", []))

    @property
    def seed(self) -> int:
        return int(self.manifest.get("seeds", {}).get("finetune", 0))

    @property
    def dedup_tol(self) -> float:
        return float(self.manifest.get("dedup", {}).get("tol", 0.0))

    @property
    def copies(self) -> str:
        """How `price()` counts a release's duplicate records: one of `COPIES`."""
        return str(self.manifest.get("dedup", {}).get("copies", DEFAULT_COPIES))

    def check_schema(self, schema: Mapping[str, Any]) -> None:
        """Raise `SchemaMismatch` unless a release's schema has this spec's columns and label."""
        names = [f.get("name") for f in schema.get("features", [])]
        if names != self.feature_names:
            raise SchemaMismatch(
                f"release feature columns {names} differ from the spec's {self.feature_names}; "
                "price only releases of the dataset the spec was built for"
            )
        label, mine = schema.get("label") or {}, self.manifest["schema"]["label"]
        if _label_task(label) != _label_task(mine):
            raise SchemaMismatch(f"release label {label} does not match the spec's label {mine}")


def _label_task(label: Mapping[str, Any]) -> tuple[str, int]:
    """("categorical", classes) or ("continuous", 0) of a label in a spec's or a release's schema.

    A spec says `categorical` with `classes`, or `continuous`; a release drawn by privacy says
    `boolean` (2 classes), `categorical` with `classes` or `categories`, or `float`/`integer`
    (its default kind is float)."""
    kind = label.get("kind", "float")
    if kind == "boolean":
        return "categorical", 2
    if kind == "categorical":
        cats = label.get("categories")
        return "categorical", len(cats) if isinstance(cats, list) else label.get("classes")
    if kind in ("continuous", "float", "integer"):
        return "continuous", 0
    return str(kind), 0


def _finite_number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(f"{name} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise NonFiniteValue(name)
    return float(v)


def _check_schema(schema: Any) -> None:
    if not isinstance(schema, Mapping) or not isinstance(schema.get("features"), list):
        raise SpecError("manifest schema must be {'features': [{'name': ...}, ...], 'label': {...}}")
    feats = schema["features"]
    if not feats or not all(isinstance(f, Mapping) and isinstance(f.get("name"), str) for f in feats):
        raise SpecError("schema.features must be a non-empty list of {'name': str}")
    if len({f["name"] for f in feats}) != len(feats):
        raise SpecError("schema.features has duplicate column names")
    label = schema.get("label")
    if not isinstance(label, Mapping) or label.get("kind") not in ("categorical", "continuous"):
        raise SpecError(f"schema.label.kind must be 'categorical' or 'continuous', got {label!r}")
    if label["kind"] == "categorical":
        k = label.get("classes")
        if not isinstance(k, int) or isinstance(k, bool) or k < 2:
            raise SpecError(f"schema.label.classes must be an int >= 2, got {k!r}")


def parse_spec(bundle: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Spec:
    """Validate bundle bytes and return a `Spec`; raises a specific `SpecError` per violation."""
    from .methods import get_method  # the registry imports this module

    if not isinstance(bundle, (bytes, bytearray, memoryview)):
        raise MalformedBundle(f"a spec bundle is bytes, got {type(bundle).__name__}")
    size = len(bundle)
    if size > max_bytes:
        raise BundleTooLarge(size, max_bytes)
    try:
        tensors, meta = read_safetensors(bundle)
    except MalformedSafetensors as exc:
        raise MalformedBundle(f"spec bundle: {exc}") from None
    if MANIFEST_KEY not in meta:
        raise MalformedBundle(f"metadata key {MANIFEST_KEY!r} with the JSON manifest is missing")
    try:
        manifest = json.loads(meta[MANIFEST_KEY], parse_constant=lambda c: (_ for _ in ()).throw(NonFiniteValue(c)))
    except json.JSONDecodeError as exc:
        raise MalformedBundle(f"manifest is not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise MalformedBundle("manifest must be a JSON object")
    if manifest.get("format") != SPEC_FORMAT:
        raise MalformedBundle(f"manifest format is {manifest.get('format')!r}, expected {SPEC_FORMAT!r}")
    extra = set(manifest) - _TOP_KEYS
    if extra:
        raise SpecError(f"unknown manifest keys {sorted(extra)}; allowed are {sorted(_TOP_KEYS)}")
    method = get_method(manifest.get("method"))
    _check_schema(manifest.get("schema"))
    d = len(manifest["schema"]["features"])

    proxy = manifest.get("proxy", {"layers": []})
    if not isinstance(proxy, Mapping) or set(proxy) - {"layers"}:
        raise SpecError("manifest proxy must be {'layers': [...]}")
    shapes, width = layer_tensor_shapes(proxy.get("layers", []), d, "proxy")

    hyper_in = manifest.get("hyper", {})
    if not isinstance(hyper_in, Mapping):
        raise SpecError("manifest hyper must be an object of numbers")
    unknown = set(hyper_in) - set(method.defaults)
    if unknown:
        raise SpecError(
            f"unknown hyper-parameters {sorted(unknown)} for method {method.name!r}; "
            f"known are {sorted(method.defaults)}"
        )
    hyper = dict(method.defaults)
    for k, v in hyper_in.items():
        hyper[k] = _finite_number(f"hyper.{k}", v)
    for key in ("seeds", "dedup"):
        if not isinstance(manifest.get(key, {}), Mapping):
            raise SpecError(f"manifest {key} must be an object, got {manifest.get(key)!r}")
    for k, v in manifest.get("seeds", {}).items():
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**63:
            raise SpecError(f"seeds.{k} must be a non-negative int, got {v!r}")
    tol = _finite_number("dedup.tol", manifest.get("dedup", {}).get("tol", 0.0))
    if tol < 0:
        raise SpecError(f"dedup.tol ({tol}) must be >= 0")
    unknown_dedup = set(manifest.get("dedup", {})) - {"tol", "copies"}
    if unknown_dedup:
        raise SpecError(f"unknown dedup keys {sorted(unknown_dedup)}; allowed are ['copies', 'tol']")
    check_copies(manifest.get("dedup", {}).get("copies", DEFAULT_COPIES))

    classes = manifest["schema"]["label"].get("classes", 0) if manifest["schema"]["label"]["kind"] == "categorical" else 0
    shapes.update(method.tensor_shapes(manifest, d=d, width=width, classes=classes, hyper=hyper))
    for name in shapes:
        if name not in tensors:
            raise MissingTensor(name)
    extra_t = set(tensors) - set(shapes)
    if extra_t:
        raise SpecError(f"unexpected tensors {sorted(extra_t)} for method {method.name!r}; drop them")
    free: dict[str, int] = {}
    for name, expected in shapes.items():
        arr = tensors[name]
        want = "int64 or float64" if name.endswith(".label") else "float64"
        if arr.dtype != np.float64 and not (name.endswith(".label") and arr.dtype == np.int64 and classes):
            raise BadDtype(name, str(arr.dtype), want)
        if len(arr.shape) != len(expected):
            raise BadShape(name, arr.shape, tuple(e if isinstance(e, int) else -1 for e in expected))
        for got, exp in zip(arr.shape, expected):
            if isinstance(exp, str):  # a named free dimension shared across tensors
                exp = free.setdefault(exp, got)
            if got != exp:
                raise BadShape(name, arr.shape, tuple(free.get(e, -1) if isinstance(e, str) else e for e in expected))
        if arr.dtype == np.float64 and not np.isfinite(arr).all():
            raise NonFiniteValue(name)
        if name.endswith(".scale") and arr.size and float(arr.min()) <= 0.0:  # only standardize layers name one
            raise NonPositiveScale(name, float(arr.min()))
    method.check_manifest(manifest, tensors, d=d, classes=classes)
    return Spec(manifest=manifest, tensors=tensors, hash=spec_hash(bundle), size=size, hyper=hyper)


def make_spec(manifest: Mapping[str, Any], tensors: Mapping[str, np.ndarray], *,
              max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Serialize a manifest and tensors into bundle bytes and validate the result."""
    m = dict(manifest)
    m.setdefault("format", SPEC_FORMAT)
    out = {}
    for k, v in tensors.items():
        a = np.asarray(v)
        out[k] = a.astype(np.int64) if a.dtype.kind in "iub" else a.astype(np.float64)
    try:
        text = canonical_json(m)
    except ValueError:
        raise NonFiniteValue("manifest") from None
    bundle = write_safetensors(out, {MANIFEST_KEY: text})
    parse_spec(bundle, max_bytes=max_bytes)
    return bundle
