"""jnet.utils as keras.utils: arrays (against Keras 3 itself), files (no network: file:// and
cached files), images (Pillow, against Keras), datasets for fit, PyDataset in fit/evaluate/predict,
Progbar."""

import io
import os
import random
import tarfile
import zipfile

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from PIL import Image

import jnet
from jnet import layers
from jnet.utils import resize as R

U = jnet.utils


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    "x,n",
    [
        ([0, 2, 1, 3], None),
        ([[1], [0], [2]], 4),
        (np.array([[0, 1], [2, 0]]), None),
        (np.array([1, 0, 1], np.uint8), 2),
        ([0.0, 2.0], None),
    ],
)
def test_to_categorical_matches_keras(x, n):
    ours, theirs = U.to_categorical(x, n), keras.utils.to_categorical(x, n)
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_jax_array_and_bad_labels():
    out = U.to_categorical(jnp.array([2, 0]), 3)
    assert isinstance(out, jax.Array) and out.dtype == jnp.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"to_categorical: class indices must be in \[0, 3\)"):
        U.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="to_categorical.*in \\[0, 3\\)"):
        U.to_categorical([-1, 1], 3)
    with pytest.raises(ValueError, match="to_categorical: x must hold integer"):
        U.to_categorical([0.5, 1.0])
    with pytest.raises(ValueError, match="num_classes"):
        U.to_categorical([0], 0)


@pytest.mark.parametrize("axis,order", [(-1, 2), (1, 1), (-1, np.inf)])
def test_normalize_matches_keras_numpy(axis, order):
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    np.testing.assert_allclose(U.normalize(x, axis, order), keras.utils.normalize(x, axis, order))


def test_normalize_axis_0_gives_unit_columns():
    # Keras's NumPy path divides by the norms along axis 0 broadcast on the last axis (`axis or -1`
    # turns 0 into -1), which is not a normalisation; jnet divides each column by its norm.
    x = np.array([[3.0, 1.0], [4.0, 0.0]])
    np.testing.assert_allclose(U.normalize(x, axis=0), x / np.linalg.norm(x, axis=0, keepdims=True))


def test_normalize_jax_matches_keras_ops():
    x = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ours = U.normalize(x)
    assert isinstance(ours, jax.Array)
    np.testing.assert_allclose(ours, np.asarray(keras.utils.normalize(x)), rtol=1e-6)


PAD_CASES = [
    dict(),
    dict(maxlen=2),
    dict(maxlen=5, padding="post"),
    dict(maxlen=2, truncating="post"),
    dict(maxlen=2, padding="post", truncating="post", value=-1),
    dict(dtype="float32", value=0.5, maxlen=4),
]


@pytest.mark.parametrize("kw", PAD_CASES)
def test_pad_sequences_matches_keras(kw):
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8]]
    ours, theirs = U.pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_vectors_and_strings_match_keras():
    seqs = [np.ones((2, 3)), np.arange(9.0).reshape(3, 3)]
    np.testing.assert_array_equal(
        U.pad_sequences(seqs, maxlen=4, dtype="float32"), keras.utils.pad_sequences(seqs, maxlen=4, dtype="float32")
    )
    words = [["a", "bb"], ["ccc"]]
    ours = U.pad_sequences(words, dtype=object, value="<pad>")
    np.testing.assert_array_equal(ours, keras.utils.pad_sequences(words, dtype=object, value="<pad>"))
    assert ours[1, 0] == "<pad>"


def test_pad_sequences_errors_and_one_implementation():
    with pytest.raises(ValueError, match="pad_sequences: padding must be 'pre' or 'post'"):
        U.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="pad_sequences: truncating"):
        U.pad_sequences([[1]], truncating="both")
    with pytest.raises(ValueError, match="item 1"):
        U.pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="cannot hold the string value"):
        U.pad_sequences([[1]], value="x")
    with pytest.raises(ValueError, match="sequence 1 has elements of shape"):
        U.pad_sequences([np.ones((1, 2)), np.ones((1, 3))])
    assert jnet.datasets.pad_sequences is U.pad_sequences
    assert U.pad_sequences([[1, 2], []], maxlen=0).shape == (2, 0)  # Keras fails here (s[-0:] is everything)


