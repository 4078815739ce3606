"""Throughput and latency benchmark of eventclf: torch baselines, the ONNX engine and the served API.

Run it with ``make bench`` (``python -m benchmarks.run``); ``--quick`` runs a seconds-long version.
See benchmarks/README.md for what is measured and how to read the results.
"""
