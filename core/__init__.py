"""FaceAtlas core: plain-Python logic behind the Streamlit pages (no streamlit here, except cached.py)."""
