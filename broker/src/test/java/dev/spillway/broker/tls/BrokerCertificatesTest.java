package dev.spillway.broker.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker's own CA and server certificate: names, chain, key files, and when a certificate is issued again. */
class BrokerCertificatesTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path dir;

    private static Set<String> sans(X509Certificate cert) throws Exception {
        return cert.getSubjectAlternativeNames().stream().map(l -> l.get(0) + ":" + l.get(1)).collect(Collectors.toSet());
    }

    private static void assertChainsTo(X509Certificate server, X509Certificate ca, Instant at) throws Exception {
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        params.setRevocationEnabled(false);
        params.setDate(Date.from(at));
        CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(server)), params);
    }

    @Test
    void theServerCertificateNamesTheBindAndAdvertisedAddressesAndLocalhostAndChainsToTheCa() throws Exception {
        BrokerCertificates certs = new BrokerCertificates(dir, Clock.fixed(T0, ZoneOffset.UTC));
        List<String> names = BrokerCertificates.namesFor("10.1.2.3", Optional.of("broker.example.com:7443"));

        assertThat(certs.ensure(names)).isTrue();

        List<X509Certificate> chain = BrokerCertificates.readCertificates(certs.serverCertFile());
        X509Certificate server = chain.get(0);
        X509Certificate ca = BrokerCertificates.readCertificates(certs.caFile()).get(0);
        // GeneralName 2 = dNSName, 7 = iPAddress
        assertThat(sans(server)).containsExactlyInAnyOrder("2:broker.example.com", "7:10.1.2.3", "2:localhost", "7:127.0.0.1",
                "7:0:0:0:0:0:0:0:1");
        assertChainsTo(server, ca, T0);
        assertThat(chain).as("the server file carries the CA after the leaf").hasSize(2).element(1).isEqualTo(ca);
        assertThat(server.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
        assertThat(server.getBasicConstraints()).isEqualTo(-1);
        assertThat(ca.getBasicConstraints()).isEqualTo(0);
        assertThat(ca.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(server.getNotAfter().toInstant()).isEqualTo(T0.plus(BrokerCertificates.SERVER_VALIDITY));

        for (Path key : List.of(certs.serverKeyFile(), dir.resolve("ca-key.pem"))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
            assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs.caFile()))).isEqualTo("rw-r--r--");
    }

    @Test
    void aSecondStartKeepsEverythingAndANewAdvertisedAddressGetsANewServerCertificateFromTheSameCa() throws Exception {
        BrokerCertificates certs = new BrokerCertificates(dir, Clock.fixed(T0, ZoneOffset.UTC));
        certs.ensure(BrokerCertificates.namesFor("127.0.0.1", Optional.empty()));
        String ca = Files.readString(certs.caFile());
        String server = Files.readString(certs.serverCertFile());

        assertThat(certs.ensure(BrokerCertificates.namesFor("127.0.0.1", Optional.empty()))).isFalse();
        assertThat(Files.readString(certs.serverCertFile())).isEqualTo(server);

        assertThat(certs.ensure(BrokerCertificates.namesFor("127.0.0.1", Optional.of("203.0.113.7:7070")))).isTrue();
        assertThat(Files.readString(certs.caFile())).as("clients keep trusting the same CA").isEqualTo(ca);
        X509Certificate reissued = BrokerCertificates.readCertificates(certs.serverCertFile()).get(0);
        assertThat(sans(reissued)).contains("7:203.0.113.7", "7:127.0.0.1", "2:localhost");
        assertChainsTo(reissued, BrokerCertificates.readCertificates(certs.caFile()).get(0), T0);
    }

    @Test
    void aServerCertificateCloseToExpiryIsIssuedAgain() throws Exception {
        List<String> names = BrokerCertificates.namesFor("127.0.0.1", Optional.empty());
        new BrokerCertificates(dir, Clock.fixed(T0, ZoneOffset.UTC)).ensure(names);
        Instant later = T0.plus(BrokerCertificates.SERVER_VALIDITY).minus(BrokerCertificates.RENEW_BEFORE).plus(Duration.ofDays(1));

        assertThat(new BrokerCertificates(dir, Clock.fixed(later, ZoneOffset.UTC)).ensure(names)).isTrue();
        X509Certificate renewed = BrokerCertificates.readCertificates(dir.resolve("server.pem")).get(0);
        assertThat(renewed.getNotAfter().toInstant()).isEqualTo(later.plus(BrokerCertificates.SERVER_VALIDITY));
    }

    @Test
    void aWildcardBindIsNotANameButTheAdvertisedHostIsEvenBracketedIpv6() {
        assertThat(BrokerCertificates.namesFor("0.0.0.0", Optional.of("[2001:db8::5]:7070")))
                .contains("2001:db8::5", "localhost", "127.0.0.1").doesNotContain("0.0.0.0");
        assertThat(BrokerCertificates.hostOf("broker.example.com:7070")).isEqualTo("broker.example.com");
        assertThat(BrokerCertificates.hostOf("broker.example.com")).isEqualTo("broker.example.com");
    }
}
