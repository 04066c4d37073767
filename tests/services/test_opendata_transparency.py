"""Reading the mandatory publications for the portal: the blocks' Table Schemas are those the submission API checks
files against, and a submitted file's rows are read back typed by them whatever its format. The pages and downloads
that read them are tested in tests/web/test_transparency_portal.py."""

from pathlib import Path

from segell.services.opendata import api as opendata
from segell.services.opendata import publications_tables
from segell.services.opendata.sample import municipalities


def test_table_schema_is_the_one_submissions_are_checked_against() -> None:
    assert opendata.BLOCKS == publications_tables.BLOCKS
    for block in opendata.BLOCKS:
        assert opendata.table_schema(block) == publications_tables.table_schema(block)


def test_table_schema_of_an_unknown_block_is_none() -> None:
    assert opendata.table_schema("../../settings") is None
    assert opendata.table_schema("minutes") is None


def test_stored_rows_are_typed_by_the_blocks_table_schema_in_its_column_order(tmp_path: Path) -> None:
    [girona] = municipalities(["L01170792"])
    contracts = next(path for block, _, path in girona.files if block == "contracts")
    # The columns in another order, as a council's spreadsheet may have them.
    lines = contracts.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    swapped = tmp_path / "contracts.csv"
    swapped.write_text(
        "\n".join([",".join(reversed(header)), "\n".join(",".join(reversed(line.split(","))) for line in lines[1:2])]),
        encoding="utf-8",
    )
    [row] = publications_tables.stored_rows("contracts", swapped)
    assert list(row) == publications_tables.field_names("contracts")
    values = dict(zip(header, lines[1].split(","), strict=True))
    assert row["reference"] == values["reference"]
    assert row["award_date"] == values["award_date"]
    assert row["amount_excl_vat"] == float(values["amount_excl_vat"])
    assert row["bidders"] == int(values["bidders"])
