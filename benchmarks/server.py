"""The BentoML service in its own process on 127.0.0.1, and the memory of a process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.inputs import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def _kb(value: str | None) -> float:
    return float(value.split()[0]) / 1024.0 if value else 0.0


def process_tree(root: int) -> list[int]:
    """root and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_memory(root: int) -> dict:
    """Peak (VmHWM) and current (VmRSS) resident memory of every process in the tree, in MiB."""
    processes = []
    for pid in process_tree(root):
        try:
            status = _status(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        processes.append({"pid": pid, "cmd": cmd[:160], "peak_rss_mb": round(_kb(status.get("VmHWM")), 1),
                          "rss_mb": round(_kb(status.get("VmRSS")), 1)})
    return {
        "peak_rss_mb_sum": round(sum(p["peak_rss_mb"] for p in processes), 1),
        "peak_rss_mb_max": round(max((p["peak_rss_mb"] for p in processes), default=0.0), 1),
        "rss_mb_sum": round(sum(p["rss_mb"] for p in processes), 1),
        "processes": processes,
    }


def self_peak_rss_mb() -> float:
    return round(_kb(_status(os.getpid()).get("VmHWM")), 1)


@contextlib.contextmanager
def served(bundle: Path, env: dict[str, str], startup_timeout: float = 180.0, repo: Path = REPO):
    """Yields (base_url, process) for `bentoml serve serving.service:EventClassifier` once /readyz is 200.

    ``repo`` is the checkout whose serving/ code runs (e.g. an older one, for a before/after comparison)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="eventclf-bench-") as tmp:
        full_env = os.environ | {"EVENTCLF_BUNDLE": str(bundle), "BENTOML_DO_NOT_TRACK": "true"} | env
        full_env.setdefault("BENTOML_HOME", str(Path(tmp) / "bentoml"))
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bentoml", "serve", "serving.service:EventClassifier",
                 "--host", "127.0.0.1", "--port", str(port)],
                cwd=repo, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + startup_timeout
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"the server exited with {process.returncode}:\n"
                                           f"{log_path.read_text(errors='replace')[-3000:]}")
                    with contextlib.suppress(OSError):
                        if http_get(base + "/readyz", timeout=2)[0] == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the server was not ready after {startup_timeout:.0f}s:\n"
                                           f"{log_path.read_text(errors='replace')[-3000:]}")
                    time.sleep(0.3)
                yield base, process
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
