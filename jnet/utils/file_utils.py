"""`get_file`: download a file once into Keras's cache (`~/.keras/datasets`), check it, extract it.

The cache layout is Keras's, so files Keras already downloaded are found and reused, and a
machine without network access works from the cache (or from files copied into it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from jnet.utils.io_utils import print_msg


def keras_home() -> str:
    """Keras's home folder: `$KERAS_HOME`, else `~/.keras` (shared with Keras: same cache)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))


def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """The hex digest of a file (`"sha256"`, `"md5"`, or `"auto"`: sha256)."""
    hasher = _hasher("sha256" if algorithm == "auto" else algorithm)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """Whether the file's sha256 (64 hex digits) or md5 digest equals `file_hash`."""
    hasher = _hasher(algorithm, file_hash)
    name = "sha256" if hasher.name == "sha256" else "md5"
    return hash_file(fpath, name, chunk_size) == str(file_hash)


def _inside(base, name) -> bool:
    base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([base, target]) == base


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar (`.tar`, `.tar.gz`, `.tar.bz2`) or zip archive into `path`.

    Members that would land outside `path` (absolute paths, `..`, links out) are refused.

    Args:
        file_path: the archive.
        path: destination folder.
        archive_format: `"auto"` (tar then zip), `"tar"`, `"zip"`, a list of these, or `None`.

    Returns:
        True when the file was an archive of a requested format and was extracted.
    """
    if archive_format is None:
        return False
    formats = (
        ["tar", "zip"]
        if archive_format == "auto"
        else ([archive_format] if isinstance(archive_format, str) else list(archive_format))
    )
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise ValueError(f"extract_archive: archive_format must be 'auto', 'tar', 'zip' or None, got {fmt!r}")
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                bad = [
                    m.name
                    for m in archive.getmembers()
                    if not _inside(path, m.name)
                    or (
                        (m.issym() or m.islnk())
                        and not _inside(
                            path, os.path.join(os.path.dirname(m.name), m.linkname) if m.issym() else m.linkname
                        )
                    )
                ]
                if bad:
                    raise ValueError(f"extract_archive: {file_path!r} has members outside the target folder: {bad[:3]}")
                os.makedirs(path, exist_ok=True)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: also refuses device files, setuid bits
                    archive.extractall(path, filter="data")
                else:
                    archive.extractall(path)
            return True
        if fmt == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                bad = [n for n in archive.namelist() if not _inside(path, n)]
                if bad:
                    raise ValueError(f"extract_archive: {file_path!r} has members outside the target folder: {bad[:3]}")
                archive.extractall(path)
            return True
    return False


def _download(origin, target):
    """Fetch `origin` to `target` atomically (a partial download never looks like a cached file)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".part-")
    os.close(fd)
    try:
        urllib.request.urlretrieve(origin, tmp)
        os.replace(tmp, target)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, (urllib.error.URLError, OSError, ValueError)):
            reason = getattr(e, "reason", None) or e
            raise OSError(
                f"get_file: could not download {origin} ({reason}), and it is not cached at {target!r}. "
                "If this machine is offline, copy the file to that path (or give cache_dir=) and call again."
            ) from None
        raise


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Downloads a file from a URL if it is not already in the cache, as `keras.utils.get_file`.

    The file goes to `cache_dir/cache_subdir/fname` (default `~/.keras/datasets/fname`, Keras's
    own cache, so files Keras downloaded are reused). With `extract=True` an archive is unpacked
    next to it and that folder is returned, named as Keras names it: `<fname up to the first dot>_extracted`
    when `fname` has a dot, else `fname` (the archive itself is then stored as `fname_archive`).

    Args:
        fname: file name in the cache; `None` takes the last part of `origin`'s path. Not a path.
        origin: the URL (`https://...`, `file://...`).
        untar: deprecated Keras spelling of `extract=True` for tar files.
        md5_hash: deprecated; use `file_hash`.
        file_hash: expected sha256 (or md5) hex digest; a cached file that does not match is
            downloaded again, a fresh download that does not match is an error.
        cache_subdir: folder under `cache_dir` (an absolute path is used as it is).
        hash_algorithm: `"auto"` (sha256 for 64-digit hashes, else md5), `"sha256"` or `"md5"`.
        extract: unpack a tar or zip archive; the folder is returned.
        archive_format: `"auto"`, `"tar"`, `"zip"` or `None`.
        cache_dir: base cache folder; default `$KERAS_HOME` or `~/.keras`.
        force_download: download even when a cached copy exists.

    Returns:
        The path of the file, or of the extracted folder.

    Raises:
        OSError: when the file is not cached and cannot be downloaded (offline), naming the
            path to place it at.

    Example:
    ```python
    path = jnet.utils.get_file(origin="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz")
    ```
    """
    if origin is None:
        raise ValueError("get_file: give origin= (the URL of the file to download)")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _hasher(hash_algorithm, file_hash).name  # also rejects unknown algorithms before any work
    base = os.path.expanduser(cache_dir if cache_dir is not None else keras_home())
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    given = fname is not None and str(fname) != ""
    fname = os.fspath(fname) if given else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(f"get_file: cannot take a file name from origin {origin!r}; give fname=")
    if os.sep in fname:
        raise ValueError(
            f"get_file: fname must be a file name, not a path (got {fname!r}); "
            "choose the folder with cache_dir= / cache_subdir="
        )

    extracting = bool(extract or untar)
    if extracting:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            folder = os.path.join(datadir, fname[: fname.find(".")] + "_extracted")
        else:
            target = os.path.join(datadir, fname + "_archive")
            folder = os.path.join(datadir, fname)
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print_msg(f"get_file: the cached {target} does not match the expected {algorithm} hash; downloading again")
        download = True
    if download:
        print_msg(f"Downloading data from {origin}")
        _download(origin, target)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            raise ValueError(
                f"get_file: the file downloaded from {origin} does not match the expected "
                f"{algorithm} hash {file_hash} (incomplete or corrupted download)"
            )
    if not extracting:
        return target
    # Unpack when new (or re-downloaded): a folder left by an earlier run (or by Keras) is reused.
    if download or not os.path.isdir(folder) or not os.listdir(folder):
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        if not extract_archive(target, folder, "tar" if untar else archive_format):
            raise ValueError(
                f"get_file: {target!r} is not a {'tar' if untar else archive_format} archive; cannot extract it"
            )
    return folder
