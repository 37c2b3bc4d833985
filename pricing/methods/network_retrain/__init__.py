"""Network-retrain: retrain the buyer's network from scratch, with and without the release, and
price the drop of the probe loss.

Network-newton refits the shipped weights locally, so it cannot see what a from-scratch
retraining does with rows swamped by DP noise; the buyer's real model is retrained from scratch.
Here the buyer ships its network's layers (the weights only label the anchor), unlabelled inputs
(`anchor.features`, its training inputs price best) and a labelled probe. The hub retrains the
same layers from seeded Glorot starts on the anchor, each start with labels drawn from the
network's own predicted probabilities (so the anchor is as noisy as real labels would be) and
weighted to stand for `hyper.n_train` rows, plus the release, by full-batch
Adam for a fixed number of steps (`trainer`), and compares the probe loss with the same
retraining without the release; the price averages `hyper.inits` starts. With
`hyper.refit_scaler` the leading `standardize` layer is refitted on the training rows plus the
release (exact pooled moments), as the buyer's pipeline would. A quote costs `inits` retrainings
of the network on anchor plus release rows (`steps` passes each): a DP release's price, not an
exact bundle's (issue 29; docs/decisions/2026-12-07-network-retrain.md).

- `trainer`: the seeded start and the fixed-step full-batch Adam.
- `method`: `NetworkRetrain`, the registered pricing method.
"""

from __future__ import annotations

from .method import RETRAIN_BUDGET, NetworkRetrain

__all__ = ["NetworkRetrain", "RETRAIN_BUDGET"]
