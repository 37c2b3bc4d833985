"""A learned, collaborative sanitizer: features with a chosen private attribute obfuscated.

Bertran, Martinez, Papadaki, Qiu, Rodrigues, Reeves, Sapiro, "Adversarially learned
representations for information obfuscation and inference", ICML 2019. A sanitizer
``S(x)`` maps a record's features into the same feature space (so the buyer's utility
model needs no change: "plug and play"), trained on the owner's rows to minimise

    Loss_S = (1 - alpha) * KL(P(u|x) || P(u|S(x))) + alpha * KL(P(p) || P(p|S(x)))

where ``u`` is the utility column (the release's label), ``p`` the private one, ``P(u|.)``
a utility classifier fitted on the raw features and then frozen (the same classifier reads
``x`` and ``S(x)``), ``P(p)`` the private attribute's prior in the training rows and
``P(p|S(x))`` an adversary trained, in alternation with the sanitizer, to recover ``p``
from ``S(x)``. ``alpha`` in [0, 1] is what the offer names: 0 keeps utility only (the
sanitizer stays the identity it starts as), 1 privacy only. The stochastic variant feeds
the sanitizer standard normal noise beside ``x`` as well.

Here ``S(x) = clip(x + mlp([x, noise]), bounds)`` (features scaled to [0, 1] by their
declared bounds; the last layer starts at zero, so ``S`` starts as the identity). The
clipped values are what is released, and what the classifiers see in training (a
straight-through gradient through the clip); one term beyond the paper's loss, the mean L1
excess of the unclipped output outside the bounds (weight 1), keeps ``S`` from drifting
where the clip would flatten it.

**No epsilon.** A sanitized release is an empirical defence against one attribute's
inference, not differential privacy: on the chain's ledger it counts as an exact release
(``EXACT``). `release_sanitized_ml` passes ``S(x)`` through `release_ml` at epsilon; that
epsilon is what is spent (privacy.sanitized_offer.precision_epsilon_milli).

Torch is imported lazily here (and only here in `privacy/`), so ``import privacy`` stays
light. Training is seeded and runs with deterministic algorithms on one thread: the same
data, seed and config give the same weights bytes on one machine. Weights are safetensors
bytes (``safetensors.torch.save`` / ``load`` from bytes), the config canonical JSON; nothing
is pickled, nothing is read from or written to a file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator, Mapping

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSanitizerAlpha, InvalidSanitizer, InvalidSchema, UnknownSanitizerColumn
from ..release import Release, canonical_json
from ..schema import Column, Schema
from ._columns import encode_categorical
from .laplace import clamp_to_bounds
from .ml import release_ml

__all__ = ["MECHANISM_NAME", "VARIANTS", "LOSS", "SanitizerConfig", "Sanitizer", "canonical_alpha",
           "fit_sanitizer", "release_sanitized", "release_sanitized_ml"]

MECHANISM_NAME = "sanitizer"
VARIANTS = ("deterministic", "stochastic")
LOSS = "(1-alpha)*KL(P(u|x)||P(u|S(x)))+alpha*KL(P(p)||P(p|S(x)))"
_CITATION = "Bertran et al., Adversarially learned representations for information obfuscation and inference, ICML 2019"
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?\Z")
_MAX_PRIVATE_CLASSES = 64


def canonical_alpha(alpha: object) -> str:
    """``alpha`` as the decimal string offers and metadata carry (``"0.9"``, ``"1"``), or
    `InvalidSanitizerAlpha`: a decimal string or finite float (not bool) in [0, 1]."""
    if isinstance(alpha, str):
        if not _DECIMAL.match(alpha):
            raise InvalidSanitizerAlpha(alpha)
        value = Decimal(alpha)
    elif isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(float(alpha)):
        value = Decimal(repr(float(alpha)))
    else:
        raise InvalidSanitizerAlpha(alpha)
    if not Decimal(0) <= value <= Decimal(1):
        raise InvalidSanitizerAlpha(alpha)
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class SanitizerConfig:
    """Training hyper-parameters (the defaults fit tabular data of ~10 to 100 features).

    ``adversary_steps`` adversary updates per sanitizer update (at a higher learning rate)
    keep the adversary near its best response, so the sanitizer cannot win by fooling one
    stale adversary; ``refresh_every`` > 0 also replaces the adversary by a fresh one fitted
    for ``refresh_epochs`` on the frozen S(x) every that many epochs (off by default: it did
    not help in docs/decisions/2026-12-06-learned-sanitizer.md). ``margin``: how far, in spans
    of each feature's bounds, S(x) may leave them (the release's bounds)."""

    epochs: int = 60
    batch_size: int = 256
    hidden: int = 64
    noise_dim: int = 8
    lr: float = 1e-3
    adversary_lr: float = 5e-3
    adversary_steps: int = 3
    utility_epochs: int = 15
    margin: float = 1.0
    refresh_every: int = 0
    refresh_epochs: int = 5

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "hidden", "noise_dim", "adversary_steps", "utility_epochs",
                     "refresh_every", "refresh_epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "refresh_every" else 1):
                raise InvalidSanitizer(f"config {name} ({v!r}) must be a "
                                       f"{'non-negative' if name == 'refresh_every' else 'positive'} integer")
        for name in ("lr", "adversary_lr", "margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0) \
                    or (v == 0 and name != "margin"):
                kind = "non-negative" if name == "margin" else "positive"
                raise InvalidSanitizer(f"config {name} ({v!r}) must be a {kind} finite number")


# ---------------------------------------------------------------------------------------------
# torch, lazily


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency of the project
        raise InvalidSanitizer("the sanitizer needs torch (CPU); install the project's pinned torch") from exc
    return torch


@contextlib.contextmanager
def _session(torch, seed: int) -> Iterator[None]:
    """Seeded, deterministic, one-thread torch; the caller's global RNG, thread count and
    determinism flag are restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def _mlp(torch, d_in: int, hidden: int, d_out: int, *, zero_last: bool = False):
    nn = torch.nn
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, d_out))
    if zero_last:  # the residual sanitizer starts as the identity map
        nn.init.zeros_(net[4].weight)
        nn.init.zeros_(net[4].bias)
    return net


