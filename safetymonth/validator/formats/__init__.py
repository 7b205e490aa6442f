"""One probe per format family, in the manner of Pillow's plugins.

Each probe reads a binary stream (a file, or a member of a zip) from the start, looks only at
headers and markers, and returns a :class:`Verdict` with kind, format and displayed size filled
in, plus a ``corrupt`` or ``too_large`` reason when the file is broken or a bomb. Whether the
format and size meet the campaign's policy is decided afterwards, in ``check``.
"""
