"""TLS to Riemann: the context riemann-auto connects with, and what a refusal means.

Riemann's TLS server always demands a client certificate. Under TLS 1.3 a
client learns that its certificate was refused only after its side of the
handshake is done: the server's alert arrives on the first read. Either way
the cause is one of a few settings, and `explain` names the one to look at.
"""

from __future__ import annotations

import ssl

from . import unpatched

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..settings import Settings

# OpenSSL's names for the alerts a server sends about the client's certificate.
_CERT_REQUIRED = {"TLSV13_ALERT_CERTIFICATE_REQUIRED"}
_CERT_REFUSED = {
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "TLSV1_ALERT_ACCESS_DENIED",
    "TLSV1_ALERT_DECRYPT_ERROR",
}
_CERT_EXPIRED = {"SSLV3_ALERT_CERTIFICATE_EXPIRED"}
_CERT_REVOKED = {"SSLV3_ALERT_CERTIFICATE_REVOKED"}
_HANDSHAKE_FAILURE = {"SSLV3_ALERT_HANDSHAKE_FAILURE"}  # TLS 1.2's word for "no certificate"
# What a client reads when the peer does not speak TLS at all.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
# X509_V_ERR_* codes of the server's certificate, as the client verifies it.
_NOT_YET_VALID, _EXPIRED = 9, 10
_NAME_MISMATCH = {62, 64}  # a host name, an IP address


class Tls:
    """The client side of riemann-auto's TLS, built once per transport."""

    def __init__(self, settings: Settings) -> None:
        self.host, self.port = settings.host, settings.port
        self.ca_file = settings.tls_ca_file
        self.cert_file = settings.tls_cert_file
        try:
            self.context = unpatched.ssl_context(cafile=self.ca_file)
        except ssl.SSLError as exc:
            raise ValueError(f"RIEMANN_TLS_CA_FILE={self.ca_file} holds no CA: {exc}") from None
        if settings.tls_cert_file and settings.tls_key_file:
            try:
                self.context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
            except ssl.SSLError as exc:
                raise ValueError(
                    f"RIEMANN_TLS_CERT_FILE={self.cert_file} and RIEMANN_TLS_KEY_FILE="
                    f"{settings.tls_key_file} are no certificate and key that belong "
                    f"together: {exc}"
                ) from None

    def wrap(self, sock, server_name: bytes):
        """`server_name`: the host as the transport resolved it (`transports.resolvable`)."""
        return self.context.wrap_socket(sock, server_hostname=server_name)

    def explain(self, exc: BaseException) -> str | None:
        """The setting behind a TLS failure, in words; None if `exc` is no TLS failure."""
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self._server_certificate(exc)
        if not isinstance(exc, ssl.SSLError):
            return None
        alert = exc.reason or ""
        cert = f"RIEMANN_TLS_CERT_FILE={self.cert_file}"
        if alert in _CERT_REQUIRED or (
            self.cert_file is None and alert in _CERT_REFUSED | _HANDSHAKE_FAILURE
        ):
            return (
                "Riemann demands a client certificate: set RIEMANN_TLS_CERT_FILE and "
                f"RIEMANN_TLS_KEY_FILE (the server sent {alert})"
            )
        if alert in _CERT_EXPIRED:
            return f"Riemann refused the client certificate {cert}: it has expired ({alert})"
        if alert in _CERT_REVOKED:
            return f"Riemann refused the client certificate {cert}: it was revoked ({alert})"
        if alert in _CERT_REFUSED:
            return (
                f"Riemann refused the client certificate {cert}: the server does not trust "
                f"the CA that signed it ({alert})"
            )
        if alert in _NOT_TLS:
            return (
                f"the server at port {self.port} does not speak TLS ({alert}): is it Riemann's "
                "plain TCP port? Riemann's TLS port is usually 5554"
            )
        return f"TLS failed: {alert or exc}"

    def _server_certificate(self, exc: ssl.SSLCertVerificationError) -> str:
        why = exc.verify_message
        if exc.verify_code in _NAME_MISMATCH:
            return (
                f"Riemann's certificate does not name RIEMANN_HOST={self.host} ({why}): "
                "connect by a name the certificate holds"
            )
        if exc.verify_code == _EXPIRED:
            return f"Riemann's certificate has expired ({why}): it must be renewed on the server"
        if exc.verify_code == _NOT_YET_VALID:
            return f"Riemann's certificate is not valid yet ({why}): check both machines' clocks"
        trusted = f"RIEMANN_TLS_CA_FILE={self.ca_file}" if self.ca_file else "the system's CAs"
        return (
            f"Riemann's certificate cannot be verified with {trusted} ({why}): set "
            "RIEMANN_TLS_CA_FILE to the CA that signed it"
        )
