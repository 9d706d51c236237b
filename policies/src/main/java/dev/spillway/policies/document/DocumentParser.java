package dev.spillway.policies.document;

import java.time.DayOfWeek;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.composer.Composer;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * Reads policy files ({@code apiVersion: spillway.dev/v1}, one or many documents per file) into
 * {@link Document} records, checking everything that does not need CEL: shapes, spellings, unknown
 * keys, names, references between documents. Every problem names its file, line and column.
 *
 * <p>YAML is composed into nodes (not constructed into Java objects) so each value keeps its
 * position; no tags, no object construction, aliases bounded.
 */
public final class DocumentParser {

    /** Names of documents and rules: DNS-label-like, at most 63 characters. */
    static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** A location: {@code site:<name>} or {@code <cloud>:<region>}. */
    static final Pattern LOCATION = Pattern.compile("[a-z][a-z0-9]*:[A-Za-z0-9][-A-Za-z0-9_.]*");
    /** Largest file accepted, in code points. */
    static final int MAX_FILE_CODE_POINTS = 1 << 20;

    private DocumentParser() {}

    public static ParseResult parse(String fileName, String text) {
        return parse(List.of(new SourceFile(fileName, text)));
    }

    /** Parses all files and checks the documents against each other (unique names, references). */
    public static ParseResult parse(List<SourceFile> files) {
        List<Document> docs = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        for (SourceFile f : files) new FileReader(f, docs, problems).read();
        crossCheck(docs, problems);
        return new ParseResult(docs, problems);
    }

    private static void crossCheck(List<Document> docs, List<Problem> problems) {
        Map<String, Document> seen = new HashMap<>();
        for (Document d : docs) {
            Document before = seen.putIfAbsent(d.kind() + "/" + d.name(), d);
            if (before != null) {
                problems.add(Problem.at(d.at(), d.kind() + " '" + d.name() + "' is defined twice (first at " + before.at() + ")"));
            }
        }
        for (Document d : docs) {
            if (d instanceof QueueDoc q && !seen.containsKey("Tenant/" + q.tenant())) {
                problems.add(Problem.at(q.at(), "Queue '" + q.name() + "' names tenant '" + q.tenant() + "', which is not defined"));
            }
        }
        long egressTables = docs.stream().filter(d -> d instanceof EgressPricesDoc).count();
        if (egressTables > 1) {
            docs.stream().filter(d -> d instanceof EgressPricesDoc).skip(1).forEach(d ->
                    problems.add(Problem.at(d.at(), "only one EgressPrices document may be applied; found " + egressTables)));
        }
    }

    /** Reading one file: its text as code points (for positions) and the problems found. */
    private static final class FileReader {
        final SourceFile file;
        final List<Document> docs;
        final List<Problem> problems;
        final int[] cps;
        final int[] lineStarts;

        FileReader(SourceFile file, List<Document> docs, List<Problem> problems) {
            this.file = file;
            this.docs = docs;
            this.problems = problems;
            this.cps = file.text().codePoints().toArray();
            this.lineStarts = ScalarAlignment.lineStarts(cps);
        }

        void read() {
            if (cps.length > MAX_FILE_CODE_POINTS) {
                problems.add(new Problem(file.name(), 0, 0, "file too large: " + cps.length + " characters, at most " + MAX_FILE_CODE_POINTS));
                return;
            }
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(true); // reported by this parser, with positions
            options.setMaxAliasesForCollections(20);
            options.setAllowRecursiveKeys(false);
            options.setNestingDepthLimit(40);
            options.setCodePointLimit(MAX_FILE_CODE_POINTS);
            options.setProcessComments(false);
            try {
                Composer composer = new Composer(new ParserImpl(new StreamReader(file.text()), options), new Resolver(), options);
                int count = 0;
                while (composer.checkNode()) {
                    Node node = composer.getNode();
                    count++;
                    if (node != null) document(node);
                }
                if (count == 0) problems.add(new Problem(file.name(), 0, 0, "no documents"));
            } catch (MarkedYAMLException e) {
                Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
                String what = e.getProblem() != null ? e.getProblem() : e.getContext();
                if (m == null) problems.add(new Problem(file.name(), 0, 0, "invalid YAML: " + what));
                else problems.add(new Problem(file.name(), m.getLine() + 1, m.getColumn() + 1, "invalid YAML: " + what));
            } catch (YAMLException e) {
                problems.add(new Problem(file.name(), 0, 0, "invalid YAML: " + e.getMessage()));
            }
        }

