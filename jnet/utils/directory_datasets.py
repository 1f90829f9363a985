"""`image_dataset_from_directory` and `text_dataset_from_directory` without TensorFlow.

Both return a `jnet.utils.Dataset` (see `jnet/utils/dataset.py`): a re-iterable object that
reads each batch's files when it is needed and yields NumPy `(x, y)` batches (or `x` alone with
`labels=None`). `model.fit(ds)` takes it directly. The dataset has `class_names` and
`file_paths` attributes, as Keras's has `class_names` (and `file_paths`).
"""

from __future__ import annotations

import numpy as np

from jnet.utils import directory as D
from jnet.utils.dataset import Dataset
from jnet.utils.resize import INTERPOLATIONS, crop_to_aspect, pad_to_aspect, resize_image

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def _make(fn, paths, labels, label_mode, class_names, batch_size, shuffle, seed, load):
    if not paths:
        raise ValueError(f"{fn}: no files found")
    encoded = None if label_mode is None else D.encode_labels(labels, label_mode, len(class_names))

    def take_rows(idx):
        x = load([paths[i] for i in idx])
        return x if encoded is None else (x, encoded[idx])

    ds = Dataset(take_rows, len(paths), batch_size, shuffle, seed)
    ds.class_names = class_names
    ds.file_paths = list(paths)
    return ds


