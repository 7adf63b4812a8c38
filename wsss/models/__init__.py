"""Stage-one models: the CLIP adapter, CAMs, seeders."""
