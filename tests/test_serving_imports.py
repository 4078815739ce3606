"""The serving image is onnxruntime + tokenizers + numpy + BentoML: serving/ must not pull in torch."""

import subprocess
import sys

CODE = """
import sys
import serving.bundle, serving.config, serving.engine, serving.batching, serving.service
heavy = sorted(m for m in ("torch", "transformers", "datasets", "accelerate") if m in sys.modules)
print(",".join(heavy))
"""


def test_serving_imports_without_torch_or_transformers():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"serving imported {result.stdout.strip()}"
