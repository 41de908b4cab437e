#!/usr/bin/python3
"""Independent reference for imgsearchd's CLIP model (run with Debian's /usr/bin/python3, torch 1.13).

An eager PyTorch implementation of CLIP's ViT architecture written after
OpenAI's CLIP model.py (same module structure, so the same parameter names),
used to:

  generate  make a model with random weights for a named config and seed, save
            it in every weights format imgsearchd loads, plus broken files for
            the error tests, fixed inputs and reference embeddings;
  bench     time the eager model on the same weights (for bench/model_bench.sh).

Layout written by `generate --config NAME --out DIR` (DIR/NAME/...):

  expected.json                 hyper-parameters, activation, mean/std, variants
  inputs/images.f32             N x 3 x R x R float32 (normalised pixel values)
  inputs/tokens.i32             M x context_length int32 token ids
  reference/<weights>_images.f32, reference/<weights>_texts.f32
                                L2-normalised embeddings, float32, row major;
                                <weights> is fp32, fp16 or bf16: the weights after
                                rounding to that precision
  openai/model.pt               OpenAI-style TorchScript archive, fp16 parameters
  f32/, f16/, bf16/             open_clip-style safetensors (+ sidecars)
  module/model.pt (+ .json)     TorchScript module with encode_image/encode_text,
                                parameter names not CLIP's, and its manifest
  broken/...                    files the loader must refuse with a clear message

The output is regenerated only when this script or its arguments change
(a stamp file records both), so a ctest fixture can call it on every run.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import struct
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
START_OF_TEXT = 49406
END_OF_TEXT = 49407

# Two configurations: one shaped like OpenAI's ViT-B/32 (every default: QuickGELU,
# heads = width / 64, OpenAI mean/std), and a small one whose non-defaults (GELU,
# 4 text heads of width 48, open_clip's mean/std) can only come from a sidecar.
CONFIGS = {
    "b32": dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                vision_patch_size=32, vision_heads=12, context_length=77, vocab_size=49408,
                text_width=512, text_heads=8, text_layers=12, activation="quick_gelu",
                mean=OPENAI_MEAN, std=OPENAI_STD),
    "small": dict(embed_dim=64, image_resolution=64, vision_layers=2, vision_width=128,
                  vision_patch_size=16, vision_heads=2, context_length=77, vocab_size=49408,
                  text_width=192, text_heads=4, text_layers=3, activation="gelu",
                  mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
}


# --------------------------------------------------------------------------
# The model (after OpenAI's CLIP model.py, ViT only)
# --------------------------------------------------------------------------

class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, activation: str, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)),
            ("gelu", QuickGELU() if activation == "quick_gelu" else nn.GELU()),
            ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)
        self.attn_mask = attn_mask  # a plain attribute, as in OpenAI's code: not a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: L x N x D
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=self.attn_mask)[0]
        x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, activation: str, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, activation, attn_mask)
                                         for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, resolution, patch, width, layers, heads, output_dim, activation):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty((resolution // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, activation)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.empty(width, output_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)                                   # N x width x grid x grid
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


class CLIP(nn.Module):
    def __init__(self, cfg, openai_buffers=False):
        super().__init__()
        self.context_len = cfg["context_length"]
        self.visual = VisionTransformer(cfg["image_resolution"], cfg["vision_patch_size"], cfg["vision_width"],
                                        cfg["vision_layers"], cfg["vision_heads"], cfg["embed_dim"],
                                        cfg["activation"])
        self.transformer = Transformer(cfg["text_width"], cfg["text_layers"], cfg["text_heads"],
                                       cfg["activation"], self.build_attention_mask())
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["text_width"])
        self.positional_embedding = nn.Parameter(torch.empty(self.context_len, cfg["text_width"]))
        self.ln_final = nn.LayerNorm(cfg["text_width"])
        self.text_projection = nn.Parameter(torch.empty(cfg["text_width"], cfg["embed_dim"]))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        if openai_buffers:  # OpenAI's published archives carry these three scalars
            self.register_buffer("input_resolution", torch.tensor(cfg["image_resolution"]))
            self.register_buffer("context_length", torch.tensor(cfg["context_length"]))
            self.register_buffer("vocab_size", torch.tensor(cfg["vocab_size"]))

    def build_attention_mask(self):
        mask = torch.empty(self.context_len, self.context_len)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        return mask

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection


class Wrapped(nn.Module):
    """A generic TorchScript module: CLIP under another name, so its parameter
    names are not the published ones and only its methods can be used."""

    def __init__(self, clip: CLIP):
        super().__init__()
        self.net = clip

    @torch.jit.export
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.net.encode_image(image)

    @torch.jit.export
    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        return self.net.encode_text(text)

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        return self.encode_image(image), self.encode_text(text)


def randomise(model: CLIP, cfg, seed: int):
    """Random weights after OpenAI's initialisation, with layer norms and biases
    perturbed too, so every tensor matters and different inputs give clearly
    different embeddings."""
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=g) * std)

    vw, tw = cfg["vision_width"], cfg["text_width"]
    normal(model.visual.conv1.weight, (3 * cfg["vision_patch_size"] ** 2) ** -0.5)
    normal(model.visual.class_embedding, vw ** -0.5)
    normal(model.visual.positional_embedding, vw ** -0.5)
    normal(model.visual.proj, vw ** -0.5)
    normal(model.token_embedding.weight, 0.02)
    normal(model.positional_embedding, 0.01)
    normal(model.text_projection, tw ** -0.5)
    for tower, width in ((model.visual.transformer, vw), (model.transformer, tw)):
        # Output projections 2 / sqrt(width), stronger than OpenAI's init, so that
        # residual branches (and so the input) move the class token clearly.
        proj_std = 2 * width ** -0.5
        for block in tower.resblocks:
            normal(block.attn.in_proj_weight, width ** -0.5)
            normal(block.attn.in_proj_bias, 0.02)
            normal(block.attn.out_proj.weight, proj_std)
            normal(block.attn.out_proj.bias, 0.02)
            normal(block.mlp.c_fc.weight, (2 * width) ** -0.5)
            normal(block.mlp.c_fc.bias, 0.02)
            normal(block.mlp.c_proj.weight, proj_std)
            normal(block.mlp.c_proj.bias, 0.02)
    for name, p in model.named_parameters():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            with torch.no_grad():
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        elif name.endswith(("ln_1.bias", "ln_2.bias", "ln_pre.bias", "ln_post.bias", "ln_final.bias")):
            normal(p, 0.1)


def build_model(cfg, seed, openai_buffers=False):
    torch.manual_seed(seed)
    model = CLIP(cfg, openai_buffers)
    randomise(model, cfg, seed)
    return model.eval()


def rounded_copy(model: CLIP, cfg, dtype, openai_buffers=False) -> CLIP:
    """The same model with every weight rounded to `dtype` and back to fp32:
    what a loader that reads fp16/bf16 tensors into fp32 must compute."""
    copy = CLIP(cfg, openai_buffers).eval()
    state = {k: (v.to(dtype).float() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    copy.load_state_dict(state, strict=False)
    return copy


# --------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------

def make_images(n, resolution, seed):
    """Seeded images with structure at several scales (a smooth random field,
    per-image colour cast, fine noise), in roughly the range of normalised pixels."""
    g = torch.Generator().manual_seed(seed)
    images = []
    for i in range(n):
        coarse = torch.randn(1, 3, 4 + i, 4 + i, generator=g)
        smooth = F.interpolate(coarse, size=(resolution, resolution), mode="bilinear", align_corners=False)[0]
        cast = torch.randn(3, 1, 1, generator=g) * 0.5
        noise = torch.randn(3, resolution, resolution, generator=g) * 0.3
        images.append((smooth + cast + noise).clamp(-2.5, 2.5))
    return torch.stack(images).contiguous()


def make_tokens(context_length, vocab_size, seed):
    """Token rows [start, random ids..., end, 0...] with end-of-text at several
    positions, the last one filling the whole context."""
    g = torch.Generator().manual_seed(seed)
    eot_positions = [1, 3, 9, 20, 40, context_length - 1]
    rows = []
    for eot in eot_positions:
        row = torch.zeros(context_length, dtype=torch.int64)
        row[0] = START_OF_TEXT
        row[1:eot] = torch.randint(1, min(vocab_size, START_OF_TEXT), (eot - 1,), generator=g)
        row[eot] = END_OF_TEXT
        rows.append(row)
    return torch.stack(rows)


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """Writes the safetensors format by hand (8-byte little-endian header length,
    JSON header, raw little-endian data), so the loader is checked against the
    format's specification rather than against itself."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def open_clip_config(cfg):
    """An open_clip_config.json as published on the Hugging Face hub."""
    return {
        "model_cfg": {
            "embed_dim": cfg["embed_dim"],
            "quick_gelu": cfg["activation"] == "quick_gelu",
            "vision_cfg": {"image_size": cfg["image_resolution"], "layers": cfg["vision_layers"],
                           "width": cfg["vision_width"], "patch_size": cfg["vision_patch_size"],
                           "head_width": cfg["vision_width"] // cfg["vision_heads"]},
            "text_cfg": {"context_length": cfg["context_length"], "vocab_size": cfg["vocab_size"],
                         "width": cfg["text_width"], "heads": cfg["text_heads"], "layers": cfg["text_layers"]},
        },
        "preprocess_cfg": {"mean": cfg["mean"], "std": cfg["std"]},
    }


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def non_default_manifest(cfg):
    """imgsearchd's own manifest keys for whatever differs from OpenAI's defaults."""
    manifest = {}
    if cfg["activation"] != "quick_gelu":
        manifest["activation"] = cfg["activation"]
    if cfg["vision_heads"] != cfg["vision_width"] // 64:
        manifest["vision_heads"] = cfg["vision_heads"]
    if cfg["text_heads"] != cfg["text_width"] // 64:
        manifest["text_heads"] = cfg["text_heads"]
    if cfg["mean"] != OPENAI_MEAN or cfg["std"] != OPENAI_STD:
        manifest["mean"], manifest["std"] = cfg["mean"], cfg["std"]
    return manifest


def save_openai_archive(model, cfg, seed, images, tokens, path):
    """Like OpenAI's published files: encode_image/encode_text traced into a
    TorchScript archive, then every floating-point parameter stored as fp16."""
    archive_model = CLIP(cfg, openai_buffers=True).eval()
    archive_model.load_state_dict(model.state_dict(), strict=False)
    traced = torch.jit.trace_module(archive_model, {"encode_image": (images[:2],), "encode_text": (tokens[:2],)},
                                    check_trace=False)
    traced = traced.half()
    torch.jit.save(traced, path)
    names = [n for n, _ in torch.jit.load(path).named_parameters()]
    expected = [n for n, _ in model.named_parameters()]
    assert names == expected, f"archive parameter names differ from CLIP's: {names[:5]}"
    assert "visual.conv1.weight" in names and "transformer.resblocks.0.attn.in_proj_weight" in names
    assert all(p.dtype == torch.float16 for _, p in torch.jit.load(path).named_parameters())


def save_module(model, path):
    scripted = torch.jit.script(Wrapped(model))
    scripted.save(path)
    names = [n for n, _ in torch.jit.load(path).named_parameters()]
    assert names[0].startswith("net."), names[0]


# --------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------

def embeddings(model, images, tokens):
    with torch.no_grad():
        return (F.normalize(model.encode_image(images), dim=-1),
                F.normalize(model.encode_text(tokens), dim=-1))


def check_inputs_are_told_apart(name, e):
    cos = e @ e.T
    off_diagonal = cos[~torch.eye(len(e), dtype=torch.bool)]
    assert off_diagonal.max() < 0.95, f"{name}: different inputs give too similar embeddings ({off_diagonal.max():.4f})"


def write_f32(path, tensor):
    tensor.contiguous().to(torch.float32).numpy().tofile(path)


def stamp_of(args):
    with open(__file__, "rb") as f:
        source = f.read()
    return hashlib.sha256(source + repr(sorted(vars(args).items())).encode()).hexdigest()


def generate(args):
    cfg = CONFIGS[args.config]
    out = os.path.join(args.out, args.config)
    stamp_path = os.path.join(out, "stamp")
    stamp = stamp_of(args)
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print(f"{out}: up to date")
        return
    if os.path.exists(out):
        shutil.rmtree(out)
    formats = set(args.formats.split(","))
    t0 = time.time()
    torch.set_num_threads(args.threads or os.cpu_count())
    model = build_model(cfg, args.seed)
    images = make_images(4, cfg["image_resolution"], args.seed + 1)
    tokens = make_tokens(cfg["context_length"], cfg["vocab_size"], args.seed + 2)

    os.makedirs(os.path.join(out, "inputs"))
    os.makedirs(os.path.join(out, "reference"))
    write_f32(os.path.join(out, "inputs", "images.f32"), images)
    tokens.to(torch.int32).numpy().tofile(os.path.join(out, "inputs", "tokens.i32"))

    rounded = {"fp32": model, "fp16": rounded_copy(model, cfg, torch.float16),
               "bf16": rounded_copy(model, cfg, torch.bfloat16)}
    for precision, m in rounded.items():
        if precision == "bf16" and "bf16" not in formats:
            continue
        image_e, text_e = embeddings(m, images, tokens)
        check_inputs_are_told_apart(f"{args.config}/{precision} images", image_e)
        check_inputs_are_told_apart(f"{args.config}/{precision} texts", text_e)
        write_f32(os.path.join(out, "reference", f"{precision}_images.f32"), image_e)
        write_f32(os.path.join(out, "reference", f"{precision}_texts.f32"), text_e)

    variants = {}  # name -> {"file": ..., "reference": precision, "format": ...}
    params = OrderedDict((n, p.detach()) for n, p in model.named_parameters())
    manifest = non_default_manifest(cfg)

    if "openai" in formats:
        os.makedirs(os.path.join(out, "openai"))
        path = os.path.join(out, "openai", "model.pt")
        save_openai_archive(model, cfg, args.seed, images, tokens, path)
        if manifest:
            write_json(path + ".json", manifest)
        variants["openai"] = {"file": "openai/model.pt", "reference": "fp16", "format": "openai-torchscript"}

    for precision, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        if precision not in formats:
            continue
        os.makedirs(os.path.join(out, precision))
        if precision == "f16" and manifest:
            # Our own manifest instead of open_clip's config, for one variant.
            path = os.path.join(out, precision, "model.safetensors")
            write_json(path + ".json", dict(manifest, activation=cfg["activation"]))
        else:
            path = os.path.join(out, precision, "open_clip_model.safetensors")
            write_json(os.path.join(out, precision, "open_clip_config.json"), open_clip_config(cfg))
        write_safetensors(path, OrderedDict((n, p.to(dtype)) for n, p in params.items()), {"format": "pt"})
        variants[precision] = {"file": os.path.relpath(path, out),
                               "reference": {"f32": "fp32", "f16": "fp16", "bf16": "bf16"}[precision],
                               "format": "open_clip-safetensors"}

    if "module" in formats:
        os.makedirs(os.path.join(out, "module"))
        path = os.path.join(out, "module", "model.pt")
        save_module(model, path)
        module_manifest = {"image_resolution": cfg["image_resolution"], "context_length": cfg["context_length"],
                           "mean": cfg["mean"], "std": cfg["std"]}
        if args.config == "b32":  # the small config leaves embed_dim to the loader's probe run
            module_manifest["embed_dim"] = cfg["embed_dim"]
        write_json(path + ".json", module_manifest)
        variants["module"] = {"file": "module/model.pt", "reference": "fp32", "format": "torchscript-module"}

    if "broken" in formats:
        write_broken_files(model, cfg, params, os.path.join(out, "broken"))

    expected = dict(cfg)
    expected["variants"] = variants
    expected["num_images"], expected["num_texts"] = len(images), len(tokens)
    write_json(os.path.join(out, "expected.json"), expected)
    with open(stamp_path, "w") as f:
        f.write(stamp)
    print(f"{out}: generated in {time.time() - t0:.1f} s")


def write_broken_files(model, cfg, params, folder):
    """Files the loader must refuse, each with a message naming what is wrong."""
    os.makedirs(folder)
    g = torch.Generator().manual_seed(7)
    with open(os.path.join(folder, "random.bin"), "wb") as f:
        f.write(torch.randint(0, 256, (100_000,), generator=g, dtype=torch.uint8).numpy().tobytes())

    good = os.path.join(folder, "good.safetensors")
    write_safetensors(good, params)
    with open(good, "rb") as f:
        data = f.read()
    with open(os.path.join(folder, "truncated.safetensors"), "wb") as f:
        f.write(data[: len(data) // 2])
    os.remove(good)

    wrong = OrderedDict(params)
    name = "transformer.resblocks.1.mlp.c_fc.weight"
    wrong[name] = wrong[name][:, :-1]  # one column short
    write_safetensors(os.path.join(folder, "wrong_shape.safetensors"), wrong)

    missing = OrderedDict((n, p) for n, p in params.items() if n != "visual.ln_post.bias")
    write_safetensors(os.path.join(folder, "missing_tensor.safetensors"), missing)

    archive = os.path.join(folder, "truncated.pt")
    torch.jit.save(torch.jit.script(Wrapped(model)), archive)
    with open(archive, "rb") as f:
        data = f.read()
    with open(archive, "wb") as f:
        f.write(data[: len(data) // 2])

    # A valid TorchScript module with encode_image/encode_text but no manifest.
    torch.jit.save(torch.jit.script(Wrapped(model)), os.path.join(folder, "module_without_manifest.pt"))

    # A TorchScript archive that is not CLIP at all.
    torch.jit.save(torch.jit.script(nn.Linear(4, 2)), os.path.join(folder, "not_clip.pt"))


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------

def load_openai_archive(path, cfg):
    state = {k: v.float() if v.is_floating_point() else v for k, v in torch.jit.load(path).state_dict().items()}
    model = CLIP(cfg).eval()
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    return model


def bench(args):
    cfg = CONFIGS[args.config]
    torch.set_num_threads(args.threads or os.cpu_count())
    model = load_openai_archive(args.weights, cfg)
    res = cfg["image_resolution"]
    result = {"threads": torch.get_num_threads(), "images_per_second": {}, "images_per_second_median": {}}
    with torch.no_grad():
        for batch in [int(b) for b in args.batches.split(",")]:
            images = make_images(batch, res, 1)
            model.encode_image(images)  # warm-up
            rates = []  # best and median of several windows, as bench_model does
            for _ in range(args.windows):
                done, start = 0, time.perf_counter()
                while done == 0 or time.perf_counter() - start < args.seconds / args.windows:
                    model.encode_image(images)
                    done += batch
                rates.append(done / (time.perf_counter() - start))
            rates.sort()
            result["images_per_second"][str(batch)] = rates[-1]
            result["images_per_second_median"][str(batch)] = rates[len(rates) // 2]
        # A single query of a few words, padded to the context as CLIP does.
        tokens = make_tokens(cfg["context_length"], cfg["vocab_size"], 3)[2:3]
        model.encode_text(tokens)
        latencies = []
        for _ in range(args.queries):
            start = time.perf_counter()
            model.encode_text(tokens)
            latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    result["text_ms_p50"] = latencies[len(latencies) // 2]
    result["text_ms_p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="make random-weight models, inputs and reference embeddings")
    g.add_argument("--config", choices=sorted(CONFIGS), required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=1234)
    g.add_argument("--formats", default="openai,f32,f16,bf16,module,broken",
                   help="comma-separated subset of openai,f32,f16,bf16,module,broken")
    g.add_argument("--threads", type=int, default=0)
    b = sub.add_parser("bench", help="time the eager reference on an OpenAI-style archive")
    b.add_argument("--config", choices=sorted(CONFIGS), required=True)
    b.add_argument("--weights", required=True)
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--batches", default="1,8,16,32")
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--windows", type=int, default=5)
    b.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    if args.command == "generate":
        generate(args)
    else:
        bench(args)


if __name__ == "__main__":
    sys.exit(main())
