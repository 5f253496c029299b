"""oletools, imported once and quietly.

olevba calls pyparsing's pre-3.0 API (`enablePackrat`, camelCase names), which emits
DeprecationWarnings at import and at parse time; under `-W error` (or pytest's "error" filter)
those would break every Office scan. Import oletools modules from here, and wrap calls into
them with `quiet()`.
"""

from __future__ import annotations

import contextlib
import logging
import warnings


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


with quiet():
    from oletools import mraptor, oleid, oleobj, olevba, rtfobj  # noqa: F401
    from oletools.thirdparty.oledump import plugin_biff  # noqa: F401

# oletools logs parse problems at WARNING/ERROR on its own loggers; maldoc reports them as flags.
for _name in ("olevba", "oleobj", "rtfobj", "oleid", "mraptor", "msodde", "ppt_parser", "ooxml", "olefile"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
