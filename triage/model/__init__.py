"""The model at classification time: features, the model file, inference without
scikit-learn. Nothing here imports `triage.training`."""
