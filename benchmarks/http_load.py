"""A bounded aiohttp load generator for the served API, and the batch-size histogram from /metrics.

Each level sends a fixed number of POST /classify requests with at most ``concurrency`` in flight (closed
loop: each of ``concurrency`` workers sends its next request when the last one is answered). Requests that
are shed (503) or fail are counted, not retried; throughput counts answered sentences only.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass

from benchmarks.server import http_get
from benchmarks.variants import percentiles

METRIC = "eventclf_batch_sentences"
_LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')


@dataclass
class Histogram:
    count: float = 0.0
    total: float = 0.0
    buckets: dict[str, float] | None = None  # le -> cumulative count

    def minus(self, before: Histogram) -> Histogram:
        buckets = {le: v - (before.buckets or {}).get(le, 0.0) for le, v in (self.buckets or {}).items()}
        return Histogram(self.count - before.count, self.total - before.total, buckets)

    def to_dict(self) -> dict:
        return {"model_calls": round(self.count), "sentences": round(self.total),
                "mean_batch_size": (self.total / self.count) if self.count else None,
                "cumulative_buckets": {le: round(v) for le, v in (self.buckets or {}).items()}}


def parse_histogram(text: str, metric: str = METRIC) -> Histogram:
    """Sum a Prometheus histogram over all its label sets (BentoML may add service/endpoint labels)."""
    hist = Histogram(buckets={})
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m or not m.group("name").startswith(metric):
            continue
        name, value = m.group("name"), float(m.group("value"))
        if name == metric + "_count":
            hist.count += value
        elif name == metric + "_sum":
            hist.total += value
        elif name == metric + "_bucket":
            le = re.search(r'le="([^"]+)"', m.group("labels") or "")
            if le:
                hist.buckets[le.group(1)] = hist.buckets.get(le.group(1), 0.0) + value
    return hist


def scrape(base_url: str) -> Histogram:
    status, body = http_get(base_url + "/metrics", timeout=10)
    if status != 200:
        raise RuntimeError(f"GET /metrics answered {status}")
    return parse_histogram(body.decode("utf-8", errors="replace"))


async def _load(base_url: str, bodies: list[bytes], concurrency: int, timeout_s: float) -> tuple[list, float]:
    import aiohttp

    results: list[tuple[int, float]] = []  # (status, latency ms)
    next_index = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < len(bodies):
            body = bodies[next_index]
            next_index += 1
            t0 = time.perf_counter()
            try:
                async with session.post(base_url + "/classify", data=body,
                                        headers={"Content-Type": "application/json"}) as response:
                    await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError):
                status = -1
            results.append((status, (time.perf_counter() - t0) * 1000.0))

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return results, elapsed


def request_bodies(sentences: list[str], n_requests: int, per_request: int, offset: int = 0) -> list[bytes]:
    out = []
    k = offset
    for _ in range(n_requests):
        chunk = [sentences[(k + j) % len(sentences)] for j in range(per_request)]
        k += per_request
        out.append(json.dumps({"sentences": chunk}, ensure_ascii=False).encode("utf-8"))
    return out


def run_level(base_url: str, sentences: list[str], *, concurrency: int, n_requests: int, per_request: int,
              warmup_requests: int, offset: int = 0, timeout_s: float = 120.0) -> dict:
    """One load level: warm-up requests (not counted), then ``n_requests`` timed ones."""
    warm = request_bodies(sentences, warmup_requests, per_request, offset + 7919)
    timed = request_bodies(sentences, n_requests, per_request, offset)
    if warm:
        asyncio.run(_load(base_url, warm, concurrency, timeout_s))
    before = scrape(base_url)
    results, elapsed = asyncio.run(_load(base_url, timed, concurrency, timeout_s))
    batches = scrape(base_url).minus(before)
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = [ms for status, ms in results if status == 200]
    return {
        "concurrency": concurrency,
        "sentences_per_request": per_request,
        "requests": len(results),
        "ok": len(ok),
        "status_counts": statuses,
        "elapsed_s": elapsed,
        "requests_per_s": len(ok) / elapsed if elapsed else None,
        "sentences_per_s": len(ok) * per_request / elapsed if elapsed else None,
        "latency_ms": percentiles(ok),
        "batches": batches.to_dict(),
    }
