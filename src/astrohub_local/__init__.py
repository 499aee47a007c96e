"""The embedded default: astrohub on this machine, without an AWS account (``make demo``).

The AWS emulator (moto in server mode), the local hub that runs the pinned chart's own hub
configuration, the OAuth 2.0 / OpenID Connect provider standing in for MAST and GitHub, the
playbook runner the demo and the tests share, and the demo itself. Nothing of the product
(``astrohub``, the roles and the collection) imports it; its dependencies are the ``local``
extra of pyproject.toml.
"""
