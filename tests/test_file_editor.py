"""`jnet.saving.KerasFileEditor` against Keras 3's on the same small files: the weights it reads,
`compare`, the edits and the file it writes."""

import jax
import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.saving import KerasFileEditor


def _keras():
    import keras

    return keras


def keras_model(keras, units=2):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(units)])


def jnet_model(units=2):
    return jnet.Sequential([jnet.Input((4,)), layers.Dense(3), layers.Dense(units)])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A `.keras` and a `.weights.h5` written by Keras, and the same model's `.keras` by jnet."""
    keras = _keras()
    root = tmp_path_factory.mktemp("editor")
    with jax.numpy_rank_promotion("allow"):
        model = keras_model(keras)
        model.save(root / "k.keras")
        model.save_weights(root / "k.weights.h5")
    jmodel = jnet_model()
    jmodel.save(root / "j.keras")
    return root, model, jmodel


def flat(tree):
    return {"/".join(str(k.key) for k in path): np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(tree)}


def assert_same_tree(a, b):
    fa, fb = flat(a), flat(b)
    assert sorted(fa) == sorted(fb)
    for key in fa:
        np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)


@pytest.mark.parametrize("name", ["k.keras", "k.weights.h5", "j.keras"])
def test_reads_what_keras_reads(files, name):
    root, _, _ = files
    keras = _keras()
    ours, theirs = KerasFileEditor(root / name), keras.saving.KerasFileEditor(str(root / name))
    assert_same_tree(ours.weights_dict, dict(theirs.weights_dict))
    assert sorted(flat(ours.weights_dict)) == [
        "layers/dense/0",
        "layers/dense/1",
        "layers/dense_1/0",
        "layers/dense_1/1",
    ]
    if name.endswith(".keras"):
        assert ours.config["class_name"] == "Sequential" and ours.metadata["keras_version"].startswith("3.")


def test_compare_like_keras(files, capsys):
    root, kmodel, _ = files
    keras = _keras()
    editor = KerasFileEditor(root / "k.weights.h5")
    assert editor.compare(jnet_model()) == {"status": "success", "error_count": 0, "match_count": 4}
    with jax.numpy_rank_promotion("allow"):
        theirs = keras.saving.KerasFileEditor(str(root / "k.weights.h5"))
        # Keras 3.15 counts the matches of nested objects twice (6 here for 4 weights).
        assert theirs.compare(kmodel)["status"] == "success"
        bad_keras = theirs.compare(keras_model(keras, units=5))
    bad = editor.compare(jnet_model(units=5))
    assert bad["status"] == bad_keras["status"] == "error"
    assert bad["error_count"] == 2 and bad["match_count"] == 2
    out = capsys.readouterr().out
    assert "Weight shape mismatch for /layers/dense_1/0" in out and "In saved file: shape=(3, 2)" in out


def test_edits_and_resave_read_back_by_keras_and_jnet(files, tmp_path):
    root, _, jmodel = files
    keras = _keras()
    editor = KerasFileEditor(root / "j.keras")
    kernel = np.arange(15, dtype="float32").reshape(3, 5)
    editor.delete_object("dense_1")
    editor.add_object("layers/dense_1", {"0": kernel, "1": np.zeros(5, "float32")})
    editor.rename_object("layers/dense", "dense_tmp")
    editor.rename_object("dense_tmp", "dense")
    editor.delete_weight("layers/dense", "1")
    editor.add_weights("dense", {"1": np.ones(3, "float32")})
    editor.resave_weights(tmp_path / "edited.weights.h5")
    assert_same_tree(
        dict(keras.saving.KerasFileEditor(str(tmp_path / "edited.weights.h5")).weights_dict), editor.weights_dict
    )
    model = jnet_model(units=5)
    model.load_weights(tmp_path / "edited.weights.h5")
    kernel0, bias0, kernel1, bias1 = model.get_weights()
    np.testing.assert_array_equal(kernel0, np.asarray(jmodel.layers[0].kernel))
    np.testing.assert_array_equal(bias0, np.ones(3))
    np.testing.assert_array_equal(kernel1, kernel)


def test_summary_lists_objects_and_weights(files, capsys):
    root, _, _ = files
    KerasFileEditor(root / "j.keras").summary()
    out = capsys.readouterr().out
    assert "Saved with Keras" in out and "dense_1 ('dense_1')" in out and "0: shape=(3, 2), dtype=float32" in out


def test_bad_edits_and_paths(files, tmp_path):
    root, _, _ = files
    editor = KerasFileEditor(root / "k.weights.h5")
    with pytest.raises(ValueError, match="name '0' occurs more than once"):
        editor.delete_object("0")
    with pytest.raises(ValueError, match="name 'dense_9' does not appear"):
        editor.delete_object("dense_9")
    with pytest.raises(ValueError, match="path 'layers/dense_9' not found"):
        editor.rename_object("layers/dense_9", "x")
    with pytest.raises(ValueError, match="target_name should be a leaf name"):
        editor.rename_object("dense", "layers/x")
    with pytest.raises(ValueError, match="add_object: weights should be a dict"):
        editor.add_object("layers/x", [np.zeros(2)])
    with pytest.raises(ValueError, match="add_object: path 'nowhere' not found"):
        editor.add_object("nowhere/x", {"0": np.zeros(2)})
    with pytest.raises(ValueError, match="weight '7' not found in object 'dense'"):
        editor.delete_weight("dense", "7")
    with pytest.raises(ValueError, match="expected a `.weights.h5` extension"):
        editor.save(tmp_path / "x.h5")
    with pytest.raises(ValueError, match="expected a `.keras` or `.weights.h5` extension"):
        KerasFileEditor(tmp_path / "x.h5")
