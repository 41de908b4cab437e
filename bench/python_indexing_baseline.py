#!/usr/bin/python3
"""The Python baseline for the indexing benchmark (DESIGN.md: indexing must
reach >= 3x "a straightforward Python loop (Pillow full decode, torchvision
preprocessing, batch 1) on the same weights").

For each photo, one at a time: Pillow opens and fully decodes it (no draft
mode, so no JPEG DCT scaling), applies the EXIF orientation, converts to RGB;
torchvision does CLIP's preprocessing (bicubic resize of the short side,
centre crop, to tensor, CLIP mean/std); the model embeds it at batch size 1.
Prints images/s over the whole loop (model loading and a warm-up call are not
counted), and how that time splits between decoding+preprocessing and the model.

Run it with Debian's Python, which has torch, torchvision and Pillow:
    bench/fetch_photos.sh
    /usr/bin/python3 bench/python_indexing_baseline.py --weights bench/data/model/b32/openai/model.pt
(bench/indexing_bench.sh makes those weights and runs this beside imgsearchd.)

Weights: see build_model(), the only function that knows how a model is made.
"""
import argparse
import json
import os
import pathlib
import sys
import time

import torch
from PIL import Image, ImageOps
from torchvision import transforms

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HERE = pathlib.Path(__file__).resolve().parent


def build_model(weights_path, config):
    """Makes the CLIP model from a weights file; returns (encode_image, resolution).

    The eager PyTorch CLIP of tests/reference/clip_reference.py (the project's
    independent reference, written after OpenAI's model.py), with the weights
    of an OpenAI-style TorchScript archive (fp16 as published, made fp32 on
    the CPU): the same weights imgsearchd loads. `config` names the
    architecture in clip_reference.CONFIGS ("b32" for ViT-B/32).
    """
    sys.path.insert(0, str(HERE.parent / "tests" / "reference"))
    import clip_reference

    if config not in clip_reference.CONFIGS:
        sys.exit(f"unknown --config {config}; known: {', '.join(sorted(clip_reference.CONFIGS))}")
    cfg = clip_reference.CONFIGS[config]
    model = clip_reference.load_openai_archive(str(weights_path), cfg)

    def encode_image(batch):
        return model.encode_image(batch)

    return encode_image, cfg["image_resolution"]


def clip_preprocess(resolution):
    return transforms.Compose([
        transforms.Resize(resolution, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(resolution),
        transforms.ToTensor(),
        transforms.Normalize(CLIP_MEAN, CLIP_STD),
    ])


def load_rgb(path):
    with Image.open(path) as image:
        image.load()  # full decode
        return ImageOps.exif_transpose(image).convert("RGB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, type=pathlib.Path, help="CLIP weights (see build_model)")
    parser.add_argument("--config", default="b32", help="architecture of the weights (see build_model; default b32)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--photos", type=pathlib.Path, default=HERE / "data" / "photos",
                        help="folder of JPEGs (default: bench/data/photos from fetch_photos.sh)")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many photos (0: all)")
    parser.add_argument("--repeat", type=int, default=1, help="go over the photos this many times")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: every core this process may use, as imgsearchd does)")
    parser.add_argument("--resolution", type=int, default=0, help="override the model's input resolution")
    args = parser.parse_args()

    if not args.weights.is_file():
        sys.exit(f"{args.weights}: no such weights file")
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")) \
        if args.photos.is_dir() else []
    if args.limit:
        photos = photos[:args.limit]
    if not photos:
        sys.exit(f"no JPEGs in {args.photos}; run bench/fetch_photos.sh first")
    # Set explicitly: Debian's torch may start with one OpenMP thread, which
    # would make the baseline look slower than it is.
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))

    encode_image, resolution = build_model(args.weights, args.config)
    if args.resolution:
        resolution = args.resolution
    preprocess = clip_preprocess(resolution)

    with torch.no_grad():
        # Warm-up, not timed: the first calls allocate and tune.
        for _ in range(2):
            encode_image(torch.zeros(1, 3, resolution, resolution))

        decode_seconds = model_seconds = 0.0
        count = 0
        start = time.perf_counter()
        for _ in range(args.repeat):
            for path in photos:
                t0 = time.perf_counter()
                batch = preprocess(load_rgb(path)).unsqueeze(0)
                t1 = time.perf_counter()
                embedding = encode_image(batch)
                embedding = embedding / embedding.norm(dim=-1, keepdim=True)
                t2 = time.perf_counter()
                decode_seconds += t1 - t0
                model_seconds += t2 - t1
                count += 1
        total = time.perf_counter() - start

    if args.json:
        print(json.dumps({"images": count, "seconds": total, "images_per_second": count / total,
                          "decode_ms_per_image": decode_seconds / count * 1000,
                          "model_ms_per_image": model_seconds / count * 1000,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}))
        return
    print(f"python baseline: {count} images in {total:.2f} s: {count / total:.2f} images/s "
          f"(decode+preprocess {decode_seconds / count * 1000:.0f} ms/image, "
          f"model {model_seconds / count * 1000:.0f} ms/image; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, resolution {resolution})")


if __name__ == "__main__":
    main()
