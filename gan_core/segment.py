"""The study's face segmenter: a VGG16-based fully convolutional network in Keras (TensorFlow backend).

224x224x3 in, a face / not-face probability map out. The VGG16 convolution blocks (Keras' layer names, so the
ImageNet weights of ``keras.applications.VGG16`` load layer by layer), fc6/fc7 as 7x7 and 1x1 convolutions, a
one-channel score, upsampling x2 added to a score of pool4 (the FCN-16s skip), upsampling x16 to the input
size, sigmoid. Trained with binary cross-entropy and SGD (momentum 0.9, Nesterov) with a step decay.
``width`` and ``fc_channels`` shrink the network for tests; 1.0 and 4096 are the published shapes. Without
ImageNet weights the ReLU layers start from He initialisation, which lets the deep plain (no batch norm) VGG
stack train from scratch.

Inputs are RGB floats in [0, 255] with VGG16's ImageNet mean subtracted (``preprocess``); masks are float
{0, 1}. Keras is imported when a function needs it, so the rest of ``gan_core`` loads without TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from landmark_core.geometry import square_crop, warp_affine

INPUT_SIZE = 224
VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


@dataclass(frozen=True)
class SegmenterConfig:
    """Network shape and training schedule.

    Attributes:
        input_size: side of the square input (224 in the study).
        width: multiplier of VGG16's channels (1.0 = VGG16).
        fc_channels: channels of fc6/fc7 as convolutions (4096 in VGG16).
        lr: initial SGD learning rate; momentum 0.9 with Nesterov.
        lr_drop: factor of the step decay, applied every ``lr_step`` epochs.
        lr_step: epochs between drops.
        epochs: training epochs.
        batch_size: images per step.
        dropout: after fc6 and fc7.
        seed: weight initialisation and shuffling.
    """

    input_size: int = INPUT_SIZE
    width: float = 1.0
    fc_channels: int = 4096
    lr: float = 1e-3
    lr_drop: float = 0.5
    lr_step: int = 10
    epochs: int = 30
    batch_size: int = 8
    dropout: float = 0.5
    seed: int = 0


def build_segmenter(*, config: SegmenterConfig, vgg16_weights: Path | None = None):
    """The VGG16-FCN16s as a ``keras.Model`` (input (B, S, S, 3) float, output (B, S, S, 1) sigmoid).

    Args:
        config: the network's shape.
        vgg16_weights: an ImageNet VGG16 weights file (Keras' ``..._notop.h5``); copied into the backbone
            layer by layer, every shape checked. None leaves the backbone randomly initialised.

    Raises:
        ValueError: ``vgg16_weights`` given for a reduced-width network, or a layer's shapes differ.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(config.seed)
    # Multi-threaded CPU kernels may sum in any order; without this two identical runs can differ in the last
    # bits of the losses, and the segmenter's output (hence every key downstream) would differ between stores.
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    inputs = keras.Input((config.input_size, config.input_size, 3), name="image")
    x, pool4 = inputs, None
    for b, (filters, convs) in enumerate(VGG_BLOCKS, start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(
                max(1, round(filters * config.width)),
                3,
                padding="same",
                activation="relu",
                kernel_initializer="he_normal",
                name=f"block{b}_conv{c}",
            )(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
        pool4 = x if b == 4 else pool4
    x = layers.Conv2D(
        config.fc_channels, 7, padding="same", activation="relu", kernel_initializer="he_normal", name="fc6"
    )(x)
    x = layers.Dropout(config.dropout, name="drop6")(x)
    x = layers.Conv2D(config.fc_channels, 1, activation="relu", kernel_initializer="he_normal", name="fc7")(x)
    x = layers.Dropout(config.dropout, name="drop7")(x)
    score = layers.Conv2D(1, 1, name="score_fr")(x)
    up2 = layers.Conv2DTranspose(1, 4, strides=2, padding="same", use_bias=False, name="upscore2")(score)
    skip = layers.Conv2D(1, 1, name="score_pool4")(pool4)
    fused = layers.Add(name="fuse_pool4")([up2, skip])
    up16 = layers.Conv2DTranspose(1, 32, strides=16, padding="same", use_bias=False, name="upscore16")(fused)
    outputs = layers.Activation("sigmoid", name="mask")(up16)
    model = keras.Model(inputs, outputs, name="vgg16_fcn16s")
    if vgg16_weights is not None:
        _load_vgg16(model, Path(vgg16_weights), config)
    return model


def _load_vgg16(model, path: Path, config: SegmenterConfig) -> None:
    """Copy ImageNet VGG16 convolution weights into the backbone (strict: every layer, every shape)."""
    import keras

    if config.width != 1.0 or config.input_size % 32:
        raise ValueError("ImageNet VGG16 weights need width 1.0 and an input size divisible by 32")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: VGG16 weights file not found")
    vgg = keras.applications.VGG16(
        include_top=False, weights=str(path), input_shape=(config.input_size, config.input_size, 3)
    )
    names = [f"block{b}_conv{c}" for b, (_, n) in enumerate(VGG_BLOCKS, start=1) for c in range(1, n + 1)]
    for name in names:
        source, target = vgg.get_layer(name).get_weights(), model.get_layer(name)
        shapes = [w.shape for w in target.get_weights()]
        if [w.shape for w in source] != shapes:
            raise ValueError(f"{path}: layer {name} has shapes {[w.shape for w in source]}, expected {shapes}")
        target.set_weights(source)


def preprocess(images_rgb: np.ndarray) -> np.ndarray:
    """VGG16's input convention: RGB float32 minus the ImageNet mean.

    Shapes:
        images_rgb (B, S, S, 3) uint8 -> (B, S, S, 3) float32.
    """
    return images_rgb.astype(np.float32) - IMAGENET_MEAN_RGB


def step_decay(*, config: SegmenterConfig):
    """The learning rate of each epoch: lr * lr_drop ** floor(epoch / lr_step)."""
    return lambda epoch: float(config.lr * config.lr_drop ** math.floor(epoch / config.lr_step))


def train_segmenter(*, model, images_rgb: np.ndarray, masks: np.ndarray, config: SegmenterConfig) -> list[float]:
    """Fit with binary cross-entropy and Nesterov SGD under the step decay; returns the loss of each epoch.

    Shapes:
        images_rgb (N, S, S, 3) uint8; masks (N, S, S) {0, 1}.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=config.lr, momentum=0.9, nesterov=True), loss="binary_crossentropy"
    )
    history = model.fit(
        preprocess(images_rgb),
        masks[..., None].astype(np.float32),
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(step_decay(config=config))],
    )
    return [float(v) for v in history.history["loss"]]


def predict_masks(*, model, images_rgb: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Face probabilities of each pixel.

    Shapes:
        images_rgb (N, S, S, 3) uint8 -> (N, S, S) float32 in [0, 1].
    """
    return model.predict(preprocess(images_rgb), batch_size=batch_size, verbose=0)[..., 0]


def mask_scores(*, predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Pixel accuracy and face IoU of thresholded predictions against binary truth.

    Shapes:
        predicted (N, S, S) probabilities; truth (N, S, S) {0, 1}.
    """
    p, t = predicted >= threshold, truth > 0.5
    union = np.logical_or(p, t).sum()
    return {"pixel_accuracy": float((p == t).mean()), "iou": float(np.logical_and(p, t).sum() / max(union, 1))}


def resize_for_net(*, image: np.ndarray, size: int = INPUT_SIZE, mask: bool = False) -> np.ndarray:
    """A square image or mask resized to the network input (area filter; nearest for masks)."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST if mask else cv2.INTER_AREA)


def face_square(*, box: tuple[float, float, float, float], scale: float = 2.2) -> tuple[float, float, float]:
    """An LFW-like framing of a face box: the square (centre x, centre y, side) ``scale`` times its larger side.

    LFW's 250x250 images are the Viola-Jones face box enlarged 2.2 times, the framing the segmenter learns.
    """
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, scale * max(x1 - x0, y1 - y0)


def crop_square(*, image: np.ndarray, square: tuple[float, float, float], size: int, mask: bool = False) -> np.ndarray:
    """Resample a square region (zero outside the image) to ``size`` x ``size``.

    Shapes:
        image (H, W[, C]) -> (size, size[, C]), same dtype.
    """
    cx, cy, side = square
    matrix = square_crop(center=(cx, cy), side=side, size=size)
    if not mask:
        return warp_affine(image=image, matrix=matrix, size=size)
    stacked = warp_affine(image=image[..., None].astype(np.uint8), matrix=matrix, size=size, antialias=False)
    return stacked.reshape(size, size)
