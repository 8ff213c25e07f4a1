"""Built demo corpus: files, metadata, versioned cache, and the ``python -m dance_rl.data`` CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from dance_rl.data import demo
from dance_rl.data.__main__ import main
from dance_rl.errors import UserError, cli_main
from dance_rl.motion.io import load_motion


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory):
    """One-source-clip corpus (6 variants), shared with tests/test_dataset_demo.py through the same cache path."""
    cache = tmp_path_factory.getbasetemp() / "demo_data_cache"
    demo.build_demo_corpus(cache, max_clips=1)
    return cache


def test_corpus_files_and_metadata(demo_cache):
    path = demo.corpus_dir(demo_cache, max_clips=1)
    info = json.loads((path / demo.CORPUS_FILE).read_text())
    assert info["builder_version"] == demo.BUILDER_VERSION and info["max_clips"] == 1
    clips = info["clips"]
    assert len(clips) == 6 and {c["source"] for c in clips} == {demo.CLIPS[0]}
    assert [c["id"] for c in clips if c["split"] == "test"] == [f"{demo.CLIPS[0]}_t115_m"]
    for c in clips:
        m = load_motion(path / f"{c['id']}.npz")
        assert m.num_frames == c["frames"] == int(demo.CLIP_SECONDS * 30) and m.fps == 30.0
        assert m.audio == f"{c['id']}.wav"
        audio, sr = sf.read(path / m.audio)
        assert sr == demo.SAMPLE_RATE and len(audio) == pytest.approx(demo.CLIP_SECONDS * sr, abs=1)
        np.testing.assert_allclose(m.joints, m.fk_joints(), atol=1e-5)
        np.testing.assert_allclose(m.trans[0, :2], 0.0, atol=1e-6)  # yaw about the start keeps it at the origin
        assert 40.0 <= c["bpm"] <= 200.0 and c["num_beats"] >= 2
    mirrored = {c["mirrored"] for c in clips}
    assert mirrored == {True, False} and len({c["yaw"] for c in clips}) == 6


def test_cache_is_reused_and_rebuilt_on_version_change(demo_cache, monkeypatch):
    path = demo.corpus_dir(demo_cache, max_clips=1)
    stamp = (path / demo.CORPUS_FILE).stat().st_mtime_ns
    assert demo.build_demo_corpus(demo_cache, max_clips=1) == path
    assert (path / demo.CORPUS_FILE).stat().st_mtime_ns == stamp  # not rebuilt

    calls = []
    monkeypatch.setattr(demo, "BUILDER_VERSION", demo.BUILDER_VERSION + 100)
    monkeypatch.setattr(demo, "write_corpus", lambda out, seed=0, max_clips=None: calls.append(out) or
                        (out / demo.CORPUS_FILE).write_text(json.dumps(dict(
                            builder_version=demo.BUILDER_VERSION, seed=seed, max_clips=max_clips, clips=[]))))
    other = demo_cache / "copy"
    import shutil
    shutil.copytree(path, other)
    assert demo.build_corpus_at(other, max_clips=1) == other
    assert len(calls) == 1 and json.loads((other / demo.CORPUS_FILE).read_text())["clips"] == []
    assert not list(other.glob("*.npz"))  # old corpus replaced as a whole
    assert not [p for p in demo_cache.iterdir() if p.name.startswith(".")]  # no temp folders left behind


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def boom(out, seed=0, max_clips=None):
        (out / "half.npz").write_bytes(b"x")
        raise UserError("simulated failure")

    monkeypatch.setattr(demo, "write_corpus", boom)
    with pytest.raises(UserError):
        demo.build_corpus_at(tmp_path / "demo", max_clips=1)
    assert list(tmp_path.iterdir()) == []


def test_cli_up_to_date_and_help(demo_cache, capsys):
    path = demo.corpus_dir(demo_cache, max_clips=1)
    assert cli_main(main, ["demo", "--out", str(path), "--max-clips", "1"]) == 0
    assert "up to date" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "dance_rl.data", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--max-clips" in out.stdout


@pytest.mark.parametrize("argv, message", [
    (["demo", "--out", "{tmp}/x", "--max-clips", "-1"], "must be >= 0"),
    (["demo"], "--out"),
    (["demo", "--out", "{tmp}/file.txt"], "is a file"),
    (["demo", "--out", "{tmp}/foreign"], "not a demo corpus"),
    (["aistpp", "--root", "{tmp}/nowhere", "--out", "{tmp}/aist"], "AIST++ folder not found"),
    (["aistpp", "--root", "{tmp}", "--out", "{tmp}/aist", "--split", "val"], "invalid choice"),
    (["bogus"], "invalid choice"),
])
def test_cli_errors_one_line_exit_2_no_output(tmp_path, capsys, argv, message):
    (tmp_path / "file.txt").write_text("keep")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("keep")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert cli_main(main, [a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
