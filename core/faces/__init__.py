"""Faces: detection and alignment on dlib, the descriptor (dlib's ResNet in torch), the embedding job, search,
the same-person calibration and decision.

Front door: `faces_in_image(img)` finds and describes the faces of a photo; `embed_dataset(ds)` embeds a whole
dataset (resumable) into the data layer's store (`core.data.embeddings.load_embeddings(ds)` reads them back);
`nearest_faces(...)` searches them.
"""

from core.faces.embed_job import embed_dataset
from core.faces.search import QueryFaces, faces_in_image, nearest_faces

__all__ = [
    "QueryFaces",
    "embed_dataset",
    "faces_in_image",
    "nearest_faces",
]
