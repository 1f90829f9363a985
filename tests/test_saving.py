"""Saving and loading: the seed's sequence, round trips, mismatches, bad files, atomicity."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.models.saving import CheckpointError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _seed_model():
    model = jnet.Sequential()
    model.add(layers.Dense(units=1, input_dim=1))
    return model


def _line_data(n=32):
    x = np.linspace(-1, 1, n, dtype=np.float32)[:, None]
    return x, 2 * x + 1


def test_seed_save_weights_then_new_model_load_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the seed writes to the current folder
    x, y = _line_data()
    model = _seed_model()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save_weights("simple_weights.h5")
    assert os.path.isfile("simple_weights.h5")

    model2 = jnet.Sequential()
    model2.add(layers.Dense(units=1, input_dim=1))
    model2.compile(optimizer="sgd", loss="mse")
    model2.load_weights("simple_weights.h5")
    for a, b in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model2.predict(x, verbose=0))


def test_seed_save_then_load_model_evaluates_equal_and_continues_fit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _line_data()
    x_test, y_test = x[::3], y[::3]
    model = _seed_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save("simple_model.h5")

    loaded = jnet.models.load_model("simple_model.h5")
    assert loaded.compiled
    assert loaded.evaluate(x_test, y_test, verbose=0) == model.evaluate(x_test, y_test, verbose=0)
    # Adam's moments and step count came back: one more epoch gives the same weights.
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert jnet.load_model is jnet.models.load_model is jnet.saving.load_model


def test_uncompiled_round_trip_graph_model_and_compile_false(tmp_path):
    a, b = jnet.Input((3,), name="a"), jnet.Input((2,), name="b")
    h = layers.Dense(4, activation="relu")(a)
    model = jnet.Model([a, b], {"p": layers.Dense(1, name="p")(h), "q": layers.Dense(2, name="q")(b)})
    path = tmp_path / "graph.keras"
    model.save(path)
    loaded = jnet.load_model(path, compile=False)
    xa, xb = np.ones((2, 3), np.float32), np.arange(4, dtype=np.float32).reshape(2, 2)
    out, ref = loaded([xa, xb]), model([xa, xb])
    for k in ("p", "q"):
        np.testing.assert_array_equal(out[k], ref[k])
    assert loaded.get_config() == model.get_config()


def test_registered_custom_layer_and_custom_objects(tmp_path):
    @jnet.register_serializable(package="test_saving")
    class Scale(layers.Layer):
        factor: float = 2.0

        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1],), jnet.initializers.Constant(self.factor), name="w")

        def call(self, x):
            return x * self.w[None, :]

    model = jnet.Sequential([layers.Dense(2, input_dim=2), Scale(3.0)])
    path = tmp_path / "custom.jnet"
    model.save(path)
    loaded = jnet.load_model(path, custom_objects={"Scale": Scale})
    assert loaded.layers[1].factor == 3.0
    np.testing.assert_array_equal(loaded(np.ones((1, 2), np.float32)), model(np.ones((1, 2), np.float32)))


def test_mismatched_architecture_lists_paths_and_shapes(tmp_path):
    path = tmp_path / "w.ckpt"  # jnet's checkpoint (.h5 names give Keras's HDF5: tests/test_keras_formats.py)
    _seed_model().save_weights(path)
    other = jnet.Sequential([layers.Dense(3, input_dim=2), layers.Dense(1)])
    before = other.get_weights()
    with pytest.raises(CheckpointError) as info:
        other.load_weights(path)
    msg = str(info.value)
    assert "params/dense/kernel" in msg and "(2, 3)" in msg and "(1, 1)" in msg
    assert "params/dense_1/kernel" in msg and "missing" in msg
    for a, b in zip(before, other.get_weights()):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)
    # skip_mismatch loads what fits and warns about the rest.
    wide = jnet.Sequential([layers.Dense(1, input_dim=1), layers.Dense(2)])
    kept = wide.get_weights()
    with pytest.warns(UserWarning, match="Skipped 2 mismatched"):
        wide.load_weights(path, skip_mismatch=True)
    src = jnet.Sequential([layers.Dense(1, input_dim=1)])
    src.load_weights(path)
    np.testing.assert_array_equal(wide.get_weights()[0], src.get_weights()[0])
    np.testing.assert_array_equal(wide.get_weights()[2], kept[2])


@pytest.mark.parametrize("damage", ["missing", "truncated", "corrupted", "not_ours"])
def test_bad_files_give_clear_errors_and_leave_model_alone(tmp_path, damage):
    model = _seed_model()
    model.set_weights([np.full((1, 1), 5.0, np.float32), np.full((1,), 7.0, np.float32)])
    path = tmp_path / "w.ckpt"
    src = jnet.Sequential([layers.Dense(1, input_dim=1)])
    src.set_weights([np.full((1, 1), 1.0, np.float32), np.full((1,), 1.0, np.float32)])
    src.save(path)
    data = path.read_bytes()
    expected = {
        "missing": "does not exist",
        "truncated": "truncated or corrupted|not a complete zip",
        "corrupted": "corrupted",
        "not_ours": "not a jnet checkpoint",
    }[damage]
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "corrupted":
        # Flip bytes inside the largest stored member (array data), keeping the zip structure.
        with zipfile.ZipFile(path) as zf:
            info = max(zf.infolist(), key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        corrupt = bytearray(data)
        for i in range(start, start + min(info.compress_size, 16)):
            corrupt[i] ^= 0xFF
        path.write_bytes(bytes(corrupt))
    else:
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(CheckpointError, match=expected):
        model.load_weights(path)
    with pytest.raises(CheckpointError, match=expected):
        jnet.load_model(path)
    np.testing.assert_array_equal(model.get_weights()[0], [[5.0]])


def test_weights_file_is_not_a_model(tmp_path):
    path = tmp_path / "w.h5"
    _seed_model().save_weights(path)
    with pytest.raises(CheckpointError, match="weights only"):
        jnet.load_model(path)


def _double(x):
    return x * 2.0


def test_lambda_refuses_without_safe_mode(tmp_path):
    model = jnet.Sequential([layers.Dense(2, input_dim=2), layers.Lambda(_double)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(CheckpointError, match="safe_mode=False"):
        jnet.load_model(path)
    x = np.ones((1, 2), np.float32)
    for loaded in (jnet.load_model(path, safe_mode=False), jnet.load_model(path, custom_objects={"_double": _double})):
        np.testing.assert_array_equal(loaded(x), model(x))


_CHILD = textwrap.dedent("""
    import os, sys, time, zipfile
    import numpy as np
    import jnet
    from jnet import layers
    path, marker, stage = sys.argv[1:4]
    model = jnet.Sequential([layers.Dense(64, input_dim=64)])
    model.set_weights([np.full((64, 64), 2.0, np.float32), np.full((64,), 2.0, np.float32)])

    def stall(*args):
        open(marker, "w").close()
        time.sleep(120)

    if stage == "zip":  # die half-way through writing the new archive
        write = zipfile.ZipFile.write
        def slow(self, *a, **k):
            write(self, *a, **k)
            stall()
        zipfile.ZipFile.write = slow
    else:  # die right before the commit (the rename over the old file)
        os.replace = lambda *a: stall()
    model.save_weights(path)
