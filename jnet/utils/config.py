"""`Config`: a dict with attribute access that can be frozen, as `keras.utils.Config`."""

from __future__ import annotations

import copy
import difflib
import json


class Config:
    """A mutable mapping whose keys are also attributes; `freeze()` makes it read-only.

    Example:
    ```python
    config = jnet.utils.Config(learning_rate=0.1)
    config.momentum = 0.9
    config.freeze()
    config.as_dict()   # {"learning_rate": 0.1, "momentum": 0.9}
    ```
    """

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", kwargs)
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self):
        return self._frozen

    def freeze(self):
        """Attribute assignment raises from now on."""
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self):
        object.__setattr__(self, "_frozen", False)

    def as_dict(self):
        return copy.copy(self._config)

    def to_json(self):
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def pop(self, *args):
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        return self._config.update(*args, **kwargs)

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def __setattr__(self, name, value):
        if name in type(self).__dict__ or name.startswith("__"):
            return object.__setattr__(self, name, value)
        if self._frozen:
            raise ValueError(f"Config: cannot set {name!r}: the config is frozen (call unfreeze() first)")
        self._config[name] = value

    def __getattr__(self, name):  # only called when normal lookup fails: the config's keys
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        hint = difflib.get_close_matches(name, [str(k) for k in config], n=1, cutoff=0.7)
        raise AttributeError(f"Unknown attribute: '{name}'." + (f" Did you mean '{hint[0]}'?" if hint else ""))

    def __setitem__(self, key, item):
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key):
        del self._config[key]

    def __contains__(self, item):
        return item in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self):
        return len(self._config)

    def __repr__(self):
        return f"<Config {self._config}>"
