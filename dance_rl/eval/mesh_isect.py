"""Self-intersection count of a triangle mesh: bounding-box broad phase + exact triangle–triangle narrow phase.

Stands in for torch-mesh-isect's BVH search that Skeleton2Stage uses for Pen. Rate (docs/metrics.md).
Broad phase: a uniform grid over triangle AABBs (pairs formed per cell, exact AABB overlap test after). Pairs of triangles that share a vertex are skipped (they always touch). Narrow phase: two triangles in
general position intersect iff an edge of one crosses the other, so six segment–triangle tests (Möller–Trumbore)
decide it; exactly coplanar overlaps (measure zero for a posed body) are not counted.
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _grid_cells(lo: np.ndarray, hi: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (triangle, cell key) pair for the grid cells each AABB touches; also the key function's strides."""
    origin = lo.min(axis=0)
    c0 = np.floor((lo - origin) / cell).astype(np.int64)
    c1 = np.floor((hi - origin) / cell).astype(np.int64)
    dims = c1.max(axis=0) + 1
    strides = np.array([dims[1] * dims[2], dims[2], 1], dtype=np.int64)
    span = c1 - c0 + 1
    n = span.prod(axis=1)
    tri = np.repeat(np.arange(len(lo)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    sx, sy = span[tri, 0], span[tri, 1]
    offs = np.stack([k % sx, (k // sx) % sy, k // (sx * sy)], axis=1)
    keys = ((c0[tri] + offs) * strides).sum(axis=1)
    return tri, keys, np.concatenate([origin, [cell], strides.astype(np.float64)])


def candidate_pairs(tri: np.ndarray, faces: np.ndarray | None = None) -> np.ndarray:
    """(F,3,3) triangles -> (P,2) index pairs i<j whose AABBs overlap and (if faces given) share no vertex.

    Uniform-grid broad phase: each triangle is binned into the cells its AABB touches (cell = 90th percentile of
    triangle sizes); pairs are formed inside each cell and kept only in the one cell that holds the lower corner of
    their AABB overlap, so no pair is reported twice.
    """
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    size = (hi - lo).max(axis=1)
    cell = max(float(np.percentile(size, 90)), 1e-9)
    while np.prod(np.floor(hi / cell) - np.floor(lo / cell) + 1, axis=1).sum() > 64 * len(lo):
        cell *= 2.0  # a few huge triangles would otherwise touch millions of cells
    tri_id, keys, meta = _grid_cells(lo, hi, cell)
    origin, strides = meta[:3], meta[4:].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, tri_id = keys[order], tri_id[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[first, len(keys)])
    count = np.repeat(first + sizes, sizes) - np.arange(len(keys)) - 1  # later members of the same cell
    a = np.repeat(np.arange(len(keys)), count)
    b = a + 1 + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i, j, key = tri_id[a], tri_id[b], keys[a]
    for ax in range(3):  # exact AABB overlap, one axis at a time on contiguous columns (shrinks as it goes)
        lo_ax, hi_ax = np.ascontiguousarray(lo[:, ax]), np.ascontiguousarray(hi[:, ax])
        keep = (lo_ax[i] <= hi_ax[j]) & (lo_ax[j] <= hi_ax[i])
        i, j, key = i[keep], j[keep], key[keep]
    corner = np.floor((np.maximum(lo[i], lo[j]) - origin) / cell).astype(np.int64)
    keep = (corner * strides).sum(axis=1) == key
    i, j = i[keep], j[keep]
    if faces is not None:
        fi, fj = faces[i], faces[j]
        shared = (fi[:, :, None] == fj[:, None, :]).any(axis=(1, 2))
        i, j = i[~shared], j[~shared]
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)


def _segment_hits_triangle(p0, p1, v0, v1, v2) -> np.ndarray:
    """Vectorised Möller–Trumbore: does segment p0->p1 cross triangle (v0, v1, v2)? All (N,3)."""
    d = p1 - p0
    e1, e2 = v1 - v0, v2 - v0
    h = np.cross(d, e2)
    a = np.einsum("ni,ni->n", e1, h)
    ok = np.abs(a) > _EPS
    f = np.where(ok, 1.0 / np.where(ok, a, 1.0), 0.0)
    s = p0 - v0
    u = f * np.einsum("ni,ni->n", s, h)
    q = np.cross(s, e1)
    v = f * np.einsum("ni,ni->n", d, q)
    t = f * np.einsum("ni,ni->n", e2, q)
    return ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)


def triangles_intersect(ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
    """(N,3,3) x (N,3,3) -> (N,) bool: does triangle ta[n] intersect tb[n]?"""
    hit = np.zeros(len(ta), dtype=bool)
    for s, t in ((ta, tb), (tb, ta)):
        for k in range(3):
            hit |= _segment_hits_triangle(s[:, k], s[:, (k + 1) % 3], t[:, 0], t[:, 1], t[:, 2])
    return hit


def intersecting_pairs(verts: np.ndarray, faces: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """(V,3) vertices, (F,3) faces -> (K,2) pairs of non-adjacent faces that intersect."""
    tri = np.asarray(verts, dtype=np.float64)[faces]
    pairs = candidate_pairs(tri, faces)
    out = []
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out.append(p[triangles_intersect(tri[p[:, 0]], tri[p[:, 1]])])
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def count_self_intersections(verts: np.ndarray, faces: np.ndarray) -> int:
    """Number of intersecting (non-adjacent) triangle pairs in one mesh."""
    return int(len(intersecting_pairs(verts, faces)))