""")


@pytest.mark.parametrize("stage", ["zip", "replace"])
def test_killed_save_leaves_previous_checkpoint_loadable(tmp_path, stage):
    path, marker = tmp_path / "weights.ckpt", tmp_path / "marker"
    model = jnet.Sequential([layers.Dense(64, input_dim=64)])
    model.set_weights([np.full((64, 64), 1.0, np.float32), np.full((64,), 1.0, np.float32)])
    model.save_weights(path)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(marker), stage],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "child never reached the save"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    restored = jnet.Sequential([layers.Dense(64, input_dim=64)])
    restored.load_weights(path)
    np.testing.assert_array_equal(restored.get_weights()[0], np.ones((64, 64), np.float32))
    # The next save after a crash works, and replaces the file.
    model.set_weights([np.full((64, 64), 3.0, np.float32), np.full((64,), 3.0, np.float32)])
    model.save_weights(path)
    restored.load_weights(path)
    np.testing.assert_array_equal(restored.get_weights()[1], np.full((64,), 3.0, np.float32))


def test_orbax_writes_through_a_temporary_directory(tmp_path, monkeypatch):
    """Orbax itself commits by renaming a `*.orbax-checkpoint-tmp*` folder: check it does."""
    import orbax.checkpoint as ocp

    seen = []
    real_rename = os.rename

    def spy(src, dst, *a, **k):
        seen.append((os.fspath(src), os.fspath(dst)))
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(os, "rename", spy)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.fspath(tmp_path / "arrays"), {"a": np.ones(3)})
    checkpointer.wait_until_finished()
    assert any("orbax-checkpoint-tmp" in src and dst.endswith("arrays") for src, dst in seen), seen


def test_overwrite_false_and_directory_target(tmp_path):
    model = _seed_model()
    path = tmp_path / "w.h5"
    model.save_weights(path)
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)
    with pytest.raises(CheckpointError, match="is a directory"):
        model.save_weights(tmp_path)
