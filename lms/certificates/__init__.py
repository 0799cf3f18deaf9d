"""Certificates: signed claims, the PDF, the Open Badges credential and offline verification."""
