"""Subprocess worker for tests/test_distribution.py (not collected by pytest).

The test process has one CPU device; multi-device behaviour needs
`XLA_FLAGS=--xla_force_host_platform_device_count=N` set before JAX starts, so the tests run
this script in a fresh process and assert on the JSON it prints as its last line.

    python tests/distributed_worker.py devices4 CKPT_DIR      # 4 forced devices
    python tests/distributed_worker.py restore CKPT_DIR       # 1 device
    python tests/distributed_worker.py multiproc PID PORT     # 2 processes x 2 devices
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

STEPS, BATCH = 3, 8


def make_model():
    import jnet

    jnet.utils.set_random_seed(0)
    return jnet.Sequential([jnet.layers.Dense(8, activation="tanh", input_shape=(4,)), jnet.layers.Dense(2)])


def make_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * BATCH, 4)).astype(np.float32)
    y = rng.normal(size=(STEPS * BATCH, 2)).astype(np.float32)
    return x, y


def train_manual(dist):
    """A plain JAX loop that places everything through the engine's Distribution hook."""
    model = make_model()
    x, y = make_data()
    tx = optax.sgd(0.1)
    variables = model.init(jax.random.key(0))
    train_state = {"params": variables["params"], "opt_state": tx.init(variables["params"])}
    train_state = dist.place_variables(train_state)

    @jax.jit
    def step(ts, batch):
        batch = dist.constrain_batch(batch)

        def loss_fn(p):
            pred, _ = model.apply({"params": p, "state": {}}, batch["x"])
            return jnp.mean(jnp.square(pred - batch["y"]))

        loss, grads = jax.value_and_grad(loss_fn)(ts["params"])
        updates, opt_state = tx.update(grads, ts["opt_state"], ts["params"])
        return {"params": optax.apply_updates(ts["params"], updates), "opt_state": opt_state}, loss

    losses = []
    for i in range(STEPS):
        batch = dist.place_batch({"x": x[i * BATCH : (i + 1) * BATCH], "y": y[i * BATCH : (i + 1) * BATCH]})
        train_state, loss = step(train_state, batch)
        losses.append(float(loss))
    return losses, train_state["params"]


def train_fit(dist, ckpt_path=None):
    """The same training through compile / fit / evaluate / predict under `dist.scope()`;
    with `ckpt_path`, the (sharded) train state is saved there with orbax afterwards."""
    import contextlib

    import jnet
    from jnet.callbacks import Callback

    model = make_model()
    x, y = make_data()
    model.compile(optimizer=jnet.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    seen = {}

    class Inspect(Callback):
        def on_train_batch_end(self, batch, logs=None):
            kernel = self.model.current_variables()["params"]["dense"]["kernel"]
            seen["kernel_spec"] = [None if a is None else str(a) for a in getattr(kernel.sharding, "spec", ())]
            seen["kernel_shard_shapes"] = sorted({tuple(s.data.shape) for s in kernel.addressable_shards})

    scope = dist.scope() if dist is not None else contextlib.nullcontext()
    with scope:
        history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[Inspect()])
        evaluated = model.evaluate(x, y, batch_size=BATCH, verbose=0)
        predicted = model.predict(x, batch_size=BATCH, verbose=0)
        if ckpt_path:
            import orbax.checkpoint as ocp

            ts = model.get_train_state()
            seen["saved_kernel_spec"] = spec_of(ts.params["dense"]["kernel"])
            seen["saved_moment_specs"] = sorted(
                {str(spec_of(a)) for a in jax.tree_util.tree_leaves(ts.opt_state) if a.ndim == 2}
            )
            with ocp.StandardCheckpointer() as ckptr:
                ckptr.save(ckpt_path, ts)
    result = {
        "losses": history.history["loss"],
        "weights": [w.ravel().tolist() for w in model.get_weights()],
        "evaluate": float(np.ravel(evaluated)[0]),
        "predict": np.asarray(predicted).ravel().tolist(),
        **seen,
    }
    if dist is None:  # the reference for a restored checkpoint that trains one epoch more
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        result["continued_weights"] = [w.ravel().tolist() for w in model.get_weights()]
    return result


def switch_to_dp(dp):
    """Fit one epoch on one device, then one more under DataParallel: the second fit must
    run sharded (not reuse the one-device executable) and continue the same training."""
    import jnet
    from jnet.callbacks import Callback

    model = make_model()
    x, y = make_data()
    model.compile(optimizer=jnet.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    seen = {}

    class Inspect(Callback):
        def on_train_batch_end(self, batch, logs=None):
            kernel = self.model.current_variables()["params"]["dense"]["kernel"]
            seen["n_devices"] = len(kernel.sharding.device_set)

    with dp.scope():
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[Inspect()])
    return {"weights": [w.ravel().tolist() for w in model.get_weights()], **seen}


