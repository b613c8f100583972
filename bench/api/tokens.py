"""ES256 key, JWKS document and a token for the API benchmark (joserfc and
cryptography come with moto in the project venv)."""
import json
import sys
import time

from joserfc import jwt
from joserfc.jwk import ECKey

out_dir = sys.argv[1]
key = ECKey.generate_key("P-256", parameters={"kid": "bench-ec"})
with open(f"{out_dir}/jwks.json", "w") as f:
    json.dump({"keys": [key.as_dict(private=False)]}, f)
now = int(time.time())
claims = {
    "iss": "https://issuer.bench/", "aud": "secrets-api", "sub": "bench",
    "iat": now, "exp": now + 3600, "scope": "secrets:read:bench/**",
}
token = jwt.encode({"alg": "ES256", "kid": "bench-ec"}, claims, key)
with open(f"{out_dir}/token", "w") as f:
    f.write(token)
