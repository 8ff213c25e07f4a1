"""`python -m dance_rl.compare` input errors: one line naming the input, exit 2, no output folder."""
import pytest
import torch

from dance_rl.compare import main
from dance_rl.diffusion.checkpoint import save_checkpoint
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import cli_main
from dance_rl.motion.representation import Normalizer


def _model(path, cond_dim=35):
    m = DanceDecoder(ModelSpec(latent_dim=16, ff_size=32, num_layers=1, num_heads=2, cond_dim=cond_dim, dropout=0.0))
    save_checkpoint(path, model=m, ema=m, optimizer=None, normalizer=Normalizer(-torch.ones(151), torch.ones(151)),
                    config={}, step=0)
    return path


@pytest.mark.parametrize("case, message", [
    ("no_models", "--models: give at least one model"),
    ("jukebox", "expects 4800-d music features"),
    ("bad_audio", "broken.wav"),
    ("no_audio", "no audio files"),
    ("foreign", "not a model"),
])
def test_bad_input_is_one_line_and_no_output(tmp_path, capsys, case, message):
    out = tmp_path / "cmp"
    music = tmp_path / "music"
    music.mkdir()
    models = [str(_model(tmp_path / "a.pt"))]
    if case == "no_models":
        models = []
    elif case == "jukebox":
        models.append(str(_model(tmp_path / "j.pt", cond_dim=4800)))
    elif case == "bad_audio":
        (music / "broken.wav").write_bytes(b"RIFF....not audio")
    elif case == "foreign":
        torch.save({"x": torch.zeros(1)}, tmp_path / "f.pt")
        models.append(str(tmp_path / "f.pt"))
    args = (["--models", *models] if models else []) + ["--music", str(music), "--out", str(out), "--no-progress"]
    code = cli_main(main, args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".cmp.*"))
