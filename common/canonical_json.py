"""Canonical JSON: the one text form of every JSON document the project hashes or signs
(spec manifests, release metadata, terms). RFC 8785 (JSON Canonicalization Scheme, JCS)
for everything those documents hold, so equal content always gives equal bytes.

What this writes, and how it stands to RFC 8785:

- **Objects**: keys sorted by their UTF-16 code units (JCS 3.2.3), which is what
  JavaScript's ``Object.keys(v).sort()`` gives. This differs from Python's
  ``sort_keys=True`` (code points) only when one key holds a character above U+FFFF
  (a surrogate pair, 0xD800..0xDBFF first) and another a character in U+E000..U+FFFF at
  the same position: "\\U0001F600" sorts before "\\uFB01" here. Keys must be strings.
- **Strings**: as JCS (ECMAScript ``JSON.stringify``) escapes them: ``\\"``, ``\\\\``,
  ``\\b \\f \\n \\r \\t``, other characters below U+0020 as ``\\u00xx`` (lower-case hex),
  everything else, non-ASCII included, as its own UTF-8. A lone surrogate is refused
  (:class:`NotCanonical`): JCS requires I-JSON, and UTF-8 cannot encode it.
- **No white space** between tokens; ``null``, ``true``, ``false`` as written.
- **Integers** in full decimal digits (``int.__repr__``). Identical to JCS within
  ``±2**53`` (the exactly representable range of an IEEE double); beyond it JCS would
  print the nearest double (``1e+30``) and this prints every digit. Documents that cross
  languages (the terms) keep their only number, ``chainId``, within that range and
  write amounts as decimal strings.
- **Floats** (finite only; NaN and infinities are refused with :class:`NotCanonical`) as
  Python's shortest round-trip ``repr``, which is *not* JCS's ECMAScript
  ``Number::toString``. They print the same shortest digits but differ in form:
  integral floats (``400.0`` here, ``400`` in JCS), negative zero (``-0.0`` / ``0``),
  and the exponent form (here for exponents below -4 or from 16 up, with two-digit
  exponents, ``1e-05``, ``1e-07``, ``1e+16``; JCS for exponents below -6 or from 21 up,
  ``0.00001``, ``1e-7``, ``10000000000000000``). Spec manifests and release metadata hold
  such floats (``"n_train": 400.0``, bounds ``[0.0, 50.0]``) and their bytes are pinned by
  spec hashes and release bytes, so the float form is kept as it was; a document meant
  for another language's JCS (the terms) carries no floats at all.

Citations: A. Rundgren, B. Jordan, S. Erdtman, "JSON Canonicalization Scheme (JCS)",
RFC 8785, 2020.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # JSON.stringify's string escapes, non-ASCII kept (C-accelerated)
from typing import Any, Mapping

__all__ = ["NotCanonical", "canonical_json", "canonical_json_bytes", "jcs_key"]


class NotCanonical(ValueError):
    """Raised when a value has no canonical JSON form (NaN, an infinity, a lone surrogate, a cycle).

    ``path`` names where it sits (``"a.b[2]"``, empty for the whole value) and ``value`` is the
    offending value."""

    def __init__(self, message: str, *, path: str = "", value: object = None) -> None:
        super().__init__(message)
        self.path, self.value = path, value


def jcs_key(key: str) -> bytes:
    """Sort key of an object key under RFC 8785: its UTF-16 code units, compared as big-endian bytes."""
    return key.encode("utf-16-be", "surrogatepass")


def _where(path: str) -> str:
    return f" at {path}" if path else ""


def _string(s: str, path: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = s[e.start:e.end]
        raise NotCanonical(f"no canonical JSON for the string{_where(path)}: it holds a lone surrogate "
                           f"{bad!r} (U+{ord(bad[0]):04X}), which UTF-8 cannot encode and RFC 8785 (I-JSON) "
                           "forbids; remove it or pair it", path=path, value=s) from None
    return encode_basestring(s)


def _write(value: Any, path: str, out: list[str], seen: set[int]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotCanonical(f"no canonical JSON for {value!r}{_where(path)}; canonical JSON holds finite numbers "
                               "only: replace NaN and infinities (or leave the key out)", path=path, value=value)
        out.append(float.__repr__(value))
    elif isinstance(value, (list, tuple, Mapping)):
        if id(value) in seen:
            raise NotCanonical(f"no canonical JSON for a circular reference{_where(path)}; "
                               "a JSON document is a tree: copy the shared value", path=path, value=None)
        seen.add(id(value))
        if isinstance(value, Mapping):
            for k in value:
                if not isinstance(k, str):
                    raise TypeError(f"object key {k!r}{_where(path)} is of type {type(k).__name__}; canonical JSON keys "
                                    "are strings: convert it (str(key)) before writing")
            out.append("{")
            for i, k in enumerate(sorted(value, key=jcs_key)):
                sub = f"{path}.{k}" if path else k
                if i:
                    out.append(",")
                out.append(_string(k, sub))
                out.append(":")
                _write(value[k], sub, out, seen)
            out.append("}")
        else:
            out.append("[")
            for i, v in enumerate(value):
                if i:
                    out.append(",")
                _write(v, f"{path}[{i}]", out, seen)
            out.append("]")
        seen.discard(id(value))
    else:
        raise TypeError(f"{type(value).__name__} {value!r}{_where(path)} has no JSON form; canonical JSON holds "
                        "mappings, lists, tuples, strings, ints, finite floats, booleans and None: convert it first")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text of ``obj``: RFC 8785 key order and string escapes, no white space,
    floats as Python's repr (see the module docstring); raises :class:`NotCanonical` or ``TypeError``."""
    out: list[str] = []
    _write(obj, "", out, set())
    return "".join(out)


def canonical_json_bytes(obj: Any) -> bytes:
    """``canonical_json(obj)`` encoded as UTF-8: the bytes a hash or a signature covers."""
    return canonical_json(obj).encode("utf-8")
