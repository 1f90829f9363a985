"""How many steps each compiled call runs: the chunk sizer and the loop-free decision.

With `steps_per_execution="auto"` (the default) the trainer times the first chunks and then
runs as many steps per call as fit in about `ChunkSizer.target_seconds`: the per-call dispatch
cost vanishes and the progress bar still moves several times a second. An integer
`steps_per_execution` fixes the chunk size instead.

Some steps run several times slower inside the chunk's `while_loop` than alone on XLA:CPU:
steps with convolutions (a small CNN's fit ran 1.7 steps/s in the loop, 9.7 loop-free). Such
steps run one per call from the start, so the chunked loop is never compiled, whether the
data sits on the device or is streamed (`train_on_batch` always runs the loop-free step: even
a one-step loop is slower). The decision is read from the traced step itself
(`loop_slows_down(jaxpr)`), so it sees a convolution wherever it comes from: a built-in
layer, a `Lambda`, a wrapped Flax module or a user's layer.
"""

from __future__ import annotations

import jax

# Primitives XLA:CPU runs much slower inside a while loop than in a loop-free program.
SLOW_IN_LOOP = frozenset({"conv_general_dilated"})


class ChunkSizer:
    """How many steps the next compiled call runs.

    `start_single()` makes "auto" run loop-free single steps for good: the trainer calls it for
    steps that `loop_slows_down`. That is decided from the traced step, not from timings (a
    step timed on a loaded machine would flip modes and cost a second compilation).
    """

    target_seconds = 0.2
    max_growth = 8

    def __init__(self, steps_per_execution="auto"):
        if steps_per_execution in ("auto", None):
            self.fixed = None
        else:
            if (
                not isinstance(steps_per_execution, int)
                or isinstance(steps_per_execution, bool)
                or steps_per_execution < 1
            ):
                raise ValueError(f"steps_per_execution must be 'auto' or an int >= 1, got {steps_per_execution!r}")
            self.fixed = steps_per_execution
        self.per_step = None
        self.last = 1
        self.calls = 0
        self.single = False
        self.decided = False  # whether the loop-free decision was made (before the first call)

    def next(self, remaining: int) -> int:
        """The size of the next call, at most `remaining` steps."""
        if self.single:
            n = 1
        elif self.fixed is not None:
            n = self.fixed
        elif self.per_step is None:
            n = 1
        else:
            n = max(1, min(int(self.target_seconds / self.per_step), self.last * self.max_growth))
        n = max(1, min(n, remaining))
        self.last = n
        return n

    def start_single(self):
        """Run loop-free single steps from the first call ("auto" only)."""
        if self.fixed is None:
            self.single = True

    def observe(self, n: int, seconds: float):
        """Record that a call ran `n` steps in `seconds`."""
        self.calls += 1
        if self.calls == 1 or self.fixed is not None:
            return  # the first call compiles
        per = seconds / n
        self.per_step = per if self.per_step is None else 0.5 * self.per_step + 0.5 * per


def primitives(jaxpr) -> set:
    """Names of every primitive in `jaxpr` (a `Jaxpr` or `ClosedJaxpr`), sub-jaxprs included
    (loop bodies, branches, `jit`/`custom_vjp` calls)."""
    names, todo, seen = set(), [jaxpr], set()
    while todo:
        j = todo.pop()
        j = getattr(j, "jaxpr", j)  # ClosedJaxpr -> Jaxpr
        if id(j) in seen:
            continue
        seen.add(id(j))
        for eqn in j.eqns:
            names.add(eqn.primitive.name)
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else (value,):
                    if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                        todo.append(sub)
    return names


def loop_slows_down(jaxpr) -> bool:
    """Whether the traced step `jaxpr` is one XLA:CPU runs several times slower inside the
    chunk's while loop than alone (it holds a convolution). Always False off CPU."""
    if jax.default_backend() != "cpu":
        return False
    return not SLOW_IN_LOOP.isdisjoint(primitives(jaxpr))
