"""`keras.preprocessing.sequence`: `pad_sequences`."""

from jnet.utils.sequence import pad_sequences

__all__ = ["pad_sequences"]
