"""Callbacks: the Keras protocol, run on the host between compiled chunks."""

from jnet.callbacks.base import Callback, CallbackList, History
from jnet.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
