"""Lead photos: checked by their content, stripped of EXIF, scaled, stored.

A photo is decoded by Pillow, so a text file named `.jpg` or a truncated image
is refused however it is named. What is stored is always a freshly encoded
JPEG no larger than PHOTO_MAX_PIXELS on its long side, which carries none of
the original's metadata (a phone's EXIF holds the GPS position and more).
"""
import io
import os
import secrets

from flask import current_app
from PIL import Image, ImageOps

FORMATS = {"JPEG", "PNG", "WEBP"}
# Far above any phone camera; refuses decompression bombs before they decode.
MAX_SOURCE_PIXELS = 60_000_000
TOO_MANY_PIXELS = "The photo has too many pixels."


class PhotoError(ValueError):
    """A photo we refuse, with a message for the courier."""


def prepare(stream, config):
    """Read an uploaded photo and return it as JPEG bytes ready to store."""
    limit = config["PHOTO_MAX_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PhotoError("The photo is over %s. Choose a smaller one." % _size(limit))
    if not data:
        raise PhotoError("The photo is empty.")
    try:
        image = Image.open(io.BytesIO(data), formats=sorted(FORMATS))
        if image.width * image.height > MAX_SOURCE_PIXELS:
            raise PhotoError(TOO_MANY_PIXELS)
        image.load()
        image = ImageOps.exif_transpose(image)
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard, met when Image.open reads a header far past ours.
        raise PhotoError(TOO_MANY_PIXELS)
    except (OSError, SyntaxError, ValueError):
        raise PhotoError("That file is not a JPEG, PNG or WebP photo, or it is damaged.")
    return _encode(image, config["PHOTO_MAX_PIXELS"])


def _size(n):
    """A byte count as a courier reads it, rounded down: 10 MB, 2.5 MB, 300 KB."""
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return "%g %s" % (int(n * 10 / size) / 10, unit)
    return "%d bytes" % n


def _encode(image, max_pixels):
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((max_pixels, max_pixels), Image.Resampling.LANCZOS)
    # Pillow copies some of the source's info (a JPEG comment) into the new
    # file unless it is gone; none of it may leave with the photo.
    image.info.clear()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


def path(name):
    return os.path.join(current_app.config["PHOTO_FOLDER"], name)


def store(data):
    """Write prepared photo bytes under a new random name; return the name."""
    name = secrets.token_hex(16) + ".jpg"
    os.makedirs(current_app.config["PHOTO_FOLDER"], exist_ok=True)
    tmp = path(name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path(name))
    return name


def delete(name):
    """Remove a stored photo; a missing one is fine."""
    if name:
        try:
            os.remove(path(name))
        except FileNotFoundError:
            pass
