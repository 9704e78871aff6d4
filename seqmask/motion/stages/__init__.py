"""The motion pipeline's stages: one module per stage, each a ``build(ctx)``."""
