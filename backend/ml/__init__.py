"""Machine learning: members, ensemble, calibration, metrics, baselines and walk-forward splits."""
