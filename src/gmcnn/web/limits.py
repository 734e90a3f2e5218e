"""The server's default limits, importable without the web extra (``gmcnn serve --help`` shows them)."""

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a 12 MP PNG is ~20-35 MB; image + mask in one request
DEFAULT_QUEUE_SIZE = 4
# Working memory of one fill per pixel of the image, measured on 100 MP PNGs (benchmarks/web_memory.py):
# the decoded image and mask, the pipeline's RGB copies, float blend weights and the encoded answer.
BYTES_PER_PIXEL = 24
DEFAULT_MEMORY_BUDGET = 3 * 2**30  # one 100 MP fill (2.4 GB) at a time, or many small ones side by side
