"""Streamlit widgets and panels shared by the pages (layout only; logic lives in core/)."""