        Location at(Node n) {
            Mark m = n.getStartMark();
            return new Location(file.name(), m.getLine() + 1, m.getColumn() + 1);
        }

        void problem(Node n, String message) {
            problems.add(Problem.at(at(n), message));
        }

        // ---- documents ------------------------------------------------------------------------

        void document(Node root) {
            Fields top = fields(root, "a document");
            if (top == null) return;
            String apiVersion = top.string("apiVersion", true);
            String kind = top.string("kind", true);
            Fields metadata = top.mapping("metadata", true);
            Fields spec = top.mapping("spec", false);
            top.rejectUnknown(Set.of("apiVersion", "kind", "metadata", "spec"));
            if (apiVersion != null && !Document.API_VERSION.equals(apiVersion)) {
                problem(top.node("apiVersion"), "apiVersion must be " + Document.API_VERSION + ", not '" + apiVersion + "'");
                return;
            }
            String name = null;
            if (metadata != null) {
                name = metadata.name("name", true);
                metadata.string("description", false);
                metadata.stringMap("labels");
                metadata.rejectUnknown(Set.of("name", "description", "labels"));
            }
            if (kind == null || name == null) return;
            if (spec == null) spec = Fields.empty(this, root);
            Location where = at(root);
            Document doc = switch (kind) {
                case "Tenant" -> tenant(name, where, spec);
                case "Queue" -> queue(name, where, spec);
                case "Policy" -> policy(name, where, spec);
                case "Dataset" -> dataset(name, where, spec);
                case "EgressPrices" -> egressPrices(name, where, spec);
                default -> {
                    problem(top.node("kind"), "unknown kind '" + kind + "'; expected Tenant, Queue, Policy, Dataset or EgressPrices");
                    yield null;
                }
            };
            if (doc != null) docs.add(doc);
        }

        TenantDoc tenant(String name, Location where, Fields spec) {
            String cohort = spec.name("cohort", false);
            Double weight = spec.number("weight", false);
            if (weight != null && !(weight > 0 && weight <= 1_000_000)) {
                spec.problemAt("weight", "weight must be greater than 0 and at most 1000000");
            }
            String reclaimText = spec.string("reclaimWithinCohort", false);
            TenantDoc.Reclaim reclaim = TenantDoc.Reclaim.NEVER;
            if (reclaimText != null) {
                reclaim = null;
                for (TenantDoc.Reclaim r : TenantDoc.Reclaim.values()) if (r.spelling().equals(reclaimText)) reclaim = r;
                if (reclaim == null) spec.problemAt("reclaimWithinCohort", "reclaimWithinCohort must be Never, LowerPriority or Any, not '" + reclaimText + "'");
            }
            Set<String> jurisdictions = spec.jurisdictions("jurisdictions");
            List<FlavorQuota> quotas = new ArrayList<>();
            Set<String> flavors = new LinkedHashSet<>();
            for (Fields q : spec.mappings("quotas")) {
                String flavor = q.name("flavor", true);
                Fields resources = q.mapping("resources", true);
                q.rejectUnknown(Set.of("flavor", "resources"));
                if (flavor != null && !flavors.add(flavor)) q.problemAt("flavor", "flavor '" + flavor + "' has two quotas");
                Map<FlavorQuota.Resource, ResourceQuota> byResource = new EnumMap<>(FlavorQuota.Resource.class);
                if (resources != null) {
                    for (FlavorQuota.Resource r : FlavorQuota.Resource.values()) {
                        Fields rq = resources.mapping(r.key(), false);
                        if (rq == null) continue;
                        Long nominal = rq.amount("nominal", r, true);
                        Long borrowing = rq.amount("borrowingLimit", r, false);
                        Long lending = rq.amount("lendingLimit", r, false);
                        rq.rejectUnknown(Set.of("nominal", "borrowingLimit", "lendingLimit"));
                        if (nominal != null && lending != null && lending > nominal) {
                            rq.problemAt("lendingLimit", "lendingLimit (" + lending + ") exceeds nominal (" + nominal + ")");
                        }
                        if (cohort == null && (borrowing != null || lending != null)) {
                            rq.problemAt(borrowing != null ? "borrowingLimit" : "lendingLimit",
                                    "borrowingLimit and lendingLimit need a cohort to borrow from and lend to; set spec.cohort");
                        }
                        if (nominal != null) byResource.put(r, new ResourceQuota(nominal, borrowing, lending));
                    }
                    resources.rejectUnknown(Set.of("cpu", "memory", "gpu", "spendUsdPerHour"));
                }
                if (flavor != null) quotas.add(new FlavorQuota(flavor, byResource));
            }
            spec.rejectUnknown(Set.of("cohort", "weight", "reclaimWithinCohort", "jurisdictions", "quotas"));
            return new TenantDoc(name, where, cohort, weight == null ? 1.0 : weight, reclaim == null ? TenantDoc.Reclaim.NEVER : reclaim,
                    jurisdictions, quotas);
        }

