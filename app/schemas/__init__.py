"""API request and response models (``XCreate`` / ``XUpdate`` / ``XRead``)."""
