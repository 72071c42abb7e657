"""gzip for large answers when the client accepts it (``Accept-Encoding``).

Audit pages, searches and exports are JSON, CSV or NDJSON that compress to a fifth or less.
Routes that compress their own body once for every client (the flow board, see
``flow_board.py``) opt out with :data:`PRECOMPRESSED`, so nothing is compressed twice.
"""

from __future__ import annotations

from litestar.config.compression import CompressionConfig

#: The route option (``opt={PRECOMPRESSED: True}``) of a route that encodes its own body.
PRECOMPRESSED = "precompressed"
#: Below this a body fits in one TCP segment anyway: compressing it saves no round trip.
MINIMUM_SIZE = 1400
#: zlib's default: most of the gain for a fraction of level 9's time.
LEVEL = 6


def compression_config() -> CompressionConfig:
    return CompressionConfig(
        backend="gzip",
        minimum_size=MINIMUM_SIZE,
        gzip_compress_level=LEVEL,
        exclude_opt_key=PRECOMPRESSED,
    )
