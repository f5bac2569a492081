# Writes the images bench/preprocess/cost.sh decodes, identical for the C++ benchmark and the
# Python reference: a 256 x 256 RGB picture (smooth gradients and noise, so the codecs have
# real work) as PNG and as JPEG (quality 90), the size an ImageNet classifier is fed before
# its 224 x 224 resize. usage: make_images.py OUT_DIR
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(7)
y, x = np.mgrid[0:256, 0:256].astype(np.float32)
picture = np.stack([128 + 100 * np.sin(x / 23.0), 128 + 100 * np.cos(y / 31.0),
                    (x + y) / 2.0], axis=-1)
picture += rng.normal(0, 12, picture.shape)
image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), "RGB")
image.save(f"{out}/photo.png")
image.save(f"{out}/photo.jpg", quality=90)
