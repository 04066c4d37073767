"""The open-data domain: a CKAN-compatible catalogue of datasets with DCAT-AP metadata, whose every version is
notarised."""
