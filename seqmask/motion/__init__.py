"""Motion: BVH files, forward and inverse kinematics, motion datasets and diffusion models."""
