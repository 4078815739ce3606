"""The adaptive batcher: shared batches, results in order, and a window that recovers after overload."""

from __future__ import annotations

import asyncio
import time

from bentoml._internal.marshal.dispatcher import Optimizer

from serving.batching import AdaptiveBatcher, CappedWaitOptimizer


def _echo(sentences: list[str]) -> list[str]:
    time.sleep(0.002)
    return [s.upper() for s in sentences]


async def _lone_request_after_overload(batcher: AdaptiveBatcher, uncapped: bool) -> float:
    for i in range(20):  # past the dispatcher's start-up calibration
        assert await batcher.submit([f"warm {i}"]) == [f"WARM {i}"]
    optimizer = _optimizer_of(batcher)
    if uncapped:
        replacement = Optimizer(batcher.max_latency_ms / 1000)  # BentoML's own, as the dispatcher builds it
        replacement.o_a, replacement.o_b = optimizer.o_a, optimizer.o_b  # keep what calibration learned
        _set_optimizer(batcher, replacement)
        optimizer = replacement
    # What a burst of overload leaves behind: recent batches that each waited about a second.
    optimizer.o_stat.extend([(1, 0.002, 1.0)] * optimizer.N_KEPT_SAMPLE)
    optimizer.trigger_refresh()
    started = time.perf_counter()
    assert await batcher.submit(["alone"]) == ["ALONE"]
    return time.perf_counter() - started


def _optimizer_of(batcher: AdaptiveBatcher):
    return batcher._dispatcher_object.optimizer


def _set_optimizer(batcher: AdaptiveBatcher, optimizer) -> None:
    batcher._dispatcher_object.optimizer = optimizer


def test_concurrent_requests_share_batches_and_get_their_own_results():
    sizes: list[int] = []
    batcher = AdaptiveBatcher(_echo, max_batch_size=64, max_latency_ms=2000, on_batch=sizes.append)

    async def main():
        jobs = [[f"r{r} s{s}" for s in range(r % 3 + 1)] for r in range(40)]
        answers = await asyncio.gather(*(batcher.submit(job) for job in jobs))
        assert answers == [[s.upper() for s in job] for job in jobs]

    asyncio.run(main())
    assert sum(sizes) == sum(r % 3 + 1 for r in range(40))
    assert max(sizes) > 3  # sentences of several requests went through one call


def test_idle_wait_is_capped_so_a_lone_request_is_not_held_after_overload():
    capped = AdaptiveBatcher(_echo, max_batch_size=64, max_latency_ms=300, max_wait_ms=25)
    waited = asyncio.run(_lone_request_after_overload(capped, uncapped=False))
    assert isinstance(_optimizer_of(capped), CappedWaitOptimizer)
    assert _optimizer_of(capped).wait <= 0.025
    # The same history with BentoML's uncapped average holds the request for most of a second.
    uncapped = AdaptiveBatcher(_echo, max_batch_size=64, max_latency_ms=300, max_wait_ms=25)
    held = asyncio.run(_lone_request_after_overload(uncapped, uncapped=True))
    assert held > 0.6, held
    assert waited < 0.3, waited
