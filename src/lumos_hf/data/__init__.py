"""Data: video I/O, pre-tokenization into `datasets`, and the procedural shapes text-video dataset.

Submodules are imported on use (`from lumos_hf.data.shapes import ...`): they pull in video decoders and `datasets`.
"""
