"""Rotation conversions in torch, batched over leading dimensions.

Conventions: quaternions are (w, x, y, z); the 6-D representation is the first two ROWS of the rotation matrix
(pytorch3d's ``matrix_to_rotation_6d``, which EDGE uses), so EDGE checkpoints and data interoperate.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float32)


def axis_angle_to_quat(aa) -> torch.Tensor:
    aa = _as_tensor(aa)
    angle = torch.linalg.norm(aa, dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(half)/angle with a Taylor expansion near zero keeps gradients finite.
    small = angle.abs() < 1e-6
    k = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / torch.where(small, torch.ones_like(angle), angle))
    return torch.cat([torch.cos(half), aa * k], dim=-1)


def quat_to_axis_angle(q) -> torch.Tensor:
    q = _as_tensor(q)
    q = q * torch.where(q[..., :1] < 0, -1.0, 1.0)  # w >= 0: angle in [0, pi]
    norm_v = torch.linalg.norm(q[..., 1:], dim=-1, keepdim=True)
    half = torch.atan2(norm_v, q[..., :1])
    angle = 2.0 * half
    small = norm_v < 1e-6
    # angle / sin(half) -> 2 / w-ish near zero
    k = torch.where(small, 2.0 / q[..., :1].clamp_min(_EPS), angle / torch.where(small, torch.ones_like(norm_v), norm_v))
    return q[..., 1:] * k


def quat_to_matrix(q) -> torch.Tensor:
    q = F.normalize(_as_tensor(q), dim=-1)
    w, x, y, z = q.unbind(-1)
    two = 2.0
    m = torch.stack([
        1 - two * (y * y + z * z), two * (x * y - z * w), two * (x * z + y * w),
        two * (x * y + z * w), 1 - two * (x * x + z * z), two * (y * z - x * w),
        two * (x * z - y * w), two * (y * z + x * w), 1 - two * (x * x + y * y),
    ], dim=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m) -> torch.Tensor:
    """Shepperd's method: pick the largest of (w, x, y, z) to divide by, which is numerically stable."""
    m = _as_tensor(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    cands = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], dim=-2)  # (..., 4, 4): row k is 4*q_k*q scaled
    diag = torch.stack([cands[..., 0, 0], cands[..., 1, 1], cands[..., 2, 2], cands[..., 3, 3]], -1)
    best = diag.argmax(-1, keepdim=True)
    row = torch.take_along_dim(cands, best[..., None].expand(best.shape[:-1] + (1, 4)), dim=-2).squeeze(-2)
    q = row / (2.0 * torch.sqrt(torch.take_along_dim(diag, best, -1).clamp_min(_EPS)))
    q = F.normalize(q, dim=-1)
    return q * torch.where(q[..., :1] < 0, -1.0, 1.0)


def axis_angle_to_matrix(aa) -> torch.Tensor:
    """Rodrigues' formula (exact, differentiable)."""
    aa = _as_tensor(aa)
    angle = torch.linalg.norm(aa, dim=-1, keepdim=True)[..., None]  # (...,1,1)
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    small = angle < 1e-6
    safe = torch.where(small, torch.ones_like(angle), angle)
    a = torch.where(small, 1.0 - angle ** 2 / 6.0, torch.sin(safe) / safe)
    b = torch.where(small, 0.5 - angle ** 2 / 24.0, (1.0 - torch.cos(safe)) / safe ** 2)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def matrix_to_axis_angle(m) -> torch.Tensor:
    return quat_to_axis_angle(matrix_to_quat(m))


def matrix_to_rot6d(m) -> torch.Tensor:
    """First two rows, flattened (pytorch3d/EDGE convention)."""
    m = _as_tensor(m)
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


def rot6d_to_matrix(d6) -> torch.Tensor:
    """Gram-Schmidt on the two stored rows; the third row is their cross product."""
    d6 = _as_tensor(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-2)


def quat_mul(a, b) -> torch.Tensor:
    a, b = _as_tensor(a), _as_tensor(b)
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], -1)


def quat_conj(q) -> torch.Tensor:
    q = _as_tensor(q)
    return q * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype, device=q.device)


def quat_rotate(q, v) -> torch.Tensor:
    """Rotate vectors v (...,3) by unit quaternions q (...,4)."""
    v = _as_tensor(v)
    qv = torch.cat([torch.zeros_like(v[..., :1]), v], -1)
    return quat_mul(quat_mul(q, qv), quat_conj(q))[..., 1:]


def quat_slerp(q0, q1, t) -> torch.Tensor:
    """Spherical interpolation along the short arc; t broadcasts against q[..., :1]."""
    q0, q1 = F.normalize(_as_tensor(q0), dim=-1), F.normalize(_as_tensor(q1), dim=-1)
    t = _as_tensor(t).to(q0.dtype)
    if t.dim() < q0.dim():
        t = t.reshape(t.shape + (1,) * (q0.dim() - t.dim()))
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_t = torch.sin(theta)
    near = sin_t < 1e-6
    safe = torch.where(near, torch.ones_like(sin_t), sin_t)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    return F.normalize(w0 * q0 + w1 * q1, dim=-1)
