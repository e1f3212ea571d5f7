"""
moto_server, with one fix to the emulator's speed (not to its behaviour), for the deployed-stack test.

moto delivers every EventBridge event to a rule's target through its input template, and for each event it
parses the same eight JSONPath expressions with `jsonpath_ng.ext.parse`, which builds a new LALR parser
table on every call: about 50 ms per expression, so ~0.4 s per delivered event. Parsing is pure, so the
parsed expressions are cached here; everything else is moto's own server (`moto.server.main`), with the
same arguments as `moto_server`.
"""
import functools
import sys

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

from moto.server import main  # noqa: E402  (after the cache is in place)

if __name__ == "__main__":
    sys.exit(main())
