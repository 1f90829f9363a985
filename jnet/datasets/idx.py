"""Reading IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or not.

An IDX file is a 4-byte magic number `0x00 0x00 <dtype code> <ndim>`, then `ndim` big-endian
uint32 dimensions, then the data in C order (big-endian for multi-byte types).
"""

import gzip
import os

import numpy as np

# IDX type codes -> big-endian numpy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    # Detect gzip by its magic bytes, not by the file name: some mirrors ship unpacked
    # files still named `.gz`, others compressed files without the suffix.
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"IDX file {path!r}: corrupt gzip data ({e})") from None
    return raw


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file into a numpy array (native byte order).

    Args:
        path: the file, plain or gzip-compressed.

    Returns:
        An array with the file's shape and element type (`uint8` for MNIST images/labels).
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"IDX file {path!r}: bad magic number (not an IDX file)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"IDX file {path!r}: unknown element type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {path!r}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"IDX file {path!r}: header says shape {shape} ({expected} bytes of data), "
            f"file holds {len(raw) - header} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


# The four files of an MNIST-style dataset, by split and role.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def find_idx_file(directory: str, stem: str) -> str | None:
    """The path of `stem` in `directory`, gzip-suffixed or not (also the `stem.idx3-ubyte` spelling)."""
    candidates = [stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")]
    for name in candidates:
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    return None


def load_idx_dataset(directory: str, dataset: str, how_to_get: str):
    """Load `((x_train, y_train), (x_test, y_test))` from the four IDX files in `directory`.

    Raises:
        FileNotFoundError: naming the missing files and saying how to get them.
    """
    paths, missing = {}, []
    for role, stem in IDX_FILES.items():
        p = find_idx_file(directory, stem) if os.path.isdir(directory) else None
        if p is None:
            missing.append(stem + "[.gz]")
        paths[role] = p
    if missing:
        raise FileNotFoundError(
            f"{dataset}: IDX files not found in {directory!r} (missing: {', '.join(missing)}). "
            f"{how_to_get} jnet never downloads data at run time."
        )
    arrays = {role: read_idx(p) for role, p in paths.items()}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{dataset}: {split} images {x.shape} and labels {y.shape} do not match "
                f"(expected (n, rows, cols) and (n,))"
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
