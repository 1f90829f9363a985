"""`keras.preprocessing.image`: image file and array helpers."""

from jnet.utils.image_utils import array_to_img, img_to_array, load_img, save_img

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
