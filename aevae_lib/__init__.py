"""aevae_lib: the small, tested helper library of the AE/VAE book.

Layers (lower never import upper):
    runtime, data          seeds, device, fast mode, caches; MNIST and batching
    models, objectives     nn.Modules; pure loss / bound / KL functions
    train, evaluate, judge training loop; metrics, IW bounds, sample-quality judge
    plots, figures, widgets  presentation (widgets: ipywidgets; figures: their static twins)

Importing the package has no side effects: no seeding, no downloads, no file access.
"""

__version__ = "0.1.0"
