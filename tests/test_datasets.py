"""jnet.datasets: IDX parsing (on files written here), loaders, tokenizer, issue generator/reader."""

import gzip
import json
import os
import struct

import numpy as np
import pytest

from jnet.datasets import digits, fashion_mnist, issues, mnist, read_idx
from jnet.datasets.text import Tokenizer, pad_sequences, split_words


def write_idx(path, array, code=0x08, compress=False):
    array = np.asarray(array)
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    raw += array.astype(dt).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if compress else raw)


def write_mnist_dir(d, n_train=5, n_test=3, compress=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 4, 3)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (n_train,)),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 4, 3)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (n_test,)),
    }
    for name, a in arrays.items():
        write_idx(os.path.join(d, name + (".gz" if compress else "")), a, compress=compress)
    return arrays


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize(
    "code,values",
    [
        (0x08, np.arange(24).reshape(2, 3, 4)),
        (0x09, np.array([-3, 0, 5])),
        (0x0B, np.array([[-300, 2], [7, 30000]])),
        (0x0C, np.array([1 << 20, -5])),
        (0x0D, np.array([0.5, -1.25, 3.0])),
        (0x0E, np.array([[1e-300, 2.5]])),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_types_and_gzip(tmp_path, code, values, compress):
    p = tmp_path / "a.idx"
    write_idx(p, values, code, compress)
    out = read_idx(str(p))
    assert out.shape == values.shape
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(str(bad))
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"abc")
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        read_idx(str(short))
    code = tmp_path / "code"
    code.write_bytes(bytes([0, 0, 0x42, 1]) + struct.pack(">I", 1) + b"a")
    with pytest.raises(ValueError, match="0x42"):
        read_idx(str(code))


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_and_mnist_from_dir(tmp_path, compress):
    arrays = write_mnist_dir(tmp_path, compress=compress)
    for loader in (fashion_mnist.load_data, mnist.load_data):
        (x_train, y_train), (x_test, y_test) = loader(path=str(tmp_path))
        np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
        np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
        assert x_train.dtype == np.uint8 and x_test.shape == (3, 4, 3) and y_train.shape == (5,)


def test_mnist_npz(tmp_path):
    p = tmp_path / "mnist.npz"
    np.savez(
        p,
        x_train=np.ones((2, 28, 28), np.uint8),
        y_train=np.array([1, 2], np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.array([3], np.uint8),
    )
    (x, y), (xt, yt) = mnist.load_data(path=str(p))
    assert x.shape == (2, 28, 28) and list(y) == [1, 2] and list(yt) == [3]


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load_data(path=str(tmp_path / "nowhere"))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(path=str(tmp_path))


def test_mismatched_counts_rejected(tmp_path):
    write_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4), compress=True)
    with pytest.raises(ValueError, match="do not match"):
        fashion_mnist.load_data(path=str(tmp_path))


@pytest.mark.skipif(not os.path.isdir(fashion_mnist.DEFAULT_PATH), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_system_files():
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert set(np.unique(y)) == set(range(10)) and x.max() == 255


def test_digits():
    (x, y), (xt, yt) = digits.load_data(test_split=0.25)
    assert x.shape[1:] == (8, 8) and len(x) + len(xt) == 1797
    assert len(xt) == round(1797 * 0.25)
    assert x.max() == 16 and set(np.unique(y)) == set(range(10))
    (x2, _), _ = digits.load_data(test_split=0.25)
    np.testing.assert_array_equal(x, x2)  # deterministic split
    with pytest.raises(ValueError, match="test_split"):
        digits.load_data(test_split=1.5)


# ----------------------------------------------------------------------------- text


def test_tokenizer_ids_by_frequency():
    tok = Tokenizer().fit(["b a a", "c b a", "Crash! crash"])
    # a:3, b:2, crash:2, c:1 -> ties alphabetical; 0 pad, 1 OOV.
    assert tok.word_index == {"a": 2, "b": 3, "crash": 4, "c": 5}
    assert tok.texts_to_sequences(["A crash, zzz"]) == [[2, 4, 1]]
    assert tok.vocabulary_size == 6
    assert tok.sequences_to_texts([[2, 4, 1, 0]]) == ["a crash <oov>"]
    assert split_words("Don't fail on v1.2 snake_case!") == ["don't", "fail", "on", "v1.2", "snake_case"]


def test_tokenizer_num_words_and_roundtrip():
    tok = Tokenizer(num_words=4).fit(["x x x y y z"])
    assert tok.word_index == {"x": 2, "y": 3}
    assert tok.texts_to_sequences(["z y"]) == [[1, 3]]
    tok2 = Tokenizer.from_json(tok.to_json())
    assert tok2.texts_to_sequences(["x z"]) == [[2, 1]]
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer(num_words=2)
    with pytest.raises(TypeError, match="list of texts"):
        tok.fit("one string")


def test_pad_sequences_like_keras():
    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 0, 0]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, padding="post"), [[2, 3], [4, 0], [0, 0]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating="post"), [[1, 2], [0, 4], [0, 0]])
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(seqs, padding="middle")


# ----------------------------------------------------------------------------- issues