        QueueDoc queue(String name, Location where, Fields spec) {
            String tenant = spec.name("tenant", true);
            Double priority = spec.number("defaultPriority", false);
            if (priority != null && (priority != Math.rint(priority) || Math.abs(priority) > 1000)) {
                spec.problemAt("defaultPriority", "defaultPriority must be a whole number between -1000 and 1000, as a job's priority");
            }
            spec.rejectUnknown(Set.of("tenant", "defaultPriority"));
            return tenant == null ? null : new QueueDoc(name, where, tenant, priority == null ? 0 : priority.intValue());
        }

        DatasetDoc dataset(String name, Location where, Fields spec) {
            String location = spec.location("location", true);
            String size = spec.string("size", true);
            Long bytes = size == null ? null : Quantities.bytes(size);
            if (size != null && bytes == null) spec.problemAt("size", "size must be bytes or a binary amount like 500Gi or 2Ti, not '" + size + "'");
            Set<String> jurisdictions = spec.jurisdictions("jurisdictions");
            spec.rejectUnknown(Set.of("location", "size", "jurisdictions"));
            return location == null || bytes == null ? null : new DatasetDoc(name, where, location, bytes, jurisdictions);
        }

        EgressPricesDoc egressPrices(String name, Location where, Fields spec) {
            List<EgressPricesDoc.Price> prices = new ArrayList<>();
            Set<String> pairs = new LinkedHashSet<>();
            for (Fields p : spec.mappings("prices")) {
                String from = p.locationOrAny("from");
                String to = p.locationOrAny("to");
                Double usd = p.number("usdPerGb", true);
                p.rejectUnknown(Set.of("from", "to", "usdPerGb"));
                if (usd != null && !(usd >= 0 && usd < 1000)) p.problemAt("usdPerGb", "usdPerGb must be between 0 and 1000");
                if (from != null && to != null && !pairs.add(from + " -> " + to)) p.problemAt("from", "price from " + from + " to " + to + " is given twice");
                if (from != null && to != null && usd != null) prices.add(new EgressPricesDoc.Price(from, to, usd));
            }
            spec.rejectUnknown(Set.of("prices"));
            return new EgressPricesDoc(name, where, prices);
        }

        PolicyDoc policy(String name, Location where, Fields spec) {
            Set<String> ruleNames = new LinkedHashSet<>();
            List<PolicyDoc.AdmissionRule> admission = new ArrayList<>();
            for (Fields r : spec.mappings("admission")) {
                String rule = ruleName(r, ruleNames);
                Expression match = r.expression("match", true);
                Expression message = r.expression("message", true);
                PolicyDoc.Action action = r.choice("action", PolicyDoc.Action.values(), PolicyDoc.Action::spelling, true);
                r.rejectUnknown(Set.of("name", "match", "message", "action"));
                if (rule != null && match != null && message != null && action != null) {
                    admission.add(new PolicyDoc.AdmissionRule(rule, r.at(), match, message, action));
                }
            }
            List<PolicyDoc.FilterRule> filters = new ArrayList<>();
            for (Fields r : spec.mappings("filters")) {
                String rule = ruleName(r, ruleNames);
                Expression match = r.expression("match", true);
                Expression message = r.expression("message", true);
                PolicyDoc.VetoKind veto = r.choice("veto", PolicyDoc.VetoKind.values(), PolicyDoc.VetoKind::spelling, false);
                r.rejectUnknown(Set.of("name", "match", "message", "veto"));
                if (rule != null && match != null && message != null) {
                    filters.add(new PolicyDoc.FilterRule(rule, r.at(), match, message, veto == null ? PolicyDoc.VetoKind.STATIC : veto));
                }
            }
            List<PolicyDoc.ScorerRule> scorers = new ArrayList<>();
            for (Fields r : spec.mappings("scorers")) {
                String rule = ruleName(r, ruleNames);
                Expression score = r.expression("score", true);
                Double weight = r.number("weight", false);
                if (weight != null && !(weight > 0 && weight <= 1000)) r.problemAt("weight", "weight must be greater than 0 and at most 1000");
                r.rejectUnknown(Set.of("name", "score", "weight"));
                if (rule != null && score != null) scorers.add(new PolicyDoc.ScorerRule(rule, r.at(), score, weight == null ? 1.0 : weight));
            }
            List<PolicyDoc.BurstRule> burst = new ArrayList<>();
            for (Fields r : spec.mappings("burst")) {
                PolicyDoc.BurstRule b = burstRule(r, ruleNames);
                if (b != null) burst.add(b);
            }
            spec.rejectUnknown(Set.of("admission", "filters", "scorers", "burst"));
            return new PolicyDoc(name, where, admission, filters, scorers, burst);
        }

