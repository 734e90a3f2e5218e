"""The server's default limits, importable without the web extra (``gmcnn serve --help`` shows them)."""

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a 12 MP PNG is ~20-35 MB; image + mask in one request
DEFAULT_QUEUE_SIZE = 4
# Seconds a request body may stall (no byte arriving) before the server answers 408 and closes the connection.
DEFAULT_BODY_TIMEOUT = 30.0
# Working memory for the fills in flight; each fill's share is gmcnn.inpainting.memory.fill_memory of its plan.
DEFAULT_MEMORY_BUDGET = 3 * 2**30
