#!/usr/bin/env python3
"""A real OpenID Connect relying party (Authlib) signing in to a running nexusd.

    relying_party.py BASE_URL CLIENT_ID CLIENT_SECRET REDIRECT_URI EMAIL PASSWORD

Discovers the provider, logs the user in to NEXUS, runs the authorization code flow with
PKCE and a nonce, validates the ID token against the published JWKS, reads userinfo, then
rotates the refresh token and checks that replaying a spent one revokes the sign-in.
Prints one line per step; exits non-zero on the first failure.
"""
import json
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def step(msg):
    print(f"ok: {msg}", flush=True)


def main():
    base, client_id, client_secret, redirect_uri, email, password = sys.argv[1:7]
    meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == base, (meta["issuer"], base)
    assert "S256" in meta["code_challenge_methods_supported"]
    step(f"discovery: issuer {meta['issuer']}")

    browser = requests.Session()
    # Not logged in yet: the provider sends the browser to its login page and back.
    rp = OAuth2Session(
        client_id,
        client_secret,
        scope="openid profile email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    nonce = generate_token(20)
    verifier = generate_token(48)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier
    )
    r = browser.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["location"].startswith("/login?next="), r.headers
    step("authorize without a session goes to the login page")

    r = browser.post(f"{base}/api/session", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    r = browser.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text)
    location = r.headers["location"]
    assert location.startswith(redirect_uri), location
    query = parse_qs(urlparse(location).query)
    assert query["state"] == [state] and query["iss"] == [base], query
    step("authorize with a session redirects back with a code")

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer" and "refresh_token" in token, token
    step("code exchanged for tokens (PKCE S256, client_secret_basic)")

    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate(leeway=30)
    assert claims["email"] == email and claims["email_verified"] is True, dict(claims)
    assert claims["aud"] == client_id and claims["nonce"] == nonce, dict(claims)
    step(f"ID token valid: sub {claims['sub']}, alg {claims.header['alg']}")

    info = rp.get(meta["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"] and info["email"] == email, info
    step("userinfo matches the ID token")

    # The same code a second time is refused.
    try:
        rp.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
        raise AssertionError("a code worked twice")
    except OAuthError as e:
        assert e.error == "invalid_grant", e
    step("a code works once")

    first_refresh = token["refresh_token"]
    renewed = rp.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    assert renewed["refresh_token"] != first_refresh and renewed["access_token"], renewed
    jwt.decode(
        renewed["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
        claims_params={"client_id": client_id},
    ).validate(leeway=30)
    step("refresh token rotated; new ID token valid")

    for label, rt in [("spent", first_refresh), ("successor after a replay", renewed["refresh_token"])]:
        try:
            rp.refresh_token(meta["token_endpoint"], refresh_token=rt)
            raise AssertionError(f"the {label} refresh token still works")
        except OAuthError as e:
            assert e.error == "invalid_grant", e
    step("replaying a spent refresh token revokes the whole sign-in")
    print(json.dumps({"result": "ok", "sub": claims["sub"]}))


if __name__ == "__main__":
    main()
