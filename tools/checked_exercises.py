"""The auto-checked exercises of chapters 4, 6 and 7, as notebook cells (data for lecture_cells.py).

Each exercise is inserted at the end of the section whose ``##`` heading matches the first of
its ``anchors`` (regular expressions, tried in order, case-insensitive); when none matches it
goes at the start of the chapter's ``## Exercises`` section. The cells, in order:

1. the exercise (a sphinx-exercise directive with its teaching metadata);
2. a code cell the learner completes: a stub that raises ``NotImplementedError``;
3. a code cell that runs the checker of :mod:`aevae_lib.exercises` on it (its output, "not
   written yet", is left out of the book, which shows the worked answer's check instead);
4. the solution (gated, so that it holds code): the worked answer, which redefines the
   function and runs the same check, and a hidden cell that fails the build if the worked
   answer ever stops passing.

So the chapter runs from top to bottom with the stub in place (the student handout) and with
the worked answer (the book, the instructor handout). lecture_cells.py adds the hidden
headings that keep the solution collapsed in JupyterLab and Colab.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckedExercise:
    chapter: str  # notebook file prefix, "04"
    label: str
    title: str
    meta: str  # the :class: option: kind, time, level
    anchors: tuple[str, ...]
    function: str  # the name the learner's function gets
    checker: str  # the function of aevae_lib.exercises that checks it
    question: str  # Markdown
    stub: str  # the code cell the learner completes
    solution_text: str  # Markdown, before the worked answer
    answer: str  # the worked answer (code); the check call is appended


EXERCISES = [
    CheckedExercise(
        chapter="04",
        label="ch04-ex-check-bernoulli",
        title="Write the Bernoulli log-likelihood",
        meta="kind-code time-10 level-1",
        anchors=(r"likelihood",),
        function="log_bernoulli",
        checker="check_bernoulli_log_likelihood",
        question=(
            "Complete `log_bernoulli(x, logits)` in the next cell. For binary images `x` and "
            "the decoder's logits, both of shape $(B, D)$, it returns $\\log \\pxz$ for "
            "independent Bernoulli pixels with $P(x_i = 1) = \\operatorname{sigmoid}(a_i)$, "
            "where $a_i$ is the logit of pixel $i$, summed over the $D$ pixels of each image: a "
            "tensor of shape $(B,)$. Mind large logits: a confident decoder outputs logits "
            "of $\\pm 40$. Then run the check below it, which compares your function with the "
            "book's library on random inputs and names the usual mistakes."
        ),
        stub=(
            "import torch.nn.functional as F  # F.logsigmoid may help\n"
            "\n"
            "\n"
            "def log_bernoulli(x, logits):\n"
            '    """log p(x | z) of Bernoulli pixels, summed over the pixels: (B, D) -> (B,)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "Work in log space: $\\log \\operatorname{sigmoid}(a)$ is `F.logsigmoid(a)` and "
            "$\\log\\big(1 - \\operatorname{sigmoid}(a)\\big) = \\log \\operatorname{sigmoid}(-a)$ "
            "is `F.logsigmoid(-a)`, so no logarithm of a probability rounded to 0 is ever taken. "
            "Sum over the pixels, the last dimension, and keep the batch dimension:"
        ),
        answer=(
            "def log_bernoulli(x, logits):\n"
            '    """log p(x | z) of Bernoulli pixels, summed over the pixels: (B, D) -> (B,)."""\n'
            "    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=-1)"
        ),
    ),
    CheckedExercise(
        chapter="04",
        label="ch04-ex-check-kl",
        title="Write the closed-form KL",
        meta="kind-code time-10 level-1",
        anchors=(r"\bloss\b", r"\bKL\b"),
        function="kl_to_prior",
        checker="check_kl",
        question=(
            "Complete `kl_to_prior(mu, logvar)` in the next cell. Its arguments are the "
            "encoder's outputs $\\bmu$ and $\\log \\bsigma^2$ for a batch, each of shape "
            "$(B, d)$; it returns $\\KL\\big(\\qzx \\,\\Vert\\, \\pz\\big)$ of each example in "
            "closed form, a tensor of shape $(B,)$. Then run the check below it, which "
            "compares your function with the book's library on random inputs and names the "
            "usual mistakes."
        ),
        stub=(
            "def kl_to_prior(mu, logvar):\n"
            '    """KL(q(z | x) || N(0, I)) of each example: mu, logvar (B, d) -> (B,)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "Each latent dimension contributes "
            "$\\frac12\\big(\\mu_j^2 + \\sigma_j^2 - \\log \\sigma_j^2 - 1\\big)$, with "
            "$\\sigma_j^2$ = `logvar.exp()`; sum over the $d$ dimensions, the last axis, and "
            "keep the batch axis:"
        ),
        answer=(
            "def kl_to_prior(mu, logvar):\n"
            '    """KL(q(z | x) || N(0, I)) of each example: mu, logvar (B, d) -> (B,)."""\n'
            "    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=-1)"
        ),
    ),
    CheckedExercise(
        chapter="06",
        label="ch06-ex-check-reparameterize",
        title="Write the reparameterized draw",
        meta="kind-code time-10 level-1",
        anchors=(r"no gradient", r"reparameteri"),
        function="draw_z",
        checker="check_reparameterize",
        question=(
            "Complete `draw_z(mu, logvar)` in the next cell: for encoder outputs $\\bmu$ and "
            "$\\log \\bsigma^2$ of shape $(B, d)$ it returns one draw "
            "$\\z = \\bmu + \\bsigma \\odot \\eps$, $\\eps \\sim \\N(\\mathbf{0}, \\I)$, per row, "
            "in a way that lets gradients reach `mu` and `logvar` (the check differentiates "
            "through your $\\z$). Then run the check below it."
        ),
        stub=(
            "def draw_z(mu, logvar):\n"
            '    """One reparameterized draw z ~ N(mu, diag(exp(logvar))): (B, d) -> (B, d)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "The standard deviation is $\\bsigma = \\exp(\\frac12 \\log \\bsigma^2)$, and the "
            "noise is drawn separately, one independent standard normal number per entry, so "
            "that $\\z$ is an ordinary differentiable function of `mu` and `logvar`:"
        ),
        answer=(
            "def draw_z(mu, logvar):\n"
            '    """One reparameterized draw z ~ N(mu, diag(exp(logvar))): (B, d) -> (B, d)."""\n'
            "    std = torch.exp(0.5 * logvar)  # sigma, from log sigma^2\n"
            "    eps = torch.randn_like(std)  # one N(0, 1) draw per entry, no parameters\n"
            "    return mu + std * eps"
        ),
    ),
    CheckedExercise(
        chapter="06",
        label="ch06-ex-check-pathwise",
        title="Write the pathwise gradient",
        meta="kind-code time-15 level-2",
        anchors=(r"estimator", r"pathwise"),
        function="pathwise_grad",
        checker="check_pathwise_gradient",
        question=(
            "Complete `pathwise_grad(psi, mu, sigma, n)` in the next cell: it estimates the "
            "gradient of $\\E_{z \\sim \\N(\\mu, \\sigma^2)}[\\psi(z)]$ with respect to $\\mu$ "
            "and $\\sigma$ by the pathwise estimator with $S$ = `n` samples "
            "$z_s = \\mu + \\sigma \\epsilon_s$, and returns the two numbers as a tensor "
            "`[d/dmu, d/dsigma]`. Here `mu` and `sigma` are Python floats and `psi` is a "
            "function of a tensor, such as this chapter's $\\psi(z) = (z - 2)^2$. Let autograd "
            "do the differentiation. Then run the check below it."
        ),
        stub=(
            "def pathwise_grad(psi, mu, sigma, n):\n"
            '    """Pathwise estimate of d/d(mu, sigma) E[psi(z)], z ~ N(mu, sigma^2): (2,)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "Make $\\mu$ and $\\sigma$ tensors that record gradients, draw the noise, average "
            "$\\psi$ over the samples, and differentiate that average:"
        ),
        answer=(
            "def pathwise_grad(psi, mu, sigma, n):\n"
            '    """Pathwise estimate of d/d(mu, sigma) E[psi(z)], z ~ N(mu, sigma^2): (2,)."""\n'
            "    mu = torch.tensor(mu, requires_grad=True)\n"
            "    sigma = torch.tensor(sigma, requires_grad=True)\n"
            "    z = mu + sigma * torch.randn(n)  # (n,): draws that depend on mu and sigma\n"
            "    psi(z).mean().backward()  # the gradient of the average over the draws\n"
            "    return torch.stack([mu.grad, sigma.grad])"
        ),
    ),
    CheckedExercise(
        chapter="07",
        label="ch07-ex-check-toy-elbo",
        title="The toy's ELBO in closed form",
        meta="kind-code time-20 level-2",
        anchors=(r"\bsplit\b", r"reconstruction minus", r"Route 2"),
        function="toy_elbo",
        checker="check_toy_elbo",
        question=(
            "Complete `toy_elbo(model, x, q_mean, q_std)` in the next cell: the ELBO of the "
            "linear-Gaussian model, $\\pz = \\N(\\mathbf{0}, \\I)$ and "
            "$\\pxz = \\N(\\mathbf{W}\\z + \\mathbf{b},\\, s^2 \\I)$, in closed form, for a "
            "diagonal Gaussian $q = \\N(\\bmu, \\diag \\bsigma^2)$ per data point. `model` is a "
            "`toy.LinearGaussian` (use its `W`, `b`, `noise_std` $= s$ and `D`), `x` has shape "
            "$(B, D)$, `q_mean` $= \\bmu$ and `q_std` $= \\bsigma$ have shape $(B, d)$, and "
            "the result has shape $(B,)$. Hint: under $q$, "
            "$\\E \\lVert \\x - \\mathbf{W}\\z - \\mathbf{b} \\rVert^2 = "
            "\\lVert \\x - \\mathbf{W}\\bmu - \\mathbf{b} \\rVert^2 + "
            "\\sum_j \\sigma_j^2 \\lVert \\mathbf{w}_j \\rVert^2$, with $\\mathbf{w}_j$ the "
            "$j$-th column of $\\mathbf{W}$. Then run the check below it."
        ),
        stub=(
            "import math\n"
            "\n"
            "\n"
            "def toy_elbo(model, x, q_mean, q_std):\n"
            '    """Closed-form ELBO of the linear-Gaussian model for q = N(q_mean, q_std^2): (B,)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "The expected log-likelihood is the Gaussian's normalizing constant minus the "
            "expected squared error over $2 s^2$, where the spread of $q$ adds the trace term "
            "of the hint; subtract the closed-form KL of $q$ from the prior:"
        ),
        answer=(
            "def toy_elbo(model, x, q_mean, q_std):\n"
            '    """Closed-form ELBO of the linear-Gaussian model for q = N(q_mean, q_std^2): (B,)."""\n'
            "    s2 = model.noise_std**2\n"
            "    resid = (x - q_mean @ model.W.T - model.b).pow(2).sum(-1)  # (B,)\n"
            "    trace = (q_std.pow(2) * model.W.pow(2).sum(0)).sum(-1)  # sum_j sigma_j^2 |w_j|^2\n"
            "    expected = -0.5 * model.D * math.log(2 * math.pi * s2) - (resid + trace) / (2 * s2)\n"
            "    kl = 0.5 * (q_mean.pow(2) + q_std.pow(2) - q_std.pow(2).log() - 1).sum(-1)\n"
            "    return expected - kl"
        ),
    ),
    CheckedExercise(
        chapter="07",
        label="ch07-ex-check-iw",
        title="The importance-weighted bound from log weights",
        meta="kind-code time-10 level-1",
        anchors=(r"importance-weighted", r"importance"),
        function="iw_estimate",
        checker="check_iw_bound",
        question=(
            "Complete `iw_estimate(log_w)` in the next cell: from the log weights "
            "$\\log w_i$ of $k$ samples for each of $B$ data points, a tensor of shape "
            "$(k, B)$, it returns $\\ELBO_k = \\log \\frac1k \\sum_{i=1}^k w_i$ for each data "
            "point, shape $(B,)$. The check uses $k = 10$ and, as for real images, log "
            "weights hundreds of nats below zero. Then run the check below it."
        ),
        stub=(
            "import math\n"
            "\n"
            "\n"
            "def iw_estimate(log_w):\n"
            '    """The importance-weighted bound log (1/k) sum_i w_i: log_w (k, B) -> (B,)."""\n'
            "    raise NotImplementedError  # your code here"
        ),
        solution_text=(
            "The bound is the logarithm of the *mean* weight. `torch.logsumexp` computes "
            "$\\log \\sum_i w_i$ from the $\\log w_i$ without ever forming a $w_i$ (it "
            "subtracts the largest first), and $-\\log k$ turns the sum into the mean:"
        ),
        answer=(
            "def iw_estimate(log_w):\n"
            '    """The importance-weighted bound log (1/k) sum_i w_i: log_w (k, B) -> (B,)."""\n'
            "    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])"
        ),
    ),
]


def for_chapter(prefix: str) -> list[CheckedExercise]:
    return [e for e in EXERCISES if e.chapter == prefix]
