"""The MuJoCo humanoid and what runs on it (inverse dynamics, tracking).

Physical constants shared with the physics rewards live here, in a module that does not import MuJoCo, so the
joint-only fallbacks in rewards/ (``use_sim=False``) still run where the simulator cannot be imported.
"""

GRAVITY = 9.81  # m/s², along −z of the world
