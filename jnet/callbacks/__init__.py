"""Callbacks: the Keras protocol, run on the host between compiled chunks."""

from jnet.callbacks.backup_and_restore import BackupAndRestore
from jnet.callbacks.base import Callback, CallbackList, History
from jnet.callbacks.csv_logger import CSVLogger
from jnet.callbacks.early_stopping import EarlyStopping
from jnet.callbacks.lambda_callback import LambdaCallback
from jnet.callbacks.learning_rate_scheduler import LearningRateScheduler
from jnet.callbacks.model_checkpoint import ModelCheckpoint
from jnet.callbacks.orbax_checkpoint import OrbaxCheckpoint
from jnet.callbacks.progbar import ProgbarLogger
from jnet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from jnet.callbacks.swap_ema import SwapEMAWeights
from jnet.callbacks.tensorboard import TensorBoard
from jnet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "OrbaxCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
]
