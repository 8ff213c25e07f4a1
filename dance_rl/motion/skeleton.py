"""The SMPL 24-joint kinematic tree as EDGE uses it (names, parents, mean-shape offsets).

Offsets are parent→child vectors in the SMPL rest frame: y up, +x = the body's left, +z = forward, metres. The z-up
world of dance_rl comes from a +90° rotation about X baked into the root orientation (EDGE's convention), so a person
standing upright in the world has root axis-angle ≈ (π/2, 0, 0).
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 24

JOINT_NAMES = (
    "root", "lhip", "rhip", "belly", "lknee", "rknee", "spine", "lankle", "rankle", "chest", "ltoes", "rtoes",
    "neck", "linshoulder", "rinshoulder", "head", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist", "rwrist",
    "lhand", "rhand",
)

PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
], dtype=np.float32)

# Ankles and toes (L ankle, R ankle, L toe, R toe): the contact channels of the 151-d vector, in this order. The one
# list of foot joints: code that needs them per side (left = 7, 10; right = 8, 11) indexes this tuple.
FOOT_JOINTS = (7, 8, 10, 11)

# EDGE's contact rule (the 151-d vector's contact channels): a foot joint that moves less than this from one frame to
# the next (at 30 fps, i.e. 0.3 m/s) is planted. Per frame, not per second: resampled motion must scale it.
CONTACT_SPEED_M_PER_FRAME = 0.01

# Left/right pairs, for mirroring.
LEFT_RIGHT_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
MIRROR_INDEX = tuple(
    {**{a: b for a, b in LEFT_RIGHT_PAIRS}, **{b: a for a, b in LEFT_RIGHT_PAIRS}}.get(i, i) for i in range(NUM_JOINTS)
)

# Root orientation (axis-angle) of an upright body in the z-up world: +90° about X (EDGE's y-up → z-up rotation).
UPRIGHT_ROOT_AA = np.array([np.pi / 2, 0.0, 0.0], dtype=np.float32)


def bone_lengths(offsets: np.ndarray = OFFSETS) -> np.ndarray:
    """Length of the bone ending at each joint (0 for the root)."""
    return np.linalg.norm(offsets, axis=-1)


def children(joint: int) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(PARENTS) if p == joint)


def rest_joint_positions(offsets: np.ndarray = OFFSETS) -> np.ndarray:
    """Joint positions of the rest pose in the rest (y-up) frame, root at the origin."""
    pos = np.zeros((NUM_JOINTS, 3), dtype=np.float64)
    for i in range(1, NUM_JOINTS):
        pos[i] = pos[PARENTS[i]] + offsets[i]
    return pos.astype(np.float32)