def _raw(torch, net, z, noise_dim: int, variant: str, generator=None):
    """The sanitizer's unclipped output in normalised coordinates: z + net([z, noise])."""
    if variant == "stochastic":
        noise = torch.randn(z.shape[0], noise_dim, dtype=z.dtype, generator=generator)
        return z + net(torch.cat([z, noise], dim=1))
    return z + net(z)


def _adversary(torch, d: int, hidden: int, k: int):
    """The adversary P(p|S(x)): each feature standardised by its batch statistics first, so
    the sanitizer cannot hide ``p`` by shrinking a feature's scale (which a fresh, scale-free
    adversary such as a tree model would see through), then an MLP."""
    return torch.nn.Sequential(torch.nn.BatchNorm1d(d, affine=False), _mlp(torch, d, hidden, k))


def _sanitize(torch, net, z, noise_dim: int, variant: str, margin: float, generator=None):
    """S(x) in normalised coordinates, clipped to [-margin, 1 + margin] (the release's
    bounds): what is released. Training uses the same forward values with a straight-through
    gradient, so the classifiers see exactly what the buyer will (`fit_sanitizer`)."""
    return _raw(torch, net, z, noise_dim, variant, generator).clamp(-margin, 1.0 + margin)


# ---------------------------------------------------------------------------------------------
# the fitted sanitizer


