"""``python -m safetymonth.web.thumbnail_worker SRC OUT SIZE MAX_PIXELS MEMORY SECONDS``: one
photo's thumbnail, made in a process of its own that caps its own address space and CPU time
before Pillow is imported, so a hostile photo costs this process, never the console."""

from __future__ import annotations

import resource
import sys


def main(argv: list[str]) -> int:
    source, target, size, max_pixels, memory, seconds = argv
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds)))
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = int(max_pixels)  # larger raises DecompressionBombError
    with Image.open(source) as image:
        image.draft("RGB", (int(size), int(size)))  # JPEG: decode at 1/2…1/8 scale
        image = ImageOps.exif_transpose(image)
        image.thumbnail((int(size), int(size)))
        image.convert("RGB").save(target, "JPEG", quality=80)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
