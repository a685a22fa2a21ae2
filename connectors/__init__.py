from connectors.privacy import apply_private_umask as _apply_private_umask

# Every process that imports Teiki creates its files private (connectors/privacy.py).
_apply_private_umask()
