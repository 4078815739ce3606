"""Adaptive batching of sentences across concurrent requests, with BentoML's own dispatcher.

BentoML batches only at a ``batchable`` HTTP endpoint, whose body must be the bare list of inputs. Our
endpoints validate, segment documents and wrap results, so they hand their sentences to this batcher,
which drives the same ``CorkDispatcher`` that ``@bentoml.api(batchable=True)`` uses: sentences of
concurrent requests share one model call, the window adapts to traffic, and when the latency budget
cannot be met the oldest waiting request is shed (``Overloaded``, served as 503 with Retry-After).
This is the only module that touches BentoML internals.

One change to the dispatcher's policy: while the model is idle it holds a request back for more
company as long as that request's wait stays under the *average wait of recent batches*. That average
includes the waits the rule itself caused, so after a burst of overload (waits of ~1-2 s) a lone
request kept waiting ~0.5 s for minutes (measured: concurrency 1 fell from 58 to 2 sentences/s after
a concurrency-128 level). The average is therefore capped at ``max_wait_ms``: the longest an idle
model waits for a batch to fill. Under load batches still fill while the previous one runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Optimizer

R = TypeVar("R")


class Overloaded(RuntimeError):
    """The latency budget cannot be met; the request was shed and may be retried."""


def _shed() -> list:
    raise Overloaded("the server is overloaded: request shed to keep within the latency budget")


class CappedWaitOptimizer(Optimizer):
    """BentoML's batching-cost model with its learned idle wait capped (see the module docstring)."""

    def __init__(self, max_latency: float, max_wait: float):
        super().__init__(max_latency)
        self.max_wait = max_wait

    def trigger_refresh(self) -> None:
        super().trigger_refresh()
        self.wait = min(self.wait, self.max_wait)


class AdaptiveBatcher(Generic[R]):
    def __init__(self, infer: Callable[[list[str]], list[R]], *, max_batch_size: int, max_latency_ms: int,
                 max_wait_ms: int = 25, on_batch: Callable[[int], None] | None = None):
        self._infer = infer
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self.max_wait_ms = max_wait_ms
        self._on_batch = on_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._call = None
        self._dispatcher_object: CorkDispatcher | None = None
        # One batch runs at a time (the dispatcher guarantees it); a single thread keeps the engine's
        # threads from competing with a second batch.
        self._limiter = anyio.CapacityLimiter(1)

    def _dispatcher(self):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a dispatcher is bound to the event loop it was first used in
            dispatcher = CorkDispatcher(max_latency_in_ms=self.max_latency_ms, max_batch_size=self.max_batch_size,
                                        fallback=_shed, get_batch_size=len, batch_dim=(0, 0))
            dispatcher.optimizer = CappedWaitOptimizer(dispatcher.max_latency, self.max_wait_ms / 1000)
            self._call = dispatcher(self._run_batch)
            self._dispatcher_object = dispatcher
            self._loop = loop
        return self._call

    async def _run_batch(self, jobs: Sequence[list[str]]) -> list[list[R]]:
        flat = [sentence for job in jobs for sentence in job]
        if self._on_batch:
            self._on_batch(len(flat))
        results = await anyio.to_thread.run_sync(self._infer, flat, limiter=self._limiter)
        out, start = [], 0
        for job in jobs:
            out.append(results[start : start + len(job)])
            start += len(job)
        return out

    async def submit(self, sentences: list[str]) -> list[R]:
        """Results for ``sentences``, in order, computed in a batch shared with concurrent callers."""
        if not sentences:
            return []
        return list(await self._dispatcher()(sentences))
