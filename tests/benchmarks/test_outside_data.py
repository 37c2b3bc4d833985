"""A data set outside the benchmark: read from a file (CSV or safetensors, any label values) and
run with the default configuration scaled to its rows, or refused naming the rows it needs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save_file
from sklearn.datasets import load_wine

from benchmarks._mde_data import LabelsNotClasses, load
from benchmarks.mde_validation import DataSetTooSmall, dataset_sources, fit_to_rows
from pricing.builders import CANDIDATES, DP_CANDIDATES

FEW = (CANDIDATES[0], DP_CANDIDATES[-2])  # network-anchored, and network-anchored@support=2 for DP releases
DEFAULTS = {"precision": (400, 400, (100, 400)), "exact": (500, 500, (25, 50, 100, 200, 400))}


@given(n_rows=st.integers(0, 3000), n_train=st.integers(30, 600), n_val=st.integers(30, 1000),
       sizes=st.lists(st.integers(2, 500), min_size=1, max_size=5))
def test_a_configuration_fits_the_rows_in_proportion_or_is_refused_naming_the_rows_needed(n_rows, n_train, n_val,
                                                                                          sizes):
    try:
        nt, nv, sz = fit_to_rows(n_rows, n_train, n_val, sizes)
    except DataSetTooSmall as err:
        assert f"{n_rows} rows" in str(err) and "at least" in str(err)
        least = int(str(err).split("at least ")[1].split()[0])
        assert least > n_rows
        nt, nv, sz = fit_to_rows(least, n_train, n_val, sizes)  # the rows it names are enough
        n_rows = least
    assert nt + nv + sz[-1] <= n_rows and list(sz) == sorted(set(sz))
    if n_train + n_val + max(sizes) <= n_rows:
        assert (nt, nv, sz) == (n_train, n_val, tuple(sorted(set(sizes))))
    else:
        assert nt <= n_train and nv <= n_val and sz[-1] <= max(sizes)


def test_files_of_any_label_values_load_as_class_indices(tmp_path):
    x, y = load_wine(return_X_y=True)
    names = np.array(["red", "white", "rose"])[y]
    lines = ["a,b,colour,kind"] + [f"{r[0]},{r[1]},{'dark' if r[2] > 2.3 else 'pale'},{k}" for r, k in zip(x, names)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    xc, yc = load(str(tmp_path / "w.csv"))
    assert xc.shape == (len(y), 4)  # the text column one-hot: dark, pale
    assert set(np.unique(yc)) == {0, 1, 2} and np.array_equal(np.unique(names, return_inverse=True)[1], yc)
    (tmp_path / "w2.csv").write_text("\n".join(line.replace(",", ";") for line in lines) + "\n")
    xs, ys = load(str(tmp_path / "w2.csv"))  # semicolons, as a European spreadsheet writes them
    assert np.array_equal(xs, xc) and np.array_equal(ys, yc)
    de = [line.replace(",", ";") for line in lines[:1]] + [
        ";".join(v.replace(".", ",") for v in line.split(",")) for line in lines[1:]]
    (tmp_path / "w3.csv").write_text("\n".join(de) + "\n")
    xd, yd = load(str(tmp_path / "w3.csv"))  # and with decimal commas: 14,23
    assert np.array_equal(xd, xc) and np.array_equal(yd, yc)
    (tmp_path / "one.csv").write_text("\n".join(["label"] + [str(k) for k in y]) + "\n")
    with pytest.raises(ValueError, match="one column.*feature columns and the label last"):
        load(str(tmp_path / "one.csv"))
    save_file({"features": x, "label": (y * 10 + 5).astype(np.int64)}, str(tmp_path / "w.safetensors"))
    xs, ys = load(str(tmp_path / "w.safetensors"))
    assert np.array_equal(xs, x) and np.array_equal(ys, y)
    with pytest.raises(ValueError, match="no data set 'wines'.*a path to a .csv"):
        load("wines")
    assert dataset_sources(f"digits,{tmp_path / 'w.csv'}") == {"digits": "digits", "w": str(tmp_path / "w.csv")}
    # a file named like a benchmark data set keeps neither its configuration nor its report names
    assert dataset_sources("digits,/d/digits.csv") == {"digits": "digits", "digits-file": "/d/digits.csv"}


def test_files_that_are_not_a_classification_table_are_refused_naming_the_column_and_the_fix(tmp_path):
    """A regression file (its target last) once failed deep in the split, listing 600 classes of one
    row each; it, an identifier column (one-hot: a column a row) and a column empty in every row
    (no row left) are refused when read. Integer classes written as floats still load."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    rows = lambda labels: "\n".join(["a,b,c,target"] + [f"{r[0]},{r[1]},{r[2]},{v}" for r, v in zip(x, labels)])
    (tmp_path / "r.csv").write_text(rows(x @ [1.0, -2.0, 0.5]) + "\n")
    with pytest.raises(LabelsNotClasses, match="fractional numbers.*bin the target into classes"):
        load(str(tmp_path / "r.csv"))
    (tmp_path / "ids.csv").write_text(rows(range(600)) + "\n")  # integers, but one class a row
    with pytest.raises(LabelsNotClasses, match="600 distinct labels in 600 rows"):
        load(str(tmp_path / "ids.csv"))
    named = ["name,a,label"] + [f"row{i},{v},{int(v > 0)}" for i, v in enumerate(x[:, 0])]
    (tmp_path / "names.csv").write_text("\n".join(named) + "\n")
    with pytest.raises(ValueError, match="text column 'name' has 600 distinct values.*drop it"):
        load(str(tmp_path / "names.csv"))
    (tmp_path / "gaps.csv").write_text("\n".join(["a,empty,label"] + [f"{v},,{int(v > 0)}" for v in x[:, 0]]) + "\n")
    with pytest.raises(ValueError, match=r"every row misses a value in one of \['empty'\]"):
        load(str(tmp_path / "gaps.csv"))
    save_file({"features": x, "label": (x[:, 0] > 0).astype(np.float64)}, str(tmp_path / "f.safetensors"))
    _, y = load(str(tmp_path / "f.safetensors"))  # 0.0 / 1.0: classes written as floats
    assert np.array_equal(y, (x[:, 0] > 0).astype(np.int64))


