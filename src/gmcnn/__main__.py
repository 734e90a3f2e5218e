"""``python -m gmcnn`` — same as the ``gmcnn`` console script."""

import sys

from gmcnn.cli import main

sys.exit(main())
