"""Keras's guide "Customizing what happens in fit() with JAX", ported with `import jnet as keras`
(jnet has no `ops` module in this tree: the steps use jax / jax.numpy). Each variant is checked
against Keras 3 (JAX backend) on copied initial weights, with SGD and no shuffling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnet


def _data(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype("float32"), rng.random((n, 1)).astype("float32")


def guide_model_1(K, counter=None):
    """Guide variant 1: compute_loss_and_updates + stateless_compute_loss + compiled metrics."""

    class CustomModel(K.Model):
        def compute_loss_and_updates(
            self, trainable_variables, non_trainable_variables, metrics_variables, x, y, sample_weight, training=False
        ):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training
            )
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = self.stateless_compute_loss(
                trainable_variables,
                non_trainable_variables,
                metrics_variables,
                x=x,
                y=y,
                y_pred=y_pred,
                sample_weight=sample_weight,
                training=training,
            )
            return loss, (y_pred, non_trainable_variables, metrics_variables)

        def train_step(self, state, data):
            if counter is not None:
                counter.append(1)  # runs once per trace
            trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
            x, y, sample_weight = K.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables, metrics_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, metrics_variables, x, y, sample_weight, training=True
            )
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                this = metrics_variables[len(new_metrics_vars) : len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this = metric.stateless_update_state(this, loss, sample_weight=sample_weight)
                else:
                    this = metric.stateless_update_state(this, y, y_pred, sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this)
                new_metrics_vars += this
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables, new_metrics_vars)

    inputs = K.Input(shape=(5,))
    return CustomModel(inputs, K.layers.Dense(1)(inputs))


def guide_model_2(K):
    """Guide variant 2: own loss tracker and metric, compile() only sets the optimizer."""

    class CustomModel(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = K.metrics.Mean(name="loss")
            self.mae_metric = K.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = K.losses.MeanSquaredError()

        def compute_loss_and_updates(
            self, trainable_variables, non_trainable_variables, x, y, sample_weight, training=False
        ):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training
            )
            return self.loss_fn(y, y_pred, sample_weight=sample_weight), (y_pred, non_trainable_variables)

        def train_step(self, state, data):
            trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
            x, y, sample_weight = K.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, x, y, sample_weight, training=True
            )
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
            n = len(self.loss_tracker.variables)
            loss_vars = self.loss_tracker.stateless_update_state(
                metrics_variables[:n], loss, sample_weight=sample_weight
            )
            mae_vars = self.mae_metric.stateless_update_state(
                metrics_variables[n:], y, y_pred, sample_weight=sample_weight
            )
            logs = {
                self.loss_tracker.name: self.loss_tracker.stateless_result(loss_vars),
                self.mae_metric.name: self.mae_metric.stateless_result(mae_vars),
            }
            return logs, (
                trainable_variables,
                non_trainable_variables,
                optimizer_variables,
                list(loss_vars) + list(mae_vars),
            )

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    inputs = K.Input(shape=(5,))
    return CustomModel(inputs, K.layers.Dense(1)(inputs))


def guide_model_3(K):
    """Guide variant 3: a custom test_step."""

    class CustomModel(K.Model):
        def test_step(self, state, data):
            x, y, sample_weight = K.utils.unpack_x_y_sample_weight(data)
            trainable_variables, non_trainable_variables, metrics_variables = state
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=False
            )
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = self.stateless_compute_loss(
                trainable_variables,
                non_trainable_variables,
                metrics_variables,
                x=x,
                y=y,
                y_pred=y_pred,
                sample_weight=sample_weight,
                training=False,
            )
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                this = metrics_variables[len(new_metrics_vars) : len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this = metric.stateless_update_state(this, loss, sample_weight=sample_weight)
                else:
                    this = metric.stateless_update_state(this, y, y_pred, sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this)
                new_metrics_vars += this
            return logs, (trainable_variables, non_trainable_variables, new_metrics_vars)

    inputs = K.Input(shape=(5,))
    return CustomModel(inputs, K.layers.Dense(1)(inputs))


def _keras_twin(make, jmodel, **compile_kwargs):
    import keras

    with jax.numpy_rank_promotion("allow"):
        km = make(keras)
        km.compile(**compile_kwargs)
        km.set_weights(jmodel.get_weights())
    return km


def _fit_both(make, x, y, epochs=2, batch_size=16, **compile_kwargs):
    jm = make(jnet)
    jm.compile(**compile_kwargs)
    jm.build((None, x.shape[1]))
    km = _keras_twin(make, jm, **compile_kwargs)
    jh = jm.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0).history
    with jax.numpy_rank_promotion("allow"):
        kh = km.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0).history
    return jm, km, jh, kh


def _close_history(jh, kh, keys):
    for k in keys:
        np.testing.assert_allclose(jh[k], kh[k], rtol=1e-5, atol=1e-6, err_msg=k)


def _close_weights(jm, km):
    for a, b in zip(jm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_guide_compiled_loss_and_metrics_matches_keras():
    x, y = _data()  # 40 rows, batch 16: two fused batches and a last batch of 8
    jm, km, jh, kh = _fit_both(guide_model_1, x, y, optimizer="sgd", loss="mse", metrics=["mae"])
    _close_history(jh, kh, ["loss", "mae"])
    _close_weights(jm, km)
    assert [m.name for m in jm.metrics] == ["loss", "compile_metrics"]


def test_guide_own_trackers_match_keras():
    x, y = _data(seed=1)
    jm, km, jh, kh = _fit_both(guide_model_2, x, y, optimizer="sgd")
    _close_history(jh, kh, ["loss", "mae"])
    _close_weights(jm, km)
    # The final metric states stay on the user's tracker objects, as in Keras.
    np.testing.assert_allclose(float(jm.loss_tracker.result()), jh["loss"][-1], rtol=1e-6)
    np.testing.assert_allclose(float(jm.mae_metric.result()), float(km.mae_metric.result()), rtol=1e-5)


def test_guide_custom_test_step_matches_keras():
    x, y = _data(seed=2)
    jm = guide_model_3(jnet)
    jm.compile(loss="mse", metrics=["mae"])
    jm.build((None, 5))
    km = _keras_twin(guide_model_3, jm, loss="mse", metrics=["mae"])
    jr = jm.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    with jax.numpy_rank_promotion("allow"):
        kr = km.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    assert set(jr) == {"loss", "mae"}
    for k in jr:
        np.testing.assert_allclose(jr[k], kr[k], rtol=1e-5, err_msg=k)


def test_steps_per_execution_gives_same_result_and_compiles_once():
    x, y = _data(n=72, seed=3)
    results = []
    for spe in (1, 3):
        jnet.utils.set_random_seed(0)
        traces = []
        m = guide_model_1(jnet, traces)
        m.compile(optimizer="sgd", loss="mse", metrics=["mae"], steps_per_execution=spe)
        after_epoch = []
        cb = jnet.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: after_epoch.append(len(traces)))
        h = m.fit(x, y, batch_size=16, epochs=3, shuffle=True, verbose=0, callbacks=[cb])
        assert after_epoch[0] > 0 and after_epoch[0] == after_epoch[-1], after_epoch  # no retrace after epoch 1
        results.append((m.get_weights(), h.history))
    (w1, h1), (w3, h3) = results
    for a, b in zip(w1, w3):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for k in ("loss", "mae"):
        np.testing.assert_allclose(h1[k], h3[k], rtol=1e-6)


def test_compute_loss_override_runs_through_default_train_step():
    """Keras's compute_loss example: overriding it changes what the default train_step optimises."""

    def make(K):
        class MyModel(K.Model):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.loss_tracker = K.metrics.Mean(name="loss")

            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
                loss = jnp.mean((y_pred - y) ** 2) * 2.0
                self.loss_tracker.update_state(loss)
                return loss

            @property
            def metrics(self):
                return [self.loss_tracker]

        inputs = K.Input(shape=(5,))
        return MyModel(inputs, K.layers.Dense(1)(inputs))

    x, y = _data(n=32, seed=4)
    jm, km, jh, kh = _fit_both(make, x, y, optimizer="sgd", loss="mse")
    _close_weights(jm, km)
    _close_history(jh, kh, ["loss"])


