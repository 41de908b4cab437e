#!/usr/bin/python3
"""CLIP's image preprocessing with Pillow and torchvision: the reference the
C++ loader (indexer/image_loader.cpp) is compared with.

The recipe is OpenAI CLIP's `_transform`: open, apply the EXIF orientation,
convert("RGB") (which drops alpha without compositing), Resize(res, BICUBIC)
on the short side, CenterCrop(res), ToTensor, Normalize(mean, std).

Inputs are files, or folders whose files are all taken. Each input file is
known by its key, "<folder name>/<file name>" (e.g. "coco-val/000000000139.jpg").
For every resolution asked for and every file it writes, into --out:
  <res>/<key>.crop.u8    res x res x 3 bytes: the centre crop before ToTensor (HWC)
  <res>/<key>.norm.f32   3 x res x res little-endian float32: the normalised tensor (CHW)
and one line to <out>/<res>/index.tsv: "<key>\tok" or "<key>\terror\t<message>".

Run with Debian's /usr/bin/python3 (python3-pil, python3-torchvision).
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageOps
from torchvision import transforms
from torchvision.transforms import InterpolationMode

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def expand_folders(inputs):
    for path in inputs:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if os.path.isfile(os.path.join(path, name)):
                    yield os.path.join(path, name)
        else:
            yield path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, nargs="+", default=[224], help="model input sizes")
    parser.add_argument("--out", required=True, help="folder for the outputs (created)")
    parser.add_argument("inputs", nargs="+", help="image files, or folders of them")
    args = parser.parse_args()

    to_normalised = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize(CLIP_MEAN, CLIP_STD),
    ])
    index_lines = {res: [] for res in args.resolution}
    for path in expand_folders(args.inputs):
        key = os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))
        try:
            with Image.open(path) as image:
                rgb = ImageOps.exif_transpose(image).convert("RGB")
        except Exception as error:  # the reference records every failure, whatever its type
            message = f"{type(error).__name__}: {error}".replace("\t", " ").replace("\n", " ")
            for res in args.resolution:
                index_lines[res].append(f"{key}\terror\t{message}")
            continue
        for res in args.resolution:
            crop = transforms.CenterCrop(res)(transforms.Resize(res, interpolation=InterpolationMode.BICUBIC)(rgb))
            hwc = np.asarray(crop, dtype=np.uint8)
            assert hwc.shape == (res, res, 3), (path, hwc.shape)
            stem = os.path.join(args.out, str(res), key)
            os.makedirs(os.path.dirname(stem), exist_ok=True)
            hwc.tofile(stem + ".crop.u8")
            to_normalised(crop).numpy().astype("<f4").tofile(stem + ".norm.f32")
            index_lines[res].append(f"{key}\tok")

    for res, lines in index_lines.items():
        os.makedirs(os.path.join(args.out, str(res)), exist_ok=True)
        with open(os.path.join(args.out, str(res), "index.tsv"), "w", encoding="utf-8") as index:
            index.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
