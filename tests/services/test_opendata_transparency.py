"""Reading the mandatory publications for the portal: typing a submission's cells by its block's Table Schema.
The pages and downloads that read them are tested in tests/web/test_transparency_portal.py."""

from segell.services.opendata import api as opendata
from segell.services.opendata.transparency import typed_row


def test_typed_row_follows_the_field_types_of_a_table_schema() -> None:
    schema = {
        "fields": [
            {"name": "chapter", "type": "integer"},
            {"name": "executed", "type": "number"},
            {"name": "amount", "type": "number", "decimalChar": ",", "groupChar": "."},
            {"name": "closed", "type": "boolean"},
            {"name": "description", "type": "string"},
        ],
        "missingValues": ["", "NA"],
    }
    row = {"chapter": "6", "executed": "1200.5", "amount": "1.234,5", "closed": "true", "description": "Obres"}
    assert typed_row(row, schema) == {
        "chapter": 6, "executed": 1200.5, "amount": 1234.5, "closed": True, "description": "Obres"
    }  # fmt: skip
    assert typed_row({"chapter": "NA", "executed": "x", "extra": "kept"}, schema) == {
        "chapter": None, "executed": "x", "extra": "kept"
    }  # fmt: skip


def test_table_schema_of_an_unknown_block_is_none() -> None:
    assert opendata.table_schema("../../settings") is None
    assert opendata.table_schema("minutes") is None
