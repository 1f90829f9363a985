"""`FeatureSpace` (Keras's `keras.utils.FeatureSpace`): one object that indexes, normalizes,
hashes, crosses and encodes the columns of a structured (tabular) data set.

It is built from jnet's preprocessing layers (`Normalization`, `Rescaling`, `Discretization`,
`IntegerLookup`, `StringLookup`, `Hashing`, `HashedCrossing`, `CategoryEncoding`), so the same
layer objects serve both ways of using it:

- called on a dict of raw columns (`feature_space(data)`), it runs them eagerly and returns
  jax arrays, as Keras does on the JAX backend;
- `get_inputs()` / `get_encoded_features()` give the `jnet.Input`s and the encoded symbolic
  tensors, for a graph model that takes raw values. String columns enter through
  `Input(shape=(1,), dtype="string")` and their lookup runs on the host before the compiled
  step (see `jnet.layers.preprocessing.host`); everything after it is compiled.

Where jnet differs from Keras:

- `adapt` takes a dict of arrays or lists, or an iterable of dict batches (a `jnet.utils.Dataset`,
  a generator, a list; `(x, y)` batches use `x`) instead of a `tf.data.Dataset`; the batches
  each preprocessor sees are the ones Keras would form from the same data.
- Hashed features and crosses use jnet's hash (see `Hashing`, `HashedCrossing`), so their bin
  numbers differ from Keras's (TensorFlow's FarmHash); everything else matches Keras.
- `float_discretized` with `bin_boundaries` (and `num_bins=None`) is one-hot encoded over
  `len(bin_boundaries) + 1` bins and skipped by `adapt` (Keras fails on both).
"""

from __future__ import annotations

import jax
import numpy as np

from jnet.core.symbolic import has_symbolic
from jnet.layers.base import Layer
from jnet.layers.core import Identity
from jnet.layers.input_layer import Input
from jnet.layers.merge import Concatenate
from jnet.layers.preprocessing.encoding import CategoryEncoding, HashedCrossing, Hashing, IntegerLookup
from jnet.layers.preprocessing.feature_space_parts import Cross, Feature, _auto_name, _cardinality, _rows_of
from jnet.layers.preprocessing.numeric import Discretization, Normalization, Rescaling
from jnet.layers.preprocessing.text import StringLookup, TextVectorization
from jnet.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["FeatureSpace"]

_ADAPT_BATCH = 32  # Keras batches a data set of single values by 32 before adapting
_MIN_ROWS = 32  # the smallest batch the compiled encoder runs on (see FeatureSpace._encode_arrays)