        PolicyDoc.BurstRule burstRule(Fields r, Set<String> ruleNames) {
            String rule = ruleName(r, ruleNames);
            Expression match = r.expression("match", false);
            Set<String> pools = r.names("pools");
            Set<String> regions = r.strings("regions");
            Set<String> families = r.strings("instanceFamilies");
            Boolean spotOnly = r.bool("spotOnly");
            Double max = r.number("maxUsdPerHour", false);
            if (max != null && !(max > 0)) r.problemAt("maxUsdPerHour", "maxUsdPerHour must be greater than 0");
            List<PolicyDoc.TimeWindow> windows = new ArrayList<>();
            for (Fields w : r.mappings("windows")) {
                PolicyDoc.TimeWindow window = window(w);
                if (window != null) windows.add(window);
            }
            Duration burstAfter = null;
            String after = r.string("burstAfter", false);
            if (after != null) {
                burstAfter = Quantities.duration(after);
                if (burstAfter == null) r.problemAt("burstAfter", "burstAfter must be a duration like 90s, 10m or 1h30m, not '" + after + "'");
            }
            Expression deny = r.expression("deny", false);
            Expression message = r.expression("message", false);
            r.rejectUnknown(Set.of("name", "match", "pools", "regions", "instanceFamilies", "spotOnly", "maxUsdPerHour", "windows",
                    "burstAfter", "deny", "message"));
            if (rule == null) return null;
            return new PolicyDoc.BurstRule(rule, r.at(), match, pools, regions, families, Boolean.TRUE.equals(spotOnly), max, windows,
                    burstAfter, deny, message);
        }

        PolicyDoc.TimeWindow window(Fields w) {
            Set<DayOfWeek> days = EnumSet.noneOf(DayOfWeek.class);
            Set<String> dayNames = w.strings("days");
            for (String d : dayNames) {
                DayOfWeek day = null;
                for (DayOfWeek candidate : DayOfWeek.values()) {
                    if (candidate.name().substring(0, 3).equalsIgnoreCase(d)) day = candidate;
                }
                if (day == null) w.problemAt("days", "unknown day '" + d + "'; use Mon, Tue, Wed, Thu, Fri, Sat, Sun");
                else days.add(day);
            }
            if (dayNames.isEmpty()) days = EnumSet.allOf(DayOfWeek.class);
            LocalTime from = w.time("from");
            LocalTime to = w.time("to");
            w.rejectUnknown(Set.of("days", "from", "to"));
            if (from != null && to != null && from.equals(to)) w.problemAt("to", "a window from " + from + " to " + to + " is empty");
            return from == null || to == null ? null : new PolicyDoc.TimeWindow(days, from, to);
        }

        String ruleName(Fields r, Set<String> ruleNames) {
            String rule = r.name("name", true);
            if (rule != null && !ruleNames.add(rule)) {
                r.problemAt("name", "rule '" + rule + "' is defined twice in this policy");
                return null;
            }
            return rule;
        }

