"""Monitor a VAE checkpoint: PSNR of the round trip on a real photo vs. 8x bicubic down/up (information only)."""

import math
import sys

import cv2
import numpy as np
import torch
from safetensors.torch import load_file

from mirage_world.models.tiny import make_tiny_vae

torch.set_num_threads(1)
v = make_tiny_vae()
v.load_state_dict(load_file(sys.argv[1]))
v.eval()
for name in ["TUM_color.png", "SUN_color.jpg"]:
    im = cv2.cvtColor(cv2.imread(f"../shared/data/real/rgbd/{name}"), cv2.COLOR_BGR2RGB)
    im = cv2.resize(im, (256, 192), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    x = torch.from_numpy(im).permute(2, 0, 1)[None, :, None] * 2 - 1
    with torch.no_grad():
        y = v.decode(v.encode(x).latent_dist.mode()).sample
    rec = ((y[0, :, 0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)
    d = cv2.resize(im, (32, 24), interpolation=cv2.INTER_AREA)
    u = cv2.resize(d, (256, 192), interpolation=cv2.INTER_CUBIC)
    print(name, "vae psnr %.2f" % (10 * math.log10(1 / ((rec - im) ** 2).mean())), "bicubic8x %.2f" % (10 * math.log10(1 / ((u - im) ** 2).mean())))
