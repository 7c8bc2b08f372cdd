"""Lead photos: what a courier's photo becomes, and the files that are refused.

A stored photo is always a freshly encoded JPEG, at most 1600 px on its long
side, upright, and carrying nothing of the original's metadata (a phone's EXIF
holds where the photo was taken and by which device).
"""
import io
import os
import re
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from app import photos
from app.models import Lead
from conftest import lead_form
from test_capture import assert_form_kept, error_of, post_lead, stored_photos

MB = 2**20
NOT_A_PHOTO = "That file is not a JPEG, PNG or WebP photo, or it is damaged."
TOO_MANY_PIXELS = "The photo has too many pixels."
RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)


def encode(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def two_colour(size, left=RED, right=BLUE):
    """An image whose left half is `left` and right half `right`."""
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def noise(size):
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def phone_exif(orientation=None):
    """EXIF as a phone writes it: the device, the time and where it was."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Acme"
    exif[ExifTags.Base.Model] = "Pocketcam 9"
    exif[ExifTags.Base.DateTime] = "2024:05:06 07:08:09"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (51.0, 30.0, 26.0),
        ExifTags.GPS.GPSLongitudeRef: "W", ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0)}
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    return exif


def png_declaring(width, height):
    """A real 1-bit black PNG of width x height: a few kB that decode to width*height bytes."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def jpeg_declaring(width, height):
    """A small JPEG whose frame header claims width x height."""
    data = bytearray(encode(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def send_photo(client, photo, filename="photo.jpg", mimetype="image/jpeg", **overrides):
    data = lead_form(**overrides)
    return data, post_lead(client, data, photo=photo, filename=filename, mimetype=mimetype)


def stored_image(client, response):
    """The stored photo of the lead a 302 response names, as its viewers get it."""
    assert response.status_code == 302, (response.status, response.get_data(as_text=True))
    lead_id = int(re.search(r"/leads/(\d+)/sent", response.headers["Location"]).group(1))
    served = client.get("/leads/%d/photo" % lead_id)
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(served.data))
    image.load()
    return image, served.data


def colour_near(pixel, expected, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


# --- Photos that are kept --------------------------------------------------------

def test_phone_photo_is_stored_small_and_without_its_exif(app, client, auth, depot):
    upload = encode(two_colour((4000, 3000)), "JPEG", exif=phone_exif(), quality=90)
    assert Image.open(io.BytesIO(upload)).getexif()[ExifTags.Base.Make] == "Acme"
    auth.login(depot.courier)
    _, response = send_photo(client, upload)
    image, data = stored_image(client, response)

    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == (1600, 1200)
    assert not image.getexif()
    assert "exif" not in image.info
    for secret in (b"Exif", b"Acme", b"Pocketcam", b"2024:05:06"):
        assert secret not in data
    lead = Lead.get()
    assert stored_photos(app) == [lead.photo]
    with open(os.path.join(app.config["PHOTO_FOLDER"], lead.photo), "rb") as f:
        assert f.read() == data
    assert colour_near(image.getpixel((100, 600)), RED)
    assert colour_near(image.getpixel((1500, 600)), BLUE)


def test_photo_comments_and_xmp_are_not_kept(client, auth, depot):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description exif:GPSLatitude="51,30.44N" '
           b'xmlns:exif="http://ns.adobe.com/exif/1.0/"/></rdf:RDF></x:xmpmeta>')
    upload = encode(two_colour((800, 600)), "JPEG", comment=b"Taken at 51.5074,-0.1278 by Ann",
                    xmp=xmp)
    assert Image.open(io.BytesIO(upload)).info["comment"].startswith(b"Taken at")
    auth.login(depot.courier)
    _, response = send_photo(client, upload)
    image, data = stored_image(client, response)
    assert "comment" not in image.info and "xmp" not in image.info
    assert b"51.5074" not in data and b"GPSLatitude" not in data


@pytest.mark.parametrize("size, stored", [
    ((4000, 3000), (1600, 1200)),   # a phone's landscape photo
    ((3000, 4000), (1200, 1600)),   # and its portrait one
    ((1600, 900), (1600, 900)),     # exactly the limit: as it is
    ((800, 600), (800, 600)),       # small photos are not blown up
])
def test_photos_are_at_most_1600_px_on_the_long_side(client, auth, depot, size, stored):
    auth.login(depot.courier)
    _, response = send_photo(client, encode(two_colour(size), "PNG"), "photo.png", "image/png")
    image, _ = stored_image(client, response)
    assert image.size == stored


@pytest.mark.parametrize("orientation, size, stored, top, bottom", [
    (6, (200, 100), (100, 200), RED, BLUE),      # turned right: left half now on top
    (8, (200, 100), (100, 200), BLUE, RED),      # turned left: right half now on top
    (6, (4000, 3000), (1200, 1600), RED, BLUE),  # and then scaled
])
def test_sideways_phone_photo_is_turned_upright(client, auth, depot, orientation, size, stored,
                                                top, bottom):
    upload = encode(two_colour(size), "JPEG", exif=phone_exif(orientation))
    auth.login(depot.courier)
    _, response = send_photo(client, upload)
    image, _ = stored_image(client, response)
    assert image.size == stored
    width, height = stored
    assert colour_near(image.getpixel((width // 2, height // 10)), top)
    assert colour_near(image.getpixel((width // 2, height * 9 // 10)), bottom)
    assert not image.getexif()


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_png_with_transparency_is_stored_as_jpeg_on_white(client, auth, depot, mode):
    picture = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    picture.paste((20, 20, 220, 255), (150, 0, 300, 200))
    if mode == "P":   # a palette with one transparent entry, as small PNGs often are
        picture = picture.convert("P")
        options = {"transparency": picture.getpixel((0, 0))}
    else:
        options = {}
    auth.login(depot.courier)
    _, response = send_photo(client, encode(picture, "PNG", **options), "label.png", "image/png")
    image, _ = stored_image(client, response)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (300, 200))
    assert colour_near(image.getpixel((50, 100)), WHITE, 8)
    assert colour_near(image.getpixel((250, 100)), BLUE)


@pytest.mark.parametrize("kind, upload, filename, mimetype", [
    ("webp", lambda: encode(two_colour((2000, 1000)), "WEBP"), "photo.webp", "image/webp"),
    ("webp with alpha", lambda: encode(two_colour((400, 200)).convert("RGBA"), "WEBP",
                                       lossless=True), "photo.webp", "image/webp"),
    ("palette png", lambda: encode(two_colour((400, 200)).convert("P"), "PNG"),
     "photo.png", "image/png"),
    ("grey jpeg", lambda: encode(Image.new("L", (400, 200), 128), "JPEG"),
     "photo.jpg", "image/jpeg"),
    ("cmyk jpeg", lambda: encode(two_colour((400, 200)).convert("CMYK"), "JPEG"),
     "photo.jpg", "image/jpeg"),
    ("16-bit png", lambda: encode(Image.new("I;16", (400, 200), 30000), "PNG"),
     "photo.png", "image/png"),
    ("android multi-picture jpeg", lambda: encode(two_colour((400, 200)), "MPO", save_all=True,
                                                  append_images=[two_colour((400, 200))]),
     "photo.jpg", "image/jpeg"),
    ("jpeg named .png", lambda: encode(two_colour((400, 200)), "JPEG"),
     "photo.png", "image/png"),
])
def test_other_kinds_of_photo_are_converted_to_jpeg(app, client, auth, depot, kind, upload,
                                                    filename, mimetype):
    auth.login(depot.courier)
    _, response = send_photo(client, upload(), filename, mimetype)
    image, _ = stored_image(client, response)
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert max(image.size) <= 1600
    assert len(stored_photos(app)) == 1


def test_a_real_photo_of_a_few_megabytes_is_accepted(app, client, auth, depot):
    """A camera's JPEG is dense, near-random bytes (unlike the flat test images
    above), so this is the upload every courier makes."""
    upload = encode(noise((2000, 1500)), "JPEG", quality=90, exif=phone_exif())
    assert 2 * MB < len(upload) < app.config["PHOTO_MAX_BYTES"]
    auth.login(depot.courier)
    _, response = send_photo(client, upload)
    image, _ = stored_image(client, response)
    assert image.size == (1600, 1200)
    assert not image.getexif()


def test_a_lead_without_a_photo_has_none(app, client, auth, depot):
    auth.login(depot.courier)
    # What a browser sends when no file was chosen: an empty part with no file name.
    _, response = send_photo(client, b"", filename="", mimetype="application/octet-stream")
    assert response.status_code == 302
    lead = Lead.get()
    assert lead.photo is None
    assert stored_photos(app) == []
    assert client.get("/leads/%d/photo" % lead.id).status_code == 404
    assert "/photo" not in client.get("/leads/%d" % lead.id).get_data(as_text=True)


def test_lead_page_shows_the_photo(client, auth, depot):
    auth.login(depot.courier)
    _, response = send_photo(client, encode(two_colour((400, 300)), "JPEG"))
    lead = Lead.get()
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert '<img class="photo" src="/leads/%d/photo"' % lead.id in html


def test_photo_is_served_privately(client, auth, depot):
    auth.login(depot.courier)
    send_photo(client, encode(two_colour((400, 300)), "JPEG"))
    served = client.get("/leads/%d/photo" % Lead.get().id)
    assert served.headers["Cache-Control"] == "private, max-age=86400"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_double_tap_with_a_photo_stores_one_photo(app, client, auth, depot):
    auth.login(depot.courier)
    data = lead_form()
    upload = encode(two_colour((800, 600)), "JPEG")
    first = post_lead(client, data, photo=upload)
    second = post_lead(client, data, photo=upload)
    assert first.status_code == second.status_code == 302
    lead = Lead.get()
    assert Lead.select().count() == 1
    assert stored_photos(app) == [lead.photo]


# --- Photos that are refused -----------------------------------------------------

def truncated(data):
    return data[:len(data) // 2]


REFUSED = [
    # id, upload, filename, mimetype, message
    ("text file named photo.jpg", lambda: b"Dear Joe, see you Monday.\n" * 40,
     "photo.jpg", "image/jpeg", NOT_A_PHOTO),
    ("web page named photo.jpg", lambda: b"<html><script>alert(1)</script></html>",
     "photo.jpg", "image/jpeg", NOT_A_PHOTO),
    ("truncated jpeg", lambda: truncated(encode(noise((160, 120)), "JPEG")),
     "photo.jpg", "image/jpeg", NOT_A_PHOTO),
    ("truncated png", lambda: truncated(encode(noise((160, 120)), "PNG")),
     "photo.png", "image/png", NOT_A_PHOTO),
    ("png with a damaged chunk",
     lambda: (lambda d: d[:60] + bytes([d[60] ^ 0xFF]) + d[61:])(encode(noise((64, 64)), "PNG")),
     "photo.png", "image/png", NOT_A_PHOTO),
    ("gif", lambda: encode(two_colour((400, 300)), "GIF"), "photo.gif", "image/gif", NOT_A_PHOTO),
    ("gif named photo.jpg", lambda: encode(two_colour((400, 300)), "GIF"),
     "photo.jpg", "image/jpeg", NOT_A_PHOTO),
    ("bmp", lambda: encode(two_colour((100, 75)), "BMP"), "photo.bmp", "image/bmp", NOT_A_PHOTO),
    ("tiff", lambda: encode(two_colour((100, 75)), "TIFF"), "photo.tif", "image/tiff",
     NOT_A_PHOTO),
    ("svg named photo.png", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>',
     "photo.png", "image/png", NOT_A_PHOTO),
    ("empty file", lambda: b"", "photo.jpg", "image/jpeg", "The photo is empty."),
    ("png bomb 20000 x 20000", lambda: png_declaring(20_000, 20_000), "photo.png", "image/png",
     TOO_MANY_PIXELS),
    ("png of 9000 x 9000", lambda: png_declaring(9000, 9000), "photo.png", "image/png",
     TOO_MANY_PIXELS),
    ("jpeg claiming 30000 x 30000", lambda: jpeg_declaring(30_000, 30_000),
     "photo.jpg", "image/jpeg", TOO_MANY_PIXELS),
]


@pytest.mark.parametrize("upload, filename, mimetype, message",
                         [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused_photo_is_explained_and_nothing_is_stored(app, client, auth, depot, upload,
                                                          filename, mimetype, message):
    auth.login(depot.courier)
    data, response = send_photo(client, upload(), filename, mimetype)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_of(html, "photo") == message
    assert 'aria-describedby="photo-hint photo-error"' in html
    assert_form_kept(html, data)
    assert Lead.select().count() == 0
    assert stored_photos(app) == []


def test_bombs_are_small_files(app):
    """The bombs above are refused for what they declare, not for their size."""
    assert len(png_declaring(20_000, 20_000)) < 200_000
    assert len(png_declaring(9000, 9000)) < 50_000
    assert Image.open(io.BytesIO(png_declaring(9000, 9000))).size == (9000, 9000)


def test_photo_of_exactly_the_size_limit_is_kept_and_one_byte_more_is_refused(
        app, client, auth, depot):
    app.config["PHOTO_MAX_BYTES"] = 2 * MB
    photo = encode(two_colour((400, 300)), "JPEG")
    photo += b"\0" * (2 * MB - len(photo))   # a JPEG decoder stops at its end marker
    auth.login(depot.courier)

    data, response = send_photo(client, photo + b"\0")
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "photo") == (
        "The photo is over 2 MB. Choose a smaller one.")
    assert Lead.select().count() == 0 and stored_photos(app) == []

    _, response = send_photo(client, photo)
    image, _ = stored_image(client, response)
    assert image.size == (400, 300)


@pytest.mark.parametrize("limit, stated", [(300 * 1024, "300 KB"), (5_000_000, "4.7 MB"),
                                           (1000, "1000 bytes")])
def test_size_limits_are_stated_plainly(app, client, auth, depot, limit, stated):
    app.config["PHOTO_MAX_BYTES"] = limit
    photo = encode(two_colour((400, 300)), "JPEG")
    photo += b"\0" * (limit + 1 - len(photo))
    auth.login(depot.courier)
    _, response = send_photo(client, photo)
    assert error_of(response.get_data(as_text=True), "photo") == (
        "The photo is over %s. Choose a smaller one." % stated)
    assert Lead.select().count() == 0 and stored_photos(app) == []


def test_a_full_photo_fits_in_a_request(app, client, auth, depot):
    """The request limit leaves room for a photo of PHOTO_MAX_BYTES and the form."""
    limit = app.config["PHOTO_MAX_BYTES"]
    assert app.config["MAX_CONTENT_LENGTH"] > limit
    photo = encode(two_colour((400, 300)), "JPEG")
    photo += b"\0" * (limit - len(photo))
    auth.login(depot.courier)
    _, response = send_photo(client, photo, note="n" * 1000, address="a" * 200)
    assert response.status_code == 302
    assert len(stored_photos(app)) == 1


def test_upload_over_the_request_limit_gets_a_clear_413_page(app, client, auth, depot):
    auth.login(depot.courier)
    upload = encode(two_colour((400, 300)), "JPEG") + b"\0" * (50 * MB)
    _, response = send_photo(client, upload)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "That upload is too large: a photo may be up to 10 MB." in response.get_data(as_text=True)
    assert Lead.select().count() == 0
    assert stored_photos(app) == []


def test_request_limit_can_be_lowered(app, client, auth, depot):
    app.config["MAX_CONTENT_LENGTH"] = 1 * MB
    photo = encode(two_colour((400, 300)), "JPEG")
    auth.login(depot.courier)
    _, response = send_photo(client, photo + b"\0" * (MB + 1))
    assert response.status_code == 413
    assert Lead.select().count() == 0 and stored_photos(app) == []
    _, response = send_photo(client, photo + b"\0" * (MB - 10_000))
    assert response.status_code == 302


# --- photos.prepare and storage, directly ----------------------------------------

CONFIG = {"PHOTO_MAX_BYTES": 10 * MB, "PHOTO_MAX_PIXELS": 1600}


def test_prepare_gives_fresh_jpeg_bytes():
    prepared = photos.prepare(io.BytesIO(encode(two_colour((3200, 100)), "PNG")), CONFIG)
    image = Image.open(io.BytesIO(prepared))
    assert (image.format, image.size) == ("JPEG", (1600, 50))


def test_prepare_honours_the_configured_long_side():
    prepared = photos.prepare(io.BytesIO(encode(two_colour((1000, 500)), "JPEG")),
                              dict(CONFIG, PHOTO_MAX_PIXELS=640))
    assert Image.open(io.BytesIO(prepared)).size == (640, 320)


def test_prepare_reads_no_more_than_one_byte_past_the_limit():
    stream = io.BytesIO(b"\0" * (3 * MB))
    with pytest.raises(photos.PhotoError):
        photos.prepare(stream, dict(CONFIG, PHOTO_MAX_BYTES=1 * MB))
    assert stream.tell() == 1 * MB + 1


@pytest.mark.parametrize("upload", [b"GIF89a", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n" + b"\0" * 30,
                                    b"RIFF\0\0\0\0WEBPVP8 "])
def test_prepare_refuses_mere_headers(upload):
    with pytest.raises(photos.PhotoError, match="not a JPEG, PNG or WebP"):
        photos.prepare(io.BytesIO(upload), CONFIG)


def test_stored_photo_gets_a_random_name_and_can_be_deleted(app):
    with app.app_context():
        first, second = photos.store(b"one"), photos.store(b"two")
        assert re.fullmatch(r"[0-9a-f]{32}\.jpg", first) and first != second
        assert stored_photos(app) == sorted([first, second])   # no temporary files left
        with open(photos.path(first), "rb") as f:
            assert f.read() == b"one"
        photos.delete(first)
        photos.delete(first)    # already gone: fine
        photos.delete(None)
        assert stored_photos(app) == [second]