@pytest.fixture(scope="module")
def records():
    return issues.generate(2000, seed=3)


def test_generate_deterministic_and_well_formed(records):
    assert issues.generate(50, seed=3) == records[:50]
    assert issues.generate(50, seed=4) != records[:50]
    for r in records:
        assert r["title"] and r["body"]
        assert len(r["tags"]) == 12 and set(r["tags"]) <= {0, 1}
        assert 0.0 <= r["priority"] <= 1.0 and r["department"] in range(4)
    lengths = [len(split_words(r["body"])) for r in records]
    assert min(lengths) < 30 < max(lengths)  # variable length
    assert len({len(split_words(r["title"])) for r in records}) >= 4


def test_generate_has_signal_and_noise(records):
    depts = np.array([r["department"] for r in records])
    assert np.bincount(depts, minlength=4).min() > 200  # every class present
    prio = np.array([r["priority"] for r in records])
    crash = np.array(["crash" in r["title"] or "data loss" in r["title"] or "security" in r["title"] for r in records])
    typo = np.array(["typo" in r["title"] for r in records])
    assert prio[crash].mean() > 0.75 and prio[typo].mean() < 0.25  # cues move priority
    assert 0.1 < prio.std() < 0.45
    # Department words identify the department, but not perfectly (overlap and mislabels).
    owns = np.array([any(c in r["title"] for c in issues._COMPONENTS[r["department"]]) for r in records])
    assert 0.6 < owns.mean() < 0.95
    tags = np.array([r["tags"] for r in records])
    assert tags.sum(0).min() > 0  # every tag used


def test_load_data_shapes():
    (x, y), (xt, yt), tok = issues.load_data(num_samples=300, test_split=0.2, num_words=200, return_tokenizer=True)
    assert set(x) == {"title", "body", "tags"} and set(y) == {"priority", "department"}
    assert x["title"].shape == (240, 16) and x["body"].shape == (240, 96) and x["tags"].shape == (240, 12)
    assert xt["title"].shape == (60, 16) and yt["priority"].shape == (60, 1) and yt["department"].shape == (60,)
    assert x["title"].dtype == np.int32 and x["tags"].dtype == np.float32
    assert x["title"].max() < 200 and tok.vocabulary_size <= 200
    assert (x["title"][:, 0] > 0).all()  # padding goes after the words
    assert (x["title"] == 0).any()


def write_rows(path, rows):
    with open(path, "w") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")


def test_read_file_jsonl_and_csv(tmp_path):
    # Files name their own departments and tags; the generator's ids and 0/1 tag bits still read.
    rows = issues.generate(4, seed=1)
    rows[1]["department"] = "mobile"
    rows[2]["tags"] = ["bug", "security"]
    p = tmp_path / "i.jsonl"
    write_rows(p, rows)
    got = issues.read_file(str(p))
    named = issues.to_named([rows[0]])[0]
    assert got[0] == {
        **named,
        "priority": float(rows[0]["priority"]),
        "department": str(rows[0]["department"]),
        "line": 1,
    }
    assert got[1]["department"] == "mobile"
    assert got[2]["tags"] == ["bug", "security"]
    c = tmp_path / "i.csv"
    c.write_text(
        'title,body,tags,priority,department\n'
        '"App crashes, badly","line one\nline two",010000000001,0.9,backend\n'
        'Typo,docs typo,bug;documentation,0.1,0\n'
    )
    got = issues.read_file(str(c))
    assert got[0]["title"] == "App crashes, badly" and got[0]["tags"] == ["enhancement", "good first issue"]
    assert got[0]["department"] == "backend" and got[0]["body"] == "line one\nline two"
    assert got[1]["tags"] == ["bug", "documentation"] and got[1]["priority"] == 0.1 and got[1]["department"] == "0"


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"priority": "high"}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"department": True}, "department"),
        ({"department": " "}, "department"),
        ({"tags": [0, 1]}, "tags"),
        ({"tags": 5}, "tags"),
        ({"title": ""}, "title"),
    ],
)
def test_read_file_errors_name_line_and_field(tmp_path, bad, field):
    rows = issues.generate(3, seed=2)
    rows[1].update(bad)
    p = tmp_path / "bad.jsonl"
    write_rows(p, rows)
    with pytest.raises(ValueError, match=rf"bad.jsonl:2: field '{field}'"):
        issues.read_file(str(p))


def test_read_file_other_errors(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"title": "a", "body": "b", "tags": [], "priority": 0.5}\n')
    with pytest.raises(ValueError, match=r"x.jsonl:1: missing field 'department'"):
        issues.read_file(str(p))
    p.write_text("\n{not json\n")
    with pytest.raises(ValueError, match=r"x.jsonl:2: not valid JSON"):
        issues.read_file(str(p))
    c = tmp_path / "x.csv"
    c.write_text("title,body,tags,priority,department\na,b,,0.5,1\nc,d,,0.5,\n")
    with pytest.raises(ValueError, match=r"x.csv:3: field 'department'"):
        issues.read_file(str(c))
    with pytest.raises(ValueError, match=r"expected a \.jsonl, \.json or \.csv file"):
        issues.read_file(__file__)
