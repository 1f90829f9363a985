"""Datasets in Keras's `load_data()` shape.

Keras's datasets (`cifar10`, `cifar100`, `imdb`, `reuters`, `boston_housing`,
`california_housing`) are read from Keras's cache (`~/.keras/datasets`) when present and
otherwise downloaded once through `jnet.utils.get_file`; offline and uncached, they raise an
error saying where to put the file. `mnist` and `fashion_mnist` read local files only.

```python
from jnet.datasets import cifar10, fashion_mnist, issues
(x_train, y_train), (x_test, y_test) = cifar10.load_data()
```
"""

from jnet.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    github_issues,
    imdb,
    issue_files,
    issue_model,
    issues,
    mnist,
    reuters,
)
from jnet.datasets.idx import read_idx
from jnet.datasets.text import Tokenizer, pad_sequences

__all__ = [
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "digits",
    "fashion_mnist",
    "github_issues",
    "imdb",
    "issue_files",
    "issue_model",
    "issues",
    "mnist",
    "read_idx",
    "reuters",
    "Tokenizer",
    "pad_sequences",
]
