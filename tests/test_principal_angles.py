"""principal_angles against SciPy's subspace_angles: order, rank-deficient bases, tiny angles."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.linalg import subspace_angles

from aevae_lib.evaluate import principal_angles


def _scipy(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return np.sort(subspace_angles(a.double().numpy(), b.double().numpy()))


def test_principal_angles_match_scipy_and_ascend():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(20, 4, generator=gen), torch.randn(20, 3, generator=gen)
    ours = principal_angles(a, b)
    np.testing.assert_allclose(ours.numpy(), _scipy(a, b), atol=1e-10)
    assert (ours[1:] >= ours[:-1]).all()


def test_principal_angles_of_known_planes():
    e = torch.eye(3, dtype=torch.float64)
    tilted = torch.stack([e[0], math.cos(0.3) * e[1] + math.sin(0.3) * e[2]], dim=1)  # (3, 2)
    angles = principal_angles(e[:, :2], tilted)
    torch.testing.assert_close(
        angles, torch.tensor([0.0, 0.3], dtype=torch.float64), atol=1e-12, rtol=0
    )
    mixed = e[:, :2] @ torch.tensor([[2.0, 1.0], [-1.0, 3.0]], dtype=torch.float64)  # same plane
    assert principal_angles(e[:, :2], mixed).max() < 1e-12


def test_a_basis_with_dependent_columns_gives_the_angles_scipy_gives():
    """Regression: the QR route kept a spurious direction and returned 0 where SciPy gives pi/2."""
    e = torch.eye(4, dtype=torch.float64)
    a = torch.stack([e[0], 2 * e[0]], dim=1)  # rank 1: both columns along e0
    b = torch.stack([e[1], e[2]], dim=1)  # orthogonal to e0
    ours = principal_angles(a, b)
    np.testing.assert_allclose(ours.numpy(), _scipy(a, b), atol=1e-12)
    torch.testing.assert_close(ours, torch.tensor([math.pi / 2], dtype=torch.float64))


def test_tiny_angles_are_resolved():
    """Regression: arccos returned 0 for angles below about 1e-7; the sine formula does not."""
    e = torch.eye(3, dtype=torch.float64)
    for angle in (1e-9, 1e-7, 1e-4):
        line = (math.cos(angle) * e[0] + math.sin(angle) * e[1]).unsqueeze(1)
        ours = principal_angles(e[:, :1], line)
        assert abs(ours.item() - angle) < 1e-6 * angle, (angle, ours.item())
        np.testing.assert_allclose(ours.numpy(), _scipy(e[:, :1], line), rtol=1e-6)
