"""`keras.preprocessing`: Keras 3 keeps this namespace for the dataset builders and the
`sequence` / `image` helpers, which live in `jnet.utils`.

```python
x = jnet.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=4)
```
"""

from jnet.preprocessing import image, sequence
from jnet.utils.directory_datasets import image_dataset_from_directory, text_dataset_from_directory
from jnet.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "image",
    "image_dataset_from_directory",
    "sequence",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
