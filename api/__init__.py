"""The HTTP API (FastAPI): operations staff, approvers and customers, served locally and on Lambda alike."""