class FeatureSpace(Layer):
    """One-stop preprocessing and encoding of structured data (Keras's `keras.utils.FeatureSpace`).

    Args:
        features: dict from feature name to its type: a string (`"float"`, `"float_rescaled"`,
            `"float_normalized"`, `"float_discretized"`, `"integer_categorical"`,
            `"string_categorical"`, `"integer_hashed"`, `"string_hashed"`: the constructor's
            defaults) or a feature made by one of the static constructors below.
        output_mode: `"concat"` (one float vector per sample) or `"dict"` (one encoded array
            per feature and cross).
        crosses: features to cross: tuples of feature names, or `FeatureSpace.cross(...)`.
        crossing_dim: hash bins of a cross given as a tuple (default 32).
        hashing_dim: hash bins of the `"integer_hashed"` / `"string_hashed"` shortcuts (32).
        num_discretization_bins: bins of the `"float_discretized"` shortcut (32).
        name: the layer's name.

    Feature constructors: `FeatureSpace.float(name=None)`, `float_rescaled(scale=1.0,
    offset=0.0, name=None)`, `float_normalized(name=None)`, `float_discretized(num_bins,
    bin_boundaries=None, output_mode="one_hot", name=None)`, `integer_categorical(max_tokens=None,
    num_oov_indices=1, output_mode="one_hot", name=None)`, `string_categorical(...)` (same
    arguments), `integer_hashed(num_bins, output_mode="one_hot", name=None)`,
    `string_hashed(num_bins, output_mode="one_hot", name=None)`, and
    `feature(dtype, preprocessor, output_mode)` for any preprocessing layer.

    Encoded features are ordered by name, then the crosses by name. Each feature's layer is in
    `feature_space.preprocessors[name]`, each cross's `HashedCrossing` in
    `feature_space.crossers[cross_name]` (`"a_X_b"`).

    Example:
    ```python
    data = {"price": np.array([1.0, 2.5, 4.0]), "color": np.array(["red", "blue", "red"])}
    fs = jnet.utils.FeatureSpace(
        {"price": "float_normalized", "color": "string_categorical"}, crosses=[("color", "color")]
    )
    fs.adapt(data)
    fs(data).shape                                   # (3, 1 + 3 + 32)
    inputs, encoded = fs.get_inputs(), fs.get_encoded_features()
    model = jnet.Model(inputs, jnet.layers.Dense(1)(encoded))   # takes raw columns
    ```
    """

    # ------------------------------------------------------------------ feature constructors

    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or _auto_name("float")
        return Feature("float32", Identity(dtype="float32", name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or _auto_name("float_rescaled")
        return Feature("float32", Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or _auto_name("float_normalized")
        return Feature("float32", Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        name = name or _auto_name("float_discretized")
        layer = Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries, name=f"{name}_preprocessor")
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or _auto_name("integer_categorical")
        layer = IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens, num_oov_indices=num_oov_indices)
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or _auto_name("string_categorical")
        layer = StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens, num_oov_indices=num_oov_indices)
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or _auto_name("string_hashed")
        return Feature("string", Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or _auto_name("integer_hashed")
        return Feature("int32", Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    # ------------------------------------------------------------------ construction

    def __init__(
        self,
        features,
        output_mode="concat",
        crosses=None,
        crossing_dim=32,
        hashing_dim=32,
        num_discretization_bins=32,
        name=None,
    ):
        super().__init__(name=name)
        if not features or not isinstance(features, dict):
            raise ValueError(f"FeatureSpace: features must be a non-empty dict, got {features!r}")
        if output_mode not in ("concat", "dict"):
            raise ValueError(f"FeatureSpace: output_mode must be 'concat' or 'dict', got {output_mode!r}")
        self.output_mode = output_mode
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {key: self._standardize_feature(key, value) for key, value in features.items()}
        self.crosses = [self._standardize_cross(c) for c in crosses or []]
        self.preprocessors = {key: f.preprocessor for key, f in self.features.items()}
        self.crossers = {c.name: HashedCrossing(c.crossing_dim, name=c.name) for c in self.crosses}
        self.crosses_by_name = {c.name: c for c in self.crosses}
        # A TextVectorization given its vocabulary is not re-adapted (Keras's rule).
        self._fixed_vocabulary = {
            key
            for key, layer in self.preprocessors.items()
            if isinstance(layer, TextVectorization) and layer.vocabulary is not None
        }
        self.inputs = {key: Input(shape=(1,), dtype=f.dtype, name=key) for key, f in self.features.items()}
        self.one_hot_encoders = {}
        self.concat = None
        self.encoded_features = None
        self._is_adapted = False
        self._sublayers_built = False

    def _standardize_feature(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return deserialize_keras_object(feature)
        shortcuts = {
            "float": lambda: self.float(name=name),
            "float_normalized": lambda: self.float_normalized(name=name),
            "float_rescaled": lambda: self.float_rescaled(name=name),
            "float_discretized": lambda: self.float_discretized(self.num_discretization_bins, name=name),
            "integer_categorical": lambda: self.integer_categorical(name=name),
            "string_categorical": lambda: self.string_categorical(name=name),
            "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
            "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name),
        }
        if not isinstance(feature, str) or feature not in shortcuts:
            raise ValueError(
                f"FeatureSpace: feature '{name}' has an invalid type {feature!r}; expected one of "
                f"{sorted(shortcuts)} or a FeatureSpace.<type>(...) feature"
            )
        return shortcuts[feature]()

    def _standardize_cross(self, cross):
        if isinstance(cross, dict):
            cross = deserialize_keras_object(cross)
        if not isinstance(cross, Cross):
            if not self.crossing_dim:
                raise ValueError("FeatureSpace: crosses need crossing_dim (the size of the crossing space)")
            cross = Cross(cross, crossing_dim=self.crossing_dim)
        unknown = [k for k in cross.feature_names if k not in self.features]
        if unknown:
            raise ValueError(
                f"FeatureSpace: cross {cross.feature_names} names features {unknown} that are not in `features` "
                f"({list(self.features)})"
            )
        if len(cross.feature_names) < 2:
            raise ValueError(f"FeatureSpace: a cross needs at least two features, got {cross.feature_names}")
        return cross

    # ------------------------------------------------------------------ adapt

    def _list_adaptable_preprocessors(self) -> list:
        names = []
        for name, layer in self.preprocessors.items():
            if isinstance(layer, Normalization) and layer.mean is not None:
                continue  # fixed mean and variance
            if isinstance(layer, Discretization) and layer.num_bins is None:
                continue  # fixed bin boundaries
            if name in self._fixed_vocabulary:
                continue
            if hasattr(layer, "adapt"):
                names.append(name)
        return names

    def adapt(self, dataset):
        """Learn each feature's vocabulary, statistics or bin boundaries from `dataset`.

        Args:
            dataset: a dict of columns (arrays or lists, one row per sample), or an iterable of
                such dicts (batches: a `jnet.utils.Dataset`, a generator, a list); in `(x, y)`
                batches the dict `x` is used. Keras takes a `tf.data.Dataset` of dicts.
        """
        adaptable = self._list_adaptable_preprocessors()
        for name in adaptable:
            self.preprocessors[name].adapt(self._feature_batches(dataset, name))
        self._is_adapted = True
        # Adapted again: vocabulary sizes may have changed, so the encoders are made anew.
        self._sublayers_built, self.encoded_features = False, None
        self._check_if_built()

    def _feature_batches(self, dataset, name) -> list:
        """The batches of one feature that Keras's `adapt` passes its preprocessor: single values
        grouped 32 at a time, and every batch given a trailing unit axis when its rank is 0 or 1."""
        if isinstance(dataset, dict):
            column = self._column(dataset, name, "adapt")
            elements = [column[i] for i in range(len(column))] if column.ndim else [column]
        elif hasattr(dataset, "__iter__") and not isinstance(dataset, (str, bytes)) and not hasattr(dataset, "shape"):
            elements = []
            for batch in dataset:
                if isinstance(batch, tuple) and batch and isinstance(batch[0], dict):
                    batch = batch[0]
                if not isinstance(batch, dict):
                    raise ValueError(
                        f"{self._label}.adapt: expects a dict of columns or batches that are dicts, "
                        f"got a batch of type {type(batch).__name__}"
                    )
                elements.append(self._column(batch, name, "adapt"))
        else:
            raise ValueError(
                f"{self._label}.adapt: expects a dict of columns or an iterable of dict batches, "
                f"got {type(dataset).__name__}"
            )
        if not elements:
            raise ValueError(f"{self._label}.adapt: the data set is empty")
        if np.ndim(elements[0]) == 0:
            flat = np.asarray(elements)
            elements = [flat[i : i + _ADAPT_BATCH] for i in range(0, len(flat), _ADAPT_BATCH)]
        if np.ndim(elements[0]) == 1:
            elements = [np.asarray(e)[:, None] for e in elements]
        return elements

    def _column(self, data, name, where):
        if name not in data:
            raise ValueError(f"{self._label}.{where}: feature '{name}' is missing from the data (keys: {list(data)})")
        return _rows_of(data[name])

    # ------------------------------------------------------------------ building

    def _check_if_adapted(self):
        if not self._is_adapted:
            if self._list_adaptable_preprocessors():
                raise ValueError(
                    f"{self._label}: call .adapt(dataset) on the FeatureSpace before using it "
                    f"(features to adapt: {self._list_adaptable_preprocessors()})"
                )
            self._is_adapted = True

    def _check_if_built(self):
        if not self._sublayers_built:
            self._check_if_adapted()
            self._build_encoders()
            self._sublayers_built = True
            self.get_encoded_features()
            self.built = True

    def _specs(self):
        """`(name, spec)` of every encoded output, in Keras's order: features, then crosses,
        each sorted by name."""
        return [(n, self.features[n]) for n in sorted(self.features)] + [
            (n, self.crosses_by_name[n]) for n in sorted(self.crosses_by_name)
        ]

    def _build_encoders(self):
        self.one_hot_encoders = {}
        for name, spec in self._specs():
            if spec.output_mode == "one_hot":
                layer = self.preprocessors.get(name) or self.crossers[name]
                depth = _cardinality(name, layer)
                self.one_hot_encoders[name] = CategoryEncoding(num_tokens=depth, output_mode="multi_hot")
            elif self.output_mode == "concat" and spec.output_mode == "int":
                raise ValueError(
                    f"{self._label}: cannot concatenate features because feature '{name}' is not encoded "
                    "(output_mode='int' gives integer ids); use output_mode='dict'"
                )
        if self.output_mode == "concat" and len(self._specs()) > 1:
            self.concat = Concatenate(axis=-1)

    def get_inputs(self) -> dict:
        """The `jnet.Input` of each feature (shape `(1,)`, the feature's dtype), by name."""
        self._check_if_built()
        return self.inputs

    def get_encoded_features(self):
        """The encoded symbolic tensor (`"concat"`) or dict of them (`"dict"`) computed from
        `get_inputs()`, for building a graph model on raw feature values."""
        self._check_if_adapted()
        if not self._sublayers_built:
            self._check_if_built()
        if self.encoded_features is None:
            self.encoded_features = self._encode(self.inputs)
        return self.encoded_features

    def _encode(self, data, done=None):
        """Raw features (dict of (batch, 1) arrays or symbolic tensors) -> encoded outputs;
        `done` holds features already through their preprocessor."""
        done = done or {}
        preprocessed = {
            name: done[name] if name in done else self.preprocessors[name](data[name]) for name in self.features
        }
        crossed = {c.name: self.crossers[c.name](tuple(preprocessed[k] for k in c.feature_names)) for c in self.crosses}
        outputs = {}
        for name, _ in self._specs():
            value = preprocessed[name] if name in preprocessed else crossed[name]
            encoder = self.one_hot_encoders.get(name)
            outputs[name] = encoder(value) if encoder is not None else value
        if self.output_mode == "dict":
            return outputs
        parts = list(outputs.values())
        for name, part in outputs.items():
            kind = np.dtype(part.dtype).kind if getattr(part, "dtype", None) is not None else "f"
            if kind not in "fc":
                raise ValueError(
                    f"{self._label}: cannot concatenate features because feature '{name}' has not been "
                    f"encoded (it has dtype {part.dtype}); use output_mode='dict'"
                )
        return self.concat(parts) if self.concat is not None else parts[0]

    # ------------------------------------------------------------------ calling

    def _raw_column(self, name, value):
        """One raw column as the (batch, 1) array its preprocessor takes."""
        arr = _rows_of(value)
        dtype = self.features[name].dtype
        strings = arr.dtype.kind in "USO"
        if dtype == "string":
            if not strings:
                raise ValueError(f"{self._label}: feature '{name}' takes strings, got values of dtype {arr.dtype}")
            arr = arr.astype(str)
        elif strings:
            raise ValueError(f"{self._label}: feature '{name}' takes {dtype} values, got strings")
        elif dtype.startswith("int") and arr.dtype.kind == "f":
            if not np.all(arr == np.round(arr)):
                raise ValueError(f"{self._label}: feature '{name}' takes integers, got non-integral floats")
            arr = arr.astype(dtype)
        elif dtype.startswith("float") or arr.dtype == np.int64:
            arr = arr.astype(dtype)
        if arr.ndim == 0:
            return arr.reshape(1, 1)
        return arr[:, None] if arr.ndim == 1 else arr

    def _runs_first(self, name) -> bool:
        """Whether a feature's preprocessor runs before the compiled encoder: string layers run
        on the host."""
        return self.features[name].dtype == "string"

    def _check_known(self, name, column):
        """A lookup without OOV slots refuses values outside its vocabulary (checked here, on
        the concrete column, since the compiled encoder cannot raise)."""
        layer = self.preprocessors[name]
        if not isinstance(layer, IntegerLookup) or layer.num_oov_indices or self._runs_first(name):
            return
        known = list(layer.get_vocabulary(include_special_tokens=False))
        if layer.mask_token is not None:
            known.append(layer.mask_token)
        unknown = column[~np.isin(column, np.asarray(known))]
        if unknown.size:
            raise ValueError(
                f"{layer._label}: with num_oov_indices=0 every input must be in the vocabulary; "
                f"found {unknown[:5].tolist()} (feature '{name}')"
            )

    def _learned(self) -> list:
        """What the compiled encoder bakes in as constants: each preprocessor's vocabulary or
        bin boundaries (replaced, not mutated, when they are learned again)."""
        return [
            getattr(layer, attr, None) for layer in self.preprocessors.values() for attr in ("_vocab", "bin_boundaries")
        ]

    def _encode_arrays(self, columns):
        """`_encode` on arrays: string layers first, then the rest in one compiled function
        over the current weights (recompiled when a vocabulary or boundaries change)."""
        for k, v in columns.items():
            self._check_known(k, v)
        # Rows are encoded independently: padding the batch to a power of two (repeating its
        # first row) bounds the number of compilations, whatever the batch sizes.
        n = len(next(iter(columns.values())))
        size = max(_MIN_ROWS, 1 << max(n - 1, 0).bit_length())
        if size > n:
            columns = {k: np.concatenate([v, np.repeat(v[:1], size - n, axis=0)]) for k, v in columns.items()}
        done = {k: self.preprocessors[k](v) for k, v in columns.items() if self._runs_first(k)}
        rest = {k: v for k, v in columns.items() if k not in done}
        learned = self._learned()
        cached = self.__dict__.get("_compiled")
        if cached is None or len(cached[0]) != len(learned) or any(a is not b for a, b in zip(cached[0], learned)):

            def encode(variables, rest, done):
                return self._bound_run(variables, lambda: self._encode(rest, done), False, None)[0]

            cached = (learned, jax.jit(encode))
            self.__dict__["_compiled"] = cached
        out = cached[1](self.current_variables(), rest, done)
        if isinstance(out, dict):  # jit returns dicts sorted by key; Keras's order is features, then crosses
            return {name: out[name][:n] for name, _ in self._specs()}
        return out[:n]

    def __call__(self, data):
        """Encode a dict of raw columns (batched, or one sample of scalars): the concatenated
        float array `(batch, dim)` or the dict of encoded arrays, as jax arrays."""
        self._check_if_built()
        if not isinstance(data, dict):
            raise ValueError(f"{self._label}: can only be called on a dict of features, got {type(data).__name__}")
        if has_symbolic(data):
            raise ValueError(
                f"{self._label}: called on symbolic tensors; use get_inputs() and get_encoded_features() "
                "to build a model on raw features"
            )
        missing = [k for k in self.features if k not in data]
        unknown = [k for k in data if k not in self.features]
        if missing or unknown:
            raise ValueError(
                f"{self._label}: the data's keys {list(data)} do not match the features {list(self.features)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
            )
        single = all(np.ndim(data[k]) == 0 for k in self.features)
        columns = {k: self._raw_column(k, data[k]) for k in self.features}
        rows = {k: len(v) for k, v in columns.items()}
        if len(set(rows.values())) > 1:
            raise ValueError(f"{self._label}: the features have different numbers of rows: {rows}")
        out = self._encode_arrays(columns)
        if not single:
            return out
        if self.output_mode == "concat":
            return out[0]
        return {k: v[0] if v.ndim == 2 and v.shape[0] == 1 else v for k, v in out.items()}

    # ------------------------------------------------------------------ saving

    def get_config(self):
        return {
            "name": self.name,
            "features": serialize_keras_object(self.features),
            "output_mode": self.output_mode,
            "crosses": serialize_keras_object(self.crosses),
            "crossing_dim": self.crossing_dim,
            "hashing_dim": self.hashing_dim,
            "num_discretization_bins": self.num_discretization_bins,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        return cls(**config)

    def get_build_config(self):
        return {name: f.preprocessor.get_build_config() for name, f in self.features.items()}

    def build_from_config(self, config):
        for name, build_config in (config or {}).items():
            feature = self.features[name]
            shape = (build_config or {}).get("input_shape")
            if shape is None or feature.preprocessor.built or feature.dtype == "string":
                continue  # string layers have no weights
            spec = jax.ShapeDtypeStruct(tuple(shape), np.dtype(feature.dtype))
            feature.preprocessor._maybe_build([spec], {})
        self._is_adapted = True

    def save(self, filepath):
        """Save the FeatureSpace (vocabularies, statistics, boundaries) as a `.keras` file;
        `jnet.models.load_model(filepath)` gives it back adapted."""
        # Keras puts save() on FeatureSpace itself; the archive writer lives in jnet.models.
        from jnet.models.keras_format import save_keras_archive

        save_keras_archive(self, filepath)
