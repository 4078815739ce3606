"""Serving side of eventclf: bundle format, ONNX inference engine, sentence segmentation, BentoML service.

Nothing in this package imports torch or transformers (tests/test_serving_imports.py checks it).
"""