def _split_and_make(
    fn,
    directory,
    paths,
    labels,
    label_mode,
    class_names,
    batch_size,
    shuffle,
    seed,
    validation_split,
    subset,
    load,
    what,
):
    if subset == "both":
        out = []
        for part in ("training", "validation"):
            p, lab = D.train_validation_split(paths, labels, validation_split, part)
            if not p:
                raise ValueError(f"{fn}: no {part} {what} found in {directory!r}")
            out.append(
                _make(
                    fn,
                    p,
                    lab,
                    label_mode,
                    class_names,
                    batch_size,
                    shuffle if part == "training" else False,
                    seed,
                    load,
                )
            )
        return out
    p, lab = D.train_validation_split(paths, labels, validation_split, subset)
    if not p:
        raise ValueError(f"{fn}: no {what} found in {directory!r}")
    return _make(fn, p, lab, label_mode, class_names, batch_size, shuffle, seed, load)


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    verbose=True,
):
    """Generates a dataset from image files in a folder (one sub-folder per class).

    Args:
        directory: the folder. With `labels="inferred"` each sub-folder is a class.
        labels: `"inferred"`, `None` (images only), or a list/tuple of integer labels, one per
            image in alphanumeric path order.
        label_mode: `"int"` (int32), `"categorical"` (float32 one-hot), `"binary"` (float32
            `(n, 1)`; exactly 2 classes) or `None` (no labels).
        class_names: with `labels="inferred"`, which sub-folders to use, in label order.
        color_mode: `"rgb"`, `"rgba"` or `"grayscale"`: 3, 4 or 1 channels.
        batch_size: images per batch; `None` yields single images.
        image_size: `(height, width)` every image is resized to (an int means a square). jnet
            also accepts `None`: images keep their size, which must then be the same for all.
        shuffle: shuffle the file order (once, with `seed`) and each epoch's order.
        seed: seed for shuffling and the validation split.
        validation_split: fraction held out for validation (the last files after shuffling).
        subset: `"training"`, `"validation"` or `"both"` (returns the two datasets).
        interpolation: `"bilinear"`, `"nearest"` or `"bicubic"` (half-pixel centres, no
            antialiasing, as `tf.image.resize`).
        follow_links: follow symbolic links to sub-folders.
        crop_to_aspect_ratio: centre-crop to the target aspect ratio before resizing.
        pad_to_aspect_ratio: zero-pad to the target aspect ratio before resizing.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        verbose: print how many files and classes were found.

    Returns:
        A `jnet.utils.Dataset` of `(images, labels)` batches: float32 images in [0, 255] of shape
        `(batch, height, width, channels)`; or a list of two with `subset="both"`.

    Example:
    ```python
    train = image_dataset_from_directory("flowers", image_size=(64, 64), validation_split=0.2,
                                         subset="training", seed=1)
    model.fit(train, epochs=5)
    ```
    """
    fn = "image_dataset_from_directory"
    D.check_labels(fn, labels, label_mode, class_names)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in _CHANNELS:
        raise ValueError(f"{fn}: color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif image_size is not None and (not isinstance(image_size, (list, tuple)) or len(image_size) != 2):
        raise ValueError(f"{fn}: image_size must be (height, width), an int or None; got {image_size!r}")
    interpolation = str(interpolation).lower()
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{fn}: interpolation must be one of {INTERPOLATIONS} in jnet, got {interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f"{fn}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{fn}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    D.check_validation_split(fn, validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1_000_000)
    paths, labels, class_names = D.index_directory(
        fn, directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{fn}: label_mode='binary' needs exactly 2 classes, got class_names={class_names}")
    if image_size is None and paths:
        _check_same_size(fn, paths)

    from jnet.utils.image_utils import img_to_array, load_img

    def load(batch_paths):
        images = []
        for p in batch_paths:
            img = img_to_array(load_img(p, color_mode=color_mode))
            if image_size is not None:
                if crop_to_aspect_ratio:
                    img = crop_to_aspect(img, image_size)
                elif pad_to_aspect_ratio:
                    img = pad_to_aspect(img, image_size)
                img = resize_image(img, image_size, interpolation)
            images.append(img)
        x = np.stack(images)
        return x.transpose(0, 3, 1, 2) if data_format == "channels_first" else x

    return _split_and_make(
        fn,
        directory,
        paths,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        load,
        "images",
    )


def _check_same_size(fn, paths):
    from PIL import Image

    sizes = {}
    for p in paths:
        with Image.open(p) as img:  # reads the header only
            sizes.setdefault(img.size, p)
        if len(sizes) > 1:
            (w1, h1), (w2, h2) = list(sizes)
            a, b = list(sizes.values())
            raise ValueError(
                f"{fn}: with image_size=None all images must have the same size, but {a!r} is "
                f"{h1}x{w1} and {b!r} is {h2}x{w2} (height x width); give image_size=(height, width)"
            )


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Generates a dataset from `.txt` files in a folder (one sub-folder per class).

    Args:
        directory: the folder. With `labels="inferred"` each sub-folder is a class.
        labels: `"inferred"`, `None` (texts only), or a list/tuple of integer labels, one per
            file in alphanumeric path order.
        label_mode: `"int"`, `"categorical"`, `"binary"` or `None` (as in
            `image_dataset_from_directory`).
        class_names: with `labels="inferred"`, which sub-folders to use, in label order.
        batch_size: texts per batch; `None` yields single texts.
        max_length: keep at most this many characters of each text.
        shuffle, seed, validation_split, subset, follow_links, verbose: as in
            `image_dataset_from_directory`.

    Returns:
        A `jnet.utils.Dataset` of `(texts, labels)` batches, texts a NumPy object array of
        Python strings (UTF-8 decoded; Keras yields bytes tensors); or a list of two with
        `subset="both"`.
    """
    fn = "text_dataset_from_directory"
    D.check_labels(fn, labels, label_mode, class_names)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if max_length is not None and (isinstance(max_length, bool) or int(max_length) != max_length or max_length < 1):
        raise ValueError(f"{fn}: max_length must be a positive int or None, got {max_length!r}")
    D.check_validation_split(fn, validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1_000_000)
    paths, labels, class_names = D.index_directory(
        fn, directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{fn}: label_mode='binary' needs exactly 2 classes, got class_names={class_names}")

    def load(batch_paths):
        texts = []
        for p in batch_paths:
            with open(p, encoding="utf-8") as f:
                t = f.read()
            texts.append(t[:max_length] if max_length else t)
        return np.array(texts, dtype=object)

    return _split_and_make(
        fn,
        directory,
        paths,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        load,
        "text files",
    )