def flat(params):
    return [np.asarray(jax.device_get(p)).ravel().tolist() for p in jax.tree_util.tree_leaves(params)]


def spec_of(a):
    return [None if s is None else str(s) for s in a.sharding.spec]


def devices4(ckpt_dir):
    from jnet import distribution as D
    from jnet.engine import distribute

    out = {"n_devices": jax.device_count()}
    losses, params = train_manual(distribute.Distribution())
    out["single"] = {"losses": losses, "params": flat(params)}

    dp = D.DataParallel()
    losses, params = train_manual(dp)
    kernel = params["dense"]["kernel"]
    batch = dp.place_batch({"x": np.zeros((BATCH, 4), np.float32)})["x"]
    out["dp"] = {
        "losses": losses,
        "params": flat(params),
        "batch_multiple": dp.batch_multiple,
        "kernel_replicated": bool(kernel.sharding.is_fully_replicated),
        "batch_shard_shapes": sorted({tuple(s.data.shape) for s in batch.addressable_shards}),
        "batch_n_shards": len(batch.addressable_shards),
    }

    mesh = D.DeviceMesh((2, 2), ("batch", "model"))
    layout_map = D.LayoutMap(mesh)
    layout_map["dense.*/kernel"] = (None, "model")
    layout_map["dense.*/bias"] = ("model",)
    mp = D.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    losses, params = train_manual(mp)
    kernel = params["dense"]["kernel"]
    out["mp"] = {
        "losses": losses,
        "params": flat(params),
        "batch_multiple": mp.batch_multiple,
        "kernel_spec": spec_of(kernel),
        "kernel_shard_shapes": sorted({tuple(s.data.shape) for s in kernel.addressable_shards}),
        "kernel_replicated": bool(kernel.sharding.is_fully_replicated),
    }

    out["fit_single"] = train_fit(None)
    out["fit_dp"] = train_fit(dp)
    out["switch"] = switch_to_dp(dp)
    out["fit_mp"] = train_fit(mp, os.path.join(ckpt_dir, "train_state"))

    import orbax.checkpoint as ocp

    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.join(ckpt_dir, "state"), params)
    out["saved"] = flat(params)
    return out


def restore(ckpt_dir):
    import orbax.checkpoint as ocp

    params = make_model().init(jax.random.key(0))["params"]
    device = jax.devices()[0]
    target = jax.tree_util.tree_map(
        lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype, sharding=jax.sharding.SingleDeviceSharding(device)), params
    )
    with ocp.StandardCheckpointer() as ckptr:
        restored = ckptr.restore(os.path.join(ckpt_dir, "state"), target)
    leaves = jax.tree_util.tree_leaves(restored)
    out = {
        "n_devices": jax.device_count(),
        "params": flat(restored),
        "devices": sorted({str(d) for a in leaves for d in a.devices()}),
    }

    # The whole train state saved sharded by fit under ModelParallel, into a fresh model here.
    import jnet

    model = make_model()
    model.compile(optimizer=jnet.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    x, y = make_data()
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)  # builds the train state
    target = model.get_train_state()
    with ocp.StandardCheckpointer() as ckptr:
        ts = ckptr.restore(os.path.join(ckpt_dir, "train_state"), target)
    model.set_train_state(ts)
    out["train_state_weights"] = [w.ravel().tolist() for w in model.get_weights()]
    out["train_state_devices"] = sorted({str(d) for a in jax.tree_util.tree_leaves(ts) for d in a.devices()})
    # One more epoch here must match one more epoch of the sharded run (momentum restored too).
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    out["continued_weights"] = [w.ravel().tolist() for w in model.get_weights()]
    return out


def multiproc(pid, port):
    from jnet import distribution as D

    D.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    dp = D.DataParallel()
    losses, params = train_manual(dp)
    fitted = train_fit(dp)
    # A per-process input pipeline in an own loop: each process passes only its rows.
    x, _ = make_data()
    rows = BATCH // 2
    local = dp.place_local_batch({"x": x[pid * rows : (pid + 1) * rows]})["x"]
    gathered = jax.jit(lambda a: a, out_shardings=dp.replicated)(local)
    # Replicated params: every process holds the full value.
    return {
        "local_batch_shape": list(local.shape),
        "local_batch": np.asarray(gathered.addressable_data(0)).ravel().tolist(),
        "fit": {k: fitted[k] for k in ("losses", "weights", "evaluate", "predict")},
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "n_devices": jax.device_count(),
        "n_local": jax.local_device_count(),
        "losses": losses,
        "params": [np.asarray(p.addressable_data(0)).ravel().tolist() for p in jax.tree_util.tree_leaves(params)],
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "devices4":
        result = devices4(sys.argv[2])
    elif mode == "restore":
        result = restore(sys.argv[2])
    elif mode == "multiproc":
        result = multiproc(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result))
