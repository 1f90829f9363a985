"""Reading configs written by Keras 3 (`keras.saving.serialize_keras_object`) into jnet classes.

Keras's configs of built-in objects carry a few arguments jnet's classes do not take
(`input_axes` of initializers, `loss_scale_factor` of optimizers, `quantization_config` of layers). Such
an argument is dropped only when it is at a value that changes nothing (None, False, or a
setting that only matters with a feature that is off); any other value raises an error naming
the class and the argument, so a Keras config never loads into a silently different object.
"""

from __future__ import annotations

import inspect

# Keras-only arguments that are harmless at some values: name -> test on (value, config).
_HARMLESS = {
    "input_axes": lambda v, c: v is None,
    "output_axes": lambda v, c: v is None,
    "use_ema": lambda v, c: not v,
    "ema_momentum": lambda v, c: not c.get("use_ema"),
    "ema_overwrite_frequency": lambda v, c: v is None or not c.get("use_ema"),
    "loss_scale_factor": lambda v, c: v is None,
    "gradient_accumulation_steps": lambda v, c: v is None,
    "quantization_config": lambda v, c: v is None,
    "lora_rank": lambda v, c: v is None,
    "lora_alpha": lambda v, c: v is None,
    "use_cudnn": lambda v, c: True,  # a backend choice, same numbers either way
    "sparse": lambda v, c: not v,
    "ragged": lambda v, c: not v,
    "optional": lambda v, c: not v,
    "autocast": lambda v, c: True,
    "seed": lambda v, c: v is None,
    "renorm_clipping": lambda v, c: not c.get("renorm"),
    "renorm_momentum": lambda v, c: not c.get("renorm"),
}


def family_from_module(module) -> str | None:
    """`"losses"` for `"keras.losses"` or `"jnet.losses"`; `"optimizers.schedules"` for the
    schedules; None for a module naming no family (`"keras"`, `"__main__"`, None)."""
    if not isinstance(module, str):
        return None
    for prefix in ("keras.src.", "keras.", "jnet."):
        if module.startswith(prefix):
            return module[len(prefix) :] or None
    return None


def may_be_builtin(module) -> bool:
    """Whether a config's `module` allows a jnet built-in: none given (jnet's short form), or
    Keras's or jnet's own. A class saved from the user's module (`"my_project.layers"`) is
    never swapped for a same-named built-in."""
    return (
        not module or module == "builtins" or is_keras_module(module) or module == "jnet" or module.startswith("jnet.")
    )


def is_keras_module(module) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def _accepted(cls):
    """The constructor's argument names, or None when it takes `**kwargs` (then the class
    itself checks the extra arguments)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return set(params)


def adapt(cls, config: dict) -> dict:
    """`config`, written by Keras for its class of the same name, as `cls` takes it.

    Raises:
        ValueError: the config sets an argument jnet's class lacks to a value that matters.
    """
    config = dict(config)
    accepted = _accepted(cls)
    for key in list(config):
        value = config[key]
        if accepted is not None and key in accepted:
            continue
        if key in _HARMLESS:
            if _HARMLESS[key](value, config):
                del config[key]
                continue
            if accepted is None:
                continue  # **kwargs: the class decides (optimizers take use_ema)
        elif accepted is not None and (value is None or value is False):
            del config[key]
            continue
        elif accepted is None:
            continue  # **kwargs: the class decides
        raise ValueError(
            f"Cannot load Keras's {cls.__name__} config: it sets {key}={value!r}, which jnet's "
            f"{cls.__name__} does not support."
        )
    return config


def drop_unset_keras_args(cls, config: dict) -> dict:
    """`config` of a user class deriving from a jnet built-in (`class L(keras.layers.Dense)`),
    written by Keras, without the unset arguments Keras's built-in adds and jnet's lacks
    (`quantization_config=None`); everything else is left for the class to take."""
    if cls.__module__.startswith("jnet."):
        return config
    parent = next((k for k in cls.__mro__ if k.__module__.startswith("jnet.")), None)
    if parent is None:
        return config
    accepted = _accepted(parent)
    if accepted is None:
        return config
    try:  # the class's own named arguments always stay
        accepted = accepted | set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return config
    return {
        k: v
        for k, v in config.items()
        if k in accepted or not ((k in _HARMLESS and _HARMLESS[k](v, config)) or v is None or v is False)
    }
