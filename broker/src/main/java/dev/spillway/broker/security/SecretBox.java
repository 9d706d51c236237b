package dev.spillway.broker.security;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.config.BrokerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Job secrets at rest: each {@code secret_env} value is sealed with AES-256-GCM before the job is
 * stored or cached, bound to its job and name (so a sealed value cannot be moved to another job
 * or variable), and opened only to build the assignment sent to the agent that runs an attempt.
 * The key lives in a file outside the database ({@code spillway.secrets.key-file}).
 */
@ApplicationScoped
public class SecretBox {

    private static final String PREFIX = "sealed:v1:";
    private static final int IV_BYTES = 12;
    private static final int TAG_BITS = 128;

    private final SecretKey key;
    private final SecureRandom random = new SecureRandom();

    public SecretBox(BrokerConfig config) {
        Path file = config.secrets().keyFile().map(Path::of).orElse(Path.of(config.dataDir(), "secret-key"));
        byte[] bytes = Base64.getUrlDecoder().decode(Secrets.readOrCreate(file));
        if (bytes.length != 32) throw new IllegalStateException(file + " must hold a 256-bit key in base64");
        this.key = new SecretKeySpec(bytes, "AES");
    }

    /** The spec with every secret value sealed; the plain values exist nowhere else after this. */
    public JobSpec seal(UUID jobId, JobSpec spec) {
        if (spec.getTask().getSecretEnvCount() == 0) return spec;
        Map<String, String> sealed = new LinkedHashMap<>();
        spec.getTask().getSecretEnvMap().forEach((name, value) -> sealed.put(name, seal(jobId, name, value)));
        return spec.toBuilder().setTask(spec.getTask().toBuilder().clearSecretEnv().putAllSecretEnv(sealed)).build();
    }

    /** The plain secret values of a stored spec, for the one assignment that needs them. */
    public Map<String, String> open(UUID jobId, JobSpec spec) {
        Map<String, String> plain = new LinkedHashMap<>();
        spec.getTask().getSecretEnvMap().forEach((name, value) -> plain.put(name, open(jobId, name, value)));
        return plain;
    }

    /**
     * {@code value} sealed for {@code purpose} (e.g. a console session): opened only by
     * {@link #openFor} with the same purpose, by a broker holding this key. URL-safe text.
     */
    public String sealFor(String purpose, String value) {
        return seal(("purpose:" + purpose).getBytes(StandardCharsets.UTF_8), value);
    }

    /** What {@link #sealFor} sealed for {@code purpose}; empty when the text was not sealed so (altered, another key or purpose). */
    public java.util.Optional<String> openFor(String purpose, String sealed) {
        try {
            return java.util.Optional.of(open(("purpose:" + purpose).getBytes(StandardCharsets.UTF_8), sealed));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return java.util.Optional.empty();
        }
    }

    private String seal(UUID jobId, String name, String value) {
        return seal(aad(jobId, name), value);
    }

    private String seal(byte[] aad, String value) {
        try {
            byte[] iv = new byte[IV_BYTES];
            random.nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
            c.updateAAD(aad);
            byte[] sealed = c.doFinal(value.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[IV_BYTES + sealed.length];
            System.arraycopy(iv, 0, out, 0, IV_BYTES);
            System.arraycopy(sealed, 0, out, IV_BYTES, sealed.length);
            return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal a secret", e);
        }
    }

    private String open(UUID jobId, String name, String sealed) {
        if (!sealed.startsWith(PREFIX)) throw new IllegalStateException("secret " + name + " of job " + jobId + " is not sealed");
        try {
            return open(aad(jobId, name), sealed);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalStateException("secret " + name + " of job " + jobId + " cannot be opened with this broker's key", e);
        }
    }

    private String open(byte[] aad, String sealed) throws GeneralSecurityException {
        if (!sealed.startsWith(PREFIX)) throw new IllegalArgumentException("not sealed");
        byte[] in = Base64.getUrlDecoder().decode(sealed.substring(PREFIX.length()));
        if (in.length <= IV_BYTES) throw new IllegalArgumentException("too short");
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, IV_BYTES));
        c.updateAAD(aad);
        return new String(c.doFinal(in, IV_BYTES, in.length - IV_BYTES), StandardCharsets.UTF_8);
    }

    private static byte[] aad(UUID jobId, String name) {
        return (jobId + "/" + name).getBytes(StandardCharsets.UTF_8);
    }

    /** A spec as clients may read it: secret names kept, their values emptied. */
    public static JobSpec redacted(JobSpec spec) {
        if (spec.getTask().getSecretEnvCount() == 0) return spec;
        var task = spec.getTask().toBuilder().clearSecretEnv();
        spec.getTask().getSecretEnvMap().keySet().forEach(name -> task.putSecretEnv(name, ""));
        return spec.toBuilder().setTask(task).build();
    }
}
