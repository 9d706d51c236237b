package dev.spillway.provider.spi;

import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * How a cloud instance gets its agent and whom it trusts: the jar's URL and SHA-256 (the instance
 * refuses a jar with another hash), and the PEM of the CA that signs the broker's certificate.
 *
 * @param url          where the agent jar is downloaded ({@code https://} when the broker has TLS)
 * @param sha256       lower-case hex SHA-256 of the jar the broker serves
 * @param brokerCaPem  the CA certificate(s) the instance trusts for the broker (the download, when
 *                     {@code fromBroker}, and the agent's gRPC stream); empty: the broker speaks
 *                     plaintext and the agent is started with {@code --insecure}
 * @param fromBroker   whether {@code url} is the broker's own: only then is the download sent the
 *                     join token ({@code Authorization: Bearer}) and checked against {@code brokerCaPem};
 *                     another server (an artifact store) gets no token and is checked against the
 *                     image's trusted CAs
 */
public record AgentDownload(String url, String sha256, Optional<String> brokerCaPem, boolean fromBroker) {

    public AgentDownload {
        sha256 = sha256.toLowerCase(Locale.ROOT);
        if (!sha256.matches("[0-9a-f]{64}")) throw new IllegalArgumentException("agent jar SHA-256 must be 64 hex digits");
        HexFormat.of().parseHex(sha256);
        brokerCaPem = brokerCaPem.map(String::strip).filter(p -> !p.isEmpty());
        brokerCaPem.ifPresent(AgentDownload::requirePemCertificates);
    }

    /** The broker's own download over plaintext (a broker without TLS, a lab). */
    public static AgentDownload plaintext(String url, String sha256) {
        return new AgentDownload(url, sha256, Optional.empty(), true);
    }

    /** The broker's own download over TLS, trusting {@code caPem}. */
    public static AgentDownload trusting(String url, String sha256, String caPem) {
        return new AgentDownload(url, sha256, Optional.of(caPem), true);
    }

    /** Only PEM certificate blocks: they go into a script verbatim, so nothing else may (no key, no shell). */
    private static void requirePemCertificates(String pem) {
        String rest = pem.replaceAll("-----BEGIN CERTIFICATE-----\\s*[A-Za-z0-9+/=\\s]+-----END CERTIFICATE-----", "").strip();
        if (!rest.isEmpty() || !pem.contains("-----BEGIN CERTIFICATE-----")) {
            throw new IllegalArgumentException("the broker CA must be PEM certificates only (-----BEGIN CERTIFICATE----- blocks)");
        }
    }
}
