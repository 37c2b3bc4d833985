"""What pricing takes from a release: the `features` and `label` of a spartacus-release-v1
file. The format, its reader and its writer are `common.release`; this module adds what an
MDE spec needs of a release (records: features and a label, finite) and names what it refuses."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from common.release import FORMAT, MalformedRelease, Release

from .errors import ReleaseError, UnpriceableRelease

__all__ = ["RELEASE_FORMAT", "Release", "read_release", "write_release"]

RELEASE_FORMAT = FORMAT

_CHECK_ROWS = 65_536  # rows checked for NaN at a time: a mask of the whole release is an eighth of it

_PRICEABLE = ("an MDE spec prices records: a release with tensors 'features' (float64 [n, d]) and 'label' "
              "([n]), which privacy's release_ml, draw_release of an 'ml-laplace-rr' offer and release_exact "
              "of a schema with features and a label write")


def read_release(data: bytes) -> Release:
    """Parse release bytes and check pricing can price them; raise `ReleaseError` naming the defect
    (`UnpriceableRelease` for a well-formed release that holds no records, e.g. a count-min sketch)."""
    try:
        release = Release.from_bytes(data)
    except MalformedRelease as exc:
        raise ReleaseError(str(exc)) from None
    if "features" not in release.tensors or "label" not in release.tensors:
        kept = sorted(release.tensors)
        raise UnpriceableRelease(
            f"release of mechanism {release.mechanism['name']!r} holds tensors {kept}, "
            f"{'no label' if 'features' in release.tensors else 'no features'}: {_PRICEABLE}; a table of "
            "counts or a count-min sketch has no records to retrain on",
            mechanism=str(release.mechanism["name"]), tensors=kept)
    x, y = release.features, release.label
    finite = all(np.isfinite(x[s:s + _CHECK_ROWS]).all() for s in range(0, x.shape[0], _CHECK_ROWS))
    if not finite or (y.dtype == np.float64 and not np.isfinite(y).all()):
        raise ReleaseError("release holds NaN or infinite values; pricing needs finite features and labels")
    return release


def write_release(features: np.ndarray, label: np.ndarray, schema: Mapping[str, Any], *,
                  mechanism: Mapping[str, Any] | None = None) -> bytes:
    """Bytes of a release of `features` and `label` (an exact one unless `mechanism` says
    otherwise): for tests and benchmarks; privacy/ draws the real ones."""
    x = np.asarray(features, np.float64)
    return Release(tensors={"features": x, "label": np.asarray(label)}, schema=dict(schema),
                   rows=int(x.shape[0]), mechanism=dict(mechanism or {"name": "exact", "epsilon": "exact"})).to_bytes()
