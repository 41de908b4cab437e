#!/usr/bin/python3
"""Reference CLIP tokenizer for imgsearchd's tests.

A faithful copy of OpenAI CLIP's clip/simple_tokenizer.py (MIT license) and of
the truncating clip.tokenize(..., truncate=True) rule, runnable with Debian's
/usr/bin/python3 (needs python3-regex).

The one difference: CLIP calls ftfy.fix_text, and ftfy is not packaged for
Debian 12. FtfyWithoutMojibakeRepair below reproduces ftfy 6.3's fix_text with
its default settings, step for step and in ftfy's order, except for
fix_encoding (mojibake repair: guessing that text was decoded with the wrong
codec and re-decoding it; with its helpers restore_byte_a0,
replace_lossy_sequences and decode_inconsistent_utf8). That step is the only
one not reproduced; it changes nothing in well-formed text. The C++ tokenizer
(indexer/tokenizer.cpp) makes the same choice.

Usage:
    tokenizer_reference.py tokenize VOCAB.gz IN.json OUT.json [CONTEXT_LENGTH]
        IN.json: a list of strings. OUT.json: a list of objects
        {"clean": cleaned lower-cased text, "encode": ids, "tokenize": ids}.
    tokenizer_reference.py html-unescape IN.json OUT.json
        OUT.json: [html.unescape(s) for s in IN], for checking the C++
        unescaper against Python's directly.
    tokenizer_reference.py ftfy-unescape IN.json OUT.json
        OUT.json: [ftfy.fixes.unescape_html(s) for s in IN] (as reproduced here).
"""

import gzip
import html
import html.entities
import itertools
import json
import re as std_re
import sys
import unicodedata

import regex as re


# ---------------------------------------------------------------------------
# ftfy 6.3 fix_text, default configuration, without fix_encoding.
# (Copied in substance from ftfy/__init__.py, ftfy/fixes.py, ftfy/chardata.py.)
# ---------------------------------------------------------------------------

def _build_html_entities():
    entities = {}
    for name, char in html.entities.html5.items():
        if name.endswith(";"):
            entities["&" + name] = char
            if name == name.lower():
                name_upper = name.upper()
                entity_upper = "&" + name_upper
                if html.unescape(entity_upper) == entity_upper:
                    entities[entity_upper] = char.upper()
    return entities


HTML_ENTITIES = _build_html_entities()
HTML_ENTITY_RE = std_re.compile(r"&#?[0-9A-Za-z]{1,24};")


def _unescape_fixup(match):
    text = match.group(0)
    if text in HTML_ENTITIES:
        return HTML_ENTITIES[text]
    elif text.startswith("&#"):
        unescaped = html.unescape(text)
        # If html.unescape only decoded part of the string, keep it as it was.
        if ";" in unescaped:
            return text
        return unescaped
    return text


def ftfy_unescape_html(text):
    return HTML_ENTITY_RE.sub(_unescape_fixup, text)


ANSI_RE = std_re.compile("\033\\[((?:\\d|;)*)([a-zA-Z])")


def remove_terminal_escapes(text):
    return ANSI_RE.sub("", text)


SINGLE_QUOTE_RE = std_re.compile("[\u02bc\u2018-\u201b]")
DOUBLE_QUOTE_RE = std_re.compile("[\u201c-\u201f]")


def uncurl_quotes(text):
    return SINGLE_QUOTE_RE.sub("'", DOUBLE_QUOTE_RE.sub('"', text))


LIGATURES = {
    ord("Ĳ"): "IJ",
    ord("ĳ"): "ij",
    ord("ŉ"): "ʼn",
    ord("Ǳ"): "DZ",
    ord("ǲ"): "Dz",
    ord("ǳ"): "dz",
    ord("Ǆ"): "DŽ",
    ord("ǅ"): "Dž",
    ord("ǆ"): "dž",
    ord("Ǉ"): "LJ",
    ord("ǈ"): "Lj",
    ord("ǉ"): "lj",
    ord("Ǌ"): "NJ",
    ord("ǋ"): "Nj",
    ord("ǌ"): "nj",
    ord("ﬀ"): "ff",
    ord("ﬁ"): "fi",
    ord("ﬂ"): "fl",
    ord("ﬃ"): "ffi",
    ord("ﬄ"): "ffl",
    ord("ﬅ"): "ſt",
    ord("ﬆ"): "st",
}


def fix_latin_ligatures(text):
    return text.translate(LIGATURES)


def _build_width_map():
    width_map = {0x3000: " "}
    for i in range(0xFF01, 0xFFF0):
        char = chr(i)
        alternate = unicodedata.normalize("NFKC", char)
        if alternate != char:
            width_map[i] = alternate
    return width_map


WIDTH_MAP = _build_width_map()


def fix_character_width(text):
    return text.translate(WIDTH_MAP)


def fix_line_breaks(text):
    return (
        text.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\u2028", "\n")
        .replace("\u2029", "\n")
        .replace("\u0085", "\n")
    )


