"""Hand-off of qualified prospects into the pipeline database and out to external CRMs."""
