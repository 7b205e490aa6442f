"""One plugin per format family, in the manner of Pillow's plugins: each module below ends by
registering its formats (:mod:`registry`), and sniffing, probing, the messages, the policy's
allowed names, the sandbox workers' pre-imports and the console read the registry.

Each probe reads a binary stream (a file, or a member of a zip) from the start, looks only at
headers and markers, and returns a :class:`Verdict` with kind, format and displayed size filled
in, plus a ``corrupt`` or ``too_large`` reason when the file is broken or a bomb. Whether the
format and size meet the campaign's policy is decided afterwards, in ``check``.

The plugins are imported here in a fixed order, which is the sniff order (a magic test that
would also match another format's first bytes comes after it) and the order a policy's formats
are listed in: photos, videos, documents, archives. A format of one's own registers from its
module in the same way, after these (see tests/validator/toy_format.py).
"""

from importlib import import_module

PLUGINS = ("jpeg", "png", "psd", "pillow", "media", "document", "archives")

for _plugin in PLUGINS:
    import_module(f"{__name__}.{_plugin}")
