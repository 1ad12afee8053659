"""A replica of the pytorch/examples VAE pipeline, used only as the speed benchmark's baseline.

pytorch/examples ``vae/main.py`` (BSD-3-Clause) is the VAE most readers meet first. Its
pipeline is reproduced here without torchvision, step for step:

- ``MNISTImages``: a map-style ``Dataset`` that, for every sample, turns the stored uint8
  image into a PIL image and then into a float tensor (1, 28, 28) in [0, 1], as
  ``torchvision.datasets.MNIST`` with ``transforms.ToTensor()`` does;
- a ``DataLoader`` with batch 128 and ``shuffle=True`` (no worker processes on a CPU, as in
  the example);
- the 784-400-20 ReLU MLP with a sigmoid output, summed binary cross-entropy plus the
  analytic KL, Adam with learning rate 1e-3, and ``loss.item()`` after every step.

The book's own training loop is ``aevae_lib.train.fit``; nothing in the book trains with
this module. It exists so that ``python -m aevae_lib bench`` compares against a faithful
baseline rather than a straw man.

Owns: ``MNISTImages``, ``to_uint8_images``, ``PeerVAE``, ``peer_loss``, ``peer_train``,
``peer_neg_elbo``.

Used in: benchmarks/README.md (``python -m aevae_lib bench``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


class MNISTImages(Dataset):
    """Map-style dataset over uint8 images (N, 28, 28); item i -> (float image (1, 28, 28), label)."""

    def __init__(self, images_uint8: torch.Tensor, labels: torch.Tensor):
        if images_uint8.dtype != torch.uint8 or images_uint8.shape[1:] != (28, 28):
            raise ValueError(
                f"images must be uint8 of shape (N, 28, 28), got {images_uint8.dtype} "
                f"{tuple(images_uint8.shape)}"
            )
        self.images, self.labels = images_uint8, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        # torchvision's MNIST.__getitem__: a PIL image in mode "L" ...
        img = Image.fromarray(self.images[i].numpy(), mode="L")
        # ... then transforms.ToTensor(): HWC uint8 -> CHW float in [0, 1]
        x = torch.from_numpy(np.array(img, np.uint8, copy=True))
        x = x.view(img.size[1], img.size[0], 1).permute(2, 0, 1).contiguous()
        return x.to(torch.float32).div(255), int(self.labels[i])


def to_uint8_images(x: torch.Tensor) -> torch.Tensor:
    """Float images (N, 784) in [0, 1] -> the uint8 (N, 28, 28) array torchvision stores."""
    return (x * 255).round().to(torch.uint8).view(-1, 28, 28)


class PeerVAE(nn.Module):
    """784-400-20 ReLU MLP VAE with a sigmoid decoder, layer names as in the example."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)  # mu
        self.fc22 = nn.Linear(400, 20)  # log sigma^2
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def peer_loss(recon, x, mu, logvar) -> torch.Tensor:
    """Summed BCE + KL over the batch (the example's ``loss_function``)."""
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def peer_train(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 1,
    log_interval: int = 10,
) -> tuple[PeerVAE, dict[str, list[float]]]:
    """Train ``PeerVAE`` the way the example does; return the model and its history: wall-clock
    "seconds" and process "cpu_seconds" of every epoch.

    ``x_train`` is (N, 784) float in [0, 1]; it is stored as uint8 first, as torchvision does.
    Log lines are formatted every ``log_interval`` batches (as the example prints them) but
    not printed.
    """
    torch.manual_seed(seed)
    loader = DataLoader(
        MNISTImages(to_uint8_images(x_train), y_train), batch_size=batch_size, shuffle=True
    )
    model = PeerVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"seconds": [], "cpu_seconds": []}
    for epoch in range(1, epochs + 1):
        start, cpu_start, train_loss = time.perf_counter(), time.process_time(), 0.0
        model.train()
        for batch_idx, (data, _) in enumerate(loader):
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = peer_loss(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % log_interval == 0:
                _ = f"Train Epoch: {epoch} [{batch_idx * len(data)}] Loss: {loss.item() / len(data):.6f}"
        history["seconds"].append(time.perf_counter() - start)
        history["cpu_seconds"].append(time.process_time() - cpu_start)
    model.eval()
    return model, history


@torch.no_grad()
def peer_neg_elbo(model: PeerVAE, x: torch.Tensor, seed: int = 0) -> float:
    """Test negative ELBO (nats per image) of ``PeerVAE`` on ``x`` (N, 784), one z per image.

    For binary ``x`` this is the Bernoulli negative ELBO the book reports; for grayscale ``x``
    it is the example's "test loss" (not a likelihood of any data).
    """
    torch.manual_seed(seed)
    total = 0.0
    for xb in x.split(1000):
        recon, mu, logvar = model(xb)
        total += peer_loss(recon, xb, mu, logvar).item()
    return total / len(x)
