"""Images of a course, served from its content folder (being built)."""
