package dev.spillway.provider.azure;

import com.azure.json.JsonProviders;
import com.azure.json.JsonReader;
import com.azure.json.JsonWriter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Azure Resource Manager on loopback, over HTTPS with a certificate made at start (clients trust
 * it through {@link #clientTrust()}): bearer-token requests, ARM JSON, the compute calls the Azure
 * provider makes (resource SKUs; virtual machines get, list with {@code nextLink} pages, create and
 * delete as long-running operations polled through {@code Azure-AsyncOperation}), and the Retail
 * Prices API with {@code NextPageLink} pages. It keeps VMs with their NICs and disks, and injects
 * faults: 429 with {@code Retry-After}, quota errors, allocation failures that end the operation
 * Failed, sizes refused with SkuNotAvailable, slow responses, and a create response lost after the
 * VM was created.
 */
public final class ArmLoopbackServer implements AutoCloseable {

    private static final Pattern SKUS = Pattern.compile("/subscriptions/([^/]+)/providers/Microsoft\\.Compute/skus");
    private static final Pattern VMS = Pattern.compile("/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.Compute/virtualMachines");
    private static final Pattern VM = Pattern.compile("/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.Compute/virtualMachines/([^/]+)");
    private static final Pattern OPERATION = Pattern.compile("/subscriptions/([^/]+)/providers/Microsoft\\.Compute/locations/([^/]+)/operations/([^/]+)");

    /** A VM size: vCPUs, GiB, GPUs, and whether the subscription may use it here. */
    public record Size(String name, int vcpus, double memoryGb, int gpus, boolean restricted) {
    }

    /** One recorded request. */
    public record Request(String method, String path, Map<String, String> query, Map<String, Object> body, String authorization) {
    }

    /** A VM as the server keeps it. */
    public static final class Vm {
        public final String name;
        public final String size;
        public final Map<String, Object> resource;
        public volatile String provisioningState = "Creating";
        final Instant created = Instant.now();
        volatile String pendingOperation;

        Vm(String name, String size, Map<String, Object> resource) {
            this.name = name;
            this.size = size;
            this.resource = resource;
        }

        @SuppressWarnings("unchecked")
        public Map<String, Object> properties() {
            return (Map<String, Object>) resource.get("properties");
        }

        @SuppressWarnings("unchecked")
        public Map<String, String> tags() {
            return (Map<String, String>) resource.getOrDefault("tags", Map.of());
        }

        public boolean spot() {
            return "Spot".equals(properties().get("priority"));
        }

        @SuppressWarnings("unchecked")
        public String customDataText() {
            Map<String, Object> os = (Map<String, Object>) properties().get("osProfile");
            return new String(Base64.getDecoder().decode((String) os.get("customData")), StandardCharsets.UTF_8);
        }
    }

    private record Operation(String vm, boolean delete, AtomicInteger pollsLeft, String failure) {
    }

    private final HttpsServer server;
    private final Path keystore;
    private final String subscription;
    private final String resourceGroup;
    private final String subnetId;
    private final Map<String, Size> sizes = new LinkedHashMap<>();
    private final List<Map<String, Object>> priceItems = new CopyOnWriteArrayList<>();
    private final Map<String, Vm> vms = Collections.synchronizedMap(new LinkedHashMap<>());
    private final Set<String> nics = ConcurrentHashMap.newKeySet();
    private final Set<String> disks = ConcurrentHashMap.newKeySet();
    private final List<String> deletedNics = new CopyOnWriteArrayList<>();
    private final List<String> deletedDisks = new CopyOnWriteArrayList<>();
    private final Map<String, Operation> operations = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<Instant> throttledAt = new CopyOnWriteArrayList<>();
    private final AtomicInteger throttle = new AtomicInteger();
    private final AtomicInteger quota = new AtomicInteger();
    private final AtomicInteger lostCreates = new AtomicInteger();
    private final AtomicInteger slow = new AtomicInteger();
    private volatile long slowMillis;
    private final Set<String> allocationFailures = ConcurrentHashMap.newKeySet();
    private final Set<String> skusNotAvailable = ConcurrentHashMap.newKeySet();
    private volatile String forbiddenMethod;
    private volatile int pollsPerOperation = 2;
    /** Operations also complete on their own after this long, as Azure's do whether or not anyone polls. */
    private static final long OPERATION_MILLIS = 300;
    private final java.util.concurrent.ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "arm-loopback-clock");
        t.setDaemon(true);
        return t;
    });
    private volatile int pageSize = 2;
    private volatile Consumer<Vm> onRun = vm -> { };
    private volatile Consumer<Vm> onDelete = vm -> { };

    public ArmLoopbackServer(String subscription, String resourceGroup, String subnetId) throws Exception {
        this.subscription = subscription;
        this.resourceGroup = resourceGroup;
        this.subnetId = subnetId;
        this.keystore = selfSignedKeystore();
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverContext()));
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "arm-loopback");
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    public URI endpoint() {
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
    }

    public URI pricesEndpoint() {
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/api/retail/prices");
    }

    /** The PKCS12 store (password {@code changeit}) holding this server's certificate, for a JVM's {@code javax.net.ssl.trustStore}. */
    public Path trustStore() {
        return keystore;
    }

    /** An SSL context that trusts this server (and nothing else). */
    public SSLContext clientTrust() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    // ---- setup and faults ------------------------------------------------------------------------

    public ArmLoopbackServer size(String name, int vcpus, double memoryGb, int gpus) {
        sizes.put(name, new Size(name, vcpus, memoryGb, gpus, false));
        return this;
    }

    public ArmLoopbackServer restrictedSize(String name, int vcpus, double memoryGb) {
        sizes.put(name, new Size(name, vcpus, memoryGb, 0, true));
        return this;
    }

    /** A Retail Prices API item. */
    public ArmLoopbackServer price(String sku, String meterName, String productName, double usd) {
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("currencyCode", "USD");
        item.put("retailPrice", usd);
        item.put("unitPrice", usd);
        item.put("armRegionName", "westeurope");
        item.put("armSkuName", sku);
        item.put("meterName", meterName);
        item.put("skuName", meterName);
        item.put("productName", productName);
        item.put("serviceName", "Virtual Machines");
        item.put("unitOfMeasure", "1 Hour");
        item.put("type", "Consumption");
        priceItems.add(item);
        return this;
    }

    public void onRun(Consumer<Vm> hook) {
        onRun = hook;
    }

    public void onDelete(Consumer<Vm> hook) {
        onDelete = hook;
    }

    /** The next {@code n} requests get 429 with {@code Retry-After: 1}. */
    public void throttleNext(int n) {
        throttle.set(n);
    }

    /** The next {@code n} VM creations fail at once with a regional cores quota error. */
    public void quotaExceededNext(int n) {
        quota.set(n);
    }

    /** Creating a VM of this size ends with the operation Failed: AllocationFailed. */
    public void allocationFails(String size) {
        allocationFailures.add(size);
    }

    /**
     * Creating a VM of this size is refused at once with 409 SkuNotAvailable, as Azure refuses a
     * size it lists but has no capacity (or a capacity restriction) for in the location right now.
     */
    public void skuNotAvailable(String size) {
        skusNotAvailable.add(size);
    }

    /** The next {@code n} VM creations create the VM, then drop the connection without answering. */
    public void loseNextCreateResponses(int n) {
        lostCreates.set(n);
    }

    /** The next {@code n} requests are answered after {@code millis}. */
    public void slowNext(int n, long millis) {
        slowMillis = millis;
        slow.set(n);
    }

    /** Requests with this method (e.g. {@code PUT}) get 403 AuthorizationFailed. */
    public void forbid(String method) {
        forbiddenMethod = method;
    }

    public void pageSize(int n) {
        pageSize = n;
    }

    /** Evicts a spot VM the way Azure does with evictionPolicy=Delete: it is deleted with its NIC and disk. */
    public void evict(String name) {
        Vm vm = vms.get(name);
        if (vm != null) remove(vm);
    }

    // ---- inspection ----------------------------------------------------------------------------

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public List<Request> requests(String method, String pathSuffix) {
        return requests.stream().filter(r -> r.method().equals(method) && r.path().endsWith(pathSuffix)).toList();
    }

    public List<Vm> vms() {
        synchronized (vms) {
            return List.copyOf(vms.values());
        }
    }

    public Vm vm(String name) {
        return vms.get(name);
    }

    public Set<String> nics() {
        return Set.copyOf(nics);
    }

    public Set<String> disks() {
        return Set.copyOf(disks);
    }

    public List<String> deletedNics() {
        return List.copyOf(deletedNics);
    }

    public List<String> deletedDisks() {
        return List.copyOf(deletedDisks);
    }

    public List<Instant> throttledAt() {
        return List.copyOf(throttledAt);
    }

    @Override
    public void close() throws IOException {
        clock.shutdownNow();
        server.stop(0);
        Files.deleteIfExists(keystore);
    }

    // ---- protocol ------------------------------------------------------------------------------

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
            byte[] raw = exchange.getRequestBody().readAllBytes();
            Map<String, Object> body = raw.length == 0 ? Map.of() : readJson(raw);
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request(method, path, query, body, auth));
            if (slow.getAndUpdate(n -> Math.max(0, n - 1)) > 0) sleep(slowMillis);

            if (path.equals("/api/retail/prices")) {
                prices(exchange, query);
                return;
            }
            if (auth == null || !auth.startsWith("Bearer ")) {
                error(exchange, 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
                return;
            }
            if (!query.containsKey("api-version")) {
                error(exchange, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
                return;
            }
            if (throttle.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throttledAt.add(Instant.now());
                exchange.getResponseHeaders().set("Retry-After", "1");
                error(exchange, 429, "TooManyRequests", "The request is being throttled.");
                return;
            }
            if (method.equals(forbiddenMethod)) {
                error(exchange, 403, "AuthorizationFailed", "The client 'spillway' does not have authorization to perform action "
                        + "'Microsoft.Compute/virtualMachines/" + (method.equals("PUT") ? "write" : method.equals("DELETE") ? "delete" : "read")
                        + "' over scope '" + path + "'.");
                return;
            }
            Matcher m;
            if ((m = SKUS.matcher(path)).matches() && method.equals("GET")) {
                json(exchange, 200, Map.of("value", skus()), Map.of());
            } else if ((m = OPERATION.matcher(path)).matches() && method.equals("GET")) {
                operation(exchange, m.group(3));
            } else if ((m = VMS.matcher(path)).matches() && method.equals("GET")) {
                if (!resourceGroup(exchange, m.group(2))) return;
                list(exchange, query);
            } else if ((m = VM.matcher(path)).matches()) {
                if (!resourceGroup(exchange, m.group(2))) return;
                String name = m.group(3);
                switch (method) {
                    case "GET" -> {
                        Vm vm = vms.get(name);
                        if (vm != null && vm.pendingOperation != null) progress(operations.get(vm.pendingOperation));
                        if (vm == null) {
                            error(exchange, 404, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachines/" + name + "' under resource group '"
                                    + resourceGroup + "' was not found.");
                        } else {
                            json(exchange, 200, view(vm), Map.of());
                        }
                    }
                    case "PUT" -> create(exchange, name, body, query);
                    case "DELETE" -> delete(exchange, name, query);
                    default -> error(exchange, 405, "MethodNotAllowed", method);
                }
            } else {
                error(exchange, 404, "InvalidResourceType", "no route for " + method + " " + path);
            }
        }
    }

    private boolean resourceGroup(HttpExchange exchange, String rg) throws IOException {
        if (rg.equalsIgnoreCase(resourceGroup)) return true;
        error(exchange, 404, "ResourceGroupNotFound", "Resource group '" + rg + "' could not be found.");
        return false;
    }

    private List<Object> skus() {
        List<Object> out = new ArrayList<>();
        for (Size s : sizes.values()) {
            Map<String, Object> sku = new LinkedHashMap<>();
            sku.put("resourceType", "virtualMachines");
            sku.put("name", s.name());
            sku.put("tier", "Standard");
            sku.put("locations", List.of("westeurope"));
            sku.put("capabilities", List.of(Map.of("name", "vCPUs", "value", Integer.toString(s.vcpus())),
                    Map.of("name", "MemoryGB", "value", Double.toString(s.memoryGb())), Map.of("name", "GPUs", "value", Integer.toString(s.gpus()))));
            sku.put("restrictions", s.restricted()
                    ? List.of(Map.of("type", "Location", "values", List.of("westeurope"), "reasonCode", "NotAvailableForSubscription",
                            "restrictionInfo", Map.of("locations", List.of("westeurope"))))
                    : List.of());
            out.add(sku);
        }
        // A size of another resource type, which the provider must skip.
        out.add(Map.of("resourceType", "disks", "name", "Premium_LRS", "locations", List.of("westeurope")));
        return out;
    }

    @SuppressWarnings("unchecked")
    private void create(HttpExchange exchange, String name, Map<String, Object> body, Map<String, String> query) throws IOException {
        Vm vm;
        synchronized (this) {
            vm = vms.get(name);
            if (vm == null) {
                Map<String, Object> props = (Map<String, Object>) body.get("properties");
                String size = (String) ((Map<String, Object>) props.get("hardwareProfile")).get("vmSize");
                Map<String, Object> network = (Map<String, Object>) props.get("networkProfile");
                Map<String, Object> nic = (Map<String, Object>) ((List<Object>) network.get("networkInterfaceConfigurations")).get(0);
                Map<String, Object> ipConfig = (Map<String, Object>) ((List<Object>) ((Map<String, Object>) nic.get("properties"))
                        .get("ipConfigurations")).get(0);
                String subnet = (String) ((Map<String, Object>) ((Map<String, Object>) ipConfig.get("properties")).get("subnet")).get("id");
                if (!sizes.containsKey(size) || skusNotAvailable.contains(size)) {
                    error(exchange, 409, "SkuNotAvailable", "The requested VM size " + size + " is currently not available in location 'westeurope'.");
                    return;
                }
                if (!subnetId.equalsIgnoreCase(subnet)) {
                    error(exchange, 400, "InvalidResourceReference", "Resource " + subnet + " referenced by resource " + name + " was not found.");
                    return;
                }
                if (quota.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    error(exchange, 409, "OperationNotAllowed", "Operation could not be completed as it results in exceeding approved "
                            + "Total Regional Cores quota. Location: westeurope, Current Limit: 10, Current Usage: 10, Additional Required: 2.");
                    return;
                }
                Map<String, Object> resource = new LinkedHashMap<>(body);
                vm = new Vm(name, size, resource);
                vms.put(name, vm);
                nics.add((String) nic.get("name"));
                Map<String, Object> osDisk = (Map<String, Object>) ((Map<String, Object>) props.get("storageProfile")).get("osDisk");
                disks.add((String) osDisk.get("name"));
                String op = UUID.randomUUID().toString();
                Operation created = new Operation(name, false, new AtomicInteger(pollsPerOperation),
                        allocationFailures.contains(size) ? "AllocationFailed" : null);
                operations.put(op, created);
                vm.pendingOperation = op;
                finishLater(created);
                exchange.getResponseHeaders().set("Azure-AsyncOperation", operationUrl(op, query));
            } else {
                // Idempotent: the same VM again (ARM would apply an update).
                json(exchange, 200, view(vm), Map.of());
                return;
            }
        }
        if (lostCreates.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            exchange.getResponseHeaders().clear();
            return; // created, but the answer never arrives: the connection closes
        }
        json(exchange, 201, view(vm), Map.of("Retry-After", "0"));
    }

    private void delete(HttpExchange exchange, String name, Map<String, String> query) throws IOException {
        Vm vm = vms.get(name);
        if (vm == null) {
            exchange.sendResponseHeaders(204, -1);
            return;
        }
        vm.provisioningState = "Deleting";
        String op = UUID.randomUUID().toString();
        Operation deleting = new Operation(name, true, new AtomicInteger(pollsPerOperation), null);
        operations.put(op, deleting);
        finishLater(deleting);
        exchange.getResponseHeaders().set("Azure-AsyncOperation", operationUrl(op, query));
        exchange.getResponseHeaders().set("Location", operationUrl(op, query));
        exchange.getResponseHeaders().set("Retry-After", "0");
        exchange.sendResponseHeaders(202, -1);
    }

    private void operation(HttpExchange exchange, String id) throws IOException {
        Operation op = operations.get(id);
        if (op == null) {
            error(exchange, 404, "NotFound", "no operation " + id);
            return;
        }
        String status = progress(op);
        if (status.equals("InProgress")) {
            json(exchange, 200, Map.of("name", id, "status", "InProgress", "startTime", Instant.now().toString()), Map.of("Retry-After", "0"));
        } else if (status.equals("Failed")) {
            json(exchange, 200, Map.of("name", id, "status", "Failed", "error", Map.of("code", op.failure(),
                    "message", "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.")), Map.of());
        } else {
            json(exchange, 200, Map.of("name", id, "status", "Succeeded", "endTime", Instant.now().toString()), Map.of());
        }
    }

    private void finishLater(Operation op) {
        clock.schedule(() -> {
            while (progress(op).equals("InProgress")) {
                // step it to its end
            }
        }, OPERATION_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Moves an operation one step on (each poll of it, or each GET of its VM, is one step); returns its status. */
    private synchronized String progress(Operation op) {
        Vm vm = vms.get(op.vm());
        if (op.pollsLeft().get() <= 0) return op.failure() != null ? "Failed" : "Succeeded";
        if (op.pollsLeft().decrementAndGet() > 0) return "InProgress";
        if (vm != null) vm.pendingOperation = null;
        if (op.failure() != null) {
            if (vm != null) vm.provisioningState = "Failed";
            return "Failed";
        }
        if (vm != null && op.delete()) {
            remove(vm);
        } else if (vm != null && vm.provisioningState.equals("Creating")) {
            vm.provisioningState = "Succeeded";
            onRun.accept(vm);
        }
        return "Succeeded";
    }

    @SuppressWarnings("unchecked")
    private void remove(Vm vm) {
        vms.remove(vm.name);
        Map<String, Object> props = vm.properties();
        Map<String, Object> network = (Map<String, Object>) props.get("networkProfile");
        for (Object o : (List<Object>) network.get("networkInterfaceConfigurations")) {
            Map<String, Object> nic = (Map<String, Object>) o;
            if ("Delete".equals(((Map<String, Object>) nic.get("properties")).get("deleteOption")) && nics.remove((String) nic.get("name"))) {
                deletedNics.add((String) nic.get("name"));
            }
        }
        Map<String, Object> osDisk = (Map<String, Object>) ((Map<String, Object>) props.get("storageProfile")).get("osDisk");
        if ("Delete".equals(osDisk.get("deleteOption")) && disks.remove((String) osDisk.get("name"))) deletedDisks.add((String) osDisk.get("name"));
        onDelete.accept(vm);
    }

    private void list(HttpExchange exchange, Map<String, String> query) throws IOException {
        List<Vm> all = vms();
        int from = query.containsKey("$skiptoken") ? Integer.parseInt(query.get("$skiptoken")) : 0;
        int to = Math.min(all.size(), from + pageSize);
        List<Object> page = new ArrayList<>();
        for (Vm vm : all.subList(from, to)) page.add(view(vm));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("value", page);
        if (to < all.size()) {
            body.put("nextLink", endpoint().resolve("/subscriptions/" + subscription + "/resourceGroups/" + resourceGroup
                    + "/providers/Microsoft.Compute/virtualMachines?api-version=" + query.get("api-version") + "&$skiptoken=" + to).toString());
        }
        json(exchange, 200, body, Map.of());
    }

    private void prices(HttpExchange exchange, Map<String, String> query) throws IOException {
        String filter = query.getOrDefault("$filter", "");
        if (!filter.contains("armRegionName eq 'westeurope'") || !filter.contains("serviceName eq 'Virtual Machines'")) {
            json(exchange, 200, Map.of("BillingCurrency", "USD", "Items", List.of(), "Count", 0), Map.of());
            return;
        }
        int from = query.containsKey("$skip") ? Integer.parseInt(query.get("$skip")) : 0;
        int to = Math.min(priceItems.size(), from + 3);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("BillingCurrency", "USD");
        body.put("CustomerEntityId", "Default");
        body.put("CustomerEntityType", "Retail");
        body.put("Items", new ArrayList<>(priceItems.subList(from, to)));
        body.put("NextPageLink", to < priceItems.size() ? pricesEndpoint() + "?$filter="
                + java.net.URLEncoder.encode(filter, StandardCharsets.UTF_8).replace("+", "%20") + "&$skip=" + to : null);
        body.put("Count", to - from);
        json(exchange, 200, body, Map.of());
    }

    private Map<String, Object> view(Vm vm) {
        Map<String, Object> out = new LinkedHashMap<>(vm.resource);
        out.put("id", "/subscriptions/" + subscription + "/resourceGroups/" + resourceGroup + "/providers/Microsoft.Compute/virtualMachines/" + vm.name);
        out.put("name", vm.name);
        out.put("type", "Microsoft.Compute/virtualMachines");
        @SuppressWarnings("unchecked")
        Map<String, Object> props = new LinkedHashMap<>((Map<String, Object>) vm.resource.get("properties"));
        props.put("provisioningState", vm.provisioningState);
        props.put("vmId", UUID.nameUUIDFromBytes(vm.name.getBytes(StandardCharsets.UTF_8)).toString());
        props.put("timeCreated", vm.created.toString());
        @SuppressWarnings("unchecked")
        Map<String, Object> os = new LinkedHashMap<>((Map<String, Object>) props.get("osProfile"));
        os.remove("customData"); // ARM never returns custom data
        props.put("osProfile", os);
        out.put("properties", props);
        return out;
    }

    private String operationUrl(String id, Map<String, String> query) {
        return endpoint().resolve("/subscriptions/" + subscription + "/providers/Microsoft.Compute/locations/westeurope/operations/" + id
                + "?api-version=" + query.get("api-version")).toString();
    }

    private static void json(HttpExchange exchange, int status, Object body, Map<String, String> headers) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonWriter w = JsonProviders.createWriter(bytes)) {
            w.writeUntyped(body);
        }
        headers.forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.getResponseHeaders().set("x-ms-request-id", UUID.randomUUID().toString());
        exchange.sendResponseHeaders(status, bytes.size());
        try (OutputStream out = exchange.getResponseBody()) {
            bytes.writeTo(out);
        }
    }

    private static void error(HttpExchange exchange, int status, String code, String message) throws IOException {
        json(exchange, status, Map.of("error", Map.of("code", code, "message", message)), Map.of());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> readJson(byte[] raw) throws IOException {
        try (JsonReader r = JsonProviders.createReader(raw)) {
            return (Map<String, Object>) r.readUntyped();
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null) return out;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq < 0) continue;
            out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    private SSLContext serverContext() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    /** A PKCS12 keystore with a fresh self-signed certificate for 127.0.0.1, made by the JDK's keytool. */
    private static Path selfSignedKeystore() throws Exception {
        Path file = Files.createTempFile("arm-loopback", ".p12");
        Files.delete(file);
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "arm", "-keyalg", "RSA", "-keysize", "2048",
                "-validity", "2", "-dname", "CN=127.0.0.1", "-ext", "san=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12",
                "-keystore", file.toString(), "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("keytool failed: " + out);
        return file;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
