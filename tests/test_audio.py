"""`layers.STFTSpectrogram`, `layers.MelSpectrogram` and `initializers.STFT` against Keras 3:
numerics on a random waveform, configs, and `.keras` files both ways."""

import jax
import numpy as np
import pytest

import jnet
from jnet import initializers, layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
SIGNAL = RS.randn(2, 300, 2).astype(np.float32)
WAVE = RS.randn(2, 2000).astype(np.float32)


def _keras(make, x):
    with jax.numpy_rank_promotion("allow"):
        return np.asarray(make()(x))


@pytest.mark.parametrize(
    "args", [("real", "hann", "density", False), ("imag", "hamming", "spectrum", True), ("imag", None, None, False)]
)
def test_stft_initializer_matches_keras(args):
    ours = initializers.STFT(*args)(None, (32, 1, 17))
    theirs = keras.initializers.STFT(*args)(shape=(32, 1, 17))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-6)
    assert initializers.get("stft") == initializers.STFT() and initializers.STFTInitializer is initializers.STFT
    config = initializers.serialize(initializers.STFT(*args))
    assert config["class_name"] == "STFT" and initializers.deserialize(config) == initializers.STFT(*args)
    assert keras.initializers.deserialize(config).get_config() == keras.initializers.STFT(*args).get_config()


def test_stft_initializer_errors():
    with pytest.raises(ValueError, match="side"):
        initializers.STFT("complex")
    with pytest.raises(ValueError, match="window"):
        initializers.STFT("real", "no_such_window")
    with pytest.raises(ValueError, match="window must have shape"):
        initializers.STFT("real", [1.0, 2.0])(None, (4, 1, 3))


STFT_CASES = [
    {"mode": "log", "frame_length": 32, "frame_step": 10, "window": list(np.linspace(0.1, 1.0, 32))},
    {"mode": "psd", "frame_length": 30, "fft_length": 64, "padding": "same", "expand_dims": True},
    {"mode": "stft", "frame_length": 16, "data_format": "channels_first", "window": "hamming", "periodic": True},
]


@pytest.mark.parametrize("kwargs", STFT_CASES, ids=[c["mode"] for c in STFT_CASES])
def test_stft_spectrogram_matches_keras(kwargs):
    x = SIGNAL.transpose(0, 2, 1) if kwargs.get("data_format") == "channels_first" else SIGNAL
    layer = layers.STFTSpectrogram(**kwargs)
    ours = np.asarray(layer(x))
    theirs = _keras(lambda: keras.layers.STFTSpectrogram(**kwargs), x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert layer.compute_output_shape(x.shape) == ours.shape
    assert [w.name for w in layer.weights] == ["real_kernel", "imag_kernel"]
    config = layer.get_config()
    reference = keras.layers.STFTSpectrogram(**kwargs).get_config()
    assert {k: config[k] for k in reference if k not in ("name", "dtype")} == {
        k: v for k, v in reference.items() if k not in ("name", "dtype")
    }
    clone = layers.STFTSpectrogram.from_config(config)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), ours, atol=1e-6)


def test_stft_spectrogram_modes_from_the_transform():
    """The other modes against the real and imaginary parts `mode="stft"` gives (checked
    against Keras above), channels_last, no window scaling."""
    common = {"frame_length": 16, "frame_step": 8, "scaling": None, "window": None}
    both = np.asarray(layers.STFTSpectrogram(mode="stft", expand_dims=True, **common)(SIGNAL))
    real, imag = both[:, :, :9], both[:, :, 9:]  # (batch, frames, freqs, channels)
    power = real**2 + imag**2
    expected = {
        "real": real,
        "imag": imag,
        "magnitude": np.sqrt(np.maximum(power, 1e-7)),
        "angle": np.arctan2(imag, real),
    }
    kernels = {"real": ["real_kernel"], "imag": ["imag_kernel"]}
    for mode, want in expected.items():
        layer = layers.STFTSpectrogram(mode=mode, expand_dims=True, **common)
        np.testing.assert_allclose(np.asarray(layer(SIGNAL)), want, rtol=1e-5, atol=1e-5, err_msg=mode)
        assert [w.name for w in layer.weights] == kernels.get(mode, ["real_kernel", "imag_kernel"])
    flat = np.asarray(layers.STFTSpectrogram(mode="real", **common)(SIGNAL))  # channels after freqs
    np.testing.assert_allclose(flat, real.transpose(0, 1, 3, 2).reshape(2, -1, 18), atol=1e-6)


MEL_KWARGS = {
    "fft_length": 256,
    "sequence_length": 200,
    "sequence_stride": 100,
    "num_mel_bins": 16,
    "window": "hamming",
    "max_freq": 6000,
    "min_freq": 50.0,
    "mag_exp": 1.0,
    "top_db": 20.0,
    "ref_power": 4.0,
}


