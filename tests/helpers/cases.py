"""Photos saved under corpus file names, so the scene-kind table gives them kinds (astro, nature, urban, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

# corpus file name -> (its kind in src/gmcnn/data/scene_kinds.csv, the picture); the pictures are stand-ins.
PHOTOS = {
    "stellarium-m8.png": ("astro", lambda: data.astronaut()),
    "stellarium-m100.png": ("astro", lambda: data.astronaut()[::-1]),
    "stellarium-n45.png": ("astro", lambda: data.astronaut()[:, ::-1]),
    "stellarium-abell31.png": ("astro", lambda: data.astronaut()[100:400, 50:450]),
    "opencv-fruits.jpg": ("objects", lambda: data.coffee()),
    "plasma-bythewater.jpg": ("nature", lambda: data.chelsea()),
    "hugin-ca-tca01.jpg": ("urban", lambda: data.rocket()),  # these two are one scene (hugin-window)
    "hugin-ca-tca02.jpg": ("urban", lambda: data.rocket()[:, ::-1]),
    "opencv-scenetext05.jpg": ("urban", lambda: np.ascontiguousarray(data.rocket()[::-1])),
}
TEXTURES = {"colobot-green01.png": ("texture", lambda: data.coffee()[::2, ::2])}  # 200 x 300: under 256
OUTSIDER = "my-own-photo.png"  # not a corpus file: kind "other"


def kind_folders(root: Path) -> tuple[Path, Path]:
    """Write ``root/val`` (photos and one outsider) and ``root/textures`` like the corpus's val split."""
    photos, textures = root / "val", root / "textures"
    for folder, files in ((photos, PHOTOS), (textures, TEXTURES)):
        folder.mkdir(parents=True, exist_ok=True)
        for name, (_kind, picture) in files.items():
            Image.fromarray(np.ascontiguousarray(picture())).save(folder / name, quality=95)
    Image.fromarray(data.camera()).convert("RGB").save(photos / OUTSIDER)
    return photos, textures