        Fields fields(Node n, String what) {
            if (!(n instanceof MappingNode m)) {
                problem(n, what + " must be a mapping");
                return null;
            }
            return new Fields(this, m);
        }
    }

    /** The keys of one YAML mapping, read one by one; what was not read is reported as unknown. */
    private static final class Fields {
        final FileReader r;
        final Node node;
        final Map<String, NodeTuple> byKey = new LinkedHashMap<>();
        final Set<String> read = new LinkedHashSet<>();

        Fields(FileReader r, MappingNode m) {
            this.r = r;
            this.node = m;
            for (NodeTuple t : m.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    r.problem(t.getKeyNode(), "keys must be plain strings");
                    continue;
                }
                if (byKey.putIfAbsent(k.getValue(), t) != null) r.problem(k, "duplicate key '" + k.getValue() + "'");
            }
        }

        private Fields(FileReader r, Node at) {
            this.r = r;
            this.node = at;
        }

        static Fields empty(FileReader r, Node at) {
            return new Fields(r, at);
        }

        Location at() {
            return r.at(node);
        }

        Node node(String key) {
            NodeTuple t = byKey.get(key);
            return t == null ? node : t.getValueNode();
        }

        void problemAt(String key, String message) {
            r.problem(node(key), message);
        }

        private Node value(String key, boolean required) {
            read.add(key);
            NodeTuple t = byKey.get(key);
            if (t == null) {
                if (required) r.problem(node, "missing '" + key + "'");
                return null;
            }
            return t.getValueNode();
        }

        private ScalarNode scalar(String key, boolean required) {
            Node v = value(key, required);
            if (v == null) return null;
            if (v instanceof ScalarNode s && !(s.getTag().getValue().endsWith(":null"))) return s;
            r.problem(v, v instanceof ScalarNode ? "'" + key + "' must not be empty" : "'" + key + "' must be a single value");
            return null;
        }

        String string(String key, boolean required) {
            ScalarNode s = scalar(key, required);
            if (s == null) return null;
            if (s.getValue().isBlank()) {
                r.problem(s, "'" + key + "' must not be empty");
                return null;
            }
            return s.getValue();
        }

        String name(String key, boolean required) {
            String s = string(key, required);
            if (s != null && !NAME.matcher(s).matches()) {
                r.problem(node(key), "'" + key + "' must be lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit: '" + s + "'");
                return null;
            }
            return s;
        }

        String location(String key, boolean required) {
            String s = string(key, required);
            if (s != null && !LOCATION.matcher(s).matches()) {
                r.problem(node(key), "'" + key + "' must be site:<name> or <cloud>:<region>, e.g. aws:eu-central-1, not '" + s + "'");
                return null;
            }
            return s;
        }

        String locationOrAny(String key) {
            ScalarNode s = scalar(key, true);
            if (s != null && "*".equals(s.getValue())) return "*";
            read.remove(key);
            return location(key, true);
        }

        Double number(String key, boolean required) {
            ScalarNode s = scalar(key, required);
            if (s == null) return null;
            try {
                double d = Double.parseDouble(s.getValue());
                if (Double.isFinite(d)) return d;
            } catch (NumberFormatException ignored) {
                // reported below
            }
            r.problem(s, "'" + key + "' must be a number, not '" + s.getValue() + "'");
            return null;
        }

        Boolean bool(String key) {
            ScalarNode s = scalar(key, false);
            if (s == null) return null;
            if (s.getValue().equals("true")) return true;
            if (s.getValue().equals("false")) return false;
            r.problem(s, "'" + key + "' must be true or false, not '" + s.getValue() + "'");
            return null;
        }

        LocalTime time(String key) {
            String s = string(key, true);
            if (s == null) return null;
            try {
                if (s.matches("\\d{2}:\\d{2}")) return LocalTime.parse(s);
            } catch (DateTimeParseException ignored) {
                // reported below
            }
            r.problem(node(key), "'" + key + "' must be a time HH:MM (UTC), not '" + s + "'");
            return null;
        }

