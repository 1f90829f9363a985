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
from jnet.applications import densenet
from jnet.applications import mobilenet, mobilenet_v2, mobilenet_v3
from jnet.applications import resnet, resnet50, resnet_v2
from jnet.applications import vgg16, vgg19

from jnet.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from jnet.applications.mobilenet import MobileNet
from jnet.applications.mobilenet_v2 import MobileNetV2
from jnet.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from jnet.applications.resnet import ResNet50, ResNet101, ResNet152
from jnet.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from jnet.applications.vgg16 import VGG16
from jnet.applications.vgg19 import VGG19
