"""Flax NNX baseline: `nnx.Module`s, `nnx.Optimizer`, one `nnx.jit` step per batch (the Flax
tutorials' pattern), with the same device-resident data and in-step gather as the JAX loop."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.workloads import LOSS_WEIGHTS, NUM_DEPARTMENTS, NUM_TAGS, NUM_WORDS


def build(w, rngs):
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, sizes, rngs):
            self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = jax.nn.relu(layer(x))
            return self.layers[-1](x)

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.c1 = nnx.Conv(1, 32, (3, 3), padding="VALID", rngs=rngs)
            self.c2 = nnx.Conv(32, 64, (3, 3), padding="VALID", rngs=rngs)
            self.out = nnx.Linear(5 * 5 * 64, 10, rngs=rngs)

        def __call__(self, x):
            x = nnx.max_pool(jax.nn.relu(self.c1(x)), (2, 2), (2, 2))
            x = nnx.max_pool(jax.nn.relu(self.c2(x)), (2, 2), (2, 2))
            return self.out(x.reshape(x.shape[0], -1))

    class Triage(nnx.Module):
        def __init__(self, rngs):
            self.emb_t = nnx.Embed(NUM_WORDS, 64, rngs=rngs)
            self.emb_b = nnx.Embed(NUM_WORDS, 64, rngs=rngs)
            self.rnn_t = nnx.RNN(nnx.LSTMCell(64, 128, rngs=rngs), return_carry=True, rngs=rngs)
            self.rnn_b = nnx.RNN(nnx.LSTMCell(64, 32, rngs=rngs), return_carry=True, rngs=rngs)
            n_feat = 128 + 32 + NUM_TAGS
            self.priority = nnx.Linear(n_feat, 1, rngs=rngs)
            self.department = nnx.Linear(n_feat, NUM_DEPARTMENTS, rngs=rngs)

        def __call__(self, x):
            # Padding is at the end: seq_lengths makes the final carry the last real step's.
            (_, t), _ = self.rnn_t(self.emb_t(x["title"]), seq_lengths=(x["title"] != 0).sum(-1))
            (_, b), _ = self.rnn_b(self.emb_b(x["body"]), seq_lengths=(x["body"] != 0).sum(-1))
            feat = jnp.concatenate([t, b, x["tags"]], axis=-1)
            return self.priority(feat), self.department(feat)

    if w.kind == "mlp":
        return MLP(w.sizes, rngs)
    if w.kind == "cnn":
        return CNN(rngs)
    return Triage(rngs)


def loss_fn(w, model, x, y):
    if w.kind == "triage":
        prio, dept = model(x)
        mse = jnp.mean((prio - y["priority"]) ** 2)
        ce = optax.softmax_cross_entropy_with_integer_labels(dept, y["department"]).mean()
        return LOSS_WEIGHTS["priority"] * mse + LOSS_WEIGHTS["department"] * ce
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def run(w, x, y, epochs):
    from flax import nnx

    tb = time.perf_counter()
    model = build(w, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    jax.block_until_ready(nnx.state(optimizer))
    build_s = time.perf_counter() - tb
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))
    data = jax.device_put((x, y))
    n = len(jax.tree_util.tree_leaves(y)[0])
    steps = n // w.batch_size

    @nnx.jit
    def train_step(model, optimizer, data, perm, i):
        idx = jax.lax.dynamic_slice_in_dim(perm, i * w.batch_size, w.batch_size)
        xb, yb = jax.tree_util.tree_map(lambda a: a[idx], data)
        loss, grads = nnx.value_and_grad(lambda m: loss_fn(w, m, xb, yb))(model)
        optimizer.update(model, grads)
        return loss

    permute = jax.jit(lambda key: jax.random.permutation(key, n))
    times = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        perm = permute(jax.random.key(epoch))
        for i in range(steps):
            loss = train_step(model, optimizer, data, perm, i)
        float(loss)
        times.append(time.perf_counter())
    return {"t0": t0, "epoch_ends": times, "n_params": n_params, "build_s": build_s}
