#!/usr/bin/python3
"""Independent PyTorch reference for moxing's Hugging Face and PEFT interchange.

    go test ./models/gpt -run TestSaveHFReference -update   # the folders
    /usr/bin/python3 tools/reference/hf_interchange.py      # from the repository root

1. Reads the folders moxing's gpt.SaveHF wrote in testdata/hf_export/ (lm:
   GPT2LMHeadModel with GPT-2's vocab.json and merges.txt; classifier:
   GPT2ForSequenceClassification with a character tokenizer.json) the way
   transformers does: config.json (GPT2Config's fields), model.safetensors
   (which must carry "format": "pt"), the tokenizer files. It runs a GPT-2
   written here from transformers' definition (Conv1D, gelu_new, tied head,
   layer_norm_epsilon from the config) on a fixed batch and writes
   testdata/hf_export/<name>_reference.json: the batch, the logits, and the
   ids its own tokenizer (GPT-2's BPE by merge rank, as GPT2Tokenizer.bpe;
   a merge-less BPE over characters, as tokenizers' BPE model) gives a text.
2. Writes a PEFT LoRA adapter folder for testdata/hf_export/lm from PEFT's
   documented checkpoint format (docs/source/developer_guides/checkpoint.md:
   adapter_config.json with LoraConfig's fields; adapter_model.safetensors
   with keys "base_model.model.<module>.lora_A.weight" (r, in) and
   "...lora_B.weight" (out, r), the adapter name "default" left out), into
   testdata/peft_reference/, and the logits of the adapted model (y = x W +
   b + (alpha/r) x A^T B^T on each targeted Conv1D) into
   testdata/peft_reference_logits.json.

transformers, peft, safetensors and tokenizers are not installed here (no
pip), so the formats are read and written by hand with struct and json.
Needs python3-torch (Debian).
"""
import json
import math
import os
import re
import struct

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXPORT = os.path.join(ROOT, "testdata", "hf_export")
PEFT_DIR = os.path.join(ROOT, "testdata", "peft_reference")


