"""Spartacus client: chain bindings, delivery encoding, buyer/seller/auditor workflows, the CLI."""
