"""Model configurations: one small dataclass per kind of model, and the one place that builds one.

A configuration holds everything that decides a trained model: its architecture, its
training settings and the device kind it was trained on. ``config.build()`` makes the
untrained model (seeded, so the initial weights follow from the configuration too);
``config.key()`` names it in the model cache; ``config.to_dict()`` is what a checkpoint stores
beside the weights, and ``config_from_dict`` reads it back. The zoo, checkpoints, the command
line and the judge all go through these classes, so there is one answer to "how is this
model built?" (the nanoGPT ``GPTConfig`` idea).

Owns: ``AEConfig``, ``VAEConfig``, ``JudgeConfig``, ``CVAEConfig``, ``VQVAEConfig``,
``CodePriorConfig``, ``IWAEConfig``, ``FlowPriorConfig``, ``config_from_dict``, ``from_settings``
(defaults updated by a chapter's keyword arguments, with fast mode applied), the checks of every
setting, and ``fit_settings``; ``ModelConfig`` (what every kind shares), ``field_names`` and
``unknown_settings_message`` (the error that lists the known settings).

Used in: ``zoo`` (every chapter's ``trained_*``), ``checkpoint``, ``cli``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .models import ACTIVATIONS, VAE, Autoencoder, ConvVAE, DigitClassifier
from .objectives import LIKELIHOODS
from .prior_flow import FlowPrior
from .runtime import FAST_N_TRAIN, config_key, fast_epochs, fast_mode

#: Learning-rate schedules ``train.fit`` knows (kept here too: configs sit below train).
SCHEDULES = ("constant", "cosine", "stable-decay")

#: The settings of every configuration that ``train.fit`` takes as they are.
FIT_KEYS = ("epochs", "batch_size", "lr", "seed", "schedule")


def _positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _number(value, name: str, *, low: float = 0.0, strict: bool = False, text: str = "") -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value > low if strict else value >= low)
    if not ok:
        raise ValueError(
            f"{name} must be a number {'>' if strict else '>='} {low:g}{text}, got {value!r}"
        )


def _sizes(value, name: str, *, allow_empty: bool) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or (not value and not allow_empty):
        raise ValueError(f"{name} must be a list of layer sizes such as [512, 256], got {value!r}")
    for size in value:
        _positive_int(size, f"{name} sizes")
    return tuple(value)


@dataclass(frozen=True)
class ModelConfig:
    """Settings shared by every model: how it is trained, and on which kind of device."""

    kind: ClassVar[str] = ""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "constant"
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        _positive_int(self.epochs, "epochs")
        _positive_int(self.batch_size, "batch_size")
        _number(self.lr, "lr", strict=True, text=" (e.g. 1e-3)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.device not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be the kind 'cpu', 'cuda' or 'mps', got {self.device!r}")

    def fit_settings(self) -> dict:
        """The keyword arguments of ``train.fit``."""
        return {name: getattr(self, name) for name in FIT_KEYS}

    def to_dict(self) -> dict:
        """Plain JSON values with ``kind``: what a checkpoint and the cache key store."""
        values = dataclasses.asdict(self)
        return json.loads(json.dumps({**values, "kind": self.kind}))  # tuples become lists

    def key(self) -> str:
        """The model cache's name for this configuration (a stable hash of ``to_dict()``)."""
        return config_key(self.to_dict())

    def build(self) -> nn.Module:  # pragma: no cover - every kind defines it
        raise NotImplementedError

    def _seeded(self, make) -> nn.Module:
        """``make()`` with torch's generator seeded by ``seed``, restored afterwards."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = make()
        model.config = self  # the model carries the configuration that built it
        return model


@dataclass(frozen=True)
class AEConfig(ModelConfig):
    """The book's MLP autoencoder (chapter 01). Adam at 3e-3 held for four epochs and decayed
    linearly to 0 over the fifth ("stable-decay") reaches a test squared error of about 5.3 per
    image (benchmarks/README.md). ``noise_std``/``mask_fraction`` > 0 train a denoising
    autoencoder; ``exclude_digit`` leaves one digit out of the training set (chapter 02)."""

    kind: ClassVar[str] = "ae"

    latent_dim: int = 30
    hidden: tuple[int, ...] = (512, 256)
    activation: str = "relu"
    output: str = "sigmoid"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-3
    schedule: str = "stable-decay"
    n_train: int | None = None
    noise_std: float = 0.0
    mask_fraction: float = 0.0
    exclude_digit: int | None = None

    def __post_init__(self):
        super().__post_init__()
        _check_mlp(self)
        _number(self.noise_std, "noise_std")
        if not (isinstance(self.mask_fraction, (int, float)) and 0 <= self.mask_fraction < 1):
            raise ValueError(
                f"mask_fraction must be a fraction in [0, 1), got {self.mask_fraction!r}"
            )
        digit = self.exclude_digit
        if digit is not None and (isinstance(digit, bool) or digit not in range(10)):
            raise ValueError(f"exclude_digit must be None or a digit 0-9, got {digit!r}")
        if self.output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {self.output!r}")

    @property
    def denoising(self) -> bool:
        return self.noise_std > 0 or self.mask_fraction > 0

    def build(self) -> Autoencoder:
        return self._seeded(
            lambda: Autoencoder(
                latent_dim=self.latent_dim,
                hidden=list(self.hidden),
                activation=self.activation,
                output=self.output,
            )
        )


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    """The book's MLP VAE (chapter 04): 784-400-20, Bernoulli, dynamic binarization, Adam 3e-3
    on a cosine schedule for 25 epochs. ``conv=True`` builds a ``ConvVAE`` (``channels``,
    ``conv_hidden``); ``free_bits`` > 0 and ``beta`` change the objective (chapter 09)."""

    kind: ClassVar[str] = "vae"

    latent_dim: int = 20
    hidden: tuple[int, ...] = (400,)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    learn_variance: bool = False
    beta: float = 1.0
    conv: bool = False
    channels: int = 32
    conv_hidden: int = 256
    free_bits: float = 0.0
    epochs: int = 25
    batch_size: int = 256
    lr: float = 3e-3
    schedule: str = "cosine"
    binarize: bool = True
    n_train: int | None = None

    def __post_init__(self):
        super().__post_init__()
        _check_mlp(self)
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        _number(self.beta, "beta")
        _number(self.free_bits, "free_bits", text=" (nats per latent dimension)")
        _positive_int(self.channels, "channels")
        _positive_int(self.conv_hidden, "conv_hidden")
        if self.conv and (self.likelihood != "bernoulli" or self.learn_variance):
            raise ValueError(
                "conv=True builds a ConvVAE, which has a Bernoulli likelihood only; got "
                f"likelihood={self.likelihood!r}, learn_variance={self.learn_variance!r}"
            )
        if self.learn_variance and self.likelihood != "gaussian":
            raise ValueError(
                f"learn_variance=True needs likelihood='gaussian', got {self.likelihood!r}"
            )

    def build(self) -> VAE:
        if self.conv:
            return self._seeded(
                lambda: ConvVAE(
                    latent_dim=self.latent_dim,
                    channels=self.channels,
                    hidden=self.conv_hidden,
                )
            )
        return self._seeded(
            lambda: VAE(
                latent_dim=self.latent_dim,
                hidden=list(self.hidden),
                activation=self.activation,
                likelihood=self.likelihood,
                learn_variance=self.learn_variance,
            )
        )


@dataclass(frozen=True)
class JudgeConfig(ModelConfig):
    """The judge: an MLP digit classifier (chapter 03). A cosine decay lifts its test accuracy
    from about 98.0 % (constant rate) to about 98.5 %; epochs (cosine, measured): 6 -> 98.27 %,
    8 -> 98.48 % (25 s on 2 cores), 10 -> 98.53 %."""

    kind: ClassVar[str] = "judge"

    hidden: tuple[int, ...] = (512, 512)
    dropout: float = 0.2
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "cosine"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "hidden", _sizes(self.hidden, "hidden", allow_empty=False))
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a probability in [0, 1), got {self.dropout!r}")

    def build(self) -> DigitClassifier:
        return self._seeded(lambda: DigitClassifier(hidden=list(self.hidden), dropout=self.dropout))


def _check_mlp(config) -> None:
    """The settings an MLP autoencoder and an MLP VAE share: code size, layers, activation and
    training-set size (``hidden`` becomes a tuple, so configurations compare equal)."""
    _positive_int(config.latent_dim, "latent_dim")
    object.__setattr__(config, "hidden", _sizes(config.hidden, "hidden", allow_empty=True))
    if config.activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {config.activation!r}"
        )
    n = config.n_train
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
        raise ValueError(f"n_train must be a positive int or None (all 60,000), got {n!r}")


@dataclass(frozen=True)
class IWAEConfig(VAEConfig):
    """A VAE trained with the importance-weighted bound ELBO_k instead of the ELBO (chapter 12;
    Burda et al. 2015): the network and every setting of ``VAEConfig``, plus ``k``, the codes
    drawn per image in each step. A step costs about as much as a VAE step on k times the
    images in the decoder. ``beta`` must stay 1 and ``free_bits`` 0 (they change the ELBO, not
    this bound)."""

    kind: ClassVar[str] = "iwae"
    title: ClassVar[str] = "IWAE"

    k: int = 5

    def __post_init__(self):
        super().__post_init__()
        _positive_int(self.k, "k")
        if self.beta != 1.0 or self.free_bits != 0.0:
            raise ValueError(
                "the IWAE trains the importance-weighted bound itself: beta must be "
                f"1 and free_bits 0, got beta={self.beta!r}, "
                f"free_bits={self.free_bits!r}"
            )


@dataclass(frozen=True)
class FlowPriorConfig(ModelConfig):
    """A flow-matching prior over the codes of a trained autoencoder or VAE (chapter 13,
    notebooks/13_latent_diffusion.ipynb; ``prior_flow.FlowPrior``). ``source_key`` is the
    cache key (``config.key()``) of the model whose codes it learns, so a prior is never
    reused for another autoencoder's codes; ``latent_dim`` is that model's code size. Adam at
    2e-3 with the stable-decay schedule."""

    kind: ClassVar[str] = "flow_prior"
    title: ClassVar[str] = "flow-matching prior"

    source_key: str = ""
    latent_dim: int = 20
    hidden: tuple[int, ...] = (256, 256, 256)
    activation: str = "gelu"
    n_frequencies: int = 8
    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    schedule: str = "stable-decay"
    n_train: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.source_key, str) or not self.source_key:
            raise ValueError(
                "source_key must name the model whose codes the prior learns (its "
                f"config.key()), got {self.source_key!r}"
            )
        _check_mlp(self)
        _positive_int(self.n_frequencies, "n_frequencies")

    def build(self) -> FlowPrior:
        return self._seeded(
            lambda: FlowPrior(
                self.latent_dim,
                hidden=self.hidden,
                activation=self.activation,
                n_frequencies=self.n_frequencies,
            )
        )


#: kind -> configuration class
KINDS: dict[str, type[ModelConfig]] = {
    c.kind: c for c in (AEConfig, VAEConfig, JudgeConfig, IWAEConfig, FlowPriorConfig)
}


def field_names(cls: type[ModelConfig]) -> list[str]:
    """The settings a configuration class takes, in order."""
    return [f.name for f in dataclasses.fields(cls)]


def unknown_settings_message(unknown, valid) -> str:
    """The TypeError message: unknown setting(s) ['x'] (did you mean 'y'?); valid: [...]."""
    hints = [m for name in sorted(unknown) for m in difflib.get_close_matches(name, valid, n=1)]
    hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
    return f"unknown setting(s) {sorted(unknown)}{hint}; valid: {sorted(valid)}"


def from_settings(cls: type[ModelConfig], device: str = "cpu", **settings) -> ModelConfig:
    """``cls``'s defaults updated by ``settings``, checked, with fast mode applied.

    Fast mode (``AEVAE_FAST=1``) cuts every configuration to at most ``runtime.FAST_EPOCHS``
    epochs on the first ``runtime.FAST_N_TRAIN`` training images; the configuration records
    what is used, so fast and full models never share a cache entry.
    """
    valid = [name for name in field_names(cls) if name != "device"]
    unknown = set(settings) - set(valid)
    if unknown:
        raise TypeError(unknown_settings_message(unknown, valid))
    if isinstance(settings.get("hidden"), list):
        settings["hidden"] = tuple(settings["hidden"])
    config = cls(device=device, **settings)  # checks every setting
    if fast_mode():
        changes = {"epochs": fast_epochs(config.epochs)}
        if "n_train" in valid:
            n = config.n_train
            changes["n_train"] = FAST_N_TRAIN if n is None else min(n, FAST_N_TRAIN)
        config = dataclasses.replace(config, **changes)
    return config


def config_from_dict(values: dict) -> ModelConfig:
    """Read back ``to_dict()``: the class named by ``values["kind"]``, every setting checked.

    Settings a newer version of the library added are taken from the defaults; an unknown
    setting or kind is refused with a message that names it.
    """
    if not isinstance(values, dict):
        raise TypeError(f"a configuration must be a dict, got {type(values).__name__}")
    kind = values.get("kind")
    if kind not in KINDS:
        raise ValueError(f"config['kind'] must be one of {sorted(KINDS)}, got {kind!r}")
    cls = KINDS[kind]
    settings = {k: v for k, v in values.items() if k != "kind"}
    unknown = set(settings) - set(field_names(cls))
    if unknown:
        raise ValueError(
            f"the {kind} configuration has " + unknown_settings_message(unknown, field_names(cls))
        )
    if isinstance(settings.get("hidden"), list):
        settings["hidden"] = tuple(settings["hidden"])
    return cls(**settings)


@dataclass(frozen=True)
class CVAEConfig(ModelConfig):
    """The conditional VAE of chapter 10 (``cvae.ConditionalVAE``): the chapter 04 VAE's
    784-400-d network with the one-hot label added to the encoder's and the decoder's input;
    Bernoulli likelihood, dynamic binarization, trained on labelled images."""

    kind: ClassVar[str] = "cvae"
    title: ClassVar[str] = "conditional VAE"

    latent_dim: int = 20
    hidden: tuple[int, ...] = (400,)
    activation: str = "relu"
    epochs: int = 12
    batch_size: int = 256
    lr: float = 3e-3
    schedule: str = "stable-decay"
    binarize: bool = True
    n_train: int | None = None

    def __post_init__(self):
        super().__post_init__()
        _check_mlp(self)

    def build(self):
        from .cvae import ConditionalVAE

        return self._seeded(
            lambda: ConditionalVAE(
                latent_dim=self.latent_dim,
                hidden=list(self.hidden),
                activation=self.activation,
            )
        )

    def trial_loss(self, model, x, y):
        """The loss of one training step, for timing steps before training (``zoo``)."""
        from .cvae import cvae_loss

        return cvae_loss(model, x, y)["loss"]


@dataclass(frozen=True)
class VQVAEConfig(ModelConfig):
    """The VQ-VAE of chapter 11 (``vq.VQVAE``): an MLP encoder 784-400-(M d_e), M slots each
    rounded to the nearest of K codebook vectors, a mirrored decoder with a Bernoulli
    likelihood; ``commitment`` weighs the commitment loss; ``restart_every`` > 0 moves dead
    codes onto encoder outputs every that many steps; ``init_scale`` (None: 1 / K) is the
    half-width of the codebook's uniform initialization."""

    kind: ClassVar[str] = "vqvae"
    title: ClassVar[str] = "VQ-VAE"

    n_slots: int = 20
    code_dim: int = 8
    n_codes: int = 64
    hidden: tuple[int, ...] = (400,)
    activation: str = "relu"
    commitment: float = 0.25
    restart_every: int = 0
    init_scale: float | None = None
    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    schedule: str = "stable-decay"
    binarize: bool = True
    n_train: int | None = None

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_slots", "code_dim", "n_codes"):
            _positive_int(getattr(self, name), name)
        object.__setattr__(self, "hidden", _sizes(self.hidden, "hidden", allow_empty=True))
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )
        _number(self.commitment, "commitment")
        if (
            not isinstance(self.restart_every, int)
            or isinstance(self.restart_every, bool)
            or self.restart_every < 0
        ):
            raise ValueError(
                f"restart_every must be an int >= 0 (0: never), got {self.restart_every!r}"
            )
        if self.init_scale is not None:
            _number(self.init_scale, "init_scale", strict=True)
        n = self.n_train
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
            raise ValueError(f"n_train must be a positive int or None (all 60,000), got {n!r}")

    def build(self):
        from .vq import VQVAE

        return self._seeded(
            lambda: VQVAE(
                n_slots=self.n_slots,
                code_dim=self.code_dim,
                n_codes=self.n_codes,
                hidden=list(self.hidden),
                activation=self.activation,
                init_scale=self.init_scale,
                restart_every=self.restart_every,
            )
        )

    def trial_loss(self, model, x, y):
        from .vq import vq_vae_loss

        return vq_vae_loss(self.commitment)(model, x)["loss"]


