"""Write small FITS files laid out like MAST's public bucket (s3://stpubdata), for the
getting-started notebooks to read from the emulator. Run INSIDE an image environment
(numpy and astropy):

    <image venv>/bin/python make_stpubdata.py <directory>

Every file goes to ``<directory>/<key>``: the tests upload each under that key. The
drizzled WFC3/IR image has the real product's name and layout (PRIMARY, SCI, WHT, CTX;
543 x 484 pixels) with a synthetic sky: flat background, noise and one star at a known
pixel. Prints one line ``RESULT {json}`` with what the notebooks should find.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

DRZ_KEY = "hst/public/ib6w/ib6wd4lrq/ib6wd4lrq_drz.fits"
NX, NY = 543, 484
STAR_X, STAR_Y = 291, 260  # 0-based pixel of the star's peak, inside the central 100 x 100
RA, DEC = 186.350221, 18.191081  # M85, at the reference pixel
PIXEL_SCALE = 0.128 / 3600  # deg: WFC3/IR drizzled


def drizzled_image() -> tuple[fits.HDUList, dict[str, object]]:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [(NX + 1) / 2, (NY + 1) / 2]
    wcs.wcs.crval = [RA, DEC]
    wcs.wcs.cdelt = [-PIXEL_SCALE, PIXEL_SCALE]
    rng = np.random.default_rng(11360)
    y, x = np.mgrid[0:NY, 0:NX]
    star = 500.0 * np.exp(-((x - STAR_X) ** 2 + (y - STAR_Y) ** 2) / (2 * 1.2**2))
    sci = (0.8 + rng.normal(0.0, 0.05, (NY, NX)) + star).astype(np.float32)

    primary = fits.PrimaryHDU()
    primary.header.update(
        TELESCOP="HST",
        INSTRUME="WFC3",
        DETECTOR="IR",
        FILTER="F160W",
        TARGNAME="NGC4382",
        PROPOSID=11360,
        EXPTIME=1211.7,
        ROOTNAME="ib6wd4lrq",
    )
    header = wcs.to_header()
    header["BUNIT"] = "ELECTRONS/S"
    hdul = fits.HDUList(
        [
            primary,
            fits.ImageHDU(sci, header=header, name="SCI"),
            fits.ImageHDU(np.full((NY, NX), 1211.7, np.float32), header=header, name="WHT"),
            fits.ImageHDU(np.ones((NY, NX), np.int32), header=header, name="CTX"),
        ]
    )
    peak = wcs.pixel_to_world(STAR_X, STAR_Y)
    return hdul, {
        "key": DRZ_KEY,
        "star_pixel": [STAR_X, STAR_Y],
        "star_sky": peak.to_string("hmsdms", precision=2),
        "target": "NGC4382",
    }


def main() -> int:
    root = Path(sys.argv[1])
    hdul, truth = drizzled_image()
    path = root / DRZ_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    hdul.writeto(path)
    truth["size"] = path.stat().st_size
    print("RESULT " + json.dumps(truth, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
