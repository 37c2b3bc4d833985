"""network-retrain: the buyer's network retrained from seeded starts on its anchor plus a release,
priced by the probe-loss drop against the same retraining without the release."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import SpecError, make_spec, parse_spec
from pricing.builders import build_spec
from pricing.builders.build import _layers_to_spec
from pricing.methods import get_method
from pricing.methods.network_newton import calculus as nc
from pricing.methods.network_retrain.steps import matched_steps
from pricing.methods.network_retrain.trainer import Part, adam_fit, drawn_labels, glorot
from pricing.price import efficacy_of
from pricing.proxies import Network
from tests.pricing.methods.network_newton.reference import small_problem


def _objective(net: Network, theta: np.ndarray, parts: list[Part], decay: float) -> float:
    """What `adam_fit` descends, written out: weighted summed log-loss plus decay / 2 |W|^2, per unit of mass."""
    cur = nc.with_flat(net, theta)
    total = 0.0
    for p in parts:
        logits = cur.forward(p.x)
        loss = (nc.soft_loss_and_residual if p.target.ndim == 2 else nc.loss_and_residual)(logits, p.target)[0]
        total += p.weight * loss
    w = nc.weight_mask(net) * theta
    return (total + 0.5 * decay * float(w @ w)) / sum(p.mass for p in parts)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.sampled_from([2, 3]), weight=st.floats(0.5, 4.0), decay=st.floats(0.0, 3.0))
def test_the_first_adam_step_moves_every_weight_against_the_objectives_gradient(seed, k, weight, decay):
    """Adam's first step is -lr * sign(g) (to eps): checked against central differences of the objective."""
    net, x_tr, x, y = small_problem(seed=seed % 1000, k=k, m=7)
    logits = net.forward(x_tr[:9])
    parts = [Part(x_tr[:9], nc.soft_targets(logits), weight), Part(x, y % max(k, 2) if k > 1 else y)]
    theta0 = glorot(net, seed, 0)
    h, num, kink = 1e-6, np.empty_like(theta0), np.empty_like(theta0)
    f0 = _objective(net, theta0, parts, decay)
    for i in range(theta0.size):
        e = np.zeros_like(theta0)
        e[i] = h
        up, down = _objective(net, theta0 + e, parts, decay), _objective(net, theta0 - e, parts, decay)
        num[i] = (up - down) / (2 * h)
        kink[i] = abs((up - f0) - (f0 - down)) / h  # one-sided slopes that differ: a ReLU kink within h
    lr = 1e-3
    step = adam_fit(net, parts, theta0=theta0, steps=1, lr=lr, weight_decay=decay) - theta0
    # where the sign is not lost in the differences' rounding, and the objective is smooth within h (at a
    # ReLU's kink the central difference averages two slopes; seed 50800 met one)
    big = (np.abs(num) > 1e-5) & (kink < 1e-2 * np.abs(num))
    np.testing.assert_array_equal(np.sign(step[big]), -np.sign(num[big]))
    np.testing.assert_allclose(np.abs(step[big]), lr, rtol=1e-2)


