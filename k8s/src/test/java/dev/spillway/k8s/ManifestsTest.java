package dev.spillway.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The Kubernetes manifests as {@code kustomize build} renders them (base, each overlay): valid
 * against the schemas of their kinds (Kubernetes 1.33, CloudNativePG, Prometheus Operator), within
 * the deployment policy, and equal to the golden files under src/test/resources/golden (after a
 * deliberate change: {@code ./mvnw -pl k8s test -Dspillway.k8s.update-golden=true}, then review the diff).
 */
class ManifestsTest {

    private static final Path K8S = Path.of(System.getProperty("spillway.k8s.dir", ".")).toAbsolutePath().normalize();
    private static final Path NODE = K8S.resolve("src/test/node");
    private static final List<String> TARGETS = List.of("base", "overlays/dev", "overlays/production");

    static List<Map<String, Object>> render(String target) {
        return Kustomize.build(K8S.resolve(target));
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/production"})
    void theRenderingEqualsItsGoldenFile(String target) throws IOException {
        String rendered = yaml(render(target));
        Path golden = K8S.resolve("src/test/resources/golden/" + target.replace('/', '-') + ".yaml");
        if (Boolean.getBoolean("spillway.k8s.update-golden")) Files.writeString(golden, rendered);
        assertThat(rendered).as("kustomize build %s (update with -Dspillway.k8s.update-golden=true)", target).isEqualTo(Files.readString(golden));
    }

    @Test
    void everyManifestIsValidAgainstTheSchemaOfItsKind() throws Exception {
        List<Map<String, Object>> all = new ArrayList<>();
        for (String t : TARGETS) all.addAll(render(t));
        Validation v = validate(all);
        assertThat(v.exitCode()).as(v.output()).isZero();
        assertThat(v.output()).contains("validated " + all.size() + " manifests, 0 with problems");
    }

    @Test
    void theSchemaValidationRefusesWhatTheClusterWouldRefuse() throws Exception {
        Map<String, Object> deployment = render("overlays/production").stream().filter(m -> "Deployment".equals(m.get("kind"))).findFirst().orElseThrow();
        Kustomize.containers(deployment).get(0).put("ports", List.of(Map.of("containerPort", "seventy")));
        Map<String, Object> unknownKind = new LinkedHashMap<>(Map.of("apiVersion", "example.com/v1", "kind", "Widget", "metadata", Map.of("name", "w")));
        Validation v = validate(List.of(deployment, unknownKind));
        assertThat(v.exitCode()).isEqualTo(1);
        assertThat(v.output()).contains("containerPort must be integer").contains("example.com/v1/Widget -/w: no schema for this kind");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/production"})
    void everyWorkloadIsWithinTheDeploymentPolicy(String target) {
        assertThat(Policy.violations(render(target))).isEmpty();
    }

    @Test
    void thePolicyFindsWhatItForbids() {
        Map<String, Object> bad = new Yaml(new SafeConstructor(new LoaderOptions())).load("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: bad}
                spec:
                  replicas: 3
                  selector: {matchLabels: {app: bad}}
                  template:
                    metadata: {labels: {app: bad}}
                    spec:
                      containers:
                        - name: c
                          image: example/app:latest
                          env:
                            - {name: DB_PASSWORD, value: hunter2}
                            - {name: DATABASE_URL, value: "postgresql://app:hunter2@db:5432/app"}
                """);
        Map<String, Object> secret = new Yaml(new SafeConstructor(new LoaderOptions())).load("""
                apiVersion: v1
                kind: Secret
                metadata: {name: creds}
                stringData: {password: hunter2}
                """);
        assertThat(Policy.violations(List.of(bad, secret))).containsExactlyInAnyOrder(
                "Deployment bad, container c: image example/app:latest has no pinned tag",
                "Deployment bad, container c: no resources.requests.cpu",
                "Deployment bad, container c: no resources.requests.memory",
                "Deployment bad, container c: no resources.limits.memory",
                "Deployment bad, container c: no readinessProbe",
                "Deployment bad, container c: no livenessProbe",
                "Deployment bad, container c: not runAsNonRoot",
                "Deployment bad, container c: root filesystem not read-only",
                "Deployment bad, container c: allowPrivilegeEscalation not false",
                "Deployment bad, container c: capabilities not all dropped",
                "Deployment bad, container c: no RuntimeDefault seccomp profile",
                "Deployment bad, container c: env DB_PASSWORD holds a literal secret",
                "Deployment bad, container c: env DATABASE_URL holds a URL with a literal password",
                "Deployment bad: 3 replicas and no PodDisruptionBudget selects them",
                "Secret creds holds data: secrets are created in the cluster, never kept in the repository");
    }

    private record Validation(int exitCode, String output) {
    }

    private static Validation validate(List<Map<String, Object>> manifests) throws Exception {
        Path json = Files.createTempFile(Path.of("target").toAbsolutePath(), "manifests-", ".json");
        new ObjectMapper().writeValue(json.toFile(), manifests);
        Process node = new ProcessBuilder("node", NODE.resolve("validate.mjs").toString(), json.toString())
                .directory(NODE.toFile()).redirectErrorStream(true).start();
        String output = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(node.waitFor(60, TimeUnit.SECONDS)).as("node finished").isTrue();
        return new Validation(node.exitValue(), output);
    }

    static String yaml(List<Map<String, Object>> manifests) {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setIndent(2);
        options.setIndicatorIndent(2);
        options.setIndentWithIndicator(true);
        options.setWidth(200);
        Yaml yaml = new Yaml(options);
        StringBuilder out = new StringBuilder();
        for (Map<String, Object> m : manifests) {
            if (!out.isEmpty()) out.append("---\n");
            out.append(yaml.dump(m));
        }
        return out.toString();
    }

    /** The deployment policy every workload meets. */
    static final class Policy {
        private static final Pattern SECRET_NAME = Pattern.compile(".*(PASSWORD|TOKEN|SECRET).*");
        private static final Pattern URL_WITH_PASSWORD = Pattern.compile("[a-z]+://[^:/@\\s]+:(?!\\$\\()[^@\\s]+@.*");

        @SuppressWarnings("unchecked")
        static List<String> violations(List<Map<String, Object>> manifests) {
            List<String> out = new ArrayList<>();
            for (Map<String, Object> m : manifests) {
                String kind = String.valueOf(m.get("kind"));
                String name = String.valueOf(Kustomize.metadata(m).get("name"));
                if (kind.equals("Secret") && (m.containsKey("data") || m.containsKey("stringData"))) {
                    out.add("Secret " + name + " holds data: secrets are created in the cluster, never kept in the repository");
                }
                Map<String, Object> pod = Kustomize.podSpec(m);
                if (pod == null) continue;
                Map<String, Object> podSecurity = map(pod.get("securityContext"));
                for (Map<String, Object> c : Kustomize.containers(m)) {
                    String where = kind + " " + name + ", container " + c.get("name") + ": ";
                    String image = String.valueOf(c.get("image"));
                    String tag = image.contains(":") ? image.substring(image.lastIndexOf(':') + 1) : "";
                    if (tag.isEmpty() || tag.equals("latest") || tag.contains("/")) out.add(where + "image " + image + " has no pinned tag");
                    Map<String, Object> resources = map(c.get("resources"));
                    if (!map(resources.get("requests")).containsKey("cpu")) out.add(where + "no resources.requests.cpu");
                    if (!map(resources.get("requests")).containsKey("memory")) out.add(where + "no resources.requests.memory");
                    if (!map(resources.get("limits")).containsKey("memory")) out.add(where + "no resources.limits.memory");
                    if (!c.containsKey("readinessProbe")) out.add(where + "no readinessProbe");
                    if (!c.containsKey("livenessProbe")) out.add(where + "no livenessProbe");
                    Map<String, Object> security = map(c.get("securityContext"));
                    Object nonRoot = security.containsKey("runAsNonRoot") ? security.get("runAsNonRoot") : podSecurity.get("runAsNonRoot");
                    if (!Boolean.TRUE.equals(nonRoot)) out.add(where + "not runAsNonRoot");
                    if (!Boolean.TRUE.equals(security.get("readOnlyRootFilesystem"))) out.add(where + "root filesystem not read-only");
                    if (!Boolean.FALSE.equals(security.get("allowPrivilegeEscalation"))) out.add(where + "allowPrivilegeEscalation not false");
                    if (!Kustomize.list(map(security.get("capabilities")).get("drop")).contains("ALL")) out.add(where + "capabilities not all dropped");
                    Map<String, Object> seccomp = map(security.containsKey("seccompProfile") ? security.get("seccompProfile") : podSecurity.get("seccompProfile"));
                    if (!"RuntimeDefault".equals(seccomp.get("type"))) out.add(where + "no RuntimeDefault seccomp profile");
                    for (Object e : Kustomize.list(c.get("env"))) {
                        Map<String, Object> env = (Map<String, Object>) e;
                        String envName = String.valueOf(env.get("name"));
                        if (!env.containsKey("value")) continue;
                        String value = String.valueOf(env.get("value"));
                        if (SECRET_NAME.matcher(envName).matches() && !envName.endsWith("_FILE")) out.add(where + "env " + envName + " holds a literal secret");
                        else if (URL_WITH_PASSWORD.matcher(value).matches()) out.add(where + "env " + envName + " holds a URL with a literal password");
                    }
                }
                Object replicas = map(m.get("spec")).get("replicas");
                if (replicas instanceof Integer n && n > 1 && !disruptionBudgeted(m, manifests)) {
                    out.add(kind + " " + name + ": " + n + " replicas and no PodDisruptionBudget selects them");
                }
            }
            return out;
        }

        /** Whether a PodDisruptionBudget's selector matches the workload's pod labels. */
        @SuppressWarnings("unchecked")
        private static boolean disruptionBudgeted(Map<String, Object> workload, List<Map<String, Object>> manifests) {
            Map<String, Object> podLabels = map(map(map(map(workload.get("spec")).get("template")).get("metadata")).get("labels"));
            for (Map<String, Object> m : manifests) {
                if (!"PodDisruptionBudget".equals(m.get("kind"))) continue;
                Map<String, Object> selector = map(map(map(m.get("spec")).get("selector")).get("matchLabels"));
                if (!selector.isEmpty() && podLabels.entrySet().containsAll(selector.entrySet())) return true;
            }
            return false;
        }

        @SuppressWarnings("unchecked")
        private static Map<String, Object> map(Object o) {
            return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        }
    }
}
