"""Real local HTTP servers that follow the providers' documented protocols, for connector tests.

- ``demo_to_shopify``, ``demo_to_recharge``, ``demo_to_colorme``  convert the demo generator's CSV
                      exports into each provider's JSON shapes.
- ``shopify_server``, ``recharge_server``, ``colorme_server``  each provider's protocol subset,
                      limits included, on 127.0.0.1 (ephemeral port).
- ``scripted_server`` a generic real HTTP server answering from a script (HTTP core tests).

All of them subclass ``connectors.testing.http_base.LocalHttpServer`` (as the LINE and webhook
servers do): start/stop as a context manager, ``url``, request records (``requests``), one fault
API ``fail(kind, times=1, on=..., after_pages=..., retry_after=...)`` and gates
(``gate(*key)`` -> ``Gate`` with ``reached`` and ``open()``) for kill tests. Recharge and
カラーミー share ``ListApiServer`` (bucket, fault, token, stream, scope, gate, page).

Under pytest ``tests/connectors`` is on sys.path (rootdir-relative imports, no __init__ there),
so tests import ``from servers.shopify_server import ShopifyServer``; scripts add that folder.
"""
