"""jnet.datasets' Keras datasets on small fixture files written here in Keras's formats: never the
network. Where Keras can read the same fixture (everything but cifar10, whose loader assumes
50,000 images) the outputs are compared with Keras's own `load_data`."""

import io
import json
import os
import pickle
import tarfile

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils as keras_file_utils

import jnet
from jnet.datasets import boston_housing, california_housing, cifar10, cifar100, imdb, reuters
from jnet.datasets.keras_files import load_npz
from jnet.utils.file_utils import hash_file


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private Keras home for jnet ($KERAS_HOME) and for Keras (its get_file's cache_dir)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    (tmp_path / "kh" / "datasets").mkdir(parents=True)

    def keras_get_file(fname=None, origin=None, **kw):
        kw.pop("file_hash", None)  # the fixtures are not Keras's real files
        return keras_file_utils.get_file(fname, origin=origin, cache_dir=str(tmp_path / "kh"), **kw)

    for name in ("imdb", "reuters", "boston_housing", "california_housing", "cifar100"):
        monkeypatch.setattr(f"keras.src.datasets.{name}.get_file", keras_get_file)
    return tmp_path / "kh" / "datasets"


def _use_fixture(monkeypatch, module, path, attr="FILE_HASH"):
    """jnet checks hashes: give it the fixture's (Keras's word indexes use md5)."""
    monkeypatch.setattr(module, attr, hash_file(str(path), "sha256" if attr == "FILE_HASH" else "md5"))


def _ragged(rng, n, vocab=12, longest=7):
    out = np.empty(n, dtype=object)
    out[:] = [list(map(int, rng.integers(1, vocab, rng.integers(1, longest)))) for _ in range(n)]
    return out


def _same(ours, theirs):
    (a_x, a_y), (a_xt, a_yt) = ours
    (b_x, b_y), (b_xt, b_yt) = theirs
    for o, t in ((a_x, b_x), (a_xt, b_xt)):
        assert o.dtype == t.dtype and [list(s) for s in o] == [list(s) for s in t]
    for o, t in ((a_y, b_y), (a_yt, b_yt)):
        assert o.dtype == t.dtype
        np.testing.assert_array_equal(o, t)


# ----------------------------------------------------------------------------- imdb / reuters

IMDB_CASES = [
    dict(),
    dict(num_words=6, skip_top=2),
    dict(maxlen=5),
    dict(start_char=None, index_from=0),
    dict(oov_char=None, num_words=8),
    dict(seed=7, index_from=1),
    dict(start_char=None, index_from=2),
]


@pytest.fixture
def imdb_file(home, monkeypatch):
    rng = np.random.default_rng(0)
    path = home / "imdb.npz"
    np.savez(
        path,
        x_train=_ragged(rng, 9),
        y_train=rng.integers(0, 2, 9),
        x_test=_ragged(rng, 7),
        y_test=rng.integers(0, 2, 7),
    )
    _use_fixture(monkeypatch, imdb, path)
    return path


@pytest.mark.parametrize("kw", IMDB_CASES)
def test_imdb_matches_keras(imdb_file, kw):
    _same(imdb.load_data(**kw), keras.datasets.imdb.load_data(**kw))


def test_imdb_errors_and_word_index(imdb_file, home, monkeypatch):
    with pytest.raises(ValueError, match="imdb.load_data: no review is shorter than maxlen=1"):
        imdb.load_data(maxlen=1)
    with pytest.raises(TypeError, match="imdb.load_data: unexpected keyword"):
        imdb.load_data(nb_words=3)
    (home / "imdb_word_index.json").write_text(json.dumps({"the": 1, "film": 2}))
    _use_fixture(monkeypatch, imdb, home / "imdb_word_index.json", "WORD_INDEX_HASH")
    assert imdb.get_word_index() == keras.datasets.imdb.get_word_index() == {"the": 1, "film": 2}


@pytest.mark.parametrize("kw", IMDB_CASES[:5] + [dict(test_split=0.3, seed=3)])
def test_reuters_matches_keras(home, monkeypatch, kw):
    rng = np.random.default_rng(1)
    path = home / "reuters.npz"
    np.savez(path, x=_ragged(rng, 15), y=rng.integers(0, 46, 15))
    _use_fixture(monkeypatch, reuters, path)
    _same(reuters.load_data(**kw), keras.datasets.reuters.load_data(**kw))


def test_reuters_word_index_and_label_names(home, monkeypatch):
    (home / "reuters_word_index.json").write_text(json.dumps({"oil": 1}))
    _use_fixture(monkeypatch, reuters, home / "reuters_word_index.json", "WORD_INDEX_HASH")
    assert reuters.get_word_index() == {"oil": 1}
    assert reuters.get_label_names() == keras.datasets.reuters.get_label_names() and len(reuters.LABEL_NAMES) == 46


# ----------------------------------------------------------------------------- housing


@pytest.mark.parametrize("kw", [dict(), dict(test_split=0.5, seed=1), dict(test_split=0.0)])
def test_boston_housing_matches_keras(home, monkeypatch, kw):
    rng = np.random.default_rng(2)
    np.savez(home / "boston_housing.npz", x=rng.normal(size=(11, 13)), y=rng.normal(size=11))
    _use_fixture(monkeypatch, boston_housing, home / "boston_housing.npz")
    ours, theirs = boston_housing.load_data(**kw), keras.datasets.boston_housing.load_data(**kw)
    for o, t in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_array_equal(o, t)


@pytest.mark.parametrize("kw", [dict(), dict(version="small", test_split=0.25, seed=5)])
def test_california_housing_matches_keras(home, monkeypatch, kw):
    rng = np.random.default_rng(3)
    np.savez(home / "california_housing.npz", x=rng.normal(size=(700, 8)), y=rng.uniform(1e4, 5e5, 700))
    _use_fixture(monkeypatch, california_housing, home / "california_housing.npz")
    ours, theirs = california_housing.load_data(**kw), keras.datasets.california_housing.load_data(**kw)
    assert len(ours[0][0]) + len(ours[1][0]) == (600 if kw.get("version") == "small" else 700)
    for o, t in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_array_equal(o, t)


def test_housing_argument_errors(home):
    with pytest.raises(ValueError, match=r"boston_housing.load_data: test_split must be in \[0, 1\)"):
        boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="california_housing.load_data: version"):
        california_housing.load_data(version="medium")