def test_pack_unpack_match_keras():
    x, y, w = np.ones(2), np.zeros(2), np.full(2, 0.5)
    for args in [(x,), (x, y), (x, y, w), ((x, y),)]:
        ours, theirs = U.pack_x_y_sample_weight(*args), keras.utils.pack_x_y_sample_weight(*args)
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
    for data in [x, (x,), (x, y), [x, y, w]]:
        ours, theirs = U.unpack_x_y_sample_weight(data), keras.utils.unpack_x_y_sample_weight(data)
        assert [o is t for o, t in zip(ours, theirs)] == [True] * 3
    with pytest.raises(ValueError, match="unpack_x_y_sample_weight"):
        U.unpack_x_y_sample_weight((x, y, w, w))


def test_set_random_seed_exported():
    U.set_random_seed(3)
    a = np.random.rand()
    U.set_random_seed(3)
    assert np.random.rand() == a


# ----------------------------------------------------------------------------- get_file


def _src(tmp_path, name="data.bin", content=b"hello jnet"):
    p = tmp_path / "src" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(content)
    return p


def test_get_file_downloads_once_into_keras_layout(tmp_path):
    src = _src(tmp_path)
    cache = tmp_path / "cache"
    path = U.get_file(origin=src.as_uri(), cache_dir=str(cache))
    assert path == str(cache / "datasets" / "data.bin")
    assert open(path, "rb").read() == b"hello jnet"
    # Same layout as Keras's get_file on the same origin.
    (tmp_path / "kcache").mkdir()  # Keras falls back to /tmp/.keras for a cache_dir that does not exist
    kpath = keras.utils.get_file(origin=src.as_uri(), cache_dir=str(tmp_path / "kcache"))
    assert os.path.relpath(kpath, tmp_path / "kcache") == os.path.relpath(path, cache)
    # Cached: the origin is gone, the cached copy is returned.
    src.unlink()
    assert U.get_file("data.bin", origin=src.as_uri(), cache_dir=str(cache), cache_subdir="datasets") == path


def test_get_file_default_cache_is_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    path = U.get_file(origin=_src(tmp_path).as_uri())
    assert path == str(tmp_path / "kh" / "datasets" / "data.bin")


def test_get_file_offline_and_not_cached_is_a_clear_error(tmp_path):
    missing = (tmp_path / "nowhere" / "file.npz").as_uri()
    with pytest.raises(OSError, match=r"could not download .*file\.npz.*not cached at .*cache.*datasets.*file\.npz"):
        U.get_file(origin=missing, cache_dir=str(tmp_path / "cache"))
    assert not os.listdir(tmp_path / "cache" / "datasets")  # no partial file left behind


def test_get_file_hash_checks(tmp_path):
    src = _src(tmp_path)
    sha = U.file_utils.hash_file(str(src))
    md5 = U.file_utils.hash_file(str(src), "md5")
    cache = str(tmp_path / "cache")
    assert os.path.exists(U.get_file(origin=src.as_uri(), cache_dir=cache, file_hash=sha))
    assert os.path.exists(U.get_file(origin=src.as_uri(), cache_dir=cache, md5_hash=md5))
    with pytest.raises(ValueError, match="does not match the expected sha256 hash"):
        U.get_file(origin=src.as_uri(), fname="other.bin", cache_dir=cache, file_hash="0" * 64)
    # A cached file with the wrong content is downloaded again.
    cached = tmp_path / "cache" / "datasets" / "data.bin"
    cached.write_bytes(b"stale")
    U.get_file(origin=src.as_uri(), cache_dir=cache, file_hash=sha)
    assert cached.read_bytes() == b"hello jnet"
    with pytest.raises(ValueError, match="hash_algorithm"):
        U.get_file(origin=src.as_uri(), cache_dir=cache, hash_algorithm="sha1")
    with pytest.raises(ValueError, match="fname must be a file name"):
        U.get_file(fname="a/b.bin", origin=src.as_uri(), cache_dir=cache)
    with pytest.raises(ValueError, match="origin"):
        U.get_file("x")


def _tarball(tmp_path, name="pack.tar.gz", members=None):
    members = members or {"pack/a.txt": b"A", "pack/sub/b.txt": b"B"}
    p = tmp_path / "src" / name
    p.parent.mkdir(exist_ok=True)
    with tarfile.open(p, "w:gz") as tar:
        for arc, data in members.items():
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return p


