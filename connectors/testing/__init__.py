"""Real local servers speaking each outbound provider's documented protocol, on 127.0.0.1.

Shipped with the package so the tests, the benchmarks and a merchant trying Teiki locally use
the same servers: ``smtp_server`` (aiosmtpd, STARTTLS + AUTH), ``line_server`` (LINE Messaging
API push/multicast), ``webhook_server`` (Slack / Teams incoming webhooks, Chatwork). Needs the
dev dependencies (aiosmtpd, trustme).
"""
