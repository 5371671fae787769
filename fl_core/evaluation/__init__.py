"""Evaluation of the global adapter: held-out loss, multiple-choice benchmarks, the accuracy cache."""