@dataclass(frozen=True, eq=False)
class Sanitizer:
    """A fitted sanitizer: its safetensors ``weights`` bytes and JSON ``config`` (features and
    bounds, private and utility columns, alpha, variant, architecture, training record).
    `transform` applies it; `weights_hash` identifies it in a release's metadata."""

    weights: bytes
    config: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.weights, (bytes, bytearray)):
            raise InvalidSanitizer(f"weights must be safetensors bytes, got {type(self.weights).__name__}")
        object.__setattr__(self, "weights", bytes(self.weights))
        cfg = self.config
        need = ("alpha", "variant", "private", "utility", "features", "hidden", "noiseDim", "margin", "training")
        if not isinstance(cfg, Mapping) or any(k not in cfg for k in need):
            raise InvalidSanitizer(f"sanitizer config needs the keys {list(need)}; got "
                                   f"{sorted(cfg) if isinstance(cfg, Mapping) else type(cfg).__name__}")
        if cfg["variant"] not in VARIANTS:
            raise InvalidSanitizer(f"sanitizer variant ({cfg['variant']!r}) must be one of {VARIANTS}")
        canonical_alpha(cfg["alpha"])
        feats = cfg["features"]
        if not isinstance(feats, list) or not feats or not all(
                isinstance(f, Mapping) and isinstance(f.get("name"), str) and len(f.get("bounds", ())) == 2
                for f in feats):
            raise InvalidSanitizer(f"sanitizer config features ({feats!r}) must be a list of {{name, bounds}}")
        self._check_weights()

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        d, h = len(self.config["features"]), int(self.config["hidden"])
        d_in = d + (int(self.config["noiseDim"]) if self.config["variant"] == "stochastic" else 0)
        return {"0.weight": (h, d_in), "0.bias": (h,), "2.weight": (h, h), "2.bias": (h,),
                "4.weight": (d, h), "4.bias": (d,)}

    def _state(self):
        _torch()
        from safetensors.torch import load

        try:
            return load(self.weights)
        except Exception as exc:  # SafetensorError and friends: bytes the library refuses
            raise InvalidSanitizer(f"sanitizer weights are not safetensors bytes: {type(exc).__name__}: {exc}") \
                from None

    def _check_weights(self) -> None:
        state = self._state()
        got = {k: tuple(v.shape) for k, v in state.items()}
        if got != self._shapes():
            raise InvalidSanitizer(f"sanitizer weights have tensors {got}; the config needs {self._shapes()}")
        if not all(bool(np.isfinite(v.numpy()).all()) for v in state.values()):
            raise InvalidSanitizer("sanitizer weights hold NaN or infinite values; refit the sanitizer")

    @property
    def alpha(self) -> str:
        """The privacy weight, as the decimal string the offer names."""
        return str(self.config["alpha"])

    @property
    def variant(self) -> str:
        """``"deterministic"`` or ``"stochastic"`` (noise input)."""
        return str(self.config["variant"])

    @property
    def margin(self) -> float:
        """How far (in spans of each feature's bounds) S(x) may leave the input bounds."""
        return float(self.config["margin"])

    def release_bounds(self) -> list[tuple[float, float]]:
        """Each sanitized feature's bounds in the release: the input bounds widened by ``margin``
        spans on each side (S(x) is clipped to them)."""
        lo, span = _bounds(self.config["features"])
        return [(float(l - self.margin * w), float(l + (1.0 + self.margin) * w)) for l, w in zip(lo, span)]

    @property
    def feature_names(self) -> list[str]:
        """The features the sanitizer reads and writes, in order."""
        return [f["name"] for f in self.config["features"]]

    @property
    def weights_hash(self) -> str:
        """``0x`` + keccak-256 of the weights bytes: what a release names the sanitizer by."""
        from eth_hash.auto import keccak

        return "0x" + keccak(self.weights).hex()

    def config_json(self) -> str:
        """The config as canonical JSON (stored beside the weights bytes)."""
        return canonical_json(dict(self.config))

    @classmethod
    def from_bytes(cls, weights: bytes, config: str | Mapping[str, Any]) -> "Sanitizer":
        """Inverse of (`weights`, `config_json`); raises `InvalidSanitizer` naming the defect."""
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except json.JSONDecodeError as exc:
                raise InvalidSanitizer(f"sanitizer config is not JSON: {exc}") from None
        return cls(weights=weights, config=config)

    def mechanism(self) -> dict[str, Any]:
        """The release's mechanism metadata for this sanitizer (without the epsilon)."""
        c = self.config
        out = {"name": MECHANISM_NAME, "alpha": self.alpha, "private": c["private"], "utility": c["utility"],
               "variant": self.variant, "weightsHash": self.weights_hash, "loss": LOSS, "citation": _CITATION,
               "guarantee": "none: no epsilon; an empirical defence against inferring the private column",
               "architecture": {"kind": "residual-mlp", "hidden": int(c["hidden"]), "layers": 3,
                                "activation": "relu", "output": "x + mlp([x, noise]) clipped to the feature bounds",
                                "boxPenalty": "mean L1 excess outside the bounds, weight 1"},
               "training": dict(c["training"])}
        if self.variant == "stochastic":
            out["noise"] = {"distribution": "normal(0,1)", "dim": int(c["noiseDim"])}
        return out

    def transform(self, features, *, seed: int | None = None, clamp: bool = False) -> np.ndarray:
        """``S(features)``: float64 ``[n, d]`` within `release_bounds`. The stochastic
        variant draws its noise from ``seed`` (reproducible) or, with ``seed=None``, from the OS."""
        X = np.asarray(features, dtype=np.float64)
        names = self.feature_names
        if X.ndim != 2 or X.shape[1] != len(names):
            raise InvalidSanitizer(f"features have shape {list(X.shape)}; this sanitizer reads [n, {len(names)}] "
                                   f"(columns {names})")
        lo, span = _bounds(self.config["features"])
        cols = [clamp_to_bounds(X[:, j], (lo[j], lo[j] + span[j]), clamp=clamp, column=names[j])
                for j in range(len(names))]
        z_np = (np.column_stack(cols) - lo) / span if X.shape[0] else np.zeros((0, len(names)))
        torch = _torch()
        state = self._state()
        with _session(torch, 0):
            net = _mlp(torch, self._shapes()["0.weight"][1], int(self.config["hidden"]), len(names))
            net.load_state_dict(state)
            gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1
                                                if seed is None else int(seed))
            with torch.no_grad():
                s = _sanitize(torch, net, torch.from_numpy(z_np.astype(np.float32)), int(self.config["noiseDim"]),
                              self.variant, self.margin, gen).numpy().astype(np.float64)
        return lo + s * span