def read_safetensors(path):
    """Returns (metadata, {name: float32 tensor}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        begin, end = e["data_offsets"]
        buf = bytearray(data[8 + n + begin:8 + n + end])
        tensors[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(e["shape"]).clone() if buf else torch.zeros(e["shape"])
    return metadata, tensors


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        b = tensors[name].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("wrote", os.path.relpath(path, ROOT))


def floats(t):
    """t's values as a list, each to the 9 significant digits that give its
    float32 back exactly."""
    return [float("%.9g" % v) for v in t.flatten().tolist()]


def gelu_new(x):
    # transformers' NewGELUActivation, GPT-2's activation_function "gelu_new".
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2:
    """GPT2Model / GPT2LMHeadModel / GPT2ForSequenceClassification forward,
    from transformers' modeling_gpt2, on a state dict; lora maps a Conv1D's
    module name to its (A, B, scale)."""

    def __init__(self, config, state, lora=None):
        assert config["model_type"] == "gpt2"
        assert config.get("activation_function", "gelu_new") == "gelu_new"
        assert config.get("n_inner") is None
        assert config.get("scale_attn_weights", True) and not config.get("scale_attn_by_inverse_layer_idx", False)
        self.c, self.s, self.lora = config, state, lora or {}
        self.eps = config.get("layer_norm_epsilon", 1e-5)

    def w(self, name):
        return self.s["transformer." + name]

    def conv1d(self, x, name):
        y = x @ self.w(name + ".weight") + self.w(name + ".bias")
        if name in self.lora:
            a, b, scale = self.lora[name]
            y = y + (x @ a.t()) @ b.t() * scale
        return y

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w(name + ".weight"), self.w(name + ".bias"), self.eps)

    def hidden(self, idx):
        b, t = idx.shape
        ch, nh = self.c["n_embd"], self.c["n_head"]
        d = ch // nh
        x = self.w("wte.weight")[idx] + self.w("wpe.weight")[torch.arange(t)]
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        for i in range(self.c["n_layer"]):
            h = f"h.{i}."
            q, k, v = self.conv1d(self.ln(x, h + "ln_1"), h + "attn.c_attn").split(ch, dim=2)
            q, k, v = (z.reshape(b, t, nh, d).permute(0, 2, 1, 3) for z in (q, k, v))  # (B, H, T, D)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            att = torch.where(causal, att, torch.finfo(att.dtype).min).softmax(-1)
            y = (att @ v).permute(0, 2, 1, 3).reshape(b, t, ch)
            x = x + self.conv1d(y, h + "attn.c_proj")
            m = gelu_new(self.conv1d(self.ln(x, h + "ln_2"), h + "mlp.c_fc"))
            x = x + self.conv1d(m, h + "mlp.c_proj")
        return self.ln(x, "ln_f")

    def lm_logits(self, idx):
        assert self.c.get("tie_word_embeddings", True)
        return self.hidden(idx) @ self.w("wte.weight").t()  # lm_head tied to wte

    def classify(self, idx):
        # No pad_token_id: every row is a whole text, its last token pools.
        return self.hidden(idx)[:, -1] @ self.s["score.weight"].t()


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# GPT-2's pattern restricted to ASCII text (Python's re has no \p{L}).
ASCII_PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def gpt2_encode(folder, text):
    """GPT2Tokenizer's encoding: byte alphabet, then merges by rank."""
    vocab = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(folder, "merges.txt"), encoding="utf-8").read().split("\n")
    assert lines[0].startswith("#version")
    ranks = {tuple(l.split(" ")): i for i, l in enumerate(x for x in lines[1:] if x)}
    b2u = bytes_to_unicode()
    ids = []
    for piece in ASCII_PAT.findall(text):
        word = [b2u[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pairs = [(ranks.get((word[i], word[i + 1]), math.inf), i) for i in range(len(word) - 1)]
            r, i = min(pairs)
            if r == math.inf:
                break
            word = word[:i] + [word[i] + word[i + 1]] + word[i + 2:]
        ids += [vocab[w] for w in word]
    return ids


def char_encode(folder, text):
    """tokenizers' BPE model without merges or pre-tokenizer: one token per
    character."""
    tj = json.load(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8"))
    m = tj["model"]
    assert m["type"] == "BPE" and not m["merges"] and tj["pre_tokenizer"] is None and tj["normalizer"] is None
    return [m["vocab"][ch] for ch in text]


def load_folder(name):
    folder = os.path.join(EXPORT, name)
    config = json.load(open(os.path.join(folder, "config.json")))
    metadata, state = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert metadata.get("format") == "pt", metadata  # transformers refuses anything else
    return folder, config, metadata, state


def export_reference():
    torch.manual_seed(0)
    for name, text in (("lm", "the cat sat on the mat, then the dog sat."), ("classifier", "hello moxing world!")):
        folder, config, metadata, state = load_folder(name)
        model = GPT2(config, state)
        batch = torch.randint(0, config["vocab_size"], (2, config["n_positions"]))
        if config["architectures"] == ["GPT2ForSequenceClassification"]:
            logits = model.classify(batch)
            ids = char_encode(folder, text)
        else:
            assert config["architectures"] == ["GPT2LMHeadModel"] and "lm_head.weight" not in state
            logits = model.lm_logits(batch)
            ids = gpt2_encode(folder, text)
        out = {"batch": batch.tolist(), "logits": floats(logits), "text": text, "text_ids": ids,
               "safetensors_format": metadata["format"]}
        path = os.path.join(EXPORT, name + "_reference.json")
        with open(path, "w") as f:
            json.dump(out, f)
        print("wrote", os.path.relpath(path, ROOT), "logits", list(logits.shape))


# A LoRA adapter as PEFT's save_pretrained writes one for GPT-2 (CAUSAL_LM).
PEFT_CONFIG = {
    "base_model_name_or_path": "testdata/hf_export/lm",
    "bias": "none",
    "fan_in_fan_out": True,
    "inference_mode": True,
    "init_lora_weights": True,
    "layers_pattern": None,
    "layers_to_transform": None,
    "lora_alpha": 4,
    "lora_dropout": 0.0,
    "modules_to_save": None,
    "peft_type": "LORA",
    "r": 2,
    "revision": None,
    "target_modules": ["c_attn", "c_proj"],  # PEFT matches these as suffixes: attn.c_attn, attn.c_proj, mlp.c_proj
    "task_type": "CAUSAL_LM",
}


def peft_reference():
    torch.manual_seed(1)
    _, config, _, state = load_folder("lm")
    r, scale = PEFT_CONFIG["r"], PEFT_CONFIG["lora_alpha"] / PEFT_CONFIG["r"]
    lora, tensors = {}, {}
    for i in range(config["n_layer"]):
        for module in ("attn.c_attn", "attn.c_proj", "mlp.c_proj"):
            name = f"h.{i}.{module}"
            nin, nout = state["transformer." + name + ".weight"].shape  # Conv1D: (in, out)
            a, b = torch.randn(r, nin) * 0.3, torch.randn(nout, r) * 0.3
            lora[name] = (a, b, scale)
            tensors[f"base_model.model.transformer.{name}.lora_A.weight"] = a
            tensors[f"base_model.model.transformer.{name}.lora_B.weight"] = b
    os.makedirs(PEFT_DIR, exist_ok=True)
    with open(os.path.join(PEFT_DIR, "adapter_config.json"), "w") as f:
        json.dump(PEFT_CONFIG, f, indent=2, sort_keys=True)
    print("wrote", os.path.relpath(os.path.join(PEFT_DIR, "adapter_config.json"), ROOT))
    write_safetensors(os.path.join(PEFT_DIR, "adapter_model.safetensors"), tensors, {"format": "pt"})
    batch = torch.randint(0, config["vocab_size"], (2, config["n_positions"]))
    logits = GPT2(config, state, lora).lm_logits(batch)
    path = os.path.join(ROOT, "testdata", "peft_reference_logits.json")
    with open(path, "w") as f:
        json.dump({"batch": batch.tolist(), "logits": floats(logits)}, f)
    print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    torch.set_num_threads(1)
    export_reference()
    peft_reference()
