package dev.spillway.k8s;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * {@code kustomize build} for the part of Kustomize these manifests use, so that they are rendered
 * and checked with nothing but the JDK: {@code resources} (files of one or more documents, and
 * directories with a kustomization), {@code components}, {@code namespace}, {@code labels} (on
 * metadata only), {@code images} (newName, newTag), {@code replicas}, and {@code patches} given as
 * JSON 6902 operations (add, replace, remove) on a target kind and name. A kustomization that uses
 * anything else is refused, so a manifest never silently means more than what is checked. The
 * output is in Kustomize's order: by kind as {@code kustomize build} sorts them, then by name.
 */
final class Kustomize {

    private static final Set<String> KNOWN = Set.of("apiVersion", "kind", "resources", "components", "namespace", "labels", "images",
            "replicas", "patches");
    /** Kustomize's legacy output order of kinds; kinds not listed come after, by name. */
    private static final List<String> ORDER = List.of("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
            "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret",
            "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
            "StatefulSet", "CronJob", "PodDisruptionBudget");

    private Kustomize() {}

    /** The resources {@code dir}'s kustomization renders to. */
    static List<Map<String, Object>> build(Path dir) {
        List<Map<String, Object>> out = render(dir, "Kustomization");
        out.sort(Comparator.comparingInt((Map<String, Object> m) -> rank(String.valueOf(m.get("kind"))))
                .thenComparing(m -> String.valueOf(m.get("kind")))
                .thenComparing(m -> String.valueOf(metadata(m).get("name"))));
        return out;
    }

    private static int rank(String kind) {
        int i = ORDER.indexOf(kind);
        return i < 0 ? ORDER.size() : i;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> render(Path dir, String expectedKind) {
        Map<String, Object> k = (Map<String, Object>) load(dir.resolve("kustomization.yaml")).get(0);
        for (String key : k.keySet()) {
            if (!KNOWN.contains(key)) throw new IllegalArgumentException(dir + ": kustomization field '" + key + "' is not supported here");
        }
        if (!expectedKind.equals(k.get("kind"))) throw new IllegalArgumentException(dir + ": expected a " + expectedKind + ", got " + k.get("kind"));
        List<Map<String, Object>> resources = new ArrayList<>();
        for (Object r : list(k.get("resources"))) {
            Path p = dir.resolve(String.valueOf(r)).normalize();
            if (Files.isDirectory(p)) {
                resources.addAll(render(p, "Kustomization"));
            } else {
                for (Object doc : load(p)) if (doc != null) resources.add((Map<String, Object>) doc);
            }
        }
        for (Object c : list(k.get("components"))) {
            Path p = dir.resolve(String.valueOf(c)).normalize();
            Map<String, Object> component = (Map<String, Object>) load(p.resolve("kustomization.yaml")).get(0);
            // A component adds its resources, then transforms everything rendered so far.
            resources.addAll(render(p, "Component"));
            transform(component, resources, p);
        }
        // A component's transformations are its parent's to apply, to everything rendered so far.
        if (!"Component".equals(expectedKind)) transform(k, resources, dir);
        return resources;
    }

    @SuppressWarnings("unchecked")
    private static void transform(Map<String, Object> k, List<Map<String, Object>> resources, Path dir) {
        for (Object p : list(k.get("patches"))) {
            Map<String, Object> patch = (Map<String, Object>) p;
            Map<String, Object> target = (Map<String, Object>) patch.get("target");
            List<Object> ops = (List<Object>) new Yaml(new SafeConstructor(new LoaderOptions())).load(String.valueOf(patch.get("patch")));
            int matched = 0;
            for (Map<String, Object> r : resources) {
                if (target.get("kind").equals(r.get("kind")) && target.get("name").equals(metadata(r).get("name"))) {
                    JsonPatch.apply(r, ops);
                    matched++;
                }
            }
            if (matched == 0) throw new IllegalArgumentException(dir + ": a patch matches no resource: " + target);
        }
        if (k.get("namespace") instanceof String ns) {
            for (Map<String, Object> r : resources) metadata(r).put("namespace", ns);
        }
        for (Object l : list(k.get("labels"))) {
            Map<String, Object> label = (Map<String, Object>) l;
            if (Boolean.TRUE.equals(label.get("includeSelectors")) || Boolean.TRUE.equals(label.get("includeTemplates"))) {
                throw new IllegalArgumentException(dir + ": labels on selectors or templates are not supported here");
            }
            for (Map<String, Object> r : resources) {
                Map<String, Object> labels = (Map<String, Object>) metadata(r).computeIfAbsent("labels", x -> new LinkedHashMap<>());
                labels.putAll((Map<String, Object>) label.get("pairs"));
            }
        }
        for (Object i : list(k.get("images"))) {
            Map<String, Object> image = (Map<String, Object>) i;
            for (Map<String, Object> r : resources) {
                for (Map<String, Object> c : containers(r)) {
                    String current = String.valueOf(c.get("image"));
                    String name = current.contains(":") ? current.substring(0, current.lastIndexOf(':')) : current;
                    if (!name.equals(image.get("name"))) continue;
                    String newName = image.containsKey("newName") ? String.valueOf(image.get("newName")) : name;
                    String tag = image.containsKey("newTag") ? String.valueOf(image.get("newTag"))
                            : current.contains(":") ? current.substring(current.lastIndexOf(':') + 1) : null;
                    c.put("image", tag == null ? newName : newName + ":" + tag);
                }
            }
        }
        for (Object rep : list(k.get("replicas"))) {
            Map<String, Object> replicas = (Map<String, Object>) rep;
            int matched = 0;
            for (Map<String, Object> r : resources) {
                if (replicas.get("name").equals(metadata(r).get("name")) && r.get("spec") instanceof Map<?, ?> spec && spec.containsKey("replicas")) {
                    ((Map<String, Object>) spec).put("replicas", replicas.get("count"));
                    matched++;
                }
            }
            if (matched == 0) throw new IllegalArgumentException(dir + ": replicas for " + replicas.get("name") + " match no workload");
        }
    }

    /** The containers (and init containers) of a workload's pod template; none for other kinds. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> containers(Map<String, Object> resource) {
        Map<String, Object> pod = podSpec(resource);
        if (pod == null) return List.of();
        List<Map<String, Object>> out = new ArrayList<>();
        for (String key : List.of("initContainers", "containers")) {
            for (Object c : list(pod.get(key))) out.add((Map<String, Object>) c);
        }
        return out;
    }

    /** The pod spec of a workload's template, or null. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> podSpec(Map<String, Object> resource) {
        if (!(resource.get("spec") instanceof Map<?, ?> spec) || !(spec.get("template") instanceof Map<?, ?> template)) return null;
        return template.get("spec") instanceof Map<?, ?> pod ? (Map<String, Object>) pod : null;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> metadata(Map<String, Object> resource) {
        return (Map<String, Object>) resource.computeIfAbsent("metadata", x -> new LinkedHashMap<>());
    }

    static List<Object> list(Object o) {
        if (o == null) return List.of();
        if (o instanceof List<?> l) return new ArrayList<>(l);
        throw new IllegalArgumentException("expected a list, got " + o);
    }

    private static List<Object> load(Path file) {
        try {
            List<Object> docs = new ArrayList<>();
            for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(Files.readString(file))) docs.add(doc);
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
