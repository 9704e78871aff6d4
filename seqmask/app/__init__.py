"""The application layer: the composition roots that know all three pipelines.

:mod:`seqmask.app.root` holds the root config class (its fields are the registry of config sections the preset
loader reads), the registry of flows (each one's Prefect flow, plan and command-line options) and of each pipeline's
inference commands; :mod:`seqmask.app.speech`, :mod:`seqmask.app.text` and :mod:`seqmask.app.motion` hold each
pipeline's command-line options and commands. Nothing below this layer imports it (``make test`` checks the layers
with import-linter).
"""
