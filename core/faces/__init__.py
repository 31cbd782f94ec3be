"""Faces: detection and alignment on dlib, the descriptor (dlib's ResNet in torch), the embedding job and store, search."""
