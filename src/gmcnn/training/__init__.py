"""Training: config, distributed setup, pure step functions, checkpoint state, and the loop (``gmcnn train``)."""
