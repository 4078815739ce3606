"""Start the real BentoML server as a subprocess on 127.0.0.1 and wait until /readyz says ready."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.server import free_port
from benchmarks.server import http_get as get

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def live_server(bundle: Path, startup_timeout: float = 120.0, **env_overrides: str):
    """Yields (base_url, process). Every setting is passed as an EVENTCLF_* variable."""
    port = free_port()
    env = os.environ | {"EVENTCLF_BUNDLE": str(bundle), "BENTOML_DO_NOT_TRACK": "true"} | env_overrides
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"eventclf-server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", "serving.service:EventClassifier", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if get(base + "/readyz", timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {startup_timeout}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
