"""DanceDecoder: shapes, EDGE state-dict compatibility (names/shapes, strict load of a checkpoint written in EDGE's
format), attention/rotary correctness, classifier-free guidance."""
from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from dance_rl.diffusion import load_edge_checkpoint
from dance_rl.diffusion.model import Attention, DanceDecoder, ModelSpec, RotaryEmbedding
from dance_rl.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(latent_dim=32, ff_size=48, num_layers=2, num_heads=4, seq_len=150, dropout=0.0)


def edge_expected_shapes(d: int, ff: int, layers: int, cond: int, seq: int = 150, nfeats: int = 151) -> dict:
    """Parameter names/shapes of EDGE's DanceDecoder, written out from its module tree (model/model.py)."""
    exp = {"rotary.freqs": (d // 2,), "time_mlp.1.weight": (4 * d, d), "time_mlp.1.bias": (4 * d,),
           "to_time_cond.0.weight": (d, 4 * d), "to_time_cond.0.bias": (d,),
           "to_time_tokens.0.weight": (2 * d, 4 * d), "to_time_tokens.0.bias": (2 * d,),
           "null_cond_embed": (1, seq, d), "null_cond_hidden": (1, d), "norm_cond.weight": (d,), "norm_cond.bias": (d,),
           "input_projection.weight": (d, nfeats), "input_projection.bias": (d,),
           "cond_projection.weight": (d, cond), "cond_projection.bias": (d,),
           "non_attn_cond_projection.0.weight": (d,), "non_attn_cond_projection.0.bias": (d,),
           "non_attn_cond_projection.1.weight": (d, d), "non_attn_cond_projection.1.bias": (d,),
           "non_attn_cond_projection.3.weight": (d, d), "non_attn_cond_projection.3.bias": (d,),
           "final_layer.weight": (nfeats, d), "final_layer.bias": (nfeats,)}

    def attn(prefix):
        exp.update({f"{prefix}.in_proj_weight": (3 * d, d), f"{prefix}.in_proj_bias": (3 * d,),
                    f"{prefix}.out_proj.weight": (d, d), f"{prefix}.out_proj.bias": (d,)})

    def ffn_norms(prefix, n_norms):
        exp.update({f"{prefix}.linear1.weight": (ff, d), f"{prefix}.linear1.bias": (ff,),
                    f"{prefix}.linear2.weight": (d, ff), f"{prefix}.linear2.bias": (d,), f"{prefix}.rotary.freqs": (d // 2,)})
        for i in range(1, n_norms + 1):
            exp.update({f"{prefix}.norm{i}.weight": (d,), f"{prefix}.norm{i}.bias": (d,)})

    for i in range(2):
        attn(f"cond_encoder.{i}.self_attn")
        ffn_norms(f"cond_encoder.{i}", 2)
    for i in range(layers):
        p = f"seqTransDecoder.stack.{i}"
        attn(f"{p}.self_attn")
        attn(f"{p}.multihead_attn")
        ffn_norms(p, 3)
        for j in (1, 2, 3):
            exp.update({f"{p}.film{j}.block.1.weight": (2 * d, d), f"{p}.film{j}.block.1.bias": (2 * d,)})
    return exp


@pytest.mark.parametrize("cond", [35, 4800])
def test_edge_preset_names_and_shapes_match_edge(cond):
    model = DanceDecoder(ModelSpec.preset("edge", cond_dim=cond))
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == edge_expected_shapes(512, 1024, 8, cond)


def test_forward_shapes_and_finite():
    model = DanceDecoder(ModelSpec(**SMALL)).eval()
    x, c, t = torch.randn(3, 150, 151), torch.randn(3, 150, 35), torch.tensor([0, 500, 999])
    out = model(x, c, t)
    assert out.shape == (3, 150, 151) and torch.isfinite(out).all()
    assert model.guided_forward(x, c, t, 2.0).shape == (3, 150, 151)


def test_cfg_weight_one_equals_conditional_and_formula():
    torch.manual_seed(0)
    model = DanceDecoder(ModelSpec(**SMALL)).eval()
    x, c, t = torch.randn(2, 150, 151), torch.randn(2, 150, 35), torch.tensor([10, 700])
    cond_out = model(x, c, t, cond_drop_prob=0.0)
    unc_out = model(x, c, t, cond_drop_prob=1.0)
    assert (cond_out - unc_out).abs().max() > 1e-3  # the null condition really changes the output
    torch.testing.assert_close(model.guided_forward(x, c, t, 1.0), cond_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.guided_forward(x, c, t, 2.5), unc_out + (cond_out - unc_out) * 2.5,
                               atol=1e-5, rtol=1e-5)


def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ours, ref = Attention(16, 4, 0.0), torch.nn.MultiheadAttention(16, 4, batch_first=True)
    ref.load_state_dict(ours.state_dict(), strict=True)  # same parameter names
    q, k, v = torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16)
    torch.testing.assert_close(ours(q, k, v), ref(q, k, v, need_weights=False)[0], atol=1e-5, rtol=1e-5)


def test_rotary_hand_computed():
    rot = RotaryEmbedding(4)  # freqs = [1, 1/100]
    x = torch.tensor([[[1.0, 0.0, 0.0, 1.0]] * 3])  # (1, 3 positions, 4)
    y = rot.rotate(x)
    # position p rotates pair (x0, x1) by p rad and pair (x2, x3) by p/100 rad
    p = 2
    exp = torch.tensor([math.cos(p), math.sin(p), -math.sin(p / 100), math.cos(p / 100)])
    torch.testing.assert_close(y[0, p], exp)
    torch.testing.assert_close(y[0, 0], x[0, 0])


# ------------------------------------------------------------------------------------------------------------------
# A checkpoint in EDGE's real format: torch.save of a dict with a pickled dataset.preprocess.Normalizer.


def _install_fake_edge_modules(monkeypatch):
    """Classes named like EDGE's (dataset.preprocess.Normalizer, dataset.scaler.MinMaxScaler) for pickling only."""
    pkg, pre, sca = types.ModuleType("dataset"), types.ModuleType("dataset.preprocess"), types.ModuleType("dataset.scaler")

    class MinMaxScaler:
        def __init__(self, lo, hi):
            self.feature_range, self.copy, self.clip = (-1, 1), True, True
            rng = hi - lo
            self.scale_ = 2.0 / torch.where(rng > 0, rng, torch.ones_like(rng))
            self.min_ = -1.0 - lo * self.scale_
            self.data_min_, self.data_max_, self.data_range_, self.n_samples_seen_ = lo, hi, rng, 100

    class Normalizer:
        def __init__(self, lo, hi):
            self.scaler = MinMaxScaler(lo, hi)

    MinMaxScaler.__module__, Normalizer.__module__ = "dataset.scaler", "dataset.preprocess"
    MinMaxScaler.__qualname__, Normalizer.__qualname__ = "MinMaxScaler", "Normalizer"
    sca.MinMaxScaler, pre.Normalizer = MinMaxScaler, Normalizer
    for name, mod in (("dataset", pkg), ("dataset.preprocess", pre), ("dataset.scaler", sca)):
        monkeypatch.setitem(sys.modules, name, mod)
    return Normalizer


@pytest.mark.parametrize("cond", [35, 4800])
def test_load_edge_checkpoint_strict(tmp_path, monkeypatch, cond):
    torch.manual_seed(cond)
    spec = ModelSpec(**{**SMALL, "num_heads": 8}, cond_dim=cond)
    src = DanceDecoder(spec).eval()
    lo, hi = torch.randn(151), torch.randn(151).abs() + 2.0
    lo[0] = hi[0] = 1.0  # a constant dimension, as contacts can be
    with monkeypatch.context() as m:
        EdgeNormalizer = _install_fake_edge_modules(m)
        sd = {f"module.{k}": v for k, v in src.state_dict().items()} if cond == 35 else src.state_dict()
        torch.save({"ema_state_dict": sd, "model_state_dict": sd, "optimizer_state_dict": {"state": {}},
                    "normalizer": EdgeNormalizer(lo, hi)}, tmp_path / "edge.pt")
    assert "dataset.preprocess" not in sys.modules  # loading must not need EDGE's classes
    model, norm = load_edge_checkpoint(tmp_path / "edge.pt")
    assert model.spec.cond_dim == cond and model.spec.latent_dim == 32 and model.spec.num_layers == 2
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)
    x = torch.randn(4, 151)
    scale = 2.0 / torch.where(hi - lo > 0, hi - lo, torch.ones(151))
    torch.testing.assert_close(norm.normalize(x), (x * scale + (-1.0 - lo * scale)).clamp(-1, 1), atol=1e-5, rtol=1e-5)
    xx, c, t = torch.randn(1, 150, 151), torch.randn(1, 150, cond), torch.tensor([3])
    torch.testing.assert_close(model(xx, c, t), src(xx, c, t))


def test_edge_checkpoint_with_wrong_shapes_or_extra_keys_is_rejected(tmp_path, monkeypatch):
    sd = DanceDecoder(ModelSpec(**SMALL)).state_dict()
    sd["extra.weight"] = torch.zeros(1)
    with monkeypatch.context() as m:
        EdgeNormalizer = _install_fake_edge_modules(m)
        torch.save({"ema_state_dict": sd, "model_state_dict": sd,
                    "normalizer": EdgeNormalizer(torch.zeros(151), torch.ones(151))}, tmp_path / "bad.pt")
    with pytest.raises(UserError, match="do not match"):
        load_edge_checkpoint(tmp_path / "bad.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_hostile_checkpoint_is_refused(tmp_path):
    torch.save({"ema_state_dict": {}, "normalizer": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="cannot be read safely"):
        load_edge_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(UserError, match="not found"):
        load_edge_checkpoint(tmp_path / "missing.pt")


def test_edge_normaliser_holding_an_sklearn_scaler_with_numpy_arrays(tmp_path, monkeypatch):
    import numpy as np
    sk = types.ModuleType("sklearn.preprocessing._data")

    class MinMaxScaler:  # what sklearn pickles: numpy arrays in the instance dict
        pass

    MinMaxScaler.__module__, MinMaxScaler.__qualname__ = "sklearn.preprocessing._data", "MinMaxScaler"
    sk.MinMaxScaler = MinMaxScaler
    lo, hi = np.linspace(-1, 0, 151), np.linspace(1, 3, 151)
    sd = DanceDecoder(ModelSpec(**SMALL)).state_dict()
    with monkeypatch.context() as m:
        EdgeNormalizer = _install_fake_edge_modules(m)
        m.setitem(sys.modules, "sklearn.preprocessing._data", sk)
        norm = EdgeNormalizer(torch.zeros(151), torch.ones(151))
        sc = MinMaxScaler()
        sc.feature_range, sc.copy, sc.clip, sc.data_min_, sc.data_max_ = (-1, 1), True, True, lo, hi
        sc.n_features_in_ = 151
        norm.scaler = sc
        torch.save({"ema_state_dict": sd, "model_state_dict": sd, "normalizer": norm}, tmp_path / "sk.pt")
    _, normaliser = load_edge_checkpoint(tmp_path / "sk.pt")
    torch.testing.assert_close(normaliser.data_min, torch.tensor(lo, dtype=torch.float32))
    torch.testing.assert_close(normaliser.data_max, torch.tensor(hi, dtype=torch.float32))


def test_music_cmn_ignores_each_windows_timbre_and_key_but_not_its_rhythm():
    """Real songs differ from the synthesised corpus music in their mean MFCC and chroma (session 17): with music_cmn
    those means are removed, so a constant gain/EQ/key offset changes nothing, while the onsets and beats still do."""
    torch.manual_seed(0)
    x, t = torch.randn(2, 150, 151), torch.tensor([10, 700])
    c = torch.randn(2, 150, 35)
    offset = torch.zeros(2, 1, 35)
    offset[..., 1:33] = 40.0 * torch.randn(2, 1, 32)  # per window, constant over time: MFCC and chroma only
    rhythm = c.clone()
    rhythm[..., 0] += 3.0 * torch.rand(2, 150)  # a different onset envelope
    for cmn in (True, False):
        torch.manual_seed(1)
        model = DanceDecoder(ModelSpec(**SMALL, music_cmn=cmn)).eval()
        out = model(x, c, t)
        moved = (model(x, c + offset, t) - out).abs().max()
        assert (moved < 1e-4) if cmn else (moved > 1e-2)
        assert (model(x, rhythm, t) - out).abs().max() > 1e-3
    with pytest.raises(ValueError, match="cond_dim=4800"):
        DanceDecoder(ModelSpec(**SMALL, cond_dim=4800, music_cmn=True))
