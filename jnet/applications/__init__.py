"""Keras's model zoo (`keras.applications`): the ImageNet architectures with Keras's
constructor arguments, layer names and weight layouts, so Keras's published weight files
(`weights="imagenet"`, fetched into Keras's cache) and Keras-saved weights load into them.

```python
base = jnet.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(160, 160, 3))
base.trainable = False
```

Each family is a submodule with its builders, `preprocess_input` and `decode_predictions`.
"""

from jnet.applications import imagenet_utils
from jnet.applications import vgg16, vgg19

from jnet.applications.vgg16 import VGG16
from jnet.applications.vgg19 import VGG19
