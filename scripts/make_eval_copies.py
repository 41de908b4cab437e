#!/usr/bin/env python3
"""An evaluation set whose answers are known: re-encoded copies of indexed photos.

    scripts/make_eval_copies.py PHOTO_FOLDER OUT_FOLDER

Writes OUT_FOLDER/copies/NAME.jpg for every JPEG of PHOTO_FOLDER (JPEG quality
50; every other one also resized to 70 %) and OUT_FOLDER/copies-eval.json, whose
queries are the copies and whose ground truth is each original. Index
PHOTO_FOLDER, then `imgsearchd eval OUT_FOLDER/copies-eval.json`: Recall@1 must
be 1. Needs Pillow (Debian: python3-pil).
"""
import json
import pathlib
import sys

from PIL import Image


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source = pathlib.Path(sys.argv[1]).resolve()
    out = pathlib.Path(sys.argv[2])
    (out / "copies").mkdir(parents=True, exist_ok=True)
    queries = []
    for i, photo in enumerate(sorted(source.glob("*.jpg"))):
        image = Image.open(photo).convert("RGB")
        if i % 2:
            image = image.resize((image.width * 7 // 10, image.height * 7 // 10), Image.BICUBIC)
        image.save(out / "copies" / photo.name, quality=50)
        queries.append({"query_id": photo.stem, "image": f"copies/{photo.name}", "ground_truth": [str(photo)]})
    (out / "copies-eval.json").write_text(json.dumps({"queries": queries}, indent=1))
    print(f"{len(queries)} queries written to {out / 'copies-eval.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
