package dev.spillway.provider.aws;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * An EC2 endpoint on loopback that speaks the EC2 Query API (form-encoded requests signed with
 * SigV4, XML responses and errors) for the calls the AWS provider makes, keeps instances with
 * their tags and states, honours client tokens, pages DescribeInstances, refuses a
 * DescribeInstanceTypes naming a type it does not know (InvalidInstanceType, for the whole
 * request), and injects faults: throttling, capacity and vCPU quota errors, slow responses, and a
 * RunInstances response lost after the instance was created. Every request is recorded for
 * assertions.
 */
public final class Ec2LoopbackServer implements AutoCloseable {

    private static final String NS = "http://ec2.amazonaws.com/doc/2016-11-15/";

    /** An instance type the server knows: vCPUs, MiB, GPUs. */
    public record Type(String name, int vcpus, long memoryMib, int gpus) {
    }

    /** One recorded request. */
    public record Request(String action, Map<String, String> params, String authorization) {
        public String get(String key) {
            return params.get(key);
        }
    }

    /** An instance as the server keeps it. */
    public static final class Ec2Instance {
        public final String id;
        public final String type;
        public final String zone;
        public final String subnet;
        public final boolean spot;
        public final Map<String, String> tags;
        public final String userData;
        public final String clientToken;
        public final Instant launched = Instant.now();
        public volatile String state = "pending";

        Ec2Instance(String id, String type, String zone, String subnet, boolean spot, Map<String, String> tags, String userData, String clientToken) {
            this.id = id;
            this.type = type;
            this.zone = zone;
            this.subnet = subnet;
            this.spot = spot;
            this.tags = tags;
            this.userData = userData;
            this.clientToken = clientToken;
        }

        public String userDataText() {
            return new String(Base64.getDecoder().decode(userData), StandardCharsets.UTF_8);
        }
    }

    private final HttpServer server;
    private final String region;
    private final Map<String, String> subnets = new LinkedHashMap<>();
    private final Map<String, Type> types = new LinkedHashMap<>();
    private final Map<String, Double> spotPrices = new LinkedHashMap<>();
    private final Map<String, Ec2Instance> instances = Collections.synchronizedMap(new LinkedHashMap<>());
    private final Map<String, String> byClientToken = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger ids = new AtomicInteger();
    private final AtomicInteger throttle = new AtomicInteger();
    private final AtomicInteger loseRunResponses = new AtomicInteger();
    private final AtomicInteger vcpuLimitExceeded = new AtomicInteger();
    private final AtomicInteger slowResponses = new AtomicInteger();
    private volatile long slowMillis;
    private final Set<String> noCapacity = ConcurrentHashMap.newKeySet();
    private volatile String unauthorizedAction;
    private volatile int pageSize = 2;
    private volatile Consumer<Ec2Instance> onRun = i -> i.state = "running";
    private volatile Consumer<Ec2Instance> onTerminate = i -> { };

    public Ec2LoopbackServer(String region) throws IOException {
        this.region = region;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "ec2-loopback");
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    // ---- setup and faults ------------------------------------------------------------------------

    public Ec2LoopbackServer subnet(String id, String zone) {
        subnets.put(id, zone);
        return this;
    }

    public Ec2LoopbackServer type(String name, int vcpus, long memoryMib, int gpus) {
        types.put(name, new Type(name, vcpus, memoryMib, gpus));
        return this;
    }

    public Ec2LoopbackServer spotPrice(String type, String zone, double price) {
        spotPrices.put(type + "@" + zone, price);
        return this;
    }

    /** What happens when an instance is created (default: it is running at once). */
    public void onRun(Consumer<Ec2Instance> hook) {
        this.onRun = hook;
    }

    /** What happens when an instance is terminated (by a call, or reclaimed). */
    public void onTerminate(Consumer<Ec2Instance> hook) {
        this.onTerminate = hook;
    }

    public Type type(String name) {
        return types.get(name);
    }

    /** The next {@code n} requests get 503 RequestLimitExceeded. */
    public void throttleNext(int n) {
        throttle.set(n);
    }

    /** The next {@code n} RunInstances create their instance, then drop the connection without answering. */
    public void loseNextRunInstancesResponses(int n) {
        loseRunResponses.set(n);
    }

    /** The next {@code n} requests are answered after {@code millis}. */
    public void slowNext(int n, long millis) {
        slowMillis = millis;
        slowResponses.set(n);
    }