def test_soft_one_hot_targets_train_exactly_as_their_class_indices():
    net, x_tr, x, y = small_problem(seed=5, k=3)
    theta0 = glorot(net, 1, 0)
    hard = adam_fit(net, [Part(x, y)], theta0=theta0, steps=20, lr=0.01, weight_decay=0.5)
    soft = adam_fit(net, [Part(x, np.eye(3)[y])], theta0=theta0, steps=20, lr=0.01, weight_decay=0.5)
    np.testing.assert_allclose(soft, hard, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("block", [1, 5, 64])
def test_the_weights_do_not_depend_on_the_row_block_beyond_rounding(block):
    net, x_tr, x, y = small_problem(seed=2, k=3, m=23)
    parts = [Part(x_tr, nc.soft_targets(net.forward(x_tr)), 2.0), Part(x, y)]
    theta0 = glorot(net, 0, 0)
    whole = adam_fit(net, parts, theta0=theta0, steps=30, lr=0.01, weight_decay=1.0)
    blocked = adam_fit(net, parts, theta0=theta0, steps=30, lr=0.01, weight_decay=1.0, block=block)
    np.testing.assert_allclose(blocked, whole, rtol=1e-9, atol=1e-12)


def test_glorot_starts_are_seeded_bounded_and_distinct():
    net, *_ = small_problem(seed=0)
    a, b, c = glorot(net, 7, 0), glorot(net, 7, 0), glorot(net, 7, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    first = net.params[0]["weight"]
    assert np.abs(a[:first.size]).max() <= np.sqrt(6.0 / sum(first.shape))


# ------------------------------------------------------------------ the method on real digits


@pytest.fixture(scope="module")
def retrain_spec(digits_small, digits_model):
    """A network-retrain spec of the small digits buyer: its training inputs as the anchor, the
    builder's matched step count, two starts so the module stays quick."""
    ds = digits_small
    tr, va = ds["train"], ds["val"]
    return parse_spec(build_spec("network-retrain", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                 classes=3, anchor=ds["x"][tr], hyper={"inits": 2}))


def test_clean_rows_price_above_zero_and_their_labels_scrambled_below(digits_small, retrain_spec):
    ds = digits_small
    pool = ds["pool"][:80]
    m = get_method("network-retrain")
    clean = m.efficacy(retrain_spec, ds["x"][pool], ds["y"][pool])
    rng = np.random.default_rng(0)
    scrambled = m.efficacy(retrain_spec, ds["x"][pool], rng.integers(0, 3, size=len(pool)))
    assert clean.total > 0 > scrambled.total
    assert clean.scores.shape == (len(pool),) and np.isfinite(clean.scores).all()


def test_a_release_swamped_by_noise_prices_below_the_exact_one(digits_small, retrain_spec):
    """What issue 29 asks of a DP price: the same rows released at a low epsilon (features swamped
    by Laplace noise, labels by randomized response) are worth less than exact."""
    from privacy import Column, Schema, release_ml

    ds = digits_small
    pool = ds["pool"][:80]
    x, y = ds["x"][pool], ds["y"][pool]
    lo, hi = ds["x"].min(axis=0), ds["x"].max(axis=0)
    schema = Schema(features=tuple(Column(f"x{i}", "float", bounds=(float(a), float(max(b, a + 1.0))))
                                   for i, (a, b) in enumerate(zip(lo, hi))), label=Column.categorical("y", 3))
    noisy = release_ml(x, y, schema, 0.05 * 65, clamp=True, rng=np.random.default_rng(1))
    exact = efficacy_of(retrain_spec, x, y)[0]
    assert efficacy_of(retrain_spec, noisy.features, noisy.label)[0] < exact


@settings(max_examples=4, deadline=None)
@given(start=st.integers(0, 60), sign=st.sampled_from([-1.0, 1.0]))
def test_a_rounding_of_the_release_moves_the_efficacy_by_a_rounding(digits_small, retrain_spec, start, sign):
    """Replay: another machine's BLAS may round an intermediate in the 16th digit; the fixed-step
    retraining is smooth in the rows, so the efficacy moves by about as little (an L-BFGS retraining
    moved by 1-12%: docs/decisions/2026-12-07-retraining-price-does-not-replay.md)."""
    ds = digits_small
    pool = ds["pool"][start:start + 30]
    x, y = ds["x"][pool], ds["y"][pool]
    m = get_method("network-retrain")
    a = m.efficacy(retrain_spec, x, y).total
    b = m.efficacy(retrain_spec, x * (1.0 + sign * 1e-15), y).total
    assert abs(b - a) <= 1e-9 * max(abs(a), 1e-6)


def test_a_release_that_overflows_the_retraining_names_its_largest_value_and_the_rate(digits_small, retrain_spec):
    """The retraining's guard: a non-finite probe loss is refused naming the release's largest value
    (the usual cause) and the spec's rate (the other), not a bare failure."""
    from pricing import NonFiniteEfficacy

    x = np.full((10, digits_small["x"].shape[1]), -1e308)
    with pytest.raises(NonFiniteEfficacy, match=r"1e\+308.*clamp the release.*lower the spec's hyper.lr"):
        get_method("network-retrain").efficacy(retrain_spec, x, digits_small["y"][digits_small["pool"][:10]])


def test_a_spec_prices_the_same_release_the_same_twice_and_an_empty_one_zero(digits_small, retrain_spec):
    ds = digits_small
    pool = ds["pool"][:20]
    m = get_method("network-retrain")
    assert m.efficacy(retrain_spec, ds["x"][pool], ds["y"][pool]).total == \
        m.efficacy(retrain_spec, ds["x"][pool], ds["y"][pool]).total
    assert m.efficacy(retrain_spec, ds["x"][pool][:0], ds["y"][pool][:0]).total == 0.0


def test_a_refitted_scaler_is_the_buyers_standard_scaler_on_training_rows_plus_release(fit_pipeline, digits_small):
    """hyper.refit_scaler: the retraining standardizes with the moments of the training rows and the
    release together, as scikit-learn's StandardScaler refitted on them would."""
    from sklearn.preprocessing import StandardScaler

    ds = digits_small
    tr, va, pool = ds["train"], ds["val"], ds["pool"][:30]
    spec = parse_spec(build_spec("network-retrain", fit_pipeline(8), ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                 classes=3, anchor=ds["x"][tr], hyper={"refit_scaler": 1.0, "steps": 5, "inits": 1}))
    m = get_method("network-retrain")
    net = m._scaled_net(spec, m._prepared(spec), ds["x"][pool])
    ref = StandardScaler().fit(np.concatenate([ds["x"][tr], ds["x"][pool]]))
    np.testing.assert_allclose(net.params[0]["mean"], ref.mean_, atol=1e-12)
    live = ref.scale_ != 1.0
    np.testing.assert_allclose(net.params[0]["scale"][live], ref.scale_[live], rtol=1e-10)


# ------------------------------------------------------------------ what a spec must hold


def _manifest_spec(**hyper) -> bytes:
    net, x_tr, _, _ = small_problem(seed=1, k=3)
    layer_list, tensors = _layers_to_spec([(k, p) for k, p in zip(net.kinds, net.params)], "proxy")
    tensors.update({"anchor.features": x_tr, "probe.features": x_tr[:5], "probe.label": np.arange(5) % 3,
                    **({"scaler.var": x_tr.var(axis=0)} if hyper.get("refit_scaler") else {})})
    manifest = {"method": "network-retrain", "proxy": {"layers": layer_list}, "hyper": hyper,
                "schema": {"features": [{"name": f"x{i}"} for i in range(3)],
                           "label": {"name": "y", "kind": "categorical", "classes": 3}}}
    return make_spec(manifest, tensors)


@pytest.mark.parametrize("hyper, says", [({"steps": 0}, "hyper.steps"), ({"steps": 2.5}, "hyper.steps"),
                                         ({"inits": 17}, "hyper.inits"), ({"lr": 0}, "hyper.lr"),
                                         ({"lr": 2}, "hyper.lr"), ({"weight_decay": -1}, "hyper.weight_decay"),
                                         ({"refit_scaler": 1}, "standardize")])
def test_a_spec_with_a_setting_out_of_range_is_refused_naming_it(hyper, says):
    with pytest.raises(SpecError, match=says):
        parse_spec(_manifest_spec(**hyper))


def test_the_builder_asks_for_the_anchor_and_names_the_cli_flag(digits_small, digits_model):
    ds = digits_small
    tr, va = ds["train"], ds["val"]
    with pytest.raises(SpecError, match="--anchor"):
        build_spec("network-retrain", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3)


def test_a_hand_made_spec_prices_with_the_defaults():
    spec = parse_spec(_manifest_spec())
    assert spec.hyper["steps"] == 200 and spec.hyper["inits"] == 3
    _, _, x, y = small_problem(seed=1, k=3)
    assert np.isfinite(get_method("network-retrain").efficacy(spec, x, y).total)


# ------------------------------------------------------------------ the anchor's labels and the step count


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(2, 5), init=st.integers(0, 4))
def test_drawn_labels_are_seeded_and_follow_the_probabilities(seed, k, init):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=4000)
    a, b = drawn_labels(probs, seed, init), drawn_labels(probs, seed, init)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < k
    # each class is drawn as often as its probabilities say, to sampling error
    np.testing.assert_allclose(np.bincount(a, minlength=k) / len(a), probs.mean(axis=0), atol=0.03)
    certain = np.eye(k)[rng.integers(0, k, size=50)]
    np.testing.assert_array_equal(drawn_labels(certain, seed, init), certain.argmax(axis=1))


