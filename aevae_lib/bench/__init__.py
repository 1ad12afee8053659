"""Measurements and long runs that stand beside the book: no chapter imports this package.

The teaching library is the modules one level up; this subpackage holds what the command line
and ``benchmarks/`` use to measure and reproduce the book's models:

- ``speed``: seconds per epoch of the book's loop against the pytorch/examples pipeline
  (``python -m aevae_lib bench``);
- ``peer_vae``: the replica of pytorch/examples ``vae/main.py`` that ``speed`` races;
- ``cpu_run``: the resumable reference run on a CPU, scheduled by epochs
  (``python -m aevae_lib reference``);
- ``gpu_run``: the wall-clock reference run on a GPU (``python -m aevae_lib reproduce``).
"""
