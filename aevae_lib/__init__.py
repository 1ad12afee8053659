"""aevae_lib: the small, tested helper library of the AE/VAE book.

Layers (a module imports only from its own layer or the layers below it; the test
``tests/test_library_layout.py`` checks this):

    entry points     cli, __main__, bench/          the command line, benchmarks, the reference run
    presentation     plots, diagrams, figures,      figures, diagrams, in-browser explorers
                     explorers/
    train, evaluate  train, evaluate, anomaly,      the training loop, metrics, the trained-model
                     judge, zoo, exercises/,        zoo, the exercise checkers, few-label
                     semisup, iwae, gradient_snr,   classification, IWAE training, gradient
                     amortization                   signal-to-noise, the amortization gap
    models, terms    models, objectives, configs,   networks, every loss, one configuration type
                     checkpoint, likelihood, toy,   per model kind, checkpoints, the IW bound,
                     latent, gradients, cvae, vq,   the linear-Gaussian toy, code-space tools,
                     code_prior, prior_flow         the conditional VAE, the VQ-VAE, priors over
                                                    codes (autoregressive, flow matching)
    bottom           runtime, data, corrupt, claims seeds, device, fast mode, caches; MNIST;
                                                    corruptions; a chapter's checked claims

Importing the package has no side effects: no seeding, no downloads, no file access.
"""

__version__ = "0.1.0"