@pytest.mark.parametrize("fname", [None, "pack.tar.gz", "pack"])
def test_get_file_extract_matches_keras_layout(tmp_path, fname):
    src = _tarball(tmp_path)
    (tmp_path / "b").mkdir()  # else Keras writes to /tmp/.keras
    ours = U.get_file(fname=fname, origin=src.as_uri(), extract=True, cache_dir=str(tmp_path / "a"))
    theirs = keras.utils.get_file(fname=fname, origin=src.as_uri(), extract=True, cache_dir=str(tmp_path / "b"))
    assert os.path.relpath(ours, tmp_path / "a") == os.path.relpath(theirs, tmp_path / "b")
    assert open(os.path.join(ours, "pack", "sub", "b.txt")).read() == "B"
    # A second call finds the extracted folder, even offline.
    src.unlink()
    assert U.get_file(fname=fname, origin=src.as_uri(), extract=True, cache_dir=str(tmp_path / "a")) == ours


def test_get_file_zip_untar_and_unsafe_archives(tmp_path):
    z = tmp_path / "src" / "z.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("inner/c.txt", "C")
    out = U.get_file(origin=z.as_uri(), extract=True, cache_dir=str(tmp_path / "c"))
    assert open(os.path.join(out, "inner", "c.txt")).read() == "C"
    t = _tarball(tmp_path, "t.tar")
    out = U.get_file("t", origin=t.as_uri(), untar=True, cache_dir=str(tmp_path / "c"))
    assert os.path.isfile(os.path.join(out, "pack", "a.txt"))
    with pytest.raises(ValueError, match="not a tar archive"):
        U.get_file("notar", origin=_src(tmp_path).as_uri(), untar=True, cache_dir=str(tmp_path / "c"))
    evil = _tarball(tmp_path, "evil.tar", {"../escape.txt": b"x"})
    with pytest.raises(ValueError, match="outside the target folder"):
        U.get_file(origin=evil.as_uri(), extract=True, cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "c" / "escape.txt").exists()


# ----------------------------------------------------------------------------- images


def _rgb(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_save_load_img_roundtrip_and_keras_parity(tmp_path):
    arr = _rgb()
    p = str(tmp_path / "a.png")
    U.save_img(p, arr, scale=False)
    img = U.load_img(p)
    assert img.size == (7, 5) and img.mode == "RGB"
    np.testing.assert_array_equal(U.img_to_array(img), arr.astype("float32"))
    for kw in [
        dict(),
        dict(color_mode="grayscale"),
        dict(color_mode="rgba"),
        dict(target_size=(3, 4)),
        dict(target_size=(4, 4), keep_aspect_ratio=True, interpolation="bilinear"),
    ]:
        ours, theirs = U.load_img(p, **kw), keras.utils.load_img(p, **kw)
        assert ours.mode == theirs.mode
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_img_to_array_and_array_to_img_match_keras(data_format):
    for mode in ("RGB", "L", "RGBA"):
        img = Image.fromarray(_rgb()).convert(mode)
        ours = U.img_to_array(img, data_format=data_format)
        theirs = keras.utils.img_to_array(img, data_format=data_format)
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)
        for scale in (True, False):
            a = np.asarray(U.array_to_img(ours, data_format=data_format, scale=scale))
            b = np.asarray(keras.utils.array_to_img(theirs, data_format=data_format, scale=scale))
            np.testing.assert_array_equal(a, b)
    big = np.full((2, 2, 1), 1000.0)
    assert U.array_to_img(big, scale=False).mode == keras.utils.array_to_img(big, scale=False).mode == "I"


def test_image_errors(tmp_path):
    with pytest.raises(ValueError, match="array_to_img: expected one image of rank 3"):
        U.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="array_to_img: images need 1, 3 or 4 channels, got 2"):
        U.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="img_to_array: expected an image of rank 2 or 3"):
        U.img_to_array(np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match="data_format"):
        U.img_to_array(np.zeros((2, 2, 3)), data_format="NHWC")
    p = str(tmp_path / "b.png")
    U.save_img(p, _rgb())
    with pytest.raises(ValueError, match="load_img: color_mode"):
        U.load_img(p, color_mode="cmyk")
    with pytest.raises(ValueError, match="load_img: interpolation"):
        U.load_img(p, target_size=(2, 2), interpolation="cubic")
    with pytest.warns(UserWarning, match="JPEG"):
        U.save_img(str(tmp_path / "c.jpg"), np.zeros((2, 2, 4)))