    /** RunInstances of this type ({@code spot} or on-demand) fails with InsufficientInstanceCapacity. */
    public void noCapacity(String type, boolean spot) {
        noCapacity.add(type + (spot ? ":spot" : ":on-demand"));
    }

    /** The next {@code n} RunInstances fail with VcpuLimitExceeded, as the account's vCPU quota makes them. */
    public void vcpuLimitExceededNext(int n) {
        vcpuLimitExceeded.set(n);
    }

    /** Calls of this action (e.g. {@code RunInstances}) fail with UnauthorizedOperation. */
    public void unauthorized(String action) {
        unauthorizedAction = action;
    }

    public void pageSize(int n) {
        pageSize = n;
    }

    // ---- inspection ----------------------------------------------------------------------------

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public List<Request> requests(String action) {
        return requests.stream().filter(r -> r.action().equals(action)).toList();
    }

    public List<Ec2Instance> instances() {
        synchronized (instances) {
            return List.copyOf(instances.values());
        }
    }

    public Ec2Instance instance(String id) {
        return instances.get(id);
    }

    /** Terminates an instance as the cloud would (spot reclaim, someone in the console). */
    /**
     * An instance that exists without this broker's launch: left behind by a pool that was
     * renamed or removed, launched by hand with the cluster tag, or by another broker. Running.
     */
    public Ec2Instance plant(String type, String subnet, Map<String, String> tags) {
        String id = String.format("i-%017x", 0xdead0000L + ids.incrementAndGet());
        Ec2Instance instance = new Ec2Instance(id, type, subnets.get(subnet), subnet, false, new LinkedHashMap<>(tags), "", null);
        instance.state = "running";
        instances.put(id, instance);
        return instance;
    }