def _bounds(features: list[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([float(f["bounds"][0]) for f in features])
    hi = np.array([float(f["bounds"][1]) for f in features])
    return lo, hi - lo


# ---------------------------------------------------------------------------------------------
# fitting


def _private_codes(data: Mapping[str, Any], schema: Schema, private: str, X: np.ndarray) -> tuple[np.ndarray, int]:
    """(codes 0..k-1, k) of the private column: a boolean/categorical schema column in
    ``data[private]``, or an integer feature whose bounds span at most 64 values."""
    known = [c.name for c in schema.all_columns]
    feats = [c.name for c in schema.features]
    if schema.label is not None and private == schema.label.name:
        raise UnknownSanitizerColumn(role="private", column=private, known=known,
                                     why="is the utility label; the private column must be another one")
    if private in feats:
        col = schema.features[feats.index(private)]
        lo, hi = col.bounds
        if col.kind != "integer" or hi - lo + 1 > _MAX_PRIVATE_CLASSES:
            raise UnknownSanitizerColumn(role="private", column=private, known=known,
                                         why=f"is a {col.kind} feature with bounds {col.bounds}, not a small "
                                             f"integer one (at most {_MAX_PRIVATE_CLASSES} values)")
        v = X[:, feats.index(private)]
        if not np.array_equal(v, np.round(v)) or v.min(initial=lo) < lo or v.max(initial=hi) > hi:
            raise InvalidSchema(f"private feature {private!r} holds values that are not integers within "
                                f"its bounds {col.bounds}")
        return (v - lo).astype(np.int64), int(hi - lo + 1)
    for col in schema.columns:
        if col.name == private:
            if col.kind not in ("boolean", "categorical"):
                raise UnknownSanitizerColumn(role="private", column=private, known=known,
                                             why=f"is a {col.kind} column, not boolean or categorical")
            if private not in data:
                raise InvalidSchema(f"data has no entry {private!r} for the private column; pass its values")
            values = data[private]
            codes = (np.asarray(values).astype(np.int64) if col.kind == "boolean"
                     else encode_categorical(col, values))
            return codes, col.k
    raise UnknownSanitizerColumn(role="private", column=private, known=known)


def _utility_codes(data: Mapping[str, Any], schema: Schema, utility: str | None) -> tuple[str, np.ndarray, int]:
    known = [c.name for c in schema.all_columns]
    label = schema.label
    if label is None or (utility is not None and utility != label.name):
        raise UnknownSanitizerColumn(role="utility", column=utility, known=known,
                                     why="is not the schema's label" if label is not None
                                     else "cannot be used: the schema has no label")
    if label.kind not in ("boolean", "categorical"):
        raise UnknownSanitizerColumn(role="utility", column=label.name, known=known,
                                     why=f"is a {label.kind} label; the sanitizer needs a categorical one")
    if "label" not in data:
        raise InvalidSchema("data has no 'label' entry; pass the utility column's values as data['label']")
    y = data["label"]
    codes = np.asarray(y).astype(np.int64) if label.kind == "boolean" else encode_categorical(label, y)
    return label.name, codes, label.k


def fit_sanitizer(data: Mapping[str, Any], schema: Schema, *, private: str, alpha: str | float,
                  utility: str | None = None, variant: str = "deterministic", seed: int = 0,
                  config: SanitizerConfig | None = None, clamp: bool = False) -> Sanitizer:
    """Train a sanitizer on the owner's rows (Bertran et al. 2019) and return it fitted.

    ``data`` holds ``features`` ``[n, d]`` (the schema's features, within their bounds unless
    ``clamp``), ``label`` (the utility column, the schema's categorical label) and, when the
    private column is a schema ``columns`` entry, its values under its name. ``alpha`` in
    [0, 1] weighs privacy against utility; ``variant`` is ``"deterministic"`` or
    ``"stochastic"``; ``seed`` makes the weights bytes reproducible on one machine."""
    alpha_text = canonical_alpha(alpha)
    if variant not in VARIANTS:
        raise InvalidSanitizer(f"variant ({variant!r}) must be one of {VARIANTS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidSanitizer(f"seed ({seed!r}) must be a non-negative integer")
    cfg = config or SanitizerConfig()
    if not schema.features:
        raise InvalidSchema("schema has no features; a sanitizer maps feature rows")
    if "features" not in data:
        raise InvalidSchema("data has no 'features' entry; pass the feature rows as data['features']")
    X = np.asarray(data["features"], dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(schema.features):
        raise InvalidSchema(f"features have shape {list(X.shape)}; the schema declares {len(schema.features)} "
                            "features, so they must be [n, d] with that d")
    n, d = X.shape
    utility_name, u, k_u = _utility_codes(data, schema, utility)
    p, k_p = _private_codes(data, schema, private, X)
    if len(u) != n or len(p) != n:
        raise InvalidSchema(f"label ({len(u)}) and private column ({len(p)}) must have one entry per feature "
                            f"row ({n})")
    if n < 2:
        raise InvalidSchema(f"a sanitizer needs at least 2 rows to learn from, got {n}")
    feats = [{"name": c.name, "bounds": [float(c.bounds[0]), float(c.bounds[1])]} for c in schema.features]
    lo, span = _bounds(feats)
    cols = [clamp_to_bounds(X[:, j], tuple(feats[j]["bounds"]), clamp=clamp, column=feats[j]["name"])
            for j in range(d)]
    z_np = ((np.column_stack(cols) - lo) / span).astype(np.float32)
    a, m = float(Decimal(alpha_text)), float(cfg.margin)
    prior_np = np.bincount(p, minlength=k_p) / n

    torch = _torch()
    from safetensors.torch import save

    F = torch.nn.functional
    with _session(torch, seed):
        z, u_t, p_t = torch.from_numpy(z_np), torch.from_numpy(u), torch.from_numpy(p)
        # 1. the utility classifier P(u|x), fitted on raw rows and then frozen
        util = _mlp(torch, d, cfg.hidden, k_u)
        opt = torch.optim.Adam(util.parameters(), lr=cfg.lr)
        for _ in range(cfg.utility_epochs):
            for idx in torch.randperm(n).split(cfg.batch_size):
                opt.zero_grad()
                F.cross_entropy(util(z[idx]), u_t[idx]).backward()
                opt.step()
        util.requires_grad_(False)
        with torch.no_grad():
            target = F.log_softmax(util(z), dim=1)  # log P(u|x)
        log_prior = torch.log(torch.from_numpy(np.clip(prior_np, 1e-12, 1.0)).float())
        prior = log_prior.exp()
        # 2. the adversarial game
        d_in = d + (cfg.noise_dim if variant == "stochastic" else 0)
        san = _mlp(torch, d_in, cfg.hidden, d, zero_last=True)
        adv = _adversary(torch, d, cfg.hidden, k_p)
        opt_s = torch.optim.Adam(san.parameters(), lr=cfg.lr)
        opt_a = torch.optim.Adam(adv.parameters(), lr=cfg.adversary_lr)
        sums = np.zeros(3)
        for epoch in range(cfg.epochs):
            if cfg.refresh_every and epoch and epoch % cfg.refresh_every == 0:
                # a fresh adversary, fitted on the frozen S(x): the sanitizer must fool a new one,
                # not only the one it has been chasing (a fresh adversary is what it is judged by)
                adv = _adversary(torch, d, cfg.hidden, k_p)
                opt_a = torch.optim.Adam(adv.parameters(), lr=cfg.adversary_lr)
                with torch.no_grad():
                    s_all = _sanitize(torch, san, z, cfg.noise_dim, variant, m)
                for _ in range(cfg.refresh_epochs):
                    for idx in torch.randperm(n).split(cfg.batch_size):
                        opt_a.zero_grad()
                        F.cross_entropy(adv(s_all[idx]), p_t[idx]).backward()
                        opt_a.step()
            sums[:] = 0.0
            batches = torch.randperm(n).split(cfg.batch_size)
            for idx in batches:
                zb = z[idx]
                for _ in range(cfg.adversary_steps):
                    with torch.no_grad():
                        s = _sanitize(torch, san, zb, cfg.noise_dim, variant, m)
                    opt_a.zero_grad()
                    adv_loss = F.cross_entropy(adv(s), p_t[idx])
                    adv_loss.backward()
                    opt_a.step()
                opt_s.zero_grad()
                raw = _raw(torch, san, zb, cfg.noise_dim, variant)
                clipped = raw.clamp(-m, 1.0 + m)
                s = raw + (clipped - raw).detach()  # released values forward, straight-through back
                excess = (raw - clipped).abs().sum(dim=1).mean()  # keeps S inside the release's bounds
                # KL(P(u|x) || P(u|S(x))), rows averaged; the frozen classifier reads S(x)
                kl_u = F.kl_div(F.log_softmax(util(s), dim=1), target[idx], log_target=True, reduction="batchmean")
                # KL(P(p) || P(p|S(x))): the adversary's posterior pushed to the prior
                log_post = F.log_softmax(adv(s), dim=1)
                kl_p = (prior * (log_prior - log_post)).sum(dim=1).mean()
                loss = (1.0 - a) * kl_u + a * kl_p + excess
                loss.backward()
                adv.zero_grad(set_to_none=True)  # the sanitizer's step must not train the adversary
                opt_s.step()
                sums += [kl_u.item(), kl_p.item(), adv_loss.item()]
            losses = sums / len(batches)
        if not np.isfinite(losses).all():
            raise InvalidSanitizer(f"training diverged (final losses {losses.tolist()}); lower lr or change seed")
        weights = save({k: v.detach().contiguous() for k, v in san.state_dict().items()})
    config_json = {
        "alpha": alpha_text, "variant": variant, "private": private, "privateClasses": k_p,
        "utility": utility_name, "utilityClasses": k_u, "features": feats, "hidden": cfg.hidden,
        "noiseDim": cfg.noise_dim if variant == "stochastic" else 0, "margin": repr(m),
        "training": {"seed": seed, "epochs": cfg.epochs, "rows": n, "batchSize": cfg.batch_size,
                     "adversarySteps": cfg.adversary_steps, "utilityEpochs": cfg.utility_epochs,
                     "lr": repr(float(cfg.lr)), "adversaryLr": repr(float(cfg.adversary_lr)),
                     "prior": [repr(float(x)) for x in prior_np],
                     "finalLosses": {"utilityKl": repr(float(losses[0])), "privacyKl": repr(float(losses[1])),
                                     "adversaryCe": repr(float(losses[2]))}},
    }
    return Sanitizer(weights=weights, config=config_json)


# ---------------------------------------------------------------------------------------------
# releases


def _release_schema(sanitizer: Sanitizer, schema: Schema) -> Schema:
    """The schema of a sanitized release: the sanitizer's features as floats (sanitized values
    are not integers) within the release's bounds (`Sanitizer.release_bounds`) and the label;
    never the private column."""
    feats = [{"name": c.name, "bounds": [float(c.bounds[0]), float(c.bounds[1])]} for c in schema.features]
    if feats != list(sanitizer.config["features"]):
        raise InvalidSanitizer(f"the schema's features {feats} are not the ones the sanitizer was fitted on "
                               f"({sanitizer.config['features']}); fit a sanitizer for this schema")
    if schema.label is None or schema.label.name != sanitizer.config["utility"]:
        got = schema.label.name if schema.label is not None else None
        raise UnknownSanitizerColumn(role="utility", column=got, known=[c.name for c in schema.all_columns],
                                     why=f"is not the sanitizer's utility column {sanitizer.config['utility']!r}")
    return Schema(features=tuple(Column(c.name, "float", bounds=b)
                                 for c, b in zip(schema.features, sanitizer.release_bounds())),
                  label=schema.label)


def _label_tensor(label_col: Column, values) -> np.ndarray:
    if label_col.kind == "categorical":
        return encode_categorical(label_col, values)
    return np.asarray(values, dtype=np.int64)


def release_sanitized(sanitizer: Sanitizer, features, label, schema: Schema, *, seed: int | None = None,
                      clamp: bool = False) -> Release:
    """The sanitized release: ``S(features)`` and the label as they are, with the sanitizer's
    parameters and training record in the metadata. No epsilon: ``"epsilon": "exact"``."""
    out_schema = _release_schema(sanitizer, schema)
    S = sanitizer.transform(features, seed=seed, clamp=clamp)
    y = _label_tensor(out_schema.label, label)
    if len(y) != S.shape[0]:
        raise InvalidSchema(f"label must have {S.shape[0]} entries, one per feature row (got {len(y)})")
    mech = {**sanitizer.mechanism(), "epsilon": "exact"}
    return Release(tensors={"features": S, "label": y}, schema=out_schema.to_json(), rows=S.shape[0],
                   mechanism=mech)


def release_sanitized_ml(sanitizer: Sanitizer, features, label, schema: Schema, epsilon: float, *,
                         split=None, seed: int | None = None, clamp: bool = False,
                         rng: np.random.Generator | None = None) -> Release:
    """Sanitize, then `release_ml` at ``epsilon`` (Laplace on each sanitized feature within its
    bounds, randomized response on the label). ``epsilon`` is what the release spends; the
    ML mechanism's parameters are under ``mechanism.dp``."""
    eps = validate_epsilon(epsilon)
    out_schema = _release_schema(sanitizer, schema)
    S = sanitizer.transform(features, seed=seed, clamp=clamp)
    dp = release_ml(S, label, out_schema, eps, split=split, clamp=False, rng=rng)
    mech = {**sanitizer.mechanism(), "epsilon": dp.mechanism["epsilon"], "dp": dict(dp.mechanism),
            "guarantee": f"epsilon-DP ({dp.mechanism['epsilon']!r}, replace-one) of the released rows given the "
                         "sanitizer; the sanitizer itself adds no guarantee"}
    return Release(tensors=dict(dp.tensors), schema=dp.schema, rows=dp.rows, mechanism=mech)
