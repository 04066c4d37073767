"""What the other domains may read of the open-data domain (`tests/services/test_domain_boundaries.py` holds them
to it): the mandatory publications, for the transparency portal. Read-only, in plain dataclasses.

- `BLOCKS`, `block_title`: the blocks, and their names in Catalan, Spanish and English;
- `published_administrations`: who publishes;
- `submissions_of`: every version of every block an administration published, each with its verification code;
- `current_figures`: the figures of the current version of a block across administrations, to compare them;
- `submission`: one block of one period (its current version, or a given one);
- `publish_table` (with `TableText`, answering `PublishedTable`): another domain's table published as a dataset
  of the administration's, each publication its next version (the participation domain's ratings per procedure);
- `submission_file`, `submission_rows`: what was submitted, as the file and as rows typed by the block's Table
  Schema (`table_schema`, the one the submission API checks files against), from the catalogue's `files_directory`;
- `publish_dataset`: a dataset of files in an administration's name, each change a notarised version derived from
  the receipts given (`FileToPublish`, `PublishedDataset`, `PublishedFile`; `dataset_name` names it).

Example, in the web domain::

    with runtime.transaction() as session:
        budget = opendata.submission(session, "L08019060", "budget", 2025)
    table = opendata.submission_rows(opendata.files_directory(settings), budget)
"""

from segell.services.opendata.publications_tables import BLOCKS
from segell.services.opendata.published_tables import PublishedTable, TableText, publish_table
from segell.services.opendata.publishing import (
    FileToPublish,
    PublishedDataset,
    PublishedFile,
    dataset_name,
    publish_dataset,
)
from segell.services.opendata.transparency import (
    BlockFigures,
    Cell,
    PublishedSubmission,
    PublishingAdministration,
    SubmissionTable,
    block_title,
    current_figures,
    files_directory,
    published_administrations,
    submission,
    submission_file,
    submission_rows,
    submissions_of,
    table_schema,
)

__all__ = [
    "BLOCKS",
    "BlockFigures",
    "Cell",
    "FileToPublish",
    "PublishedDataset",
    "PublishedFile",
    "PublishedSubmission",
    "PublishedTable",
    "PublishingAdministration",
    "SubmissionTable",
    "TableText",
    "block_title",
    "current_figures",
    "dataset_name",
    "files_directory",
    "publish_dataset",
    "publish_table",
    "published_administrations",
    "submission",
    "submission_file",
    "submission_rows",
    "submissions_of",
    "table_schema",
]
