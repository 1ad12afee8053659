"""principal_angles against SciPy's subspace_angles, and its order."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.linalg import subspace_angles

from aevae_lib.evaluate import principal_angles


def test_principal_angles_match_scipy_and_ascend():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(20, 4, generator=gen), torch.randn(20, 3, generator=gen)
    ours = principal_angles(a, b)
    reference = np.sort(subspace_angles(a.numpy(), b.numpy()))
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-10)
    assert (ours[1:] >= ours[:-1]).all()


def test_principal_angles_of_known_planes():
    e = torch.eye(3, dtype=torch.float64)
    tilted = torch.stack([e[0], math.cos(0.3) * e[1] + math.sin(0.3) * e[2]], dim=1)  # (3, 2)
    angles = principal_angles(e[:, :2], tilted)
    torch.testing.assert_close(
        angles, torch.tensor([0.0, 0.3], dtype=torch.float64), atol=1e-7, rtol=0
    )
    mixed = e[:, :2] @ torch.tensor([[2.0, 1.0], [-1.0, 3.0]], dtype=torch.float64)  # same plane
    assert principal_angles(e[:, :2], mixed).max() < 1e-6
