"""Fitting models with scikit-learn: the pipeline, its estimators, the corpora and
the personal models of `triage learn`. Only `train`, `evaluate` and `learn` import it."""
