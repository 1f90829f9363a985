"""Datasets in Keras's `load_data()` shape, read from local files or generated: never downloaded.

```python
from jnet.datasets import fashion_mnist, issues
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
```
"""

from jnet.datasets import digits, fashion_mnist, github_issues, issue_files, issues, mnist
from jnet.datasets.idx import read_idx
from jnet.datasets.text import Tokenizer, pad_sequences

__all__ = ["digits", "fashion_mnist", "github_issues", "issue_files", "issues",
           "mnist", "read_idx", "Tokenizer", "pad_sequences"]
