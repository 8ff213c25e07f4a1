"""Offscreen MuJoCo render of the simulator body (``dance_rl.sim``) performing a motion, posed kinematically.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when the ``mujoco`` module is first imported: ``egl`` (GPU, or
Mesa's software EGL) or ``osmesa`` (CPU). :func:`select_gl_backend` keeps a value the user set, otherwise probes
``egl`` then ``osmesa`` in a subprocess (a failed context can abort the process) and sets the variable; it must run
before anything imports mujoco, which the render CLI guarantees. With no working backend a UserError explains what
to install; the skeleton renderer needs no OpenGL at all.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from dance_rl.errors import UserError

BACKENDS = ("egl", "osmesa")
_PROBE = ("import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\".1\"/></worldbody>"
          "</mujoco>'); r = mujoco.Renderer(m, 8, 8); r.update_scene(mujoco.MjData(m)); r.render()")
NO_GL = ("no OpenGL backend for MuJoCo offscreen rendering (tried MUJOCO_GL={tried}); install Mesa EGL "
         "(apt install libegl1 libgl1-mesa-dri) or OSMesa (apt install libosmesa6) and set MUJOCO_GL=egl or osmesa, "
         "or use --renderer skeleton")


def _probe(backend: str) -> bool:
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def select_gl_backend() -> str:
    """The OpenGL backend MuJoCo will use (sets MUJOCO_GL if unset); UserError when none works."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        if not _probe(chosen):
            raise UserError(NO_GL.format(tried=chosen))
        return chosen
    if "mujoco" in sys.modules:
        raise UserError("mujoco was imported before an OpenGL backend was chosen; set MUJOCO_GL=egl or osmesa "
                        "in the environment before starting Python")
    for backend in BACKENDS:
        if _probe(backend):
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
    raise UserError(NO_GL.format(tried="/".join(BACKENDS)))


def _styled(model, width: int, height: int):
    """Brighter headlight, light floor, body geoms coloured like the skeleton renderer (left blue, right orange)."""
    from dance_rl.render.skeleton import COLORS

    model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
    model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
    model.vis.headlight.ambient[:] = 0.45
    model.vis.headlight.diffuse[:] = 0.6
    model.vis.headlight.specular[:] = 0.1
    for g in range(model.ngeom):
        body = int(model.geom_bodyid[g])
        if body == 0:
            model.geom_rgba[g] = (0.85, 0.85, 0.82, 1.0)
            continue
        name = model.body(body).name
        side = "left" if name.startswith("l") else "right" if name.startswith("r") and name != "root" else "center"
        rgb = np.asarray(COLORS[side], dtype=np.float64) / 255.0
        model.geom_rgba[g, :3] = rgb if side != "center" else (0.75, 0.72, 0.68)
    return model


def mujoco_frames(poses: np.ndarray, trans: np.ndarray, width: int = 480, height: int = 360,
                  distance: float = 4.0, elevation: float = -12.0) -> np.ndarray:
    """(T,24,3) axis-angle poses, (T,3) root positions -> (T,H,W,3) uint8 frames of the simulator body.

    A free camera looks at the root from the front (dance_rl bodies face -y) and follows it horizontally.
    Call :func:`select_gl_backend` first in a fresh process.
    """
    import copy

    import mujoco

    from dance_rl.sim.humanoid import humanoid_model
    from dance_rl.sim.retarget import motion_to_qpos

    model = _styled(copy.deepcopy(humanoid_model()), width, height)
    data = mujoco.MjData(model)
    qpos = motion_to_qpos(np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64))
    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as e:  # noqa: BLE001 - any GL failure means: no usable context
        raise UserError(NO_GL.format(tried=os.environ.get("MUJOCO_GL", "<unset>")) + f" ({type(e).__name__})") from None
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.azimuth, cam.elevation, cam.distance = 90.0, elevation, distance
    out = np.empty((len(qpos), height, width, 3), dtype=np.uint8)
    try:
        for t, q in enumerate(qpos):
            data.qpos[:] = q
            mujoco.mj_forward(model, data)  # positions, plus camera/light placement the scene needs
            cam.lookat[:] = [q[0], q[1], 0.9]
            renderer.update_scene(data, camera=cam)
            out[t] = renderer.render()
    finally:
        renderer.close()
    return out
