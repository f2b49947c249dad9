"""Dataset readers (FaceSynthetics layout, AFLW2000-3D, 300-W .pts, dlib XML)."""
