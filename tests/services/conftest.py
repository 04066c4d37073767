"""What the services' tests share beyond tests/conftest.py: the formats of the API's schema that fuzzing must draw
from real examples, which no JSON Schema can describe."""

from pathlib import Path

import schemathesis
from hypothesis import strategies as st

from segell.services.opendata.publications_router import FILE_FORMATS

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "opendata" / "sample"

# A submitted file of each block: the sample files, which are valid against the block's Table Schema.
for _block, _format in FILE_FORMATS.items():
    _files = sorted(path.read_bytes() for path in SAMPLE.glob(f"*/{_block}-*.csv"))
    schemathesis.openapi.format(_format, st.sampled_from(_files))