@pytest.mark.parametrize("shape,size", [((5, 7), (3, 4)), ((3, 4), (7, 9)), ((6, 6), (6, 3))])
def test_host_resize_matches_half_pixel_linear(shape, size):
    img = np.random.default_rng(1).random(shape + (2,)).astype(np.float32)
    ours = R.resize_image(img, size, "bilinear")
    theirs = jax.image.resize(img, size + (2,), method="linear", antialias=False)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5)
    # Nearest: the source pixel is floor((o + 0.5) * in / out), as tf.image.resize.
    near = R.resize_image(img, size, "nearest")
    rows = np.minimum(((np.arange(size[0]) + 0.5) * shape[0] / size[0]).astype(int), shape[0] - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * shape[1] / size[1]).astype(int), shape[1] - 1)
    np.testing.assert_array_equal(near, img[rows][:, cols])


# ----------------------------------------------------------------------------- timeseries


def _windows(data, starts, length, rate):
    return np.stack([data[p : p + length * rate : rate] for p in starts])


@pytest.mark.parametrize(
    "kw",
    [
        dict(sequence_length=3),
        dict(sequence_length=4, sequence_stride=3),
        dict(sequence_length=2, sampling_rate=3),
        dict(sequence_length=3, start_index=2, end_index=15),
    ],
)
def test_timeseries_windows_match_hand_computed(kw):
    data = np.arange(40).reshape(20, 2)
    targets = np.arange(100, 120)
    ds = U.timeseries_dataset_from_array(data, targets, batch_size=4, **kw)
    xs, ys = zip(*ds)
    x, y = np.concatenate(xs), np.concatenate(ys)
    L, s, r = kw["sequence_length"], kw.get("sequence_stride", 1), kw.get("sampling_rate", 1)
    start, end = kw.get("start_index", 0), kw.get("end_index", 20)
    starts = np.arange(start, end - (L - 1) * r, s)
    np.testing.assert_array_equal(x, _windows(data, starts, L, r))
    np.testing.assert_array_equal(y, targets[starts])
    assert all(len(b) <= 4 for b in xs) and len(ds) == len(xs)


def test_timeseries_shuffle_unbatched_and_errors():
    data = np.arange(12)
    a = [b.tolist() for b in U.timeseries_dataset_from_array(data, None, 3, batch_size=None, shuffle=True, seed=4)]
    b = [b.tolist() for b in U.timeseries_dataset_from_array(data, None, 3, batch_size=None, shuffle=True, seed=4)]
    assert a == b and sorted(a) == [[i, i + 1, i + 2] for i in range(10)] and a != sorted(a)
    # Targets shorter than the windows limit their number (as Keras).
    ds = U.timeseries_dataset_from_array(data, data[3:], 3, batch_size=100)
    x, y = next(iter(ds))
    np.testing.assert_array_equal(y, x[:, -1] + 1)
    for kw, msg in [
        (dict(sampling_rate=0), "sampling_rate must be > 0"),
        (dict(sequence_stride=12), "sequence_stride"),
        (dict(start_index=20), "start_index"),
        (dict(end_index=12), "end_index"),
        (dict(sequence_length=13), "no window"),
    ]:
        args = dict(sequence_length=3, **kw) if "sequence_length" not in kw else kw
        with pytest.raises(ValueError, match="timeseries_dataset_from_array: .*" + msg):
            U.timeseries_dataset_from_array(data, None, **args)


def test_timeseries_dataset_trains_with_fit():
    t = np.linspace(0, 6, 80).astype(np.float32)
    series = np.sin(t)[:, None]
    ds = U.timeseries_dataset_from_array(series[:-5], series[5:], sequence_length=5, batch_size=16)
    model = jnet.Sequential([layers.Input((5, 1)), layers.Flatten(), layers.Dense(1)])
    model.compile("adam", "mse")
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    pred = model.predict(ds, verbose=0)
    assert pred.shape == (ds.num_samples, 1)


# ----------------------------------------------------------------------------- directory datasets