        Long amount(String key, FlavorQuota.Resource resource, boolean required) {
            String s = string(key, required);
            if (s == null) return null;
            Long v = switch (resource) {
                case CPU -> Quantities.cpuMillis(s);
                case MEMORY -> Quantities.memoryMib(s);
                case GPU -> Quantities.wholeNumber(s);
                case SPEND -> Quantities.microUsd(s);
            };
            if (v == null) {
                String example = switch (resource) {
                    case CPU -> "cores like 4 or 0.5, or millicores like 500m";
                    case MEMORY -> "an amount like 512Mi, 16Gi or 1Ti";
                    case GPU -> "a whole number";
                    case SPEND -> "US dollars per hour like 20 or 12.50";
                };
                r.problem(node(key), "'" + key + "' for " + resource.key() + " must be " + example + ", not '" + s + "'");
            }
            return v;
        }

        <E> E choice(String key, E[] values, java.util.function.Function<E, String> spelling, boolean required) {
            String s = string(key, required);
            if (s == null) return null;
            List<String> spellings = new ArrayList<>();
            for (E e : values) {
                if (spelling.apply(e).equals(s)) return e;
                spellings.add(spelling.apply(e));
            }
            r.problem(node(key), "'" + key + "' must be one of " + String.join(", ", spellings) + ", not '" + s + "'");
            return null;
        }

        Expression expression(String key, boolean required) {
            ScalarNode s = scalar(key, required);
            if (s == null) return null;
            if (s.getValue().isBlank()) {
                r.problem(s, "'" + key + "' must not be empty");
                return null;
            }
            int from = s.getStartMark().getIndex();
            int to = s.getEndMark().getIndex();
            int[] raw = ScalarAlignment.align(r.cps, from, to, s.getValue());
            return new Expression(s.getValue(), r.at(s), raw, r.lineStarts);
        }

        Fields mapping(String key, boolean required) {
            Node v = value(key, required);
            if (v == null) return null;
            if (v instanceof MappingNode m) return new Fields(r, m);
            r.problem(v, "'" + key + "' must be a mapping");
            return null;
        }

        /** The items of an optional list; none (and a problem when it is something else) otherwise. */
        private List<Node> items(String key) {
            Node v = value(key, false);
            if (v == null) return List.of();
            if (v instanceof SequenceNode seq) return seq.getValue();
            r.problem(v, "'" + key + "' must be a list");
            return List.of();
        }

        List<Fields> mappings(String key) {
            List<Fields> out = new ArrayList<>();
            for (Node item : items(key)) {
                Fields f = r.fields(item, "each item of '" + key + "'");
                if (f != null) out.add(f);
            }
            return out;
        }

        Set<String> strings(String key) {
            Set<String> out = new LinkedHashSet<>();
            for (Node item : items(key)) {
                if (item instanceof ScalarNode s && !s.getValue().isBlank()) {
                    if (!out.add(s.getValue())) r.problem(s, "'" + s.getValue() + "' is listed twice");
                } else {
                    r.problem(item, "each item of '" + key + "' must be a non-empty string");
                }
            }
            return out;
        }

        Set<String> names(String key) {
            Set<String> out = strings(key);
            for (String s : out) {
                if (!NAME.matcher(s).matches()) r.problem(node(key), "'" + s + "' in '" + key + "' is not a valid name");
            }
            return out;
        }

        /** Legal areas are short upper-case codes, e.g. {@code EU}, {@code US}, {@code CH}. */
        Set<String> jurisdictions(String key) {
            Set<String> out = strings(key);
            for (String s : out) {
                if (!s.matches("[A-Z][A-Z0-9-]{0,15}")) r.problem(node(key), "jurisdiction '" + s + "' must be an upper-case code like EU or US");
            }
            return out;
        }

        void stringMap(String key) {
            Node v = value(key, false);
            if (v == null) return;
            if (!(v instanceof MappingNode m)) {
                r.problem(v, "'" + key + "' must be a mapping of strings");
                return;
            }
            for (NodeTuple t : m.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode) || !(t.getValueNode() instanceof ScalarNode)) {
                    r.problem(t.getKeyNode(), "'" + key + "' must map strings to strings");
                }
            }
        }

        void rejectUnknown(Set<String> known) {
            for (Map.Entry<String, NodeTuple> e : byKey.entrySet()) {
                if (!known.contains(e.getKey())) {
                    r.problem(e.getValue().getKeyNode(), "unknown key '" + e.getKey() + "'; expected one of " + String.join(", ", sorted(known)));
                }
            }
        }

        private static List<String> sorted(Set<String> s) {
            List<String> l = new ArrayList<>(s);
            l.sort(null);
            return l;
        }
    }
}