def test_model_compute_loss_uses_compiled_losses_and_weights():
    a = jnet.Input(shape=(3,))
    m = jnet.Model(a, [jnet.layers.Dense(2, name="p")(a), jnet.layers.Dense(1, name="q")(a)])
    m.compile(optimizer="sgd", loss=["mse", "mae"], loss_weights=[0.5, 2.0])
    y_pred = [jnp.ones((4, 2)), jnp.zeros((4, 1))]
    y = [jnp.zeros((4, 2)), jnp.full((4, 1), 3.0)]
    assert float(m.compute_loss(y=y, y_pred=y_pred)) == pytest.approx(0.5 * 1.0 + 2.0 * 3.0)


def test_metric_stateless_api():
    m = jnet.metrics.Mean(name="loss")
    v = m.stateless_reset_state()
    assert len(v) == len(m.variables) == 2
    v = m.stateless_update_state(v, jnp.array([1.0, 3.0]))
    v = m.stateless_update_state(v, jnp.array([5.0]), sample_weight=jnp.array([2.0]))
    assert float(m.stateless_result(v)) == pytest.approx((1 + 3 + 10) / 4)
    assert float(m.result()) == 0.0  # the object's own state is untouched
    with pytest.raises(ValueError, match="expected 2 metric variables"):
        m.stateless_result(v[:1])


def test_optimizer_stateless_apply_matches_optax_step():
    opt = jnet.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    w = [jnp.ones((2,)), jnp.zeros((3,))]
    opt.build(w)
    g = [jnp.full((2,), 0.5), jnp.ones((3,))]
    new_w, new_vars = opt.stateless_apply(opt.variables, g, w)
    new_w, _ = opt.stateless_apply(new_vars, g, new_w)
    # Keras SGD momentum: v = 0.9 v - lr g; w += v  -> two steps: w - lr g (1 + 1.9)
    np.testing.assert_allclose(new_w[0], 1 - 0.1 * 0.5 * 2.9, rtol=1e-6)
    np.testing.assert_allclose(new_w[1], -0.1 * 2.9, rtol=1e-6)
    with pytest.raises(ValueError, match="gradients"):
        opt.stateless_apply(opt.variables, g[:1], w)


def test_bad_train_step_return_is_named():
    class Bad(jnet.Model):
        def train_step(self, state, data):
            return {"loss": 0.0}

    inputs = jnet.Input(shape=(5,))
    m = Bad(inputs, jnet.layers.Dense(1)(inputs))
    m.compile(optimizer="sgd")
    x, y = _data()
    with pytest.raises(ValueError, match="Bad.train_step must return"):
        m.fit(x, y, verbose=0)


def test_custom_predict_step_runs_in_predict():
    class Doubled(jnet.Model):
        def predict_step(self, state, data):
            x, _, _ = jnet.utils.unpack_x_y_sample_weight(data)
            y_pred, _ = self.stateless_call(state[0], state[1], x, training=False)
            return 2.0 * y_pred

    inputs = jnet.Input(shape=(5,))
    m = Doubled(inputs, jnet.layers.Dense(1)(inputs))
    x, _ = _data(n=10)
    np.testing.assert_allclose(m.predict(x, batch_size=4, verbose=0), 2.0 * np.asarray(m(x)), rtol=1e-6)