def _image_tree(root, sizes=None):
    """root/cat/{0,1,2}.png and root/dog/{0,1}.png; pixel (0,0,0) encodes class*100 + index."""
    files = {"cat": 3, "dog": 2}
    for c, (name, n) in enumerate(files.items()):
        (root / name).mkdir(parents=True)
        for i in range(n):
            h, w = (sizes or {}).get((name, i), (6, 8))
            a = np.full((h, w, 3), 10 * i, np.uint8)
            a[0, 0, 0] = c * 100 + i
            Image.fromarray(a).save(root / name / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image")
    return root


def test_image_dataset_from_directory_labels_and_shapes(tmp_path):
    root = _image_tree(tmp_path / "imgs")
    ds = U.image_dataset_from_directory(str(root), image_size=(6, 8), batch_size=2, shuffle=False, verbose=False)
    assert ds.class_names == ["cat", "dog"] and len(ds) == 3
    xs, ys = zip(*ds)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (5, 6, 8, 3) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(x[:, 0, 0, 0], [0, 1, 2, 100, 101])  # alphanumeric order, unresized
    assert [os.path.basename(p) for p in ds.file_paths] == ["0.png", "1.png", "2.png", "0.png", "1.png"]
    cat = U.image_dataset_from_directory(
        str(root), label_mode="categorical", image_size=3, shuffle=False, color_mode="grayscale", verbose=False
    )
    x, y = next(iter(cat))
    assert x.shape == (5, 3, 3, 1) and y.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(2)[[0, 0, 0, 1, 1]])
    x, y = next(
        iter(
            U.image_dataset_from_directory(
                str(root),
                label_mode="binary",
                image_size=(2, 2),
                shuffle=False,
                data_format="channels_first",
                verbose=False,
            )
        )
    )
    assert x.shape == (5, 3, 2, 2) and y.shape == (5, 1)
    only = next(iter(U.image_dataset_from_directory(str(root), labels=None, image_size=(2, 2), verbose=False)))
    assert isinstance(only, np.ndarray) and only.shape == (5, 2, 2, 3)
    sub = U.image_dataset_from_directory(str(root), class_names=["dog"], image_size=(2, 2), verbose=False)
    assert sub.num_samples == 2 and sub.class_names == ["dog"]


def test_image_dataset_shuffle_and_validation_split(tmp_path):
    root = _image_tree(tmp_path / "imgs")
    kw = dict(image_size=(6, 8), batch_size=None, seed=7, validation_split=0.4, verbose=False)
    train, val = U.image_dataset_from_directory(str(root), subset="both", **kw)
    tr = U.image_dataset_from_directory(str(root), subset="training", **kw)
    assert tr.file_paths == train.file_paths and len(train.file_paths) == 3 and len(val.file_paths) == 2
    assert sorted(train.file_paths + val.file_paths) == sorted(
        U.image_dataset_from_directory(str(root), image_size=(6, 8), verbose=False).file_paths
    )
    codes = {int(x[0, 0, 0]): int(y) for x, y in train}  # labels stay with their images after shuffling
    assert all(code // 100 == label for code, label in codes.items())
    with pytest.raises(
        ValueError, match="image_dataset_from_directory: with validation_split and shuffle=True give a seed"
    ):
        U.image_dataset_from_directory(str(root), validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="validation_split and subset must be given together"):
        U.image_dataset_from_directory(str(root), validation_split=0.2, seed=1)


def test_image_dataset_sizes_and_errors(tmp_path):
    root = _image_tree(tmp_path / "mixed", sizes={("dog", 1): (4, 4)})
    with pytest.raises(
        ValueError,
        match=r"image_dataset_from_directory: with image_size=None all images must have "
        r"the same size.*6x8.*4x4.*give image_size",
    ):
        U.image_dataset_from_directory(str(root), image_size=None, verbose=False)
    same = _image_tree(tmp_path / "same")
    x, _ = next(iter(U.image_dataset_from_directory(str(same), image_size=None, verbose=False)))
    assert x.shape == (5, 6, 8, 3)
    for kw, msg in [
        (dict(label_mode="sparse"), "label_mode"),
        (dict(color_mode="cmyk"), "color_mode"),
        (dict(interpolation="area"), "interpolation"),
        (dict(image_size=(1, 2, 3)), "image_size"),
        (dict(labels=[0, 1]), "labels has 2 entries but 5 files"),
        (dict(class_names=["bird"]), "class_names"),
        (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "only one of"),
    ]:
        with pytest.raises(ValueError, match="image_dataset_from_directory: .*" + msg):
            U.image_dataset_from_directory(str(same), verbose=False, **kw)
    with pytest.raises(ValueError, match="does not exist"):
        U.image_dataset_from_directory(str(tmp_path / "nope"))


def test_image_dataset_crop_and_pad_to_aspect_ratio(tmp_path):
    (tmp_path / "d" / "a").mkdir(parents=True)
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, 2:6] = 200  # a bright centre square
    Image.fromarray(a).save(tmp_path / "d" / "a" / "x.png")
    x, _ = next(
        iter(
            U.image_dataset_from_directory(
                str(tmp_path / "d"), image_size=(4, 4), crop_to_aspect_ratio=True, verbose=False
            )
        )
    )
    np.testing.assert_array_equal(x[0], np.full((4, 4, 3), 200.0))  # the centre 4x4 crop
    x, _ = next(
        iter(
            U.image_dataset_from_directory(
                str(tmp_path / "d"), image_size=(8, 8), pad_to_aspect_ratio=True, interpolation="nearest", verbose=False
            )
        )
    )
    assert (x[0, :2] == 0).all() and (x[0, -2:] == 0).all() and (x[0, 2:6, 2:6] == 200).all()


