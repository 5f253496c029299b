"""maldoc: static detection of malicious e-mail attachments (Office, PDF, RTF, HTML, OneNote, mail).

Public API: `scan()` for one input, `maldoc.pool.ScanPool` for many, `maldoc.model.ModelBundle`.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "scan"]


def __getattr__(name: str):
    # Lazy so that `import maldoc.extractors.x` does not import the whole engine first.
    if name == "scan":
        from maldoc.scan import scan

        return scan
    raise AttributeError(name)
