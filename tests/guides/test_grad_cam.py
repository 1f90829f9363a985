"""Keras example "Grad-CAM class activation visualization" (keras-io examples/vision/grad_cam.py),
ported with `import jnet as keras`. `get_img_array`, the Grad-CAM algorithm and
`save_and_display_gradcam` are the example's, except the gradient: the example takes it with
`tf.GradientTape` (TensorFlow only), written here the JAX way, `jax.grad` of the class score
through the part of the model after the last conv layer (`keras.Model(layer.output,
model.output)`). A small convnet with random weights stands in for the pretrained Xception
(download) and a random JPEG for the elephant photo. Left out: `display` and `decode_predictions`.
Everything is deterministic, so the heatmap is compared with Keras 3 (same code, copied weights)."""

import jax
import matplotlib as mpl
import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

img_size = (16, 16)
last_conv_layer_name = "last_conv_act"


def model_builder(keras, layers):
    """Stand-in for `keras.applications.xception.Xception(weights="imagenet")`."""
    inputs = keras.Input(shape=img_size + (3,))
    x = layers.Conv2D(8, 3, padding="same")(inputs)
    x = layers.Activation("relu", name="block1_act")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = layers.Activation("relu", name=last_conv_layer_name)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def get_img_array(keras, img_path, size):
    # `img` is a PIL image of size 16x16
    img = keras.utils.load_img(img_path, target_size=size)
    # `array` is a float32 Numpy array of shape (16, 16, 3)
    array = keras.utils.img_to_array(img)
    # We add a dimension to transform our array into a "batch"
    # of size (1, 16, 16, 3)
    array = np.expand_dims(array, axis=0)
    return array


def make_gradcam_heatmap(keras, ops, img_array, model, last_conv_layer_name, pred_index=None):
    # First, we create a model that maps the input image to the activations
    # of the last conv layer as well as the output predictions
    grad_model = keras.models.Model(model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])

    # Then, we compute the gradient of the top predicted class for our input image
    # with respect to the activations of the last conv layer
    last_conv_layer_output, preds = grad_model(img_array)
    if pred_index is None:
        pred_index = ops.argmax(preds[0])
    # (JAX) the layers after the last conv layer, as a function of its activations.
    head = keras.models.Model(model.get_layer(last_conv_layer_name).output, model.output)

    def class_channel(conv_output):
        return ops.sum(head(conv_output)[:, pred_index])

    # This is the gradient of the output neuron (top predicted or chosen)
    # with regard to the output feature map of the last conv layer
    grads = jax.grad(class_channel)(last_conv_layer_output)

    # This is a vector where each entry is the mean intensity of the gradient
    # over a specific feature map channel
    pooled_grads = ops.mean(grads, axis=(0, 1, 2))

    # We multiply each channel in the feature map array
    # by "how important this channel is" with regard to the top predicted class
    # then sum all the channels to obtain the heatmap class activation
    last_conv_layer_output = last_conv_layer_output[0]
    heatmap = last_conv_layer_output @ pooled_grads[..., None]
    heatmap = ops.squeeze(heatmap)

    # For visualization purpose, we will also normalize the heatmap between 0 & 1
    heatmap = ops.maximum(heatmap, 0) / ops.max(heatmap)
    return ops.convert_to_numpy(heatmap)


def save_and_display_gradcam(img_path, heatmap, cam_path="cam.jpg", alpha=0.4):
    # Load the original image
    img = keras.utils.load_img(img_path)
    img = keras.utils.img_to_array(img)

    # Rescale heatmap to a range 0-255
    heatmap = np.uint8(255 * heatmap)

    # Use jet colormap to colorize heatmap
    jet = mpl.colormaps["jet"]

    # Use RGB values of the colormap
    jet_colors = jet(np.arange(256))[:, :3]
    jet_heatmap = jet_colors[heatmap]

    # Create an image with RGB colorized heatmap
    jet_heatmap = keras.utils.array_to_img(jet_heatmap)
    jet_heatmap = jet_heatmap.resize((img.shape[1], img.shape[0]))
    jet_heatmap = keras.utils.img_to_array(jet_heatmap)

    # Superimpose the heatmap on original image
    superimposed_img = jet_heatmap * alpha + img
    superimposed_img = keras.utils.array_to_img(superimposed_img)

    # Save the superimposed image
    superimposed_img.save(cam_path)


def test_grad_cam_matches_keras(tmp_path):
    from PIL import Image

    img_path = str(tmp_path / "african_elephant.jpg")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3)).astype("uint8")).save(img_path)

    # Prepare image
    img_array = get_img_array(keras, img_path, size=img_size) / 127.5 - 1.0  # xception.preprocess_input

    # Make model
    model = model_builder(keras, layers)
    with keras_ok():
        kmodel = model_builder(KERAS[0], KERAS[1])
        copy_weights(model, kmodel)

    # Remove last layer's softmax
    model.layers[-1].activation = None
    kmodel.layers[-1].activation = None

    preds = model.predict(img_array, verbose=0)
    assert (preds < 0).any()  # logits now, not probabilities
    with keras_ok():
        np.testing.assert_allclose(preds, kmodel.predict(img_array, verbose=0), rtol=1e-5, atol=1e-6)

    # Generate class activation heatmap
    heatmap = make_gradcam_heatmap(keras, ops, img_array, model, last_conv_layer_name)
    assert heatmap.shape == (8, 8) and abs(heatmap.max() - 1.0) < 1e-6 and heatmap.min() >= 0.0
    with keras_ok():
        expected = make_gradcam_heatmap(KERAS[0], KERAS[2], img_array, kmodel, last_conv_layer_name)
    np.testing.assert_allclose(heatmap, expected, rtol=1e-4, atol=1e-5)

    top = int(np.argmax(preds[0]))
    same = make_gradcam_heatmap(keras, ops, img_array, model, last_conv_layer_name, pred_index=top)
    np.testing.assert_allclose(same, heatmap, rtol=1e-6)

    cam_path = str(tmp_path / "cam.jpg")
    save_and_display_gradcam(img_path, heatmap, cam_path=cam_path)
    assert Image.open(cam_path).size == (24, 20)
