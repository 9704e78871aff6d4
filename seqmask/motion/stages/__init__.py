"""The motion pipeline's stages: one module per stage, each declaring its ``VERSION``, input ``ROLES``, the files it
``WRITES``, its ``Config`` slice and its ``build(ctx)``. File names and readers: :mod:`seqmask.motion.artifacts`."""
