package dev.spillway.broker.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The broker's own private CA and server certificate, kept in one directory
 * ({@code <data-dir>/tls}): {@code ca.pem} (what clients, agents and boot scripts trust),
 * {@code ca-key.pem}, {@code server.pem} (the server certificate followed by the CA) and
 * {@code server-key.pem}. Keys are EC P-256, PKCS#8, mode 0600 from creation.
 *
 * <p>{@link #ensure} is idempotent and safe across processes (a file lock): the CA is made once and
 * kept, so clients that trust it keep trusting the broker; the server certificate is issued again
 * from the same CA when it lacks a name the broker is now reached by (the advertised address
 * changed) or has less than {@link #RENEW_BEFORE} left.
 */
public final class BrokerCertificates {

    static final Duration CA_VALIDITY = Duration.ofDays(3650);
    static final Duration SERVER_VALIDITY = Duration.ofDays(397);
    static final Duration RENEW_BEFORE = Duration.ofDays(30);
    /** Allowance for clocks of clients slightly behind the broker's. */
    private static final Duration BACKDATE = Duration.ofHours(1);

    private final Path dir;
    private final Clock clock;

    public BrokerCertificates(Path dir, Clock clock) {
        this.dir = dir;
        this.clock = clock;
    }

    public Path caFile() {
        return dir.resolve("ca.pem");
    }

    Path caKeyFile() {
        return dir.resolve("ca-key.pem");
    }

    public Path serverCertFile() {
        return dir.resolve("server.pem");
    }

    public Path serverKeyFile() {
        return dir.resolve("server-key.pem");
    }

    /**
     * Makes the CA if there is none, and a server certificate for {@code names} (host names or IP
     * addresses) if the current one does not cover them all or is close to expiring.
     *
     * @return whether anything was written
     */
    public synchronized boolean ensure(Collection<String> names) {
        try {
            Files.createDirectories(dir);
            try (FileChannel lockFile = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockFile.lock()) {
                boolean wrote = false;
                if (!Files.exists(caFile()) || !Files.exists(caKeyFile())) {
                    newCa();
                    wrote = true;
                }
                if (wrote || needsServerCertificate(names)) {
                    newServerCertificate(names);
                    wrote = true;
                }
                return wrote;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the broker's TLS certificates in " + dir, e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make the broker's TLS certificates in " + dir, e);
        }
    }

    private void newCa() throws IOException, GeneralSecurityException, OperatorCreationException {
        KeyPair kp = keyPair();
        Instant now = clock.instant();
        X500Name name = new X500Name("CN=Spillway broker CA " + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE)
                + ",O=Spillway");
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(BACKDATE)),
                Date.from(now.plus(CA_VALIDITY)), name, kp.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
        X509Certificate cert = sign(b, kp.getPrivate());
        writeKey(caKeyFile(), kp.getPrivate());
        write(caFile(), pem(cert), false);
    }

    private void newServerCertificate(Collection<String> names) throws IOException, GeneralSecurityException, OperatorCreationException {
        X509Certificate ca = readCertificates(caFile()).get(0);
        PrivateKey caKey = readKey(caKeyFile());
        KeyPair kp = keyPair();
        Instant now = clock.instant();
        Set<String> all = new LinkedHashSet<>(names);
        String first = all.iterator().next();
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, serial(), Date.from(now.minus(BACKDATE)),
                Date.from(now.plus(SERVER_VALIDITY)), new X500Name("CN=" + first + ",O=Spillway"), kp.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(all.stream().map(BrokerCertificates::generalName)
                .toArray(GeneralName[]::new)));
        b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
        b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
        X509Certificate cert = sign(b, caKey);
        writeKey(serverKeyFile(), kp.getPrivate());
        write(serverCertFile(), pem(cert) + pem(ca), false);
    }

    private boolean needsServerCertificate(Collection<String> names) throws IOException, GeneralSecurityException {
        if (!Files.exists(serverCertFile()) || !Files.exists(serverKeyFile())) return true;
        X509Certificate server = readCertificates(serverCertFile()).get(0);
        X509Certificate ca = readCertificates(caFile()).get(0);
        try {
            server.verify(ca.getPublicKey());
        } catch (GeneralSecurityException e) {
            return true; // issued by another CA (the CA files were replaced)
        }
        if (server.getNotAfter().toInstant().isBefore(clock.instant().plus(RENEW_BEFORE))) return true;
        Set<String> covered = new LinkedHashSet<>();
        for (List<?> san : server.getSubjectAlternativeNames() == null ? List.<List<?>>of() : server.getSubjectAlternativeNames()) {
            covered.add(normalise(String.valueOf(san.get(1))));
        }
        return !names.stream().map(BrokerCertificates::normalise).allMatch(covered::contains);
    }

    /**
     * The names a server certificate should carry for a broker bound to {@code bindHost} and
     * reached at {@code advertisedAddress} ({@code host:port}, when set): those two hosts,
     * {@code localhost}, {@code 127.0.0.1} and {@code ::1}; for a wildcard bind, this machine's
     * host name instead of the wildcard.
     */
    public static List<String> namesFor(String bindHost, java.util.Optional<String> advertisedAddress) {
        Set<String> names = new LinkedHashSet<>();
        advertisedAddress.map(BrokerCertificates::hostOf).filter(h -> !h.isBlank()).ifPresent(names::add);
        if (isWildcard(bindHost)) {
            try {
                names.add(InetAddress.getLocalHost().getHostName());
            } catch (IOException e) {
                // no resolvable host name: the other names remain
            }
        } else if (bindHost != null && !bindHost.isBlank()) {
            names.add(bindHost);
        }
        names.add("localhost");
        names.add("127.0.0.1");
        names.add("::1");
        return List.copyOf(names);
    }

    static String hostOf(String address) {
        String a = address.strip();
        if (a.startsWith("[")) return a.substring(1, a.indexOf(']'));
        int colon = a.indexOf(':');
        return colon >= 0 && colon == a.lastIndexOf(':') ? a.substring(0, colon) : a;
    }

    private static boolean isWildcard(String host) {
        return host == null || host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    }

    private static boolean isIp(String name) {
        return name.matches("[0-9.]+") || name.contains(":");
    }

    private static GeneralName generalName(String name) {
        return new GeneralName(isIp(name) ? GeneralName.iPAddress : GeneralName.dNSName, name);
    }

    /** IP addresses in one spelling ({@code ::1} and {@code 0:0:0:0:0:0:0:1} alike), host names in lower case. */
    private static String normalise(String name) {
        if (isIp(name)) {
            try {
                return InetAddress.getByName(name).getHostAddress();
            } catch (IOException e) {
                return name;
            }
        }
        return name.toLowerCase(Locale.ROOT);
    }

    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(159, new SecureRandom()).add(BigInteger.ONE);
    }

    private static X509Certificate sign(JcaX509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException, OperatorCreationException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    }

    /**
     * The first name (DNS or IP) of the certificate in {@code file}: what another broker verifies
     * this one as when it reaches it by a pod address its certificate does not name. Brokers that
     * serve one certificate (one Kubernetes Secret) share it.
     */
    public static java.util.Optional<String> firstName(Path file) {
        try {
            X509Certificate cert = readCertificates(file).get(0);
            if (cert.getSubjectAlternativeNames() == null) return java.util.Optional.empty();
            return cert.getSubjectAlternativeNames().stream().map(san -> String.valueOf(san.get(1))).findFirst();
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    static List<X509Certificate> readCertificates(Path file) throws IOException, GeneralSecurityException {
        List<X509Certificate> out = new ArrayList<>();
        try (var in = Files.newInputStream(file)) {
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) out.add((X509Certificate) c);
        }
        if (out.isEmpty()) throw new GeneralSecurityException("no certificate in " + file);
        return out;
    }

    private static PrivateKey readKey(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file); PEMParser parser = new PEMParser(r)) {
            Object o = parser.readObject();
            if (!(o instanceof PrivateKeyInfo info)) throw new IOException(file + " holds no PKCS#8 private key");
            return new JcaPEMKeyConverter().getPrivateKey(info);
        }
    }

    private static String pem(Object o) throws IOException {
        StringWriter s = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(s)) {
            w.writeObject(o);
        }
        return s.toString();
    }

    private void writeKey(Path file, PrivateKey key) throws IOException {
        write(file, pem(new JcaPKCS8Generator(key, null)), true);
    }

    /** Atomically, so a reader never sees half a file; keys are 0600 from the start, certificates 0644. */
    private void write(Path file, String text, boolean secret) throws IOException {
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        if (!secret) Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The PEM text of {@code file}, for handing to clients and boot scripts. */
    public static String readPem(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
