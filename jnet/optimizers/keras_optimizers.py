"""The Keras-named optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion.

Arguments, defaults and update rules are Keras 3's; see `Optimizer` for the shared ones
(`weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `name`).

Example:
```python
opt = jnet.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0)
model.compile(optimizer=opt, loss="mse")
```
"""

from __future__ import annotations

from jnet.optimizers import keras_rules as rules
from jnet.optimizers.base import Optimizer


def _check_unit(cls, **values):
    for name, v in values.items():
        if not 0.0 <= v < 1.0 + 1e-12:
            raise ValueError(f"{cls}: {name} must be in [0, 1], got {v}")


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    Args:
        learning_rate: default 0.01.
        momentum: float >= 0 (default 0.0).
        nesterov: use Nesterov momentum (default False).
    """

    _defaults = {"momentum": 0.0, "nesterov": False}

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="SGD",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError(f"SGD: momentum must be a float in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _rule(self, lr):
        return rules.sgd(lr, self.momentum, self.nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with Keras's epsilon placement.

    Args:
        learning_rate: default 0.001.
        beta_1, beta_2: moment decay rates (0.9, 0.999).
        epsilon: added to `sqrt(v)` (default 1e-7).
        amsgrad: use the AMSGrad variant.
    """

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adam",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        _check_unit(type(self).__name__, beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)

    def _rule(self, lr):
        return rules.adam(lr, self.beta_1, self.beta_2, self.epsilon, self.amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (default `weight_decay=0.004`, as Keras)."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adamw",
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float, got None (use Adam for no decay)")
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
            **kwargs,
        )


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running RMS (epsilon inside the square root, as Keras).

    Args:
        learning_rate: default 0.001.
        rho: decay of the running average of squared gradients (0.9).
        momentum: momentum on the scaled update (0.0).
        epsilon: 1e-7.
        centered: normalise by the gradient's estimated variance instead of its second moment.
    """

    _defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="rmsprop",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        _check_unit("RMSprop", rho=rho)
        if momentum < 0:
            raise ValueError(f"RMSprop: momentum must be >= 0, got {momentum}")
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def _rule(self, lr):
        return rules.rmsprop(lr, self.rho, self.momentum, self.epsilon, self.centered)


class Adagrad(Optimizer):
    """Adagrad: per-parameter rates scaled by accumulated squared gradients.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting accumulator (0.1).
        epsilon: 1e-7.
    """

    _defaults = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adagrad",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _rule(self, lr):
        return rules.adagrad(lr, self.initial_accumulator_value, self.epsilon)


class Adadelta(Optimizer):
    """Adadelta (Zeiler). Args: learning_rate (0.001), rho (0.95), epsilon (1e-7)."""

    _defaults = {"rho": 0.95, "epsilon": 1e-7}

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.95,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adadelta",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        _check_unit("Adadelta", rho=rho)
        self.rho, self.epsilon = rho, epsilon

    def _rule(self, lr):
        return rules.adadelta(lr, self.rho, self.epsilon)


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm. Args: learning_rate (0.001), beta_1 (0.9),
    beta_2 (0.999), epsilon (1e-7)."""

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adamax",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        _check_unit("Adamax", beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _rule(self, lr):
        return rules.adamax(lr, self.beta_1, self.beta_2, self.epsilon)


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Keras's momentum-cache schedule). Args: learning_rate
    (0.001), beta_1 (0.9), beta_2 (0.999), epsilon (1e-7)."""

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="nadam",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        _check_unit("Nadam", beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _rule(self, lr):
        return rules.nadam(lr, self.beta_1, self.beta_2, self.epsilon)


class Lion(Optimizer):
    """Lion (sign of an interpolated momentum). Args: learning_rate (0.001), beta_1 (0.9),
    beta_2 (0.99)."""

    _defaults = {"beta_1": 0.9, "beta_2": 0.99}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.99,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="lion",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got {beta_1}")
        _check_unit("Lion", beta_2=beta_2)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _rule(self, lr):
        return rules.lion(lr, self.beta_1, self.beta_2)
