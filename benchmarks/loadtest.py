"""Bounded overload test of the served API: many concurrent clients on 127.0.0.1 for a fixed time.

    python -m benchmarks.loadtest --bundle models/default/bundle            # starts its own server
    python -m benchmarks.loadtest --url http://127.0.0.1:3000 --seconds 30   # a server already running
    python -m benchmarks.loadtest --bundle ... --clients 20 --seconds 1800    # the soak variant

Each of ``--clients`` clients sends POST /classify in a closed loop (next request when the last one is
answered) for ``--seconds``. Every request carries 1-8 sentences drawn from a pool of unique sentences
(the repository's data with a numbered reference appended), so every answer can be checked against its own
request: the number of results must equal the number of sentences, and every result must equal the one
expected for that sentence: computed up front by a local Engine when the bundle is known (``--bundle``),
or else the first answer seen for that sentence (answers must agree across requests and batches). With
fp32 the server's scores do not depend on batching (tolerance 1e-4); int8 scores move by ~1e-4 with the
other sentences of a batch, so the int8 tolerance is looser and catches mix-ups only between sentences
whose scores differ by more than it.

It counts statuses (200, 503, 429, other), client timeouts, connection errors, mismatches and 503s
without Retry-After; samples the resident memory of the server's process tree (arbiter and worker) every
second; and prints a JSON summary (``--out`` also writes it). Only loopback URLs are accepted.

Memory: BentoML's traffic-timeout middleware keeps a timer (and what it references) for every request
until the timeout (120 s) fires, so the server's RSS climbs with the request rate for the first 120 s
and then levels off; ``growth_after_warmup_mb`` counts from ``--warmup`` seconds and
``last_half_mb_per_min`` is the slope over the second half of the run (the soak figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psutil

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FP32_TOLERANCE = 1e-4
INT8_TOLERANCE = 5e-3


def sentence_pool(size: int, seed: int = 0) -> list[str]:
    """``size`` unique sentences: the repository's data, cycled, each with a numbered reference."""
    texts = []
    for path in sorted((REPO / "data" / "sentences").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            if line.strip():
                texts.append(json.loads(line)["text"])
    if not texts:
        texts = ["Shelling hit the northern district overnight.", "Protesters gathered outside parliament."]
    random.Random(seed).shuffle(texts)
    return [f"{texts[i % len(texts)]} (ref {i})" for i in range(size)]


def server_tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (BentoML's arbiter and its worker)."""
    total = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def find_server_pid(port: int) -> int | None:
    """The topmost process listening on ``port`` (BentoML's arbiter passes its socket to the worker)."""
    owners = set()
    with contextlib.suppress(psutil.AccessDenied):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                owners.add(conn.pid)
    for pid in owners:
        with contextlib.suppress(psutil.NoSuchProcess):
            if not any(parent.pid in owners for parent in psutil.Process(pid).parents()):
                return pid
    return None


@dataclass
class Stats:
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    connection_errors: int = 0
    mismatches: int = 0
    missing_retry_after: int = 0
    sentences_answered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(problem)


def _results_match(got: dict, want: dict, tolerance: float) -> bool:
    if set(got.get("scores", {})) != set(want["scores"]):
        return False
    if any(abs(got["scores"][k] - v) > tolerance for k, v in want["scores"].items()):
        return False
    # int8: a label whose score sits within the tolerance of its threshold may flip with the batch, so only
    # the scores are compared; fp32 labels must be identical.
    return tolerance > FP32_TOLERANCE or got.get("labels") == want["labels"]


async def _client(index: int, session, url: str, pool: list[str], expected: dict[str, dict], tolerance: float,
                  deadline: float, stats: Stats, headers: dict, max_sentences: int, timeout: float) -> None:
    import aiohttp

    rng = random.Random(index)
    while time.monotonic() < deadline:
        sentences = rng.sample(pool, rng.randint(1, max_sentences))
        stats.requests += 1
        start = time.perf_counter()
        try:
            async with session.post(url + "/classify", json={"sentences": sentences}, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            stats.timeouts += 1
            continue
        except aiohttp.ClientError as err:
            stats.connection_errors += 1
            stats.note(f"connection error: {err!r}")
            await asyncio.sleep(0.05)
            continue
        except Exception as err:  # noqa: BLE001 - counted as lost (requests - answered - timeouts - errors)
            stats.note(f"lost: {err!r}")
            continue
        elapsed_ms = (time.perf_counter() - start) * 1000
        key = str(status)
        stats.statuses[key] = stats.statuses.get(key, 0) + 1
        if status == 503:
            if not retry_after:
                stats.missing_retry_after += 1
            await asyncio.sleep(min(float(retry_after or 1), 1.0) * rng.random())  # a polite client backs off
            continue
        if status != 200:
            stats.note(f"status {status}: {body[:200]!r}")
            continue
        stats.latencies_ms.append(elapsed_ms)
        try:
            results = json.loads(body)["results"]
        except (ValueError, KeyError, TypeError):
            results = None
        if not isinstance(results, list) or len(results) != len(sentences):
            stats.mismatches += 1
            stats.note(f"{len(sentences)} sentences sent, answer: {body[:120]!r}")
            continue
        for sentence, result in zip(sentences, results):
            want = expected.setdefault(sentence, result)  # without a local engine: first answer seen
            if not _results_match(result, want, tolerance):
                stats.mismatches += 1
                stats.note(f"answer does not belong to its sentence: {sentence[:60]!r}")
                break
        else:
            stats.sentences_answered += len(sentences)


async def _sample_rss(pid: int | None, samples: list[tuple[float, float]], t0: float, stop: asyncio.Event) -> None:
    while pid is not None and not stop.is_set():
        samples.append((round(time.monotonic() - t0, 1), round(server_tree_rss(pid) / 2**20, 1)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def load(url: str, *, clients: int, seconds: float, server_pid: int | None = None,
               expected: dict[str, dict] | None = None, precision: str | None = None, pool_size: int = 4000,
               api_key: str | None = None, max_sentences: int = 8, timeout: float = 60.0,
               warmup_s: float | None = None) -> dict:
    """Run the load and return the summary (see the module doc)."""
    import aiohttp

    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load {url}: only loopback addresses ({', '.join(sorted(LOOPBACK))})")
    url = url.rstrip("/")
    headers = {"X-API-Key": api_key} if api_key else {}
    pool = sentence_pool(pool_size)
    checked_against = "first answer seen" if expected is None else "local engine"
    if expected is not None:
        pool = [s for s in pool if s in expected]
    expected = {} if expected is None else dict(expected)
    tolerance = FP32_TOLERANCE if precision == "fp32" else INT8_TOLERANCE
    warmup_s = min(10.0, seconds / 4) if warmup_s is None else warmup_s
    stats, samples, stop = Stats(), [], asyncio.Event()
    t0 = time.monotonic()
    sampler = asyncio.create_task(_sample_rss(server_pid, samples, t0, stop))
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(i, session, url, pool, expected, tolerance, deadline, stats, headers,
                                       max_sentences, timeout) for i in range(clients)))
    wall = time.monotonic() - t0
    stop.set()
    await sampler
    after_warmup = [mb for t, mb in samples if t >= warmup_s]
    rss = None
    if samples:
        baseline = after_warmup[0] if after_warmup else samples[-1][1]
        half = [(t, mb) for t, mb in samples if t >= samples[-1][0] / 2]
        drift = None
        if len(half) >= 2 and half[-1][0] > half[0][0]:
            drift = round((half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0]) * 60, 2)
        rss = {"before_mb": samples[0][1], "after_warmup_mb": baseline, "max_mb": max(mb for _, mb in samples),
               "end_mb": samples[-1][1],
               "growth_after_warmup_mb": round(max(after_warmup or [baseline]) - baseline, 1),
               "last_half_mb_per_min": drift, "warmup_s": warmup_s, "samples": samples}
    other = {code: n for code, n in stats.statuses.items() if code not in {"200", "503", "429"}}
    return {
        "url": url, "clients": clients, "seconds": seconds, "wall_s": round(wall, 1), "precision": precision,
        "checked_against": checked_against,
        "requests": stats.requests, "answered": sum(stats.statuses.values()),
        "status_200": stats.statuses.get("200", 0), "status_503": stats.statuses.get("503", 0),
        "status_429": stats.statuses.get("429", 0), "status_other": other,
        "server_errors_other_than_503": sum(n for code, n in other.items() if code.startswith("5")),
        "timeouts": stats.timeouts, "connection_errors": stats.connection_errors,
        "lost": stats.requests - sum(stats.statuses.values()) - stats.timeouts - stats.connection_errors,
        "mismatches": stats.mismatches, "missing_retry_after": stats.missing_retry_after,
        "requests_per_s": round(stats.statuses.get("200", 0) / wall, 1),
        "sentences_per_s": round(stats.sentences_answered / wall, 1),
        "latency_ms_200": {"p50": _percentile(stats.latencies_ms, 0.5), "p95": _percentile(stats.latencies_ms, 0.95),
                           "p99": _percentile(stats.latencies_ms, 0.99), "max": _percentile(stats.latencies_ms, 1.0)},
        "rss": rss, "examples": stats.examples,
    }


def _server_precision(url: str, api_key: str | None) -> str | None:
    import urllib.request

    request = urllib.request.Request(url.rstrip("/") + "/info", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"}
                                     | ({"X-API-Key": api_key} if api_key else {}))
    with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read()).get("precision")
    return None


def run(*, clients: int, seconds: float, url: str | None = None, bundle: str | Path | None = None,
        env: dict[str, str] | None = None, api_key: str | None = None, pool_size: int = 4000,
        verify: bool = True, **kwargs) -> dict:
    """Start a server on ``bundle`` (settings from ``env``) or use the one at ``url``; return the summary."""
    if bundle is None and url is None:
        raise ValueError("give --url or --bundle")
    if bundle is None:
        pid = kwargs.pop("server_pid", None) or find_server_pid(urlparse(url).port or 80)
        return asyncio.run(load(url, clients=clients, seconds=seconds, server_pid=pid, api_key=api_key,
                                precision=_server_precision(url, api_key), pool_size=pool_size, **kwargs))
    sys.path.insert(0, str(REPO / "tests"))
    from live_server import live_server

    env = dict(env or {})
    if api_key:
        env["EVENTCLF_API_KEY"] = api_key
    with live_server(Path(bundle), **env) as (base, process):
        precision = _server_precision(base, api_key)
        expected = None
        if verify:
            from serving.engine import Engine

            engine = Engine(bundle, precision=precision or "int8", threads=1)
            pool = sentence_pool(pool_size)
            expected = {s: r.to_dict() for s, r in zip(pool, engine.classify(pool))}
            del engine
        summary = asyncio.run(load(base, clients=clients, seconds=seconds, server_pid=process.pid,
                                   expected=expected, precision=precision, pool_size=pool_size,
                                   api_key=api_key, **kwargs))
        summary["server_env"] = {k: v for k, v in env.items() if k != "EVENTCLF_API_KEY"}
        return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server (loopback only)")
    where.add_argument("--bundle", help="start a server on this bundle (its answers are checked locally)")
    parser.add_argument("--env", action="append", default=[], metavar="EVENTCLF_X=V",
                        help="server setting when --bundle starts one (repeatable)")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--server-pid", type=int, default=None, help="with --url: whose memory to sample")
    parser.add_argument("--max-sentences", type=int, default=8, help="most sentences per request")
    parser.add_argument("--pool", type=int, default=4000, help="unique sentences to draw from")
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request, seconds")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds excluded from the memory growth figure (default: min(10, seconds/4)); "
                        "BentoML keeps every request's timer for its traffic timeout (120 s), so memory only "
                        "levels off after that: use --warmup 150 for soak runs")
    parser.add_argument("--out", default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    summary = run(clients=args.clients, seconds=args.seconds, url=args.url, bundle=args.bundle, env=env,
                  api_key=args.api_key, pool_size=args.pool, max_sentences=args.max_sentences,
                  timeout=args.timeout, warmup_s=args.warmup,
                  **({"server_pid": args.server_pid} if args.server_pid else {}))
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
