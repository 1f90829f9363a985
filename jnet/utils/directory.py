"""Listing a folder of files by class (Keras's `index_directory`) and the train/validation split
shared by `image_dataset_from_directory` and `text_dataset_from_directory`."""

from __future__ import annotations

import os

import numpy as np

from jnet.utils.io_utils import print_msg


def check_validation_split(fn, validation_split, subset, shuffle, seed):
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"{fn}: validation_split must be between 0 and 1, got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(f"{fn}: validation_split and subset must be given together")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"{fn}: subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{fn}: with validation_split and shuffle=True give a seed, so the training and "
            "validation subsets do not overlap"
        )


def check_labels(fn, labels, label_mode, class_names):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                f"{fn}: labels must be 'inferred', None, or a list/tuple of integer labels (one per "
                f"file, in alphanumeric file order); got {labels!r}"
            )
        if class_names:
            raise ValueError(f"{fn}: class_names can only be given with labels='inferred'")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{fn}: label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")


def _walk(directory, follow_links, formats):
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda t: t[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)


def index_directory(
    fn, directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False, verbose=True
):
    """Files under `directory` with their labels, as Keras lists them.

    With `labels="inferred"` each sub-folder is a class (sorted by name, or `class_names`'s
    order), and files are listed folder by folder in alphanumeric order. Otherwise all files
    under `directory` are listed in that order and `labels` (if given) is matched to them.

    Returns:
        `(file_paths, labels or None, class_names or None)`, shuffled together with `seed`.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"{fn}: directory {directory!r} does not exist or is not a folder")
    if labels == "inferred":
        subdirs = [
            d
            for d in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        ]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    f"{fn}: class_names {list(class_names)} must be sub-folders of {directory!r}; found {subdirs}"
                )
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError(f"{fn}: class_names can only be given with labels='inferred'")
        subdirs = [""]
    paths, label_ids = [], []
    for i, sub in enumerate(subdirs):
        found = list(_walk(os.path.join(directory, sub), follow_links, formats))
        paths += found
        label_ids += [i] * len(found)
    if labels == "inferred":
        label_array = np.asarray(label_ids, dtype="int32")
        names = subdirs
    elif labels is None:
        label_array, names = None, None
    else:
        if len(labels) != len(paths):
            raise ValueError(
                f"{fn}: labels has {len(labels)} entries but {len(paths)} files were found in {directory!r}"
            )
        label_array = np.asarray(labels)
        names = [str(v) for v in sorted(set(labels))]
    if verbose:
        if label_array is None:
            print_msg(f"Found {len(paths)} files.")
        else:
            print_msg(f"Found {len(paths)} files belonging to {len(names)} classes.")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1_000_000)
        np.random.RandomState(seed).shuffle(paths)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return paths, label_array, names


def train_validation_split(paths, labels, validation_split, subset):
    """The `subset` part: the last `int(validation_split * n)` files are the validation set."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == "training":
        print_msg(f"Using {len(paths) - n_val} files for training.")
        return paths[: len(paths) - n_val], None if labels is None else labels[: len(paths) - n_val]
    print_msg(f"Using {n_val} files for validation.")
    return paths[len(paths) - n_val :], None if labels is None else labels[len(paths) - n_val :]


def encode_labels(labels, label_mode, num_classes):
    """Integer labels -> Keras's label arrays: int32, float32 one-hot, or float32 `(n, 1)` binary."""
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    out = np.zeros((len(labels), num_classes), "float32")
    out[np.arange(len(labels)), labels.astype(np.int64)] = 1
    return out
