#!/usr/bin/python3
"""Pillow's side of the decode benchmark (bench/decode_bench.sh): for every
file below --files, the core-ms of CLIP's preprocessing with Pillow and
torchvision, two ways, best of --repeat:

  draft   Image.draft("RGB", (res, res)) first: libjpeg's DCT scaling to the
          smallest size at least res x res (JPEG only; other formats decode
          in full), then the recipe below. The fast reference.
  full    CLIP's recipe as published: full decode, exif_transpose,
          convert("RGB"), Resize(res, BICUBIC), CenterCrop(res), ToTensor,
          Normalize.

The full recipe's 8-bit crop is written to --reference/<relative path>.crop.u8
(res x res x 3, HWC), which bench_decode compares its own crop with; the
draft crop's mean absolute difference from it is printed too (how far Pillow's
own fast path is from the recipe). One JSON line per file. Formats Pillow 9.4
cannot read (HEIC) are reported with "error".

Run with Debian's /usr/bin/python3 (python3-pil, python3-torchvision).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision import transforms
from torchvision.transforms import InterpolationMode

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def preprocess(path, res, draft, to_tensor):
    with Image.open(path) as image:
        if draft:
            image.draft("RGB", (res, res))
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    crop = transforms.CenterCrop(res)(transforms.Resize(res, interpolation=InterpolationMode.BICUBIC)(rgb))
    to_tensor(crop)
    return crop


def best_core_ms(path, res, draft, to_tensor, repeat):
    best = float("inf")
    crop = None
    for _ in range(repeat):
        start = time.process_time()
        crop = preprocess(path, res, draft, to_tensor)
        best = min(best, (time.process_time() - start) * 1000.0)
    return best, np.asarray(crop, dtype=np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", required=True, help="folder of images (taken recursively)")
    parser.add_argument("--reference", required=True, help="folder for the full recipe's crops")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CLIP_MEAN, CLIP_STD)])

    paths = []
    for folder, _, names in os.walk(args.files, followlinks=True):
        paths += [os.path.join(folder, name) for name in names]
    for path in sorted(paths):
        key = os.path.relpath(path, args.files)
        row = {"file": key}
        try:
            row["draft_core_ms"], draft_crop = best_core_ms(path, args.resolution, True, to_tensor, args.repeat)
            row["full_core_ms"], full_crop = best_core_ms(path, args.resolution, False, to_tensor, args.repeat)
        except Exception as error:  # a format Pillow lacks (HEIC): reported, not fatal
            row["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(row), flush=True)
            continue
        out = os.path.join(args.reference, key + ".crop.u8")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        full_crop.tofile(out)
        row["draft_mad_vs_full"] = float(np.abs(draft_crop.astype(int) - full_crop.astype(int)).mean() / 255.0)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
