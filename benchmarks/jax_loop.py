"""The hand-written baseline: plain JAX + optax, one `jax.jit` step per batch, buffers donated.

Written as a careful user would: the data is put on the device once, each epoch draws a
permutation, and each step gathers its batch inside the compiled step (one dispatch per step,
no host-to-device copy per batch). Measured against the alternatives on CPU: as fast as
pre-sliced batches within noise (~7%), while a per-epoch jitted split into a list of batches
compiled for 14-24 s and doubled peak memory. Parameter layouts and initializers follow Keras
(glorot-uniform kernels, zero biases, orthogonal recurrent kernels, unit forget-gate bias).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.workloads import LOSS_WEIGHTS, NUM_DEPARTMENTS, NUM_TAGS, NUM_WORDS

glorot = jax.nn.initializers.glorot_uniform()
orthogonal = jax.nn.initializers.orthogonal()


def dense_init(key, n_in, n_out):
    return {"kernel": glorot(key, (n_in, n_out)), "bias": jnp.zeros((n_out,))}


def dense(p, x):
    return x @ p["kernel"] + p["bias"]


def lstm_init(key, n_in, units):
    k1, k2 = jax.random.split(key)
    bias = jnp.zeros((4 * units,)).at[units : 2 * units].set(1.0)  # unit_forget_bias, as Keras
    return {
        "kernel": glorot(k1, (n_in, 4 * units)),
        "recurrent_kernel": orthogonal(k2, (units, 4 * units)),
        "bias": bias,
    }


def lstm(p, x, mask):
    """Last hidden state of an LSTM over (batch, time, features); masked steps keep the state."""
    units = p["recurrent_kernel"].shape[0]

    def step(carry, inp):
        h, c = carry
        x_t, m_t = inp
        # Per-step input projection: on CPU this measured 2.6x faster fwd+bwd than projecting
        # all steps up front with one einsum (whose backward transposes badly).
        z = x_t @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        m = m_t[:, None]
        return (jnp.where(m, h_new, h), jnp.where(m, c_new, c)), None

    zeros = jnp.zeros((x.shape[0], units), x.dtype)
    (h, _), _ = jax.lax.scan(step, (zeros, zeros), (jnp.swapaxes(x, 0, 1), mask.T))
    return h


def max_pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def conv(p, x):
    y = jax.lax.conv_general_dilated(x, p["kernel"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["bias"]


def model_fns(w):
    """`(init(key) -> params, loss(params, x, y) -> scalar)` for the workload."""
    if w.kind == "mlp":
        sizes = w.sizes

        def init(key):
            keys = jax.random.split(key, len(sizes) - 1)
            return [dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]

        def forward(params, x):
            for p in params[:-1]:
                x = jax.nn.relu(dense(p, x))
            return dense(params[-1], x)

    elif w.kind == "cnn":

        def init(key):
            k1, k2, k3 = jax.random.split(key, 3)
            return {
                "c1": {"kernel": glorot(k1, (3, 3, 1, 32)), "bias": jnp.zeros(32)},
                "c2": {"kernel": glorot(k2, (3, 3, 32, 64)), "bias": jnp.zeros(64)},
                "out": dense_init(k3, 5 * 5 * 64, 10),
            }

        def forward(params, x):
            x = max_pool(jax.nn.relu(conv(params["c1"], x)))
            x = max_pool(jax.nn.relu(conv(params["c2"], x)))
            return dense(params["out"], x.reshape(x.shape[0], -1))

    else:

        def init(key):
            k = jax.random.split(key, 6)
            n_feat = 128 + 32 + NUM_TAGS
            return {
                "emb_t": jax.random.uniform(k[0], (NUM_WORDS, 64), minval=-0.05, maxval=0.05),
                "emb_b": jax.random.uniform(k[1], (NUM_WORDS, 64), minval=-0.05, maxval=0.05),
                "lstm_t": lstm_init(k[2], 64, 128),
                "lstm_b": lstm_init(k[3], 64, 32),
                "priority": dense_init(k[4], n_feat, 1),
                "department": dense_init(k[5], n_feat, NUM_DEPARTMENTS),
            }

        def loss(params, x, y):
            t = lstm(params["lstm_t"], params["emb_t"][x["title"]], x["title"] != 0)
            b = lstm(params["lstm_b"], params["emb_b"][x["body"]], x["body"] != 0)
            feat = jnp.concatenate([t, b, x["tags"]], axis=-1)
            mse = jnp.mean((dense(params["priority"], feat) - y["priority"]) ** 2)
            ce = optax.softmax_cross_entropy_with_integer_labels(
                dense(params["department"], feat), y["department"]
            ).mean()
            return LOSS_WEIGHTS["priority"] * mse + LOSS_WEIGHTS["department"] * ce

        return init, loss

    def loss(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()

    return init, loss


def run(w, x, y, epochs):
    tb = time.perf_counter()
    init, loss_fn = model_fns(w)
    tx = optax.adam(1e-3)
    params = init(jax.random.key(0))
    opt_state = jax.block_until_ready(tx.init(params))
    build_s = time.perf_counter() - tb
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(params))
    data = jax.device_put((x, y))
    n = len(jax.tree_util.tree_leaves(y)[0])
    steps = n // w.batch_size

    def train_step(params, opt_state, data, perm, i):
        idx = jax.lax.dynamic_slice_in_dim(perm, i * w.batch_size, w.batch_size)
        xb, yb = jax.tree_util.tree_map(lambda a: a[idx], data)
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    train_step = jax.jit(train_step, donate_argnums=(0, 1))
    permute = jax.jit(lambda key: jax.random.permutation(key, n))

    times = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        perm = permute(jax.random.key(epoch))
        for i in range(steps):
            params, opt_state, loss = train_step(params, opt_state, data, perm, i)
        float(loss)
        times.append(time.perf_counter())
    return {"t0": t0, "epoch_ends": times, "n_params": n_params, "build_s": build_s}