def test_mel_spectrogram_matches_keras():
    layer = layers.MelSpectrogram(**MEL_KWARGS)
    ours = np.asarray(layer(WAVE))
    theirs = _keras(lambda: keras.layers.MelSpectrogram(**MEL_KWARGS), WAVE)
    assert ours.shape == theirs.shape == (2, 16, 1 + 2000 // 100)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    config, reference = layer.get_config(), keras.layers.MelSpectrogram(**MEL_KWARGS).get_config()
    assert {k: config[k] for k in reference if k not in ("name", "dtype")} == {
        k: v for k, v in reference.items() if k not in ("name", "dtype")
    }
    # Without decibels: the power whose dB (unclipped, reference 1) the layer gives otherwise.
    plain = {**MEL_KWARGS, "top_db": 1e9, "ref_power": 1.0}
    power = np.asarray(layers.MelSpectrogram(**{**plain, "power_to_db": False})(WAVE))
    db = np.asarray(layers.MelSpectrogram(**plain)(WAVE))
    np.testing.assert_allclose(10 * np.log10(np.maximum(power, 1e-10)), db, rtol=1e-4, atol=1e-3)
    assert np.asarray(layers.MelSpectrogram(**MEL_KWARGS)(WAVE[0])).shape == ours.shape[1:]


def test_audio_layer_errors():
    with pytest.raises(ValueError, match="frame_step"):
        layers.STFTSpectrogram(frame_length=8, frame_step=9)
    with pytest.raises(ValueError, match="fft_length"):
        layers.STFTSpectrogram(frame_length=8, fft_length=4)
    with pytest.raises(ValueError, match="mode"):
        layers.STFTSpectrogram(mode="power")
    with pytest.raises(ValueError, match="3D input"):
        layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 30), np.float32))
    with pytest.raises(TypeError, match="float"):
        layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 30, 1), np.int32))
    with pytest.raises(ValueError, match="sequence_length"):
        layers.MelSpectrogram(fft_length=64, sequence_length=128)


def _models(lib):
    x = lib.Input((400, 1))
    spec = lib.layers.STFTSpectrogram(mode="log", frame_length=32, frame_step=16, name="stft")(x)
    out = lib.layers.Dense(2)(lib.layers.GlobalAveragePooling1D()(spec))
    return lib.Model(x, out)


def test_keras_files_both_ways(tmp_path):
    x = RS.randn(2, 400, 1).astype(np.float32)
    ours = _models(jnet)
    kernel = RS.randn(32, 1, 17).astype(np.float32) * 0.1  # not the initializer's values
    ours.get_layer("stft").set_weights([kernel, -kernel])
    expected = np.asarray(ours.predict(x, verbose=0))
    ours.save(tmp_path / "j.keras")
    with jax.numpy_rank_promotion("allow"):
        theirs = keras.models.load_model(tmp_path / "j.keras")
        np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), expected, rtol=1e-4, atol=1e-5)
        theirs.get_layer("stft").set_weights([kernel * 2, kernel])
        again = np.asarray(theirs.predict(x, verbose=0))
        theirs.save(tmp_path / "k.keras")
    back = jnet.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), again, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- audio_dataset_from_directory


def _write_wav(path, samples, rate=8000, width=2):
    import wave

    samples = np.asarray(samples)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(samples.astype("<i2" if width == 2 else np.uint8).tobytes())


@pytest.fixture
def wav_dir(tmp_path):
    clips = {}
    for cls, lengths in (("no", (30, 50, 40)), ("yes", (20, 60, 45))):
        (tmp_path / cls).mkdir()
        for i, n in enumerate(lengths):
            samples = RS.randint(-32768, 32767, n)
            _write_wav(tmp_path / cls / f"{i}.wav", samples)
            clips[str(tmp_path / cls / f"{i}.wav")] = (samples / 32768.0).astype(np.float32), cls
    return tmp_path, clips


def test_audio_dataset_reads_pads_and_labels(wav_dir):
    directory, clips = wav_dir
    ds = jnet.utils.audio_dataset_from_directory(directory, batch_size=4, shuffle=False, verbose=False)
    assert ds.class_names == ["no", "yes"] and len(ds.file_paths) == 6
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(4, 50, 1), (2, 60, 1)]  # padded to each batch's longest
    rows = [row[:, 0] for b in batches for row in b[0]]
    y = np.concatenate([b[1] for b in batches])
    for row, label, path in zip(rows, y, ds.file_paths):
        expected, cls = clips[path]
        np.testing.assert_array_equal(row[: len(expected)], expected)
        assert not row[len(expected) :].any() and ds.class_names[label] == cls
    train, val = jnet.utils.audio_dataset_from_directory(
        directory,
        label_mode="categorical",
        output_sequence_length=35,
        validation_split=0.5,
        subset="both",
        seed=1,
        batch_size=None,
        verbose=False,
    )
    sample, onehot = next(iter(train))
    assert sample.shape == (35, 1) and onehot.shape == (2,) and onehot.sum() == 1
    assert len(train.file_paths) + len(val.file_paths) == 6
    assert not set(train.file_paths) & set(val.file_paths)


def test_audio_dataset_resamples_and_checks_arguments(wav_dir, tmp_path):
    directory, _ = wav_dir
    ds = jnet.utils.audio_dataset_from_directory(
        directory, labels=None, sampling_rate=4000, batch_size=6, shuffle=False, verbose=False
    )
    (x,) = list(ds)
    assert x.shape == (6, 30, 1)  # 60 samples at 8 kHz -> 30 at 4 kHz
    _write_wav(tmp_path / "eight.wav", np.array([0, 128, 255, 64]), width=1)
    audio, rate = jnet.utils.audio_dataset.read_wav(tmp_path / "eight.wav")
    assert rate == 8000
    np.testing.assert_allclose(audio[:, 0], [-1.0, 0.0, 127 / 128, -0.5])
    with pytest.raises(ValueError, match="ragged"):
        jnet.utils.audio_dataset_from_directory(directory, ragged=True)
    with pytest.raises(ValueError, match="sampling_rate"):
        jnet.utils.audio_dataset_from_directory(directory, sampling_rate=0)
    with pytest.raises(ValueError, match="output_sequence_length"):
        jnet.utils.audio_dataset_from_directory(directory, output_sequence_length=2.5)
