"""EDGE's DanceDecoder: a FiLM-conditioned transformer decoder that predicts x0 from (x_t, music, t).

The module tree mirrors EDGE's ``model/model.py`` so that EDGE checkpoints load with ``load_state_dict(strict=True)``:
parameter names and shapes (including the shared rotary buffer that EDGE registers under every layer) are identical.
The implementation is our own; attention goes through ``F.scaled_dot_product_attention`` so that the sampling path
(no grad) and the learner path (grad) run the same kernels, which keeps recomputed log-probabilities bit-identical.

Layout: music (B,T,C) → ``cond_projection`` → 2 pre-norm encoder layers → tokens; mean-pooled tokens →
``non_attn_cond_projection`` → FiLM vector (+ time). Motion (B,T,151) → ``input_projection`` → N decoder layers, each
``x += FiLM(SA(LN x)); x += FiLM(CA(LN x, memory)); x += FiLM(FF(LN x))`` with memory = LN([tokens; 2 time tokens]).
Rotary position embedding is applied to the full-width queries/keys (before the in-projection), as EDGE does.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from dance_rl.config import MODEL_PRESETS, ModelConfig
from dance_rl.music.features import SPECTRAL

_DEFAULT = ModelConfig()  # the demo preset: the config tree is the one source of sizes and presets


@dataclass
class ModelSpec:
    """Everything needed to rebuild a DanceDecoder (stored in checkpoints); the defaults are ``ModelConfig()``'s."""
    nfeats: int = _DEFAULT.nfeats
    seq_len: int = _DEFAULT.seq_len
    latent_dim: int = _DEFAULT.latent_dim
    ff_size: int = _DEFAULT.ff_size
    num_layers: int = _DEFAULT.num_layers
    num_heads: int = _DEFAULT.num_heads
    dropout: float = _DEFAULT.dropout
    cond_dim: int = _DEFAULT.cond_dim
    music_cmn: bool = _DEFAULT.music_cmn

    @classmethod
    def preset(cls, name: str, **overrides) -> "ModelSpec":
        """A named preset of ``dance_rl.config.MODEL_PRESETS`` (sizes and dropout), with keyword overrides."""
        return cls(**{**MODEL_PRESETS[name], **overrides})

    @classmethod
    def from_config(cls, model_cfg) -> "ModelSpec":
        """The spec of a ``ModelConfig`` (every ModelSpec field is a ModelConfig field of the same name)."""
        return cls(**{f.name: getattr(model_cfg, f.name) for f in fields(cls)})

    def to_dict(self) -> dict:
        return asdict(self)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over the whole feature width ('lang' frequencies, interleaved pairs)."""

    def __init__(self, dim: int, theta: float = 10000.0):
        super().__init__()
        self.register_buffer("freqs", 1.0 / theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
        self._cache: dict = {}

    def _cos_sin(self, n: int, like: torch.Tensor):
        key = (n, like.device, like.dtype)
        if key not in self._cache:
            ang = torch.arange(n, device=like.device, dtype=self.freqs.dtype)[:, None] * self.freqs.to(like.device)
            ang = ang.repeat_interleave(2, dim=-1)
            self._cache[key] = (ang.cos().to(like.dtype), ang.sin().to(like.dtype))
        return self._cache[key]

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., n, dim): rotate each (even, odd) feature pair by its position-dependent angle."""
        cos, sin = self._cos_sin(x.shape[-2], x)
        pairs = x.unflatten(-1, (-1, 2))
        rot = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * cos + rot * sin


