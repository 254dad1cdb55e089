"""A whole training step captured once as a CUDA graph and replayed for every batch.

At batch 128 a step is ~30 small kernels and the GPU waits for Python to launch them; a graph
launches them all at once. Nothing about the step changes: the layers, the loss and the optimizer
run their ordinary code once while the stream is being captured, and the graph remembers what they
launched, on which memory. Hence the rules the training loop keeps:

- every array the step reads from outside is fixed: the batch buffers the ``DataLoader`` gathers into,
  the parameters, their gradients and the optimizer state (created by the warm-up steps before the
  capture), the running totals;
- what the step allocates while captured comes from a memory pool of its own, which nothing else uses
  and which lives as long as the graph (an allocation made later from the shared pool could otherwise
  be handed memory the graph still writes to);
- the step never waits for the GPU (no ``float()`` of a device value: the loss stays on the device);
- numbers baked into the kernels (the learning rate) are the step's ``key``: a new key recaptures.
"""

STATS = {"captures": 0, "replays": 0}
"""Counts over the process (the benchmark and the tests read them to see the graph was used)."""

_RELAXED = 2  # cudaStreamCaptureModeRelaxed: allows cudaMalloc (the private pool growing) during capture


class StepGraph:
    """Run ``step()`` eagerly ``warmup`` times, then capture it once and replay it.

    ``step`` takes no argument and returns what the training loop reads after each step (device
    arrays: the graph rewrites them on every replay). Call ``run(key)`` once per step, on the stream
    ``stream`` (a non-default ``cupy.cuda.Stream``, as capture requires).
    """

    def __init__(self, step, stream, warmup=2):
        self.step = step
        self.stream = stream
        self.warmup_left = warmup
        self.graph = None
        self.key = None
        self.outputs = None
        self.pools = []  # every pool a graph was captured with: arrays from them may still be in use
        self.captures = 0

    def run(self, key=None):
        if self.graph is not None and key != self.key:
            self.graph = None  # e.g. a new learning rate: its value is inside the kernels' arguments
        if self.graph is None:
            if self.warmup_left > 0:
                self.warmup_left -= 1
                return self.step()
            self._capture()
            self.key = key
        else:
            STATS["replays"] += 1
        self.graph.launch(self.stream)
        return self.outputs

    def _capture(self):
        import cupy

        pool = cupy.cuda.MemoryPool()
        self.pools.append(pool)
        mode = getattr(cupy.cuda.runtime, "streamCaptureModeRelaxed", _RELAXED)
        with self.stream, cupy.cuda.using_allocator(pool.malloc):
            self.stream.begin_capture(mode=mode)
            try:
                self.outputs = self.step()
            finally:
                graph = self.stream.end_capture()
        if hasattr(graph, "upload"):
            graph.upload(self.stream)
        self.graph = graph
        self.captures += 1
        STATS["captures"] += 1