    public void reclaim(String id) {
        Ec2Instance i = instances.get(id);
        if (i == null) return;
        synchronized (i) {
            if (i.state.equals("terminated")) return;
            i.state = "terminated";
        }
        onTerminate.accept(i);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    // ---- protocol ------------------------------------------------------------------------------

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Map<String, String> params = form(body);
            String action = params.getOrDefault("Action", "");
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request(action, params, auth));
            if (slowResponses.getAndUpdate(n -> Math.max(0, n - 1)) > 0) sleep(slowMillis);
            if (auth == null || !auth.startsWith("AWS4-HMAC-SHA256 Credential=")) {
                error(exchange, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
                return;
            }
            if (throttle.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                error(exchange, 503, "RequestLimitExceeded", "Request limit exceeded.");
                return;
            }
            if (action.equals(unauthorizedAction)) {
                error(exchange, 403, "UnauthorizedOperation", "You are not authorized to perform this operation. Encoded authorization failure message: x");
                return;
            }
            String xml = switch (action) {
                case "DescribeSubnets" -> describeSubnets(params, exchange);
                case "DescribeInstanceTypes" -> describeInstanceTypes(params, exchange);
                case "DescribeSpotPriceHistory" -> describeSpotPriceHistory(params);
                case "DescribeInstances" -> describeInstances(params);
                case "RunInstances" -> runInstances(params, exchange);
                case "TerminateInstances" -> terminateInstances(params, exchange);
                default -> null;
            };
            if (xml == null) return; // answered already (an error, or a dropped connection)
            byte[] bytes = xml.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/xml;charset=UTF-8");
            exchange.sendResponseHeaders(200, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    private String describeSubnets(Map<String, String> p, HttpExchange exchange) throws IOException {
        StringBuilder items = new StringBuilder();
        for (String id : list(p, "SubnetId")) {
            String zone = subnets.get(id);
            if (zone == null) {
                error(exchange, 400, "InvalidSubnetID.NotFound", "The subnet ID '" + id + "' does not exist");
                return null;
            }
            items.append("<item><subnetId>").append(id).append("</subnetId><availabilityZone>").append(zone)
                    .append("</availabilityZone><state>available</state><vpcId>vpc-1</vpcId></item>");
        }
        return response("DescribeSubnets", "<subnetSet>" + items + "</subnetSet>");
    }

    /** As EC2 does: one type it does not know fails the whole request with 400 InvalidInstanceType naming the unknown ones. */
    private String describeInstanceTypes(Map<String, String> p, HttpExchange exchange) throws IOException {
        List<String> unknown = list(p, "InstanceType").stream().filter(name -> !types.containsKey(name)).toList();
        if (!unknown.isEmpty()) {
            error(exchange, 400, "InvalidInstanceType", "The following supplied instance types do not exist: [" + String.join(", ", unknown) + "]");
            return null;
        }
        StringBuilder items = new StringBuilder();
        for (String name : list(p, "InstanceType")) {
            Type t = types.get(name);
            items.append("<item><instanceType>").append(t.name()).append("</instanceType><vCpuInfo><defaultVCpus>").append(t.vcpus())
                    .append("</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>").append(t.memoryMib()).append("</sizeInMiB></memoryInfo>");
            if (t.gpus() > 0) items.append("<gpuInfo><gpus><item><name>T4</name><manufacturer>NVIDIA</manufacturer><count>").append(t.gpus())
                    .append("</count></item></gpus></gpuInfo>");
            items.append("</item>");
        }
        return response("DescribeInstanceTypes", "<instanceTypeSet>" + items + "</instanceTypeSet>");
    }

    private String describeSpotPriceHistory(Map<String, String> p) {
        List<String> wanted = list(p, "InstanceType");
        StringBuilder items = new StringBuilder();
        spotPrices.forEach((key, price) -> {
            String[] typeZone = key.split("@");
            if (!wanted.isEmpty() && !wanted.contains(typeZone[0])) return;
            items.append("<item><instanceType>").append(typeZone[0]).append("</instanceType><productDescription>Linux/UNIX</productDescription>")
                    .append("<spotPrice>").append(String.format(java.util.Locale.ROOT, "%.6f", price)).append("</spotPrice><timestamp>")
                    .append(Instant.now()).append("</timestamp><availabilityZone>").append(typeZone[1]).append("</availabilityZone></item>");
        });
        return response("DescribeSpotPriceHistory", "<spotPriceHistorySet>" + items + "</spotPriceHistorySet><nextToken/>");
    }

    private String describeInstances(Map<String, String> p) {
        Map<String, List<String>> filters = new TreeMap<>();
        for (int n = 1; p.containsKey("Filter." + n + ".Name"); n++) filters.put(p.get("Filter." + n + ".Name"), list(p, "Filter." + n + ".Value"));
        List<Ec2Instance> matching = new ArrayList<>();
        for (Ec2Instance i : instances()) {
            boolean ok = true;
            for (var f : filters.entrySet()) {
                String value = f.getKey().startsWith("tag:") ? i.tags.get(f.getKey().substring(4))
                        : f.getKey().equals("instance-state-name") ? i.state : null;
                ok &= value != null && f.getValue().contains(value);
            }
            if (ok) matching.add(i);
        }
        int from = p.containsKey("NextToken") ? Integer.parseInt(p.get("NextToken").substring("page-".length())) : 0;
        int to = Math.min(matching.size(), from + pageSize);
        StringBuilder reservations = new StringBuilder();
        for (Ec2Instance i : matching.subList(from, to)) {
            reservations.append("<item><reservationId>r-").append(i.id.substring(2)).append("</reservationId><ownerId>123456789012</ownerId>")
                    .append("<instancesSet>").append(instanceXml(i)).append("</instancesSet></item>");
        }
        String next = to < matching.size() ? "<nextToken>page-" + to + "</nextToken>" : "";
        return response("DescribeInstances", "<reservationSet>" + reservations + "</reservationSet>" + next);
    }

    private String runInstances(Map<String, String> p, HttpExchange exchange) throws IOException {
        String token = p.get("ClientToken");
        String type = p.get("InstanceType");
        boolean spot = "spot".equals(p.get("InstanceMarketOptions.MarketType"));
        Ec2Instance instance;
        synchronized (this) {
            String existing = token == null ? null : byClientToken.get(token);
            if (existing != null) {
                instance = instances.get(existing);
            } else {
                if (vcpuLimitExceeded.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    error(exchange, 400, "VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 32 allows "
                            + "for the instance bucket that the specified instance type belongs to. Please visit "
                            + "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.");
                    return null;
                }
                if (noCapacity.contains(type + (spot ? ":spot" : ":on-demand"))) {
                    error(exchange, 500, "InsufficientInstanceCapacity",
                            "We currently do not have sufficient " + type + " capacity in the Availability Zone you requested.");
                    return null;
                }
                String subnet = p.get("SubnetId");
                if (!subnets.containsKey(subnet)) {
                    error(exchange, 400, "InvalidSubnetID.NotFound", "The subnet ID '" + subnet + "' does not exist");
                    return null;
                }
                if (!types.containsKey(type)) {
                    error(exchange, 400, "InvalidParameterValue", "Invalid value '" + type + "' for InstanceType.");
                    return null;
                }
                Map<String, String> tags = new LinkedHashMap<>();
                for (int n = 1; p.containsKey("TagSpecification." + n + ".ResourceType"); n++) {
                    if (!p.get("TagSpecification." + n + ".ResourceType").equals("instance")) continue;
                    for (int t = 1; p.containsKey("TagSpecification." + n + ".Tag." + t + ".Key"); t++) {
                        tags.put(p.get("TagSpecification." + n + ".Tag." + t + ".Key"), p.get("TagSpecification." + n + ".Tag." + t + ".Value"));
                    }
                }
                String id = String.format("i-%017x", 0xabc0000L + ids.incrementAndGet());
                instance = new Ec2Instance(id, type, subnets.get(subnet), subnet, spot, tags, p.getOrDefault("UserData", ""), token);
                instances.put(id, instance);
                if (token != null) byClientToken.put(token, id);
                onRun.accept(instance);
            }
        }
        if (loseRunResponses.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            // Created, but the answer never arrives: the client sees the connection drop.
            exchange.close();
            return null;
        }
        return response("RunInstances", "<reservationId>r-" + instance.id.substring(2) + "</reservationId><ownerId>123456789012</ownerId>"
                + "<groupSet/><instancesSet>" + instanceXml(instance) + "</instancesSet>");
    }

    private String terminateInstances(Map<String, String> p, HttpExchange exchange) throws IOException {
        StringBuilder items = new StringBuilder();
        for (String id : list(p, "InstanceId")) {
            Ec2Instance i = instances.get(id);
            if (i == null) {
                error(exchange, 400, "InvalidInstanceID.NotFound", "The instance ID '" + id + "' does not exist");
                return null;
            }
            String previous;
            synchronized (i) { // against a boot that ends now: a terminated instance stays terminated
                previous = i.state;
                i.state = "terminated";
            }
            if (!previous.equals("terminated")) onTerminate.accept(i);
            items.append("<item><instanceId>").append(id).append("</instanceId><currentState><code>48</code><name>terminated</name></currentState>")
                    .append("<previousState><code>16</code><name>").append(previous).append("</name></previousState></item>");
        }
        return response("TerminateInstances", "<instancesSet>" + items + "</instancesSet>");
    }

    private String instanceXml(Ec2Instance i) {
        StringBuilder tags = new StringBuilder();
        i.tags.forEach((k, v) -> tags.append("<item><key>").append(escape(k)).append("</key><value>").append(escape(v)).append("</value></item>"));
        int code = switch (i.state) {
            case "pending" -> 0;
            case "running" -> 16;
            case "shutting-down" -> 32;
            default -> 48;
        };
        return "<item><instanceId>" + i.id + "</instanceId><imageId>ami-1</imageId><instanceState><code>" + code + "</code><name>" + i.state
                + "</name></instanceState><instanceType>" + i.type + "</instanceType><launchTime>" + i.launched + "</launchTime>"
                + "<placement><availabilityZone>" + i.zone + "</availabilityZone><tenancy>default</tenancy></placement>"
                + "<subnetId>" + i.subnet + "</subnetId>" + (i.spot ? "<instanceLifecycle>spot</instanceLifecycle>" : "")
                + "<tagSet>" + tags + "</tagSet></item>";
    }

    private static String response(String action, String content) {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + action + "Response xmlns=\"" + NS + "\"><requestId>"
                + java.util.UUID.randomUUID() + "</requestId>" + content + "</" + action + "Response>";
    }

    private static void error(HttpExchange exchange, int status, String code, String message) throws IOException {
        byte[] bytes = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" + code + "</Code><Message>" + escape(message)
                + "</Message></Error></Errors><RequestID>" + java.util.UUID.randomUUID() + "</RequestID></Response>").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/xml;charset=UTF-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** {@code Prefix.1}, {@code Prefix.2}, ... in order. */
    private static List<String> list(Map<String, String> p, String prefix) {
        List<String> out = new ArrayList<>();
        for (int n = 1; p.containsKey(prefix + "." + n); n++) out.add(p.get(prefix + "." + n));
        return out;
    }

    private static Map<String, String> form(String body) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String pair : body.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
