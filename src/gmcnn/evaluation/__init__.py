"""Measuring fills: metrics, protocol case sets, classical baselines, ``gmcnn eval`` and ``gmcnn bench``.

Submodules are imported on use (``from gmcnn.evaluation import metrics``) so that importing this package
pulls in neither OpenCV nor scikit-image.
"""