@dataclass(frozen=True)
class CodePriorConfig(ModelConfig):
    """The autoregressive prior over a VQ-VAE's indices (``code_prior.AutoregressivePrior``),
    fitted to the indices of that VQ-VAE's training images: ``vq_key`` names the VQ-VAE (its
    cache key), so a retrained VQ-VAE gets its own prior."""

    kind: ClassVar[str] = "code_prior"
    title: ClassVar[str] = "autoregressive code prior"

    vq_key: str = ""
    n_slots: int = 20
    n_codes: int = 64
    hidden: int = 512
    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    schedule: str = "stable-decay"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.vq_key, str) or not self.vq_key:
            raise ValueError(f"vq_key must name the VQ-VAE (its config.key()), got {self.vq_key!r}")
        for name in ("n_slots", "n_codes", "hidden"):
            _positive_int(getattr(self, name), name)

    def build(self):
        from .code_prior import AutoregressivePrior

        return self._seeded(lambda: AutoregressivePrior(self.n_slots, self.n_codes, self.hidden))

    def trial_loss(self, model, x, y):
        from .code_prior import code_prior_loss

        return code_prior_loss(model, x)["loss"]


KINDS.update({c.kind: c for c in (CVAEConfig, VQVAEConfig, CodePriorConfig)})
