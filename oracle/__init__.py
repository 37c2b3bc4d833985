"""The owner's hub: HTTP API, store, keystore, chain watcher, release-and-quote pipeline."""