# ----------------------------------------------------------------------------- cifar


def _cifar_batch(rng, n, labels):
    data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return {
        b"batch_label": b"fixture",
        b"data": data,
        **{k.encode(): list(map(int, v)) for k, v in labels.items()},
        b"filenames": [b"img%d.png" % i for i in range(n)],
    }


def _tar(path, root, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in files.items():
            raw = pickle.dumps(obj, protocol=3)  # protocol 2 would need _codecs for bytes
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def _cifar10_files(rng):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: _cifar_batch(rng, 2, {"labels": rng.integers(0, 10, 2)}) for name in names}


def _check_cifar10(out, files):
    (x, y), (xt, yt) = out
    assert x.shape == (10, 32, 32, 3) and xt.shape == (2, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (10, 1) and y.dtype == np.uint8 and yt.shape == (2, 1)
    first = files["data_batch_1"][b"data"][0]
    # Rows hold the red plane, then green, then blue (1024 values each): channels last here.
    np.testing.assert_array_equal(x[0, 0, 1], [first[1], first[1025], first[2049]])
    np.testing.assert_array_equal(y[:, 0], sum((files[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))
    np.testing.assert_array_equal(xt.reshape(2, -1, 3).transpose(0, 2, 1).reshape(2, -1), files["test_batch"][b"data"])


def test_cifar10_from_keras_archive_legacy_folder_and_download(home, tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    files = _cifar10_files(rng)
    archive = tmp_path / "cifar-10-python.tar.gz"
    _tar(archive, "cifar-10-batches-py", files)
    monkeypatch.setattr(cifar10, "FILE_HASH", hash_file(str(archive)))
    monkeypatch.setattr(cifar10, "ORIGIN", (tmp_path / "offline" / "cifar.tar.gz").as_uri())
    # 1. Keras 3's cache: the downloaded archive (extracted on first use).
    cached = home / "cifar-10-batches-py-target_archive"
    cached.write_bytes(archive.read_bytes())
    _check_cifar10(cifar10.load_data(), files)
    assert (home / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").exists()
    # 2. An older Keras's extracted folder, with no archive at all.
    for p in (home / "cifar-10-batches-py-target", cached):
        os.rename(p, tmp_path / p.name)
    os.rename(tmp_path / "cifar-10-batches-py-target" / "cifar-10-batches-py", home / "cifar-10-batches-py")
    _check_cifar10(cifar10.load_data(), files)
    # 3. Nothing cached: downloaded through get_file (a file:// origin here); offline, a clear error.
    os.rename(home / "cifar-10-batches-py", tmp_path / "old")
    with pytest.raises(OSError, match=r"cifar10.load_data: get_file: could not download .*not cached at"):
        cifar10.load_data()
    monkeypatch.setattr(cifar10, "ORIGIN", archive.as_uri())
    _check_cifar10(cifar10.load_data(), files)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(home, tmp_path, monkeypatch, label_mode):
    rng = np.random.default_rng(5)
    files = {
        name: _cifar_batch(rng, n, {"fine_labels": rng.integers(0, 100, n), "coarse_labels": rng.integers(0, 20, n)})
        for name, n in (("train", 4), ("test", 3))
    }
    archive = home / "cifar-100-python-target_archive"
    _tar(archive, "cifar-100-python", files)
    monkeypatch.setattr(cifar100, "FILE_HASH", hash_file(str(archive)))
    theirs = keras.datasets.cifar100.load_data(label_mode)
    ours = cifar100.load_data(label_mode)
    assert ours[0][0].shape == (4, 32, 32, 3) and ours[1][1].shape == (3, 1)
    for o, t in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert o.dtype == t.dtype
        np.testing.assert_array_equal(o, t)
    with pytest.raises(ValueError, match="cifar100.load_data: label_mode must be 'fine' or 'coarse'"):
        cifar100.load_data("medium")


# ----------------------------------------------------------------------------- safety, offline, exports


def test_pickled_data_can_only_hold_arrays(tmp_path):
    evil = np.empty(1, dtype=object)
    evil[0] = __import__("collections").OrderedDict(a=1)  # any class but ndarray is refused
    np.savez(tmp_path / "evil.npz", x=evil)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load collections.OrderedDict"):
        load_npz(tmp_path / "evil.npz")
    seqs = np.empty(2, dtype=object)
    seqs[:] = [[1, 2], [3]]
    np.savez(tmp_path / "good.npz", x=seqs, y=np.arange(2))
    good = load_npz(tmp_path / "good.npz")
    assert [list(s) for s in good["x"]] == [[1, 2], [3]] and good["y"].tolist() == [0, 1]


def test_offline_and_not_cached_names_the_dataset_and_path(home, tmp_path, monkeypatch):
    for module, name in (
        (imdb, "imdb"),
        (reuters, "reuters"),
        (boston_housing, "boston_housing"),
        (california_housing, "california_housing"),
    ):
        monkeypatch.setattr(module, "ORIGIN", (tmp_path / "offline" / f"{name}.npz").as_uri())
        with pytest.raises(
            OSError,
            match=rf"{name}.load_data: get_file: could not download .*not cached at "
            rf".*kh.datasets.{name}\.npz",
        ):
            module.load_data()


def test_all_keras_datasets_are_exported():
    for name in (
        "boston_housing",
        "california_housing",
        "cifar10",
        "cifar100",
        "imdb",
        "reuters",
        "mnist",
        "fashion_mnist",
    ):
        assert hasattr(jnet.datasets, name) and hasattr(getattr(jnet.datasets, name), "load_data")
