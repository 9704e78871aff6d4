"""Mask parameters, one module per method (no torch imports), so that a method's stages depend only on its own."""
