"""Every bad argument of fit / evaluate / predict (and a bad compile config in a saved file)
raises one clear error naming it, before anything runs."""

import json
import zipfile

import numpy as np
import pytest

import jnet
from jnet import layers


def _model(n_out=1):
    model = jnet.Sequential([layers.Dense(n_out, input_dim=3)])
    model.compile("sgd", "mse")
    return model


X = np.zeros((8, 3), np.float32)
Y = np.zeros((8, 1), np.float32)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.fit(X, Y, batch_size=-1), "fit: batch_size must be a positive int or None, got -1"),
        (lambda m: m.fit(X, Y, batch_size=0), "fit: batch_size must be a positive int or None, got 0"),
        (lambda m: m.fit(X, Y, batch_size=2.0), "fit: batch_size must be a positive int or None, got 2.0"),
        (lambda m: m.fit(X, Y, batch_size=True), "fit: batch_size must be a positive int or None, got True"),
        (lambda m: m.evaluate(X, Y, batch_size=-1), "evaluate: batch_size must be a positive int or None, got -1"),
        (lambda m: m.predict(X, batch_size=-5), "predict: batch_size must be a positive int or None, got -5"),
        (lambda m: m.evaluate(X, Y, steps=0), "evaluate: steps must be a positive int or None, got 0"),
        (lambda m: m.predict(X, steps="2"), "predict: steps must be a positive int or None, got '2'"),
        (lambda m: m.fit(X, Y, epochs=-1), "fit: epochs must be an int >= 0, got -1"),
        (lambda m: m.fit(X, Y, epochs=2.5), "fit: epochs must be an int >= 0, got 2.5"),
        (lambda m: m.fit(X, Y, epochs=None), "fit: epochs must be an int >= 0, got None"),
        (lambda m: m.fit(X, Y, initial_epoch=-1), "fit: initial_epoch must be an int >= 0, got -1"),
        (lambda m: m.fit(X, Y, epochs=2, initial_epoch=3), r"fit: initial_epoch \(3\) is after the last epoch"),
        (lambda m: m.fit(X, Y, steps_per_epoch=0), "fit: steps_per_epoch must be a positive int or None, got 0"),
        (lambda m: m.fit(X, Y, validation_steps=-2), "fit: validation_steps must be a positive int or None, got -2"),
        (lambda m: m.fit(X, Y, validation_freq=0), "fit: validation_freq must be a positive int, got 0"),
        (lambda m: m.fit(X, Y, validation_freq=[1, 2]), r"fit: validation_freq must be a positive int, got \[1, 2\]"),
        (
            lambda m: m.fit(X, Y, validation_batch_size=-3),
            "fit: validation_batch_size must be a positive int or None, got -3",
        ),
        (lambda m: m.fit(X, Y, validation_split=1.0), r"fit: validation_split must be a float in \[0, 1\), got 1.0"),
        (
            lambda m: m.fit(X, Y, class_weight={0.5: 1.0}),
            r"fit: class_weight keys must be class indices \(ints >= 0\), got key 0.5",
        ),
        (
            lambda m: m.fit(X, Y, class_weight={"cat": 1.0}),
            r"fit: class_weight keys must be class indices \(ints >= 0\), got key 'cat'",
        ),
        (
            lambda m: m.fit(X, Y, class_weight={0: "high"}),
            r"fit: class_weight\[0\] must be a number \(the class's weight\), got 'high'",
        ),
        (
            lambda m: m.train_on_batch(X, Y, class_weight={-1: 2.0}),
            r"train_on_batch: class_weight keys must be class indices \(ints >= 0\), got key -1",
        ),
    ],
)
def test_bad_argument_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(_model())


def test_class_weight_must_be_a_dict():
    with pytest.raises(TypeError, match=r"fit: class_weight must be a dict \{class index: weight\}, got list"):
        _model().fit(X, Y, class_weight=[1.0, 2.0], verbose=0)


def test_per_output_class_weight_keys_are_checked():
    inp = jnet.Input((3,))
    model = jnet.Model(inp, {"a": layers.Dense(2, name="a")(inp), "b": layers.Dense(2, name="b")(inp)})
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"fit: class_weight\['b'\] keys must be class indices"):
        model.fit(X, {"a": np.zeros(8), "b": np.zeros(8)}, class_weight={"a": {0: 1.0}, "b": {"x": 2.0}}, verbose=0)


def test_string_and_object_arrays_are_named():
    inp = {"title": jnet.Input((3,), name="title"), "body": jnet.Input((3,), name="body")}
    model = jnet.Model(inp, layers.Dense(1)(layers.Concatenate()([inp["title"], inp["body"]])))
    model.compile("sgd", "mse")
    words = np.array([["a", "b", "c"]] * 8)
    # Strings into numeric inputs: the host stage names the inputs and says how to declare one.
    with pytest.raises(
        ValueError, match=r"inputs \['title'\] are strings, but the model has no string input.*dtype='string'"
    ):
        model.fit({"title": words, "body": X}, Y, verbose=0)
    with pytest.raises(ValueError, match=r"predict: x\[1\] has dtype <U1; models take numeric arrays"):
        model.predict([X, words], verbose=0)
    with pytest.raises(ValueError, match="evaluate: y has dtype object"):
        model.evaluate({"title": X, "body": X}, np.array([None] * 8, dtype=object), verbose=0)
    with pytest.raises(ValueError, match="fit: sample_weight has dtype <U"):
        model.fit({"title": X, "body": X}, Y, sample_weight=["1"] * 8, verbose=0)
    with pytest.raises(ValueError, match=r"fit \(validation_data\): y has dtype <U"):
        model.fit({"title": X, "body": X}, Y, validation_data=({"title": X, "body": X}, ["a"] * 8), verbose=0)


def test_streamed_string_batches_are_named():
    def batches():
        yield X, np.array(["a"] * 8)

    with pytest.raises(ValueError, match="y has dtype <U1"):
        _model().fit(batches(), verbose=0)


def test_good_arguments_still_train():
    model = _model()
    history = model.fit(
        X, Y, batch_size=np.int64(4), epochs=2, initial_epoch=1, validation_split=0.25, validation_freq=1, verbose=0
    )
    assert history.epoch == [1]
    assert model.fit(X, Y, epochs=0, verbose=0).history == {}  # as Keras: nothing to train


def _rewrite_compile_config(path, edit):
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["jnet.json"])
    edit(meta["compile_config"])
    members["jnet.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda c: c.update(loss={"class_name": "NoSuchLoss", "config": {}}), "loss"),
        (lambda c: c.update(optimizer=5), "optimizer.*expected an optimizer name"),
        (lambda c: c.update(loss_weights="heavy"), "loss_weights"),
        (lambda c: c.update(metrics=["no_such_metric"]), "metrics"),
        (lambda c: c.update(steps_per_execution=-1), "steps_per_execution"),
        (lambda c: c.update(bogus=1), r"unknown field\(s\) \['bogus'\]"),
    ],
)
def test_bad_saved_compile_config_names_file_and_field(tmp_path, edit, field):
    from jnet.models.saving import CheckpointError

    path = str(tmp_path / "model.ckpt")  # jnet's own checkpoint (a .keras name gives Keras's archive)
    _model().save(path)
    _rewrite_compile_config(path, edit)
    with pytest.raises(CheckpointError, match=rf"Cannot compile the model saved in '{path}': compile_config.*{field}"):
        jnet.models.load_model(path)
    jnet.models.load_model(path, compile=False)  # the architecture and weights still load
