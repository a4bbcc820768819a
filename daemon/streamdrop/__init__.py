"""streamdrop: get chat and feeds data into Stream, checked, uploaded and followed to the end."""

__version__ = "0.1.0"
