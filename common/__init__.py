"""What both cores (`pricing`, `privacy`) and the client share: the release format, canonical
JSON, the one numba decorator, and how a person's data table splits (`csv_dialect`: the hub's, the
wallet's and the benchmark's readers). No I/O beyond bytes in, bytes out."""
