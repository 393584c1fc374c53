"""https:// upstreams and provider keys, through real servers: a mock backend behind TLS with a
self-signed certificate made for this test, and the gateway in front of it."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import CHAT, backend, gateway_config, serve_app

from computemoat.gateway.app import create_app
from computemoat.gateway.config import load_config
from computemoat.gateway.mock_backend import MockBackend, MockSettings
from computemoat.gateway.upstream import Origin, Pool, UpstreamConnectError
from computemoat.model.errors import UserError


def _self_signed(cert: Path, key: Path) -> None:
    """A certificate for 127.0.0.1 that is its own CA: with ``cryptography`` if installed, else openssl."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("neither the cryptography package nor openssl is available to make a certificate")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True,
        )
        return
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    c = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(k, hashes.SHA256())
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    _self_signed(cert, key)
    return cert, key


class HeaderRecorder:
    """Wraps the mock backend and keeps every request's headers (a real ASGI app, served for real)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.seen.append((scope["path"], headers))
        await self.app(scope, receive, send)


def _https(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {**backend(name, port, "pa"), "url": f"https://127.0.0.1:{port}", **extra}


def test_a_real_tls_request_goes_through_the_gateway(tls_files) -> None:
    cert, key = tls_files
    mock = MockBackend(MockSettings(name="tls", completion_tokens=3))
    with serve_app(mock, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        trusted = gateway_config([_https("tls", port, ca_file=str(cert))])
        unchecked = gateway_config([_https("tls", port, verify=False)])
        for cfg in (trusted, unchecked):
            with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
                r = c.post("/v1/chat/completions", json=CHAT)
                assert r.status_code == 200, r.text
                assert r.json()["system_fingerprint"] == "tls" and r.headers["x-computemoat-backend"] == "tls"
                with c.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as s:
                    events = [line for line in s.iter_lines() if line.startswith("data: ")]
                assert len(events) == 4 and events[-1] == "data: [DONE]"
                assert c.get("/readyz").status_code == 200  # active checks over TLS too


def test_an_untrusted_certificate_is_refused(tls_files) -> None:
    """Verification is on by default: the self-signed certificate is not in the system store."""
    cert, key = tls_files
    mock = MockBackend(MockSettings(name="tls"))
    with serve_app(mock, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        cfg = gateway_config([_https("tls", port)], retries={"max_attempts": 1})
        with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
            r = c.post("/v1/chat/completions", json=CHAT)
            ready = c.get("/readyz")
        # the active check fails the backend (503) unless the request got there first (502, connect)
        assert r.status_code in (502, 503) and r.json()["error"]["message"]
        assert ready.status_code == 503 and ready.json()["down"] == ["m"]

        async def direct() -> None:
            pool = Pool(connect_timeout_s=2, read_timeout_s=2)
            try:
                with pytest.raises(UpstreamConnectError, match=r"certificate .* not trusted"):
                    await pool.request(Origin.from_backend(cfg.backends[0]), "GET", "/v1/models")
            finally:
                await pool.aclose()

        asyncio.run(direct())
    assert mock.requests == 0  # no HTTP request was ever sent over the unverified connection


def test_provider_key_goes_upstream_and_the_clients_key_does_not(mock_server, monkeypatch) -> None:
    provider_key = "sk-provider-0b7d2e9c41f8a6"
    monkeypatch.setenv("CM_TEST_PROVIDER_KEY", provider_key)
    rec = HeaderRecorder(MockBackend(MockSettings(name="a")))
    with serve_app(rec) as port:
        cfg = gateway_config([backend("a", port, "pa", api_key_env="CM_TEST_PROVIDER_KEY")])
        app = create_app(cfg)
        assert provider_key not in repr(app.state.gateway.fleet.origins)
        with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
            r = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-client-secret"})
            assert r.status_code == 200
    completions = [h for path, h in rec.seen if path == "/v1/chat/completions"]
    checks = [h for path, h in rec.seen if path == "/v1/models"]
    assert len(completions) == 1 and checks
    for h in (*completions, *checks):
        assert h["authorization"] == f"Bearer {provider_key}"
    assert not any("sk-client-secret" in v for _, h in rec.seen for v in h.values())


def test_missing_key_variable_is_a_user_error(monkeypatch) -> None:
    monkeypatch.delenv("CM_TEST_UNSET_KEY", raising=False)
    cfg = gateway_config([backend("a", 1, "pa", api_key_env="CM_TEST_UNSET_KEY")])
    with pytest.raises(UserError, match=r"backend 'a': api_key_env names \$CM_TEST_UNSET_KEY, which is not set"):
        create_app(cfg)
    b = cfg.backends[0].model_copy(update={"api_key_env": None})
    assert Origin.from_backend(b).auth_headers == ()


def test_tls_options_in_the_config(tmp_path: Path) -> None:
    p = tmp_path / "gw.yaml"
    line = "  - {{name: a, url: '{url}', provider: p, site: 'p:x', lat_deg: 0, lon_deg: 0, models: [m]{extra}}}\n"
    p.write_text("backends:\n" + line.format(url="https://api.example.com/", extra=", ca_file: certs/ca.pem"))
    b = load_config(p).backends[0]
    assert b.url == "https://api.example.com" and b.ca_file == str(tmp_path / "certs" / "ca.pem")
    for url, extra, expected in [
        ("http://127.0.0.1:9001", ", verify: false", "backends.0: ca_file and verify apply to https:// urls only"),
        ("https://x.example", ", verify: false, ca_file: c.pem", "not both"),
        ("ftp://x.example", "", "backends.0.url: must start with http:// or https://"),
        ("https://x.example", ", api_key_env: 'my key'", "backends.0.api_key_env"),
    ]:
        p.write_text("backends:\n" + line.format(url=url, extra=extra))
        with pytest.raises(UserError) as exc:
            load_config(p)
        assert any(expected in e for e in exc.value.lines), exc.value.lines
    p.write_text("backends:\n" + line.format(url="https://x.example", extra=", ca_file: /nonexistent/ca.pem"))
    with pytest.raises(UserError, match=r"cannot load ca_file /nonexistent/ca\.pem"):
        create_app(load_config(p))
