"""Evaluation: metrics, benchmark protocols, reports and plots (docs/evaluation.md).

- :mod:`.metrics` every number (NME, normalisers, failure rate, CED/AUC, yaw bins, offsets, sigma calibration);
- :mod:`.protocols` which rows each benchmark reports; :mod:`.runner` runs a predictor over a dataset;
- :mod:`.predictions` reads/writes prediction files (ours or another tool's);
- :mod:`.report` and :mod:`.plots` write report.md/json, ced.png, calibration.png, worst.png;
- :mod:`.bench` speed measurements; :mod:`.cli` / :mod:`.bench_cli` the ``eval`` / ``bench`` verbs.
"""