class Attention(nn.Module):
    """Multi-head attention with nn.MultiheadAttention's parameter names (in_proj_*, out_proj)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        wq, wk, wv = self.in_proj_weight.chunk(3)
        bq, bk, bv = self.in_proj_bias.chunk(3)
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, H, n, d/H)
        out = F.scaled_dot_product_attention(split(F.linear(q, wq, bq)), split(F.linear(k, wk, bk)),
                                             split(F.linear(v, wv, bv)),
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).flatten(-2))


class DenseFiLM(nn.Module):
    """Mish → Linear(d, 2d) → (scale, shift); applied as (scale + 1)·h + shift."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(nn.Mish(), nn.Linear(dim, 2 * dim))

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.block(cond)[:, None, :].chunk(2, dim=-1)
        return (scale + 1.0) * h + shift


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with rotary self-attention (EDGE's music encoder)."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, rotary: RotaryEmbedding):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(dim, ff), nn.Linear(ff, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.rotary = rotary  # shared module: EDGE's state dict lists its buffer under every layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        qk = self.rotary.rotate(h)
        x = x + self.drop(self.self_attn(qk, qk, h))
        return x + self.drop(self.linear2(self.drop(F.gelu(self.linear1(self.norm2(x))))))


class FiLMDecoderLayer(nn.Module):
    """Pre-norm decoder layer; every sublayer output is FiLM-modulated by the (time + music) vector."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, rotary: RotaryEmbedding):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.multihead_attn = Attention(dim, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(dim, ff), nn.Linear(ff, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.film1, self.film2, self.film3 = DenseFiLM(dim), DenseFiLM(dim), DenseFiLM(dim)
        self.drop = nn.Dropout(dropout)
        self.rotary = rotary

    def forward(self, x: torch.Tensor, memory: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        qk = self.rotary.rotate(h)
        x = x + self.film1(self.drop(self.self_attn(qk, qk, h)), film)
        h = self.norm2(x)
        x = x + self.film2(self.drop(self.multihead_attn(self.rotary.rotate(h), self.rotary.rotate(memory), memory)), film)
        ff = self.drop(self.linear2(self.drop(F.gelu(self.linear1(self.norm3(x))))))
        return x + self.film3(ff, film)


class SinusoidalPosEmb(nn.Module):
    """Diffusion-step embedding: [sin(t·f), cos(t·f)], f = 10000^(-i/(d/2-1))."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        f = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000.0) / (half - 1)))
        a = t.float()[:, None] * f[None, :]
        return torch.cat((a.sin(), a.cos()), dim=-1)


class TimeTokens(nn.Module):
    """(B, 2d) → (B, 2, d): EDGE's two time tokens appended to the cross-attention memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (2, -1))


class DecoderStack(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.stack = nn.ModuleList(layers)


def music_mean_normalized(cond: torch.Tensor) -> torch.Tensor:
    """(B,T,35) features with each window's mean MFCC and chroma subtracted (cepstral mean normalisation).

    Why: the demo corpus's music is synthesised, and real songs differ from it mostly in their average timbre and
    key (per-window means several corpus SDs away): through the mean-pooled FiLM vector that pushes the demo model
    into poses it never learnt (lying in the air, 1 m up; docs/results.md, session 17). Removing the means keeps the
    changes within the window (what a dancer follows) and makes the model indifferent to gain, EQ and key; onset and
    beat channels stay. Opt-in (model.music_cmn): on the demo corpus it grounds the model but doubles its skating.
    """
    spectral = cond[..., SPECTRAL]
    return torch.cat([cond[..., :SPECTRAL.start], spectral - spectral.mean(dim=-2, keepdim=True),
                      cond[..., SPECTRAL.stop:]], dim=-1)


class DanceDecoder(nn.Module):
    """x0-predicting denoiser, callable as ``model(x, cond, t)`` like EDGE's.

    x: (B, T, nfeats) normalised motion at noise level t; cond: (B, T, cond_dim) music features; t: (B,) timesteps.
    """

    def __init__(self, spec: ModelSpec | None = None, **kwargs):
        super().__init__()
        spec = spec or ModelSpec(**kwargs)
        if spec.music_cmn and spec.cond_dim != 35:
            raise ValueError(f"music_cmn needs the 35-d librosa features, not cond_dim={spec.cond_dim}")
        self.spec = spec
        d = spec.latent_dim
        self.rotary = RotaryEmbedding(d)
        self.abs_pos_encoding = nn.Identity()
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(d), nn.Linear(d, 4 * d), nn.Mish())
        self.to_time_cond = nn.Sequential(nn.Linear(4 * d, d))
        self.to_time_tokens = nn.Sequential(nn.Linear(4 * d, 2 * d), TimeTokens())
        self.null_cond_embed = nn.Parameter(torch.randn(1, spec.seq_len, d))
        self.null_cond_hidden = nn.Parameter(torch.randn(1, d))
        self.norm_cond = nn.LayerNorm(d)
        self.input_projection = nn.Linear(spec.nfeats, d)
        self.cond_encoder = nn.Sequential(*[EncoderLayer(d, spec.num_heads, spec.ff_size, spec.dropout, self.rotary)
                                            for _ in range(2)])
        self.cond_projection = nn.Linear(spec.cond_dim, d)
        self.non_attn_cond_projection = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.seqTransDecoder = DecoderStack([FiLMDecoderLayer(d, spec.num_heads, spec.ff_size, spec.dropout, self.rotary)
                                             for _ in range(spec.num_layers)])
        self.final_layer = nn.Linear(d, spec.nfeats)

    # -- conditioning -----------------------------------------------------------------------------------------------
    def encode_music(self, cond: torch.Tensor, keep: torch.Tensor | None = None):
        """Music → (tokens (B,T,d), FiLM hidden (B,d)); rows with keep=False get the learned null embeddings."""
        if self.spec.music_cmn:
            cond = music_mean_normalized(cond)
        tokens = self.cond_encoder(self.cond_projection(cond))
        if keep is not None:
            tokens = torch.where(keep[:, None, None], tokens, self.null_cond_embed.to(tokens.dtype))
        hidden = self.non_attn_cond_projection(tokens.mean(dim=-2))
        if keep is not None:
            hidden = torch.where(keep[:, None], hidden, self.null_cond_hidden.to(hidden.dtype))
        return tokens, hidden

    def null_music(self, batch: int, dtype=torch.float32):
        """The unconditional branch's tokens and hidden vector (no encoder pass needed)."""
        d = self.spec.latent_dim
        return (self.null_cond_embed.to(dtype).expand(batch, -1, -1),
                self.null_cond_hidden.to(dtype).expand(batch, d))

    def denoise(self, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        t_hidden = self.time_mlp(t)
        film = self.to_time_cond(t_hidden) + hidden
        memory = self.norm_cond(torch.cat((tokens, self.to_time_tokens(t_hidden)), dim=-2))
        h = self.input_projection(x)
        for layer in self.seqTransDecoder.stack:
            h = layer(h, memory, film)
        return self.final_layer(h)

    # -- public -----------------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, cond_drop_prob: float = 0.0,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        """keep (B,) bool: which rows see the music; given, it replaces the random condition dropout (data-parallel
        training draws it for the global batch so every worker count trains the same)."""
        b = x.shape[0]
        t = _as_timesteps(t, b, x.device)
        if keep is None and cond_drop_prob >= 1.0:
            return self.denoise(x, t, *self.null_music(b, x.dtype))
        if keep is None and cond_drop_prob > 0.0:
            keep = torch.rand(b, device=x.device) >= cond_drop_prob
        return self.denoise(x, t, *self.encode_music(cond, keep))

    def guided_forward(self, x: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, guidance_weight) -> torch.Tensor:
        """Classifier-free guidance: unc + (cond − unc)·w, both branches in one batched pass."""
        b = x.shape[0]
        t = _as_timesteps(t, b, x.device)
        tokens, hidden = self.encode_music(cond)
        null_tokens, null_hidden = self.null_music(b, tokens.dtype)
        out = self.denoise(torch.cat((x, x)), torch.cat((t, t)), torch.cat((tokens, null_tokens)),
                           torch.cat((hidden, null_hidden)))
        cond_out, unc = out[:b], out[b:]
        if torch.is_tensor(guidance_weight) and guidance_weight.dim() > 0:
            guidance_weight = guidance_weight.reshape(-1, 1, 1).to(out)
        return unc + (cond_out - unc) * guidance_weight


def _as_timesteps(t, batch: int, device) -> torch.Tensor:
    t = torch.as_tensor(t, device=device)
    return t.expand(batch) if t.dim() == 0 else t


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