def test_image_dataset_trains_with_fit(tmp_path):
    root = _image_tree(tmp_path / "imgs")
    ds = U.image_dataset_from_directory(str(root), image_size=(4, 4), batch_size=2, seed=1, verbose=False)
    model = jnet.Sequential([layers.Input((4, 4, 3)), layers.Flatten(), layers.Dense(2)])
    model.compile("adam", jnet.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()


def test_text_dataset_from_directory(tmp_path):
    for label, texts in {"neg": ["bad film", "awful"], "pos": ["great", "loved it", "wonderful!"]}.items():
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t, encoding="utf-8")
    (tmp_path / "pos" / "skip.md").write_text("ignored")
    ds = U.text_dataset_from_directory(str(tmp_path), batch_size=10, shuffle=False, max_length=5, verbose=False)
    x, y = next(iter(ds))
    assert ds.class_names == ["neg", "pos"]
    assert x.tolist() == ["bad f", "awful", "great", "loved", "wonde"] and y.tolist() == [0, 0, 1, 1, 1]
    tr, va = U.text_dataset_from_directory(str(tmp_path), validation_split=0.2, subset="both", seed=3, verbose=False)
    assert tr.num_samples == 4 and va.num_samples == 1
    with pytest.raises(ValueError, match="text_dataset_from_directory: label_mode='binary' needs exactly 2"):
        U.text_dataset_from_directory(str(tmp_path), label_mode="binary", class_names=["pos"], verbose=False)
    with pytest.raises(ValueError, match="text_dataset_from_directory: max_length"):
        U.text_dataset_from_directory(str(tmp_path), max_length=0)


# ----------------------------------------------------------------------------- split_dataset, Dataset


def test_split_dataset_sizes_follow_keras_rules():
    x, y = np.arange(10), np.arange(10) * 10
    left, right = U.split_dataset((x, y), left_size=0.8)
    assert (left.num_samples, right.num_samples) == (8, 2)
    assert [tuple(map(int, s)) for s in right] == [(8, 80), (9, 90)]  # unbatched (x, y) samples
    left, right = U.split_dataset(x, right_size=3)
    assert (left.num_samples, right.num_samples) == (7, 3) and [int(v) for v in right] == [7, 8, 9]
    left, right = U.split_dataset(x, left_size=2, right_size=0.5)  # leftover samples are dropped
    assert [int(v) for v in left] == [0, 1] and [int(v) for v in right] == [5, 6, 7, 8, 9]
    left, right = U.split_dataset((x, y), left_size=0.25)  # round(2.5) == 2, as Keras
    assert left.num_samples == 2
    xb, yb = next(iter(left.batch(4)))
    np.testing.assert_array_equal(xb * 10, yb)


