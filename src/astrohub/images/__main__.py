"""python -m astrohub.images"""

from astrohub.images.cli import main

raise SystemExit(main())
