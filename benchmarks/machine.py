"""Which machine a result came from: a short id for file names and a description for the report."""

from __future__ import annotations

import os
import platform
import re
import socket
from datetime import UTC, datetime


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and value.strip():
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|cpu|processor|@.*$|\d+-core", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def describe(torch_cuda: str | None = None) -> dict:
    model, flags = _cpuinfo()
    cores = os.cpu_count() or 1
    isa = [name for name, flag in (("avx512", "avx512f"), ("vnni", "avx512_vnni"), ("amx", "amx_tile"),
                                   ("bf16", "avx512_bf16"), ("avx2", "avx2")) if flag in flags]
    host = _slug(socket.gethostname().split(".")[0])[:24] or "host"
    parts = [host, _slug(model)[:24], f"{cores}c"] + (["gpu"] if torch_cuda else [])
    return {
        "id": "-".join(p for p in parts if p),
        "hostname": socket.gethostname(),
        "cpu_model": model,
        "cores": cores,
        "isa": isa,
        "gpu": torch_cuda,
        "python": platform.python_version(),
    }


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
