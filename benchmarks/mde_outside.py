"""Both MDE validations on data sets the methods were never tuned on (`benchmarks.outside_data`:
iris, wine, German credit, COMPAS), split 0, each configuration scaled to the data set's rows:
the held-out check of issue 29's figures, beside the benchmark's own four data sets.
Reports: benchmarks/results/outside/ (precision: mde_precision*; exact bundles: <name>/mde_report*)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Sequence

from benchmarks.mde_validation import RESULTS, main as main_exact, main_precision
from benchmarks.outside_data import OUTSIDE, write_outside

__all__ = ["main"]

OUT = RESULTS / "outside"


def main(argv: Sequence[str] | None = None) -> None:
    """Write the outside data sets to a temporary directory and run both validations on them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(OUTSIDE), help=f"comma-separated, of {', '.join(OUTSIDE)}")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_outside(Path(tmp), [n for n in args.datasets.split(",") if n])
        main_precision(["--datasets", ",".join(map(str, paths)), "--out", str(args.out)])
        for path in paths:
            main_exact(["--datasets", str(path), "--splits", "0", "--out", str(args.out / path.stem)])


if __name__ == "__main__":
    main()
