"""`make bench`'s precision run: `benchmarks.mde_validation.validate_precision` on every data set.

``python -m benchmarks.mde_precision [--datasets ...] [--split 0] [--seeds 3] [--draws 2]``.
"""

from __future__ import annotations

from benchmarks.mde_validation import main_precision

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the precision validation and write benchmarks/results/mde_precision*."""
    main_precision(argv)


if __name__ == "__main__":
    main()
