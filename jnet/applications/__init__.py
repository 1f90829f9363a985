"""Keras's model zoo (`keras.applications`): the ImageNet architectures with Keras's
constructor arguments, layer names and weight layouts, so Keras's published weight files
(`weights="imagenet"`, fetched into Keras's cache) and Keras-saved weights load into them.

```python
base = jnet.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(160, 160, 3))
base.trainable = False
```

Each family is a submodule with its builders, `preprocess_input` and `decode_predictions`.
"""

# apps2's families.
from jnet.applications import (
    convnext,
    densenet,
    efficientnet,
    efficientnet_v2,
    imagenet_utils,
    inception_resnet_v2,
    inception_v3,
    mobilenet,
    mobilenet_v2,
    mobilenet_v3,
    nasnet,
    resnet,
    resnet50,
    resnet_v2,
    vgg16,
    vgg19,
    xception,
)
from jnet.applications.convnext import ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall, ConvNeXtTiny, ConvNeXtXLarge
from jnet.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from jnet.applications.efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
)
from jnet.applications.efficientnet_v2 import (
    EfficientNetV2B0,
    EfficientNetV2B1,
    EfficientNetV2B2,
    EfficientNetV2B3,
    EfficientNetV2L,
    EfficientNetV2M,
    EfficientNetV2S,
)
from jnet.applications.inception_resnet_v2 import InceptionResNetV2
from jnet.applications.inception_v3 import InceptionV3
from jnet.applications.mobilenet import MobileNet
from jnet.applications.mobilenet_v2 import MobileNetV2
from jnet.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from jnet.applications.nasnet import NASNetLarge, NASNetMobile
from jnet.applications.resnet import ResNet50, ResNet101, ResNet152
from jnet.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from jnet.applications.vgg16 import VGG16
from jnet.applications.vgg19 import VGG19
from jnet.applications.xception import Xception
