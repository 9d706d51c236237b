package dev.spillway.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** A TLS context for HTTPS calls that trusts only the CA certificates of one PEM file (a broker's own CA, an enterprise's). */
public final class TrustedCas {

    private TrustedCas() {
    }

    /**
     * A context trusting the certificates in {@code pem}; {@code what} names the file in errors
     * ("the broker CA file"). Refused here, naming the file, when it cannot be read or holds no
     * certificate, rather than at the first call.
     */
    public static SSLContext in(Path pem, String what) {
        try (InputStream in = Files.newInputStream(pem)) {
            Collection<? extends Certificate> cas = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (cas.isEmpty()) throw new IllegalArgumentException("no certificate in " + what + " " + pem);
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (Certificate c : cas) trust.setCertificateEntry("ca-" + i++, c);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + what + " " + pem, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(what + " " + pem + " holds no usable certificate: " + e.getMessage(), e);
        }
    }
}
