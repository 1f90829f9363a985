"""jnet.distribution: meshes, layouts, DataParallel / ModelParallel, multi-process.

Multi-device checks run `tests/distributed_worker.py` in subprocesses with forced CPU devices
(this process has one device); the worker prints JSON that these tests assert on.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from jnet import distribution as D
from jnet.engine import distribute

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")


def _env(n_devices):
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _run_worker(n_devices, *args, timeout=240):
    proc = subprocess.run(
        [sys.executable, WORKER, *map(str, args)], env=_env(n_devices), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"worker {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _close(a, b, tol=1e-5):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ckpt")
    return _run_worker(4, "devices4", ckpt), ckpt


@pytest.fixture(scope="module")
def restored(four_devices):
    """The checkpoints written by the 4-device run, restored in a 1-device process."""
    return _run_worker(1, "restore", four_devices[1])


# --------------------------------------------------------------------------- one process, 4 devices


def test_data_parallel_matches_one_device(four_devices):
    out, _ = four_devices
    assert out["n_devices"] == 4
    dp, single = out["dp"], out["single"]
    assert dp["batch_multiple"] == 4
    assert dp["kernel_replicated"]
    assert dp["batch_n_shards"] == 4 and dp["batch_shard_shapes"] == [[2, 4]]  # 8 rows / 4 devices
    _close(dp["losses"], single["losses"])
    _close(dp["params"], single["params"])
    assert single["losses"][0] != single["losses"][1]  # the run really trained


def test_model_parallel_kernel_is_sharded(four_devices):
    out, _ = four_devices
    mp = out["mp"]
    assert mp["batch_multiple"] == 2  # mesh (batch=2, model=2)
    assert mp["kernel_spec"] == [None, "model"]
    assert not mp["kernel_replicated"]
    assert mp["kernel_shard_shapes"] == [[4, 4]]  # (4, 8) kernel split over 2 devices
    _close(mp["losses"], out["single"]["losses"])
    _close(mp["params"], out["single"]["params"])


def test_sharded_checkpoint_restores_on_one_device(four_devices, restored):
    out, _ = four_devices
    assert restored["n_devices"] == 1
    assert len(restored["devices"]) == 1  # every array on the one device
    _close(restored["params"], out["saved"], tol=0)


def test_fit_train_state_saved_sharded_resumes_on_one_device(four_devices, restored):
    out, _ = four_devices
    mp = out["fit_mp"]
    assert mp["saved_kernel_spec"] == [None, "model"]  # saved while sharded
    assert mp["saved_moment_specs"] == [str([None, "model"])]  # momentum follows its kernel
    assert len(restored["train_state_devices"]) == 1
    _close(restored["train_state_weights"], mp["weights"])
    _close(restored["continued_weights"], out["fit_single"]["continued_weights"])


def test_fit_evaluate_predict_data_parallel_match_one_device(four_devices):
    out, _ = four_devices
    single, dp = out["fit_single"], out["fit_dp"]
    assert len(single["losses"]) == 2 and single["losses"][1] < single["losses"][0]
    _close(dp["losses"], single["losses"])
    _close(dp["weights"], single["weights"])
    _close([dp["evaluate"]], [single["evaluate"]])
    _close(dp["predict"], single["predict"])
    assert dp["kernel_spec"] == [] or all(a is None for a in dp["kernel_spec"])  # replicated


def test_set_distribution_between_fits_takes_effect(four_devices):
    out, _ = four_devices
    assert out["switch"]["n_devices"] == 4
    _close(out["switch"]["weights"], out["fit_single"]["weights"])


def test_fit_model_parallel_shards_the_live_kernel(four_devices):
    out, _ = four_devices
    mp = out["fit_mp"]
    assert mp["kernel_spec"] == [None, "model"]
    assert mp["kernel_shard_shapes"] == [[4, 4]]
    _close(mp["losses"], out["fit_single"]["losses"])
    _close(mp["weights"], out["fit_single"]["weights"])
    _close(mp["predict"], out["fit_single"]["predict"])


# --------------------------------------------------------------------------- two processes


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_data_parallel_agrees_with_single_process(four_devices):
    out, _ = four_devices
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "multiproc", str(pid), str(port)],
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in (0, 1)
    ]
    results = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=240)
            assert p.returncode == 0, f"process failed:\n{stdout[-2000:]}\n{stderr[-3000:]}"
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sorted(r["process_index"] for r in results) == [0, 1]
    for r in results:
        assert r["process_count"] == 2 and r["n_devices"] == 4 and r["n_local"] == 2
        _close(r["losses"], out["single"]["losses"])
        _close(r["params"], out["single"]["params"])
        _close(r["fit"]["losses"], out["fit_single"]["losses"])
        _close(r["fit"]["weights"], out["fit_single"]["weights"])
        _close(r["fit"]["predict"], out["fit_single"]["predict"])
        assert r["local_batch_shape"] == [8, 4]  # 2 processes x 4 own rows
        x = np.random.default_rng(0).normal(size=(24, 4)).astype(np.float32)  # the worker's make_data x
        _close(r["local_batch"], x[:8].ravel(), tol=0)


# --------------------------------------------------------------------------- API, this process


def test_list_devices_and_mesh():
    devices = D.list_devices()
    assert devices == [f"{d.platform}:{d.id}" for d in jax.devices()]
    assert D.get_device_count() == len(devices)
    mesh = D.DeviceMesh((1,), ("batch",), devices=devices[:1])
    assert mesh.shape == (1,) and mesh.axis_names == ("batch",)
    assert isinstance(mesh.backend_mesh, jax.sharding.Mesh)
    with pytest.raises(ValueError, match="same length"):
        D.DeviceMesh((1,), ("batch", "model"))
    with pytest.raises(ValueError, match="needs 2 devices"):
        D.DeviceMesh((2,), ("batch",), devices=devices[:1])
    with pytest.raises(ValueError, match="Unknown device"):
        D.DeviceMesh((1,), ("batch",), devices=["cpu:99"])


def test_layout_map_lookup():
    mesh = D.DeviceMesh((1, 1), ("batch", "model"), devices=D.list_devices()[:1])
    lm = D.LayoutMap(mesh)
    lm["dense.*/kernel"] = (None, "model")
    lm["dense.*/bias"] = jax.sharding.PartitionSpec("model")
    assert lm["dense_1/kernel"].axes == (None, "model")
    assert lm["dense/bias"].axes == ("model",)
    assert lm["conv2d/kernel"] is None
    assert lm["dense/kernel"].device_mesh is mesh
    assert isinstance(lm["dense/kernel"].backend_layout, jax.sharding.NamedSharding)
    lm[".*kernel"] = (None, None)
    with pytest.raises(ValueError, match="matches several keys"):
        lm["dense/kernel"]
    with pytest.raises(ValueError, match="already set"):
        lm["dense.*/bias"] = ("model",)
    with pytest.raises(ValueError, match="unknown mesh axes"):
        lm["other"] = ("nope",)


def test_model_parallel_rejects_a_layout_that_does_not_fit():
    mesh = D.DeviceMesh((1, 1), ("batch", "model"), devices=D.list_devices()[:1])
    lm = D.LayoutMap(mesh)
    lm["dense/kernel"] = ("model",)  # rank 1 for a rank-2 kernel
    mp = D.ModelParallel(layout_map=lm)
    with pytest.raises(ValueError, match="'params/dense/kernel'.*1 axes"):
        mp.place_variables({"params": {"dense": {"kernel": np.zeros((2, 3), np.float32)}}})
    # A mirror in optimizer state of another rank is replicated, not an error.
    placed = mp.place_variables({"opt_state": {"v_row": {"dense": {"kernel": np.zeros((3,), np.float32)}}}})
    assert placed["opt_state"]["v_row"]["dense"]["kernel"].sharding.is_fully_replicated


def test_set_distribution_and_scope():
    assert D.distribution() is None
    assert type(distribute.current()) is distribute.Distribution
    dp = D.DataParallel(devices=D.list_devices()[:1])
    with dp.scope():
        assert D.distribution() is dp and distribute.current() is dp
    assert D.distribution() is None
    D.set_distribution(dp)
    try:
        assert distribute.current() is dp
    finally:
        D.set_distribution(None)
    assert D.distribution() is None
    with pytest.raises(ValueError, match="Distribution or None"):
        D.set_distribution("data_parallel")


def test_data_parallel_one_device_places_and_checks_batches():
    dp = D.DataParallel()
    assert dp.batch_multiple == jax.device_count() == 1
    batch = dp.place_batch({"x": np.ones((3, 2), np.float32), "w": np.float32(2.0)})
    assert isinstance(batch["x"], jax.Array) and batch["x"].shape == (3, 2)
    constrained = jax.jit(dp.constrain_batch)(batch)
    np.testing.assert_array_equal(np.asarray(constrained["x"]), np.ones((3, 2)))
    key_state = dp.place_variables({"rng": jax.random.key(1), "step": np.int32(0), "cfg": "kept"})
    assert key_state["cfg"] == "kept" and jax.dtypes.issubdtype(key_state["rng"].dtype, jax.dtypes.prng_key)


def test_constructor_errors():
    with pytest.raises(ValueError, match="not both"):
        D.DataParallel(device_mesh=D.DeviceMesh((1,), ("batch",)), devices=D.list_devices())
    with pytest.raises(ValueError, match="LayoutMap"):
        D.ModelParallel(layout_map={"dense": (None,)})
    mesh = D.DeviceMesh((1,), ("data",))
    with pytest.raises(ValueError, match="no axis named 'batch'"):
        D.ModelParallel(layout_map=D.LayoutMap(mesh), batch_dim_name="batch")
    with pytest.raises(ValueError, match="auto_shard_dataset=False is not supported"):
        D.DataParallel(auto_shard_dataset=False)
    with pytest.raises(ValueError, match="process_id"):
        D.initialize("127.0.0.1:1", num_processes=2, process_id=5)
    with pytest.raises(ValueError, match="2 jobs"):
        D.initialize("127.0.0.1:1,127.0.0.1:2", num_processes=3, process_id=0)
