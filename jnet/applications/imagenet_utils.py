"""What every ImageNet application shares, as `keras.applications.imagenet_utils`: image
preprocessing in the three conventions the published weights were trained with, decoding of
the 1000 class scores, and the input-shape and activation checks the model builders run.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

__all__ = ["correct_pad", "decode_predictions", "obtain_input_shape", "preprocess_input", "validate_activation"]

# Keras's class index file: same URL, file name and md5, so a copy Keras downloaded is reused.
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"
CLASS_INDEX = None

_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR order
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def _data_format(data_format, where):
    from jnet import backend

    if data_format is None:
        return backend.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            f"{where}: expected data_format to be one of `channels_first` or `channels_last`. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocesses a batch of images (or one image) the way a pretrained model expects.

    Args:
        x: a float NumPy array or a JAX array (or a symbolic tensor), 3D or 4D with 3 colour
            channels, values in [0, 255]. A float NumPy array is preprocessed in place, as in
            Keras (pass `np.copy(x)` to keep it); an integer one is converted to float32 first.
        data_format: `"channels_last"` or `"channels_first"`; `None` takes
            `jnet.backend.image_data_format()`.
        mode: `"caffe"` (RGB to BGR, then subtract the ImageNet mean per channel, no scaling),
            `"tf"` (scale to [-1, 1]) or `"torch"` (scale to [0, 1], then normalise each
            channel with the ImageNet mean and standard deviation).

    Returns:
        The preprocessed array (float32 for integer input).

    Raises:
        ValueError: an unknown `mode` or `data_format`.

    Example:
    ```python
    x = jnet.applications.imagenet_utils.preprocess_input(np.full((1, 224, 224, 3), 128.0), mode="tf")
    ```
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(
            f"preprocess_input: expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode!r}"
        )
    data_format = _data_format(data_format, "preprocess_input")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_index(x, data_format, c):
    if data_format == "channels_last":
        return (Ellipsis, c)
    return (c,) if x.ndim == 3 else (slice(None), c)


def _preprocess_numpy(x, data_format, mode):
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype("float32", copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        channel_axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
        x = np.flip(x, axis=channel_axis)  # RGB -> BGR (a view, as Keras's slicing)
        mean, std = _CAFFE_MEAN, None
    for c in range(3):
        idx = _channel_index(x, data_format, c)
        x[idx] -= mean[c]
        if std is not None:
            x[idx] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    from jnet import ops

    if mode == "tf":
        return x / 127.5 - 1.0
    ndim = len(x.shape)
    channel_axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
    if mode == "torch":
        x = x / 255.0
        mean, std = np.asarray(_TORCH_MEAN), np.asarray(_TORCH_STD)
    else:
        x = ops.flip(x, axis=channel_axis)
        mean, std = np.asarray(_CAFFE_MEAN), None
    shape = [1] * ndim
    shape[channel_axis] = 3
    x = x - ops.convert_to_tensor(mean.reshape(shape), dtype=x.dtype)
    if std is not None:
        x = x / ops.convert_to_tensor(std.reshape(shape), dtype=x.dtype)
    return x


def _class_index():
    global CLASS_INDEX

    if CLASS_INDEX is None:
        from jnet.utils import get_file

        path = get_file(CLASS_INDEX_FILE, CLASS_INDEX_PATH, cache_subdir="models", file_hash=CLASS_INDEX_HASH)
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    return CLASS_INDEX


def decode_predictions(preds, top=5):
    """Decodes the predictions of an ImageNet model into class names.

    The class index (`imagenet_class_index.json`) is read from Keras's cache
    (`~/.keras/models/`), downloaded once from Keras's URL if it is not there.

    Args:
        preds: an array of shape `(samples, 1000)`.
        top: how many top classes to return per sample. Defaults to 5.

    Returns:
        One list per sample of `(class_name, class_description, score)` tuples, best first.

    Raises:
        ValueError: `preds` is not of shape `(samples, 1000)`.

    Example:
    ```python
    model = jnet.applications.ResNet50(weights="imagenet")
    preds = model.predict(jnet.applications.resnet.preprocess_input(images))
    print(jnet.applications.resnet.decode_predictions(preds, top=3)[0])
    ```
    """
    shape = np.shape(preds)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError(
            "decode_predictions expects a batch of predictions (a 2D array of shape (samples, 1000)). "
            f"Received array with shape: {tuple(shape)}"
        )
    index = _class_index()
    results = []
    for pred in np.asarray(preds):
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """The model's input shape: `input_shape` checked, or the default one (Keras's rules).

    Args:
        input_shape: `None` (the default shape) or a user's 3-tuple to validate.
        default_size: the default height and width.
        min_size: the smallest height and width the architecture accepts.
        data_format: `"channels_last"` or `"channels_first"`.
        require_flatten: whether a Flatten/Dense top follows (then the shape must be static,
            and with ImageNet weights it must be the default one).
        weights: `None`, `"imagenet"` or a path; `"imagenet"` requires 3 channels.

    Returns:
        A shape tuple (may hold `None` for the spatial axes).

    Raises:
        ValueError: a shape the architecture or the weights cannot take.
    """
    channels_first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn(
                f"This model usually expects 1 or 3 input channels. However, it was passed an input_shape "
                f"with {channels} input channels.",
                stacklevel=3,
            )
        default_shape = (
            (channels, default_size, default_size) if channels_first else (default_size, default_size, channels)
        )
    else:
        default_shape = (3, default_size, default_size) if channels_first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                f"When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be "
                f"{default_shape}. Received: input_shape={input_shape}"
            )
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}")
        channels = input_shape[0] if channels_first else input_shape[-1]
        spatial = input_shape[1:] if channels_first else input_shape[:2]
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in spatial):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(
            f"If `include_top` is True, you should specify a static `input_shape`. Received: input_shape={input_shape}"
        )
    return input_shape


def correct_pad(inputs, kernel_size):
    """The `ZeroPadding2D` padding that makes a strided convolution of `kernel_size` line up
    with TensorFlow's "same" padding on `inputs` (a symbolic tensor), as Keras's `correct_pad`."""
    from jnet import backend

    axis = 2 if backend.image_data_format() == "channels_first" else 1
    size = tuple(inputs.shape[axis : axis + 2])
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained weights take only a `None` or `"softmax"` classifier activation.

    Raises:
        ValueError: another activation with `weights` not `None`.
    """
    if weights is None:
        return
    from jnet import activations

    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the `classifier_activation` argument "
            "when using pretrained weights, with `include_top=True`; Received: "
            f"classifier_activation={classifier_activation!r}"
        )