@pytest.mark.parametrize("run", ["precision", "exact"])
def test_a_small_data_set_outside_the_benchmark_runs_with_the_defaults_scaled_to_its_rows(tmp_path, run):
    """178 wines cannot hold the default training, validation and pool sets: both validations
    scale them (cheap methods and calibration here; the benchmark's own run prices every method)."""
    from benchmarks.mde_validation import validate, validate_precision

    x, y = load_wine(return_X_y=True)
    save_file({"features": x, "label": y.astype(np.int64)}, str(tmp_path / "wine.safetensors"))
    xs, ys = load(str(tmp_path / "wine.safetensors"))
    cal = {"folds": 3, "seeds": 1, "candidates": FEW}
    if run == "precision":
        rep = validate_precision(xs, ys, name="wine", seeds=1, draws=1, hidden=8, max_iter=200, alphas=(1.0,),
                                 methods=("influence",), progress=False, calibration=cal, scaling="bounds")
        sizes = sorted({int(n.split("-")[1]) for n in rep.bundles})
    else:
        rep = validate(xs, ys, name="wine", seeds=1, hidden=8, max_iter=200, alphas=(1.0,), methods=("influence",),
                       jobs=1, progress=False, calibration=cal)
        sizes = sorted({int(n.split("-")[1]) for n in rep.names if n.startswith("clean-")})
    assert (rep.n_train, rep.n_val, tuple(sizes)) == fit_to_rows(len(y), *DEFAULTS[run])
    assert rep.n_train + rep.n_val + sizes[-1] <= len(y) and rep.shipped_method
    assert np.isfinite(rep.methods["influence"].spearman)


@given(counts=st.lists(st.integers(1, 60), min_size=2, max_size=6), seed=st.integers(0, 2**16),
       frac=st.floats(0.1, 0.6))
def test_the_buyers_training_rows_hold_every_class_and_the_plain_split_is_kept_when_it_does(counts, seed, frac):
    from benchmarks.mde_validation import split_rows

    y = np.repeat(np.arange(len(counts)), counts)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_train = max(1, int(frac * len(y)))
    n_val = (len(y) - n_train) // 2
    try:
        tr, va, pool = split_rows(y, perm, n_train, n_val)
    except DataSetTooSmall as err:
        assert "too rare" in str(err) and min(counts) * n_train < len(y)
        return
    assert sorted(np.concatenate([tr, va, pool]).tolist()) == list(range(len(y)))
    assert (len(tr), len(va)) == (n_train, n_val) and set(y[tr]) == set(y)
    if set(y[perm[:n_train]]) == set(y):
        assert np.array_equal(tr, perm[:n_train]) and np.array_equal(pool, perm[n_train + n_val:])


def test_the_outside_data_sets_are_written_as_files_the_benchmark_reads(tmp_path):
    from benchmarks.outside_data import write_outside

    shapes = {}
    for path in write_outside(tmp_path):
        x, y = load(str(path))
        shapes[path.stem] = (x.shape, int(y.max()) + 1)
    # german's 13 text columns one-hot; compas's charge degree, race and sex too
    assert shapes == {"iris": ((150, 4), 3), "wine": ((178, 13), 3), "german": ((1000, 61), 2),
                      "compas": ((7214, 15), 2)}