SURROGATE_RE = std_re.compile("[\ud800-\udfff]")
SURROGATE_PAIR_RE = std_re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _convert_surrogate_pair(match):
    pair = match.group(0)
    return chr(0x10000 + (ord(pair[0]) - 0xD800) * 0x400 + (ord(pair[1]) - 0xDC00))


def fix_surrogates(text):
    if SURROGATE_RE.search(text):
        text = SURROGATE_PAIR_RE.sub(_convert_surrogate_pair, text)
        text = SURROGATE_RE.sub("\ufffd", text)
    return text


def _build_control_char_mapping():
    control_chars = {}
    for i in itertools.chain(
        range(0x00, 0x09),
        [0x0B],
        range(0x0E, 0x20),
        [0x7F],
        range(0x206A, 0x2070),
        [0xFEFF],
        range(0xFFF9, 0xFFFD),
    ):
        control_chars[i] = None
    return control_chars


CONTROL_CHARS = _build_control_char_mapping()


def remove_control_chars(text):
    return text.translate(CONTROL_CHARS)


C1_CONTROL_RE = std_re.compile(r"[\x80-\x9f]")


def _c1_fixer(match):
    # ftfy decodes with its "sloppy-windows-1252" codec: Windows-1252, except
    # that the five bytes Windows-1252 leaves undefined decode as Latin-1.
    byte = match.group(0).encode("latin-1")
    try:
        return byte.decode("windows-1252")
    except UnicodeDecodeError:
        return byte.decode("latin-1")


def fix_c1_controls(text):
    return C1_CONTROL_RE.sub(_c1_fixer, text)


FIXERS_IN_ORDER = [
    fix_c1_controls,
    fix_latin_ligatures,
    fix_character_width,
    uncurl_quotes,
    fix_line_breaks,
    fix_surrogates,
    remove_terminal_escapes,
    remove_control_chars,
]


def fix_segment(text, unescape_html):
    """ftfy.fix_and_explain without explanations and without fix_encoding."""
    if unescape_html == "auto" and "<" in text:
        unescape_html = False
    while True:
        original = text
        if unescape_html:
            text = ftfy_unescape_html(text)
        # ftfy runs fix_encoding (mojibake repair) here: not reproduced.
        for fixer in FIXERS_IN_ORDER:
            text = fixer(text)
        text = unicodedata.normalize("NFC", text)
        if text == original:
            return text


def ftfy_fix_text(text, max_decode_length=1000000):
    """ftfy.fix_text with the default TextFixerConfig, minus mojibake repair."""
    unescape_html = "auto"
    out = []
    pos = 0
    while pos < len(text):
        textbreak = text.find("\n", pos) + 1
        if textbreak == 0:
            textbreak = len(text)
        if (textbreak - pos) > max_decode_length:
            textbreak = pos + max_decode_length
        segment = text[pos:textbreak]
        if unescape_html == "auto" and "<" in segment:
            unescape_html = False
        out.append(fix_segment(segment, unescape_html))
        pos = textbreak
    return "".join(out)


# ---------------------------------------------------------------------------
# CLIP's simple_tokenizer.py, unchanged in behaviour apart from ftfy above.
# ---------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def basic_clean(text):
    text = ftfy_fix_text(text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r'\s+', ' ', text)
    text = text.strip()
    return text


class SimpleTokenizer(object):
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        merges = gzip.open(bpe_path).read().decode("utf-8").split('\n')
        merges = merges[1:49152 - 256 - 2 + 1]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + '</w>' for v in vocab]
        for merge in merges:
            vocab.append(''.join(merge))
        vocab.extend(['<|startoftext|>', '<|endoftext|>'])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {'<|startoftext|>': '<|startoftext|>', '<|endoftext|>': '<|endoftext|>'}
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + '</w>',)
        pairs = get_pairs(word)

        if not pairs:
            return token + '</w>'

        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break

                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = ' '.join(word)
        self.cache[token] = word
        return word

    def clean(self, text):
        return whitespace_clean(basic_clean(text)).lower()

    def encode(self, text):
        bpe_tokens = []
        text = self.clean(text)
        for token in re.findall(self.pat, text):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(' '))
        return bpe_tokens

    def tokenize(self, text, context_length=77):
        """clip.tokenize(text, context_length, truncate=True) for one text, as a list."""
        sot_token = self.encoder["<|startoftext|>"]
        eot_token = self.encoder["<|endoftext|>"]
        tokens = [sot_token] + self.encode(text) + [eot_token]
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot_token
        return tokens + [0] * (context_length - len(tokens))


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=True)


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "tokenize":
        tokenizer = SimpleTokenizer(argv[2])
        context_length = int(argv[5]) if len(argv) == 6 else 77
        results = [
            {"clean": tokenizer.clean(t), "encode": tokenizer.encode(t),
             "tokenize": tokenizer.tokenize(t, context_length)}
            for t in read_json(argv[3])
        ]
        write_json(argv[4], results)
    elif len(argv) == 4 and argv[1] == "html-unescape":
        write_json(argv[3], [html.unescape(t) for t in read_json(argv[2])])
    elif len(argv) == 4 and argv[1] == "ftfy-unescape":
        write_json(argv[3], [ftfy_unescape_html(t) for t in read_json(argv[2])])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
