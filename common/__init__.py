"""What both cores (`pricing`, `privacy`) and the client share: the release format, canonical
JSON, the one numba decorator, and the delimiter rule of a person's data table (the CLI's and the
benchmark's readers). No I/O beyond bytes in, bytes out."""
