"""Export: ``job`` is what an exporter plugin receives; ``orchestrate`` takes a run folder
through an exporter plugin into a folder renamed into place when every check passed."""
