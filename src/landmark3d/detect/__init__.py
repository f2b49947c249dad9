"""Face detector back-ends behind one small interface."""
