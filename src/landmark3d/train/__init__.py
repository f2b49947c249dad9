"""Training: data pipeline, losses, loop, checkpoints and ONNX export (needs the [train] extra)."""
