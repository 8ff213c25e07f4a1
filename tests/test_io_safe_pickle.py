"""Restricted unpickler: numpy arrays (numpy 1.x and 2.x names, protocols 0-5) load; code-running pickles do not."""
from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.motion.safe_pickle import safe_load, safe_loads


def _payload():
    return {
        "smpl_poses": np.arange(12, dtype=np.float32).reshape(2, 6),
        "f64": np.linspace(0, 1, 5),
        "ints": np.array([[1, 2], [3, 4]], dtype=np.int64),
        "scalar": np.float32(1.5),
        "structured": np.array([(1.0, 2)], dtype=[("x", "<f4"), ("y", "<i2")]),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "plain": [1, 2.5, "s", b"b", (3, None), {"k": True}, {4, 5}, frozenset({6})],
    }


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
            np.testing.assert_array_equal(a[k], b[k])
        else:
            assert a[k] == b[k]


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_payload_round_trips_every_protocol(protocol):
    data = _payload()
    _assert_same(data, safe_loads(pickle.dumps(data, protocol=protocol)))


def test_numpy_1x_module_names_load():
    # numpy 1.x wrote 'numpy.core.multiarray'; numpy 2.x writes 'numpy._core.multiarray'. Protocol 2 stores
    # module names as newline-terminated text, so the old name can be substituted byte-for-byte.
    blob = pickle.dumps({"a": np.arange(4.0), "s": np.float64(2.0)}, protocol=2)
    old = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old and b"numpy._core" not in old
    out = safe_loads(old)
    np.testing.assert_array_equal(out["a"], np.arange(4.0))
    assert out["s"] == 2.0


class _RunsShell:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _RunsPopen:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (subprocess.Popen, (["sh", "-c", self.cmd],))


class _RunsEval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


@pytest.mark.parametrize("make", [_RunsShell, _RunsPopen])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, make, protocol):
    marker = tmp_path / "pwned"
    evil = {"smpl_poses": np.zeros((2, 72)), "x": make(f"touch {marker}")}
    blob = pickle.dumps(evil, protocol=protocol)
    with pytest.raises(UserError, match="refusing to unpickle"):
        safe_loads(blob, source="evil.pkl")
    assert not marker.exists()
    # Sanity: the payload really is live — plain pickle would have created the marker.
    live = pickle.loads(blob)["x"]
    if isinstance(live, subprocess.Popen):
        live.wait()
    assert marker.exists()


def test_eval_global_is_refused(tmp_path):
    marker = tmp_path / "m"
    blob = pickle.dumps(_RunsEval(f"open({str(marker)!r}, 'w')"))
    with pytest.raises(UserError, match=r"builtins\.eval"):
        safe_loads(blob)
    assert not marker.exists()


def test_codecs_encode_only_latin1():
    import _codecs  # noqa: F401 - pickled by name below

    class Enc:
        def __reduce__(self):
            return (_codecs.encode, ("abc", "rot13"))

    with pytest.raises(UserError):
        safe_loads(pickle.dumps(Enc(), protocol=2))


class Normaliser:
    def __init__(self, lo=None):
        self.lo = lo


class _Stand:
    def __setstate__(self, state):
        self.state = state


def test_extra_allowed_maps_a_class_to_a_safe_replacement():
    blob = pickle.dumps(Normaliser(np.arange(3.0)), protocol=4)
    with pytest.raises(UserError, match="Normaliser"):
        safe_loads(blob)
    out = safe_loads(blob, extra_allowed={(__name__, "Normaliser"): _Stand})
    assert isinstance(out, _Stand)
    np.testing.assert_array_equal(out.state["lo"], np.arange(3.0))


def test_file_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        safe_load(tmp_path / "missing.pkl")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        safe_load(tmp_path / "empty.pkl")
    blob = pickle.dumps({"a": np.zeros(100)}, protocol=4)
    (tmp_path / "cut.pkl").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(UserError, match="cut.pkl"):
        safe_load(tmp_path / "cut.pkl")
    (tmp_path / "ok.pkl").write_bytes(blob)
    np.testing.assert_array_equal(safe_load(tmp_path / "ok.pkl")["a"], np.zeros(100))
