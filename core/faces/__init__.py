"""Faces: detection and alignment on dlib, the descriptor (dlib's ResNet in torch), the embedding job and store, search.

Front door: `faces_in_image(img)` finds and describes the faces of a photo; `embed_dataset(ds)` embeds a whole
dataset (resumable); `load_embeddings(cache_dir)` reads them back; `nearest_faces(...)` searches them.
"""

from core.faces.embed_job import embed_dataset
from core.faces.search import QueryFaces, faces_in_image, nearest_faces
from core.faces.store import Embeddings, default_embedding_model, load_embeddings

__all__ = [
    "Embeddings",
    "QueryFaces",
    "default_embedding_model",
    "embed_dataset",
    "faces_in_image",
    "load_embeddings",
    "nearest_faces",
]
