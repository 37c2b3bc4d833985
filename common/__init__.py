"""What both cores (`pricing`, `privacy`) and the client share: the release format, canonical
JSON, and the one numba decorator. No I/O beyond bytes in, bytes out."""