def _noisy_buyer(hidden: int = 16):
    """A buyer on noisy labels (pricing_scale's synthetic distribution, 600 rows): where a retraining
    run too long memorises the anchor's drawn labels."""
    import warnings

    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from benchmarks.pricing_scale import draw

    x, y = draw(1200, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_pipeline(StandardScaler(), MLPClassifier((hidden,), alpha=1.0, max_iter=300,
                                                              random_state=0)).fit(x[:600], y[:600])
    return model, x, y


def test_the_builder_runs_the_retraining_as_long_as_it_takes_to_fit_as_the_buyers_model_does():
    """On noisy labels: the shipped step count is the grid's whose retraining without a release has
    the probe loss closest to the buyer's model's, and clean rows of the buyer's distribution then
    price above 0 (as a real retraining gains from them) while the same rows' labels shuffled do not."""
    model, x, y = _noisy_buyer()
    spec = parse_spec(build_spec("network-retrain", model, x[:600], y[:600], x[600:900], y[600:900], classes=4,
                                 anchor=x[:600], hyper={"inits": 2}))
    net = Network.from_spec(spec.layers, spec.tensors, "proxy")
    steps, loss = matched_steps(net, x[:600], x[600:900], y[600:900], weight=1.0,
                                weight_decay=spec.hyper["weight_decay"], lr=0.01, inits=2, seed=0)
    own = nc.mean_loss(net, x[600:900], y[600:900])
    assert spec.hyper["steps"] == steps == min(loss, key=lambda s: abs(loss[s] - own))
    m = get_method("network-retrain")
    assert m.efficacy(spec, x[900:], y[900:]).total > 0
    assert m.efficacy(spec, x[900:], np.random.default_rng(0).permutation(y[900:])).total < 0


def test_a_buyer_may_ship_its_anchors_labels_and_is_retrained_on_them(digits_small, digits_model):
    ds = digits_small
    tr, va, pool = ds["train"], ds["val"], ds["pool"][:40]
    common = dict(classes=3, anchor=ds["x"][tr], hyper={"inits": 1, "steps": 50})
    plain = parse_spec(build_spec("network-retrain", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                  **common))
    shown = parse_spec(build_spec("network-retrain", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                  anchor_labels=ds["y"][tr], **common))
    assert "anchor.label" not in plain.tensors and shown.hyper["anchor_labels"] == 1.0
    np.testing.assert_array_equal(shown.tensors["anchor.label"], ds["y"][tr])
    m = get_method("network-retrain")
    np.testing.assert_array_equal(m._prepared(shown)["labels"][0], ds["y"][tr])
    assert m.efficacy(shown, ds["x"][pool], ds["y"][pool]).total != m.efficacy(plain, ds["x"][pool], ds["y"][pool]).total
    with pytest.raises(SpecError, match="anchor_labels must be one class index"):
        build_spec("network-retrain", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                   anchor_labels=ds["y"][tr] + 3, **common)
    with pytest.raises(SpecError, match="only network-retrain ships the anchor's labels"):
        build_spec("network-newton", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3,
                   anchor=ds["x"][tr], anchor_labels=ds["y"][tr])