def test_split_dataset_shuffle_and_datasets():
    x = np.arange(20)
    left, right = U.split_dataset(x, left_size=0.5, shuffle=True, seed=5)
    order = list(range(20))
    random.seed(5)
    random.shuffle(order)  # Keras shuffles the sample list with Python's random, seeded
    assert [int(v) for v in left] == order[:10] and [int(v) for v in right] == order[10:]
    ts = U.timeseries_dataset_from_array(np.arange(12), None, 3, batch_size=4)
    a, b = U.split_dataset(ts, left_size=6)
    assert a.batch_size == 4 and [len(batch) for batch in a] == [4, 2]
    np.testing.assert_array_equal(next(iter(b))[0], [6, 7, 8])
    for kw, err in [
        (dict(), ValueError),
        (dict(left_size=10), ValueError),
        (dict(left_size=1.5), ValueError),
        (dict(left_size=0.7, right_size=0.5), ValueError),
        (dict(left_size="a"), TypeError),
    ]:
        with pytest.raises(err, match="split_dataset"):
            U.split_dataset(np.arange(10), **kw)
    with pytest.raises(ValueError, match="different numbers of rows"):
        U.split_dataset((np.arange(3), np.arange(4)), left_size=1)
    with pytest.raises(TypeError, match="split_dataset: dataset must be"):
        U.split_dataset({"x": x}, left_size=1)


def test_dataset_from_arrays_reshuffles_each_epoch():
    ds = U.Dataset.from_arrays((np.arange(8), np.arange(8)), batch_size=3, shuffle=True, seed=0)
    first = np.concatenate([b[0] for b in ds])
    second = np.concatenate([b[0] for b in ds])
    assert sorted(first) == list(range(8)) and sorted(second) == list(range(8)) and not (first == second).all()
    assert [len(b[0]) for b in ds] == [3, 3, 2] and len(ds) == 3
    with pytest.raises(ValueError, match="same number of rows"):
        U.Dataset.from_arrays((np.arange(3), np.arange(2)))


# ----------------------------------------------------------------------------- PyDataset in fit


