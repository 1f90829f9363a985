"""`audio_dataset_from_directory` without TensorFlow: PCM WAV files read with Python's `wave`.

It returns what `image_dataset_from_directory` returns: a `jnet.utils.Dataset` of NumPy
`(audio, labels)` batches (audio alone with `labels=None`), with `class_names` and
`file_paths`.
"""

from __future__ import annotations

import wave

import numpy as np

from jnet.utils import directory as D
from jnet.utils.directory_datasets import _split_and_make

AUDIO_FORMATS = (".wav",)


def read_wav(path, fn="read_wav"):
    """`(samples, channels)` float32 in [-1, 1] and the sample rate of a PCM WAV file (8-bit
    unsigned, 16-, 24- or 32-bit signed), scaled as `tf.audio.decode_wav` scales 16-bit."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate, n = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            raw = f.readframes(n)
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{fn}: cannot read {str(path)!r} as a PCM WAV file ({err})") from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = (np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise ValueError(f"{fn}: {str(path)!r} has {8 * width}-bit samples; expected 8, 16, 24 or 32-bit PCM")
    return data.reshape(-1, channels), rate


def _resample(audio, rate_in, rate_out):
    """Polyphase resampling (scipy) along the samples axis."""
    from math import gcd

    import scipy.signal

    g = gcd(int(rate_in), int(rate_out))
    return scipy.signal.resample_poly(audio, rate_out // g, rate_in // g, axis=0).astype(np.float32)


def audio_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    sampling_rate=None,
    output_sequence_length=None,
    ragged=False,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Generates a dataset from `.wav` files in a folder (one sub-folder per class).

    Args:
        directory: the folder. With `labels="inferred"` each sub-folder is a class.
        labels: `"inferred"`, `None` (audio only), or a list/tuple of integer labels, one per
            file in alphanumeric path order.
        label_mode: `"int"`, `"categorical"`, `"binary"` or `None` (as in
            `image_dataset_from_directory`).
        class_names: with `labels="inferred"`, which sub-folders to use, in label order.
        batch_size: clips per batch; `None` yields single clips.
        sampling_rate: resample every clip to this rate in Hz (scipy's polyphase filter;
            Keras uses tensorflow-io's resampler, so resampled values differ slightly). None:
            keep each file's rate.
        output_sequence_length: cut or zero-pad every clip to this many samples. None: each
            batch is zero-padded to its longest clip (Keras's `padded_batch`).
        ragged: not supported (jnet has no ragged arrays); must be False.
        shuffle, seed, validation_split, subset, follow_links, verbose: as in
            `image_dataset_from_directory`.

    Returns:
        A `jnet.utils.Dataset` of `(audio, labels)` batches, audio float32 in [-1, 1] of shape
        `(batch, samples, channels)`; or a list of two with `subset="both"`.

    Example:
    ```python
    train, val = audio_dataset_from_directory("speech_commands", output_sequence_length=16000,
                                              validation_split=0.2, subset="both", seed=0)
    ```
    """
    fn = "audio_dataset_from_directory"
    D.check_labels(fn, labels, label_mode, class_names)
    if ragged:
        raise ValueError(
            f"{fn}: ragged=True is not supported (jnet has no ragged arrays); use output_sequence_length, "
            "or leave it None to pad each batch to its longest clip"
        )
    if output_sequence_length is not None and (
        isinstance(output_sequence_length, bool)
        or not isinstance(output_sequence_length, int)
        or output_sequence_length < 1
    ):
        raise ValueError(f"{fn}: output_sequence_length must be a positive int or None, got {output_sequence_length!r}")
    if sampling_rate is not None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, int):
            raise ValueError(f"{fn}: sampling_rate should have an integer value, got {sampling_rate!r}")
        if sampling_rate <= 0:
            raise ValueError(f"{fn}: sampling_rate should be higher than 0, got {sampling_rate}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    D.check_validation_split(fn, validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1_000_000)
    paths, labels, class_names = D.index_directory(
        fn, directory, labels, AUDIO_FORMATS, class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{fn}: label_mode='binary' needs exactly 2 classes, got class_names={class_names}")

    def load_one(path):
        audio, rate = read_wav(path, fn)
        if sampling_rate is not None and rate != sampling_rate:
            audio = _resample(audio, rate, sampling_rate)
        if output_sequence_length is not None:
            audio = audio[:output_sequence_length]
        return audio

    def load(batch_paths):
        clips = [load_one(p) for p in batch_paths]
        channels = {c.shape[1] for c in clips}
        if len(channels) > 1:
            raise ValueError(f"{fn}: the clips of a batch have different channel counts {sorted(channels)}")
        length = output_sequence_length or max(c.shape[0] for c in clips)
        out = np.zeros((len(clips), length, channels.pop()), np.float32)
        for i, c in enumerate(clips):
            out[i, : c.shape[0]] = c
        return out

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
        "audio files",
    )