class Batches(U.PyDataset):
    def __init__(self, x, y, batch_size, as_list=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.as_list = x, y, batch_size, as_list
        self.seen, self.events = [], []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.seen.append(i)
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        batch = (self.x[rows], self.y[rows])
        return list(batch) if self.as_list else batch

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def _data(n=20):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def _model():
    jnet.utils.set_random_seed(0)
    m = jnet.Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile(jnet.optimizers.SGD(0.05), "mse")
    return m


def test_pydataset_fit_hooks_order_and_equivalence_with_arrays():
    x, y = _data()
    ds = Batches(x, y, 8)  # 3 batches, the last of 4 rows
    model = _model()
    random.seed(1)
    hist = model.fit(ds, epochs=3, verbose=0)
    assert ds.events == ["begin", "end"] * 3
    epochs = [ds.seen[1:][i * 3 : (i + 1) * 3] for i in range(3)]  # seen[0]: batch 0 read to build the model
    assert all(sorted(e) == [0, 1, 2] for e in epochs) and any(e != [0, 1, 2] for e in epochs)
    random.seed(1)
    expected = []
    for _ in range(3):
        order = [0, 1, 2]
        random.shuffle(order)  # Keras's order: Python's random.shuffle of the batch indices
        expected.append(order)
    assert epochs == expected
    # Without shuffling, training on the PyDataset equals training on the arrays with the same batches.
    ours = _model().fit(Batches(x, y, 8), epochs=2, shuffle=False, verbose=0).history["loss"]
    ref = _model().fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    assert np.isfinite(hist.history["loss"]).all()


def test_pydataset_workers_lists_evaluate_predict():
    x, y = _data()
    plain = _model().fit(Batches(x, y, 8), epochs=2, shuffle=False, verbose=0).history["loss"]
    pooled = (
        _model()
        .fit(Batches(x, y, 8, as_list=True, workers=3, max_queue_size=2), epochs=2, shuffle=False, verbose=0)
        .history["loss"]
    )
    np.testing.assert_allclose(pooled, plain, rtol=1e-6)
    m = _model()
    m.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_allclose(m.evaluate(Batches(x, y, 6), verbose=0), m.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(m.predict(Batches(x, y, 6), verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    with pytest.warns(UserWarning, match="use_multiprocessing=True runs the workers as threads"):
        m.fit(Batches(x, y, 8, use_multiprocessing=True, workers=2), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="y and sample_weight come from its batches"):
        m.fit(Batches(x, y, 8), y, verbose=0)


def test_pydataset_steps_per_epoch_and_endless():
    x, y = _data()

    class Endless(U.PyDataset):
        num_batches = None

        def __getitem__(self, i):
            rows = slice((i % 2) * 8, (i % 2) * 8 + 8)
            return x[rows], y[rows]

    with pytest.warns(UserWarning, match="shuffle=True is ignored for an endless PyDataset"):
        hist = _model().fit(Endless(), epochs=2, steps_per_epoch=3, verbose=0)
    assert len(hist.history["loss"]) == 2
    ds = Batches(x, y, 4)
    _model().fit(ds, epochs=2, steps_per_epoch=2, shuffle=False, verbose=0)
    assert ds.events == ["begin", "end"] * 2
    assert U.Sequence is U.PyDataset


# ----------------------------------------------------------------------------- Progbar


def test_progbar_averages_and_formats():
    out = io.StringIO()
    bar = U.Progbar(4, verbose=1, interval=0, stateful_metrics=["acc"], file=out)
    bar.update(1, [("loss", 1.0), ("acc", 0.5)])
    bar.update(3, [("loss", 3.0), ("acc", 0.75)])  # loss weighted by 2 steps: (1 + 3*2) / 3
    assert bar._values["loss"] == [7.0, 3] and bar._values["acc"] == [0.75, 1]
    bar.add(1, [("loss", 5.0), ("acc", 1.0)])
    text = out.getvalue()
    assert "1/4 [=====" in text and "loss: 2.3333" in text and "acc: 0.7500" in text
    assert "4/4 [====================]" in text and text.endswith("\n")
    out2 = io.StringIO()
    quiet = U.Progbar(2, verbose=2, file=out2)
    quiet.update(1, [("loss", 2.0)])
    assert out2.getvalue() == ""
    quiet.update(2, [("loss", 4.0)])
    assert out2.getvalue().startswith("2/2 - 0s - ") and "loss: 4.0000" in out2.getvalue()
    silent = io.StringIO()
    U.Progbar(None, verbose=0, file=silent).update(5)
    assert silent.getvalue() == ""
    with pytest.raises(ValueError, match="Progbar"):
        U.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


# ----------------------------------------------------------------------------- small helpers


def test_config_behaves_like_keras():
    for cls in (U.Config, keras.utils.Config):
        c = cls(lr=0.1, b=2)
        c.momentum = 0.9
        c["extra"] = 1
        assert c.lr == 0.1 and c["momentum"] == 0.9 and "extra" in c and len(c) == 4
        assert list(c) == ["b", "extra", "lr", "momentum"] and c.get("nope", 5) == 5
        assert c.as_dict() == {"lr": 0.1, "b": 2, "momentum": 0.9, "extra": 1}
        c.freeze()
        assert c.frozen
        with pytest.raises(ValueError, match="frozen"):
            c.lr = 1.0
        c.unfreeze()
        c.lr = 1.0
        assert c.lr == 1.0 and c.to_json() == '{"lr": 1.0, "b": 2, "momentum": 0.9, "extra": 1}'
        with pytest.raises(AttributeError, match="Did you mean 'momentum'"):
            c.momentun  # noqa: B018


@pytest.mark.parametrize(
    "dtype", [None, "float32", np.float64, np.dtype("int8"), jnp.bfloat16, int, float, bool, "int", jnp.uint16, complex]
)
def test_standardize_dtype_matches_keras(dtype):
    assert U.standardize_dtype(dtype) == keras.utils.standardize_dtype(dtype)


def test_standardize_dtype_rejects_unknown():
    with pytest.raises(ValueError, match="standardize_dtype: invalid dtype 'float7'"):
        U.standardize_dtype("float7")


def test_interactive_logging_switch(caplog):
    assert U.is_interactive_logging_enabled()
    out = io.StringIO()
    U.disable_interactive_logging()
    try:
        with caplog.at_level("INFO", logger="jnet"):
            U.Progbar(2, file=out, interval=0).update(2, [("loss", 1.5)])
        assert out.getvalue() == "" and "2/2" in caplog.text and "loss: 1.5000" in caplog.text
        assert not U.is_interactive_logging_enabled()
    finally:
        U.enable_interactive_logging()
    assert U.is_interactive_logging_enabled()
