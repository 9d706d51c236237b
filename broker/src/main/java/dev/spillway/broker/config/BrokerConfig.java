package dev.spillway.broker.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Every broker setting, under the {@code spillway.} prefix (environment: {@code SPILLWAY_…}).
 * The defaults run the embedded single-machine setup with no configuration at all. The database
 * is chosen by {@link dev.spillway.broker.store.DatabaseConfigSource}.
 */
@ConfigMapping(prefix = "spillway")
public interface BrokerConfig {

    /** Directory holding the embedded database and the agent token file. */
    @WithDefault("${user.home}/.spillway")
    String dataDir();

    /**
     * The process this broker belongs to ({@code spillway up} and the benchmarks set it): when it
     * ends, however it ends, the broker stops too, so that no broker outlives the command that
     * started it. Unset for a broker run on its own.
     */
    Optional<Long> parentPid();

    Agents agents();

    Scheduler scheduler();

    Limits limits();

    Auth auth();

    Secrets secrets();

    Console console();

    /** The web console at {@code /console/}. */
    interface Console {
        /** Whether the broker serves it. */
        @WithDefault("true")
        boolean enabled();

        /** How long a sign-in lasts; the credential is checked again on every page, so a revoked key ends it at once. */
        @WithDefault("8h")
        java.time.Duration sessionTtl();

        /** How often an open overview asks for fresh figures (it stops while its tab is hidden). */
        @WithDefault("2s")
        java.time.Duration refreshInterval();

        Oidc oidc();

        /**
         * Single sign-on with the enterprise's identity provider ({@code spillway.auth.oidc.issuer}):
         * the authorization code flow with PKCE. The access token it yields is the session's
         * credential, checked as the API checks any access token (issuer, audience, signature, the
         * tenant and role claims), so the provider must issue JWT access tokens for the broker's
         * audience.
         */
        interface Oidc {
            /** The console's client id at the provider; unset: sign-in with API keys only. */
            Optional<String> clientId();

            /** File holding the client secret of a confidential client; unset: a public client (PKCE alone). */
            Optional<String> clientSecretFile();

            /** Scopes asked for. */
            @WithDefault("openid")
            java.util.List<String> scopes();

            /** The provider's authorization endpoint; unset: {@code authorization_endpoint} of its discovery document. */
            Optional<String> authorizationUrl();

            /** The provider's token endpoint; unset: {@code token_endpoint} of its discovery document. */
            Optional<String> tokenUrl();

            /** The callback as registered at the provider; unset: the address the browser used, {@code /console/login/callback}. */
            Optional<String> redirectUri();
        }
    }

    /** How job secrets ({@code secret_env}) are kept. */
    interface Secrets {
        /**
         * File holding the 256-bit key (base64) that encrypts secret environment values before they
         * are stored; every broker of one database needs the same. Default {@code <data-dir>/secret-key},
         * created (mode 0600) on first start.
         */
        Optional<String> keyFile();
    }

    Leader leader();

    /**
     * High availability: several brokers share one database and exactly one of them leads (runs the
     * scheduling loop, node leases, bursting and the bookkeeping timers), by a lease row in the
     * database with a fencing epoch ({@code dev.spillway.broker.leader.Leadership}). A broker alone
     * on its database simply leads.
     */
    interface Leader {
        /** How long a lease lasts unless renewed; a follower takes over at most this long after the leader stops renewing. */
        @WithDefault("10s")
        Duration ttl();

        /** How often the leader renews and the followers try to take over; default a quarter of the ttl. */
        Optional<Duration> renewEvery();

        /**
         * The fastest or slowest this machine's monotonic clock may run, as a rate (0.01: 1 %). The
         * leader stops acting as leader this much earlier than its lease, plus {@link #margin()}.
         */
        @WithDefault("0.01")
        double maxClockDrift();

        /** Time the leader allows itself to stop its work before its lease could expire. */
        @WithDefault("1s")
        Duration margin();

        /**
         * Where other brokers and agents reach this broker (host:port): followers send agents there
         * when it leads. Default: this machine's host name and the HTTP port; on Kubernetes, the
         * pod's IP ({@code status.podIP}) and the port.
         */
        Optional<String> advertise();

        /** This broker's name among its peers; default {@code <host>-<random>}, new at every start. */
        Optional<String> id();
    }

    /** Pools by name. Pools that agents name without configuration are created as {@code on-prem}. */
    Map<String, PoolSettings> pools();

    /** The cost ledger: how on-prem work is priced and how an instance's cost is split among its tasks. */
    Cost cost();

    interface Cost {
        /**
         * The on-prem rate card of pools that have none of their own ({@code spillway.pools.NAME.rate-card.*}).
         * Unset rates are 0: on-prem work costs nothing until it is priced.
         */
        RateCard rateCard();

        /** How much a task's share of an instance's cpu counts in its share of the instance's cost. */
        @WithDefault("1")
        double cpuWeight();

        /** How much a task's share of an instance's memory counts in its share of the instance's cost. */
        @WithDefault("1")
        double memoryWeight();

        /** How long after an hour ends the ledger closes it (attempt ends and terminations recorded late still count). */
        @WithDefault("2m")
        Duration closeAfter();

        /** How often the ledger looks for hours to close. */
        @WithDefault("1m")
        Duration closeEvery();

        /** How often budgets' periods are booked from the ledger (spent, reservations' remainders, alerts). */
        @WithDefault("15s")
        Duration budgetEvery();

        /** The provider and invoice issuer named on on-prem (and local-cloud) rows of a cost export. */
        @WithDefault("On-premises")
        String internalProvider();
    }

    /** An on-prem pool's prices, USD per hour of what a task holds. */
    interface RateCard {
        Optional<Double> usdPerCpuHour();

        Optional<Double> usdPerGibHour();

        Optional<Double> usdPerGpuHour();
    }

    interface Agents {
        /**
         * Labs only, off by default: let agents register with one cluster-wide shared token
         * ({@code token}, else {@code <data-dir>/agent-token}) instead of a one-time join token
         * per node. Such nodes join on-prem pools only and cannot declare {@code spillway.dev/}
         * labels; the broker logs a warning at start while it is on.
         */
        @WithDefault("false")
        boolean sharedToken();

        /**
         * With {@code shared-token}: the secret agents present as {@code authorization: Bearer <token>}.
         * When unset, the broker reads {@code <data-dir>/agent-token}, creating it (mode 0600) with a random value.
         */
        Optional<String> token();

        /** How often agents must report. */
        @WithDefault("2s")
        Duration heartbeatInterval();

        /** Silence after which a node is declared lost and its tasks re-queued (measured on a monotonic clock). */
        @WithDefault("15s")
        Duration lease();

        /**
         * After a broker start, how much longer than one lease the nodes the database lists as
         * connected get to reconnect, per such node: they all come back at once (with jittered
         * backoff of up to 10 s) and register one after another. No node is declared lost during
         * the start grace of {@code lease + nodes x start-grace-per-node}, at most {@code start-grace-max}.
         */
        @WithDefault("20ms")
        Duration startGracePerNode();

        /** The longest start grace, however many nodes are known (never less than one lease). */
        @WithDefault("10m")
        Duration startGraceMax();
    }

    /**
     * Who may call. Every call carries {@code authorization: Bearer <credential>}: an API key
     * (made with {@code spillway apikey create}) or, when {@code oidc.issuer} is set, an access
     * token from that identity provider.
     */
    interface Auth {
        /**
         * On start, when {@code <data-dir>/admin-key} is missing, create an admin API key and write
         * it there (mode 0600), so the CLI on this machine can act as admin with no setup.
         */
        @WithDefault("true")
        boolean bootstrapAdminKey();

        /**
         * A file holding an admin API key's secret ({@code spw_} and at least 32 more characters,
         * made by the operator, e.g. from a Kubernetes Secret): every broker recognises it as the
         * admin key, registering its hash at start if the database does not know it; no broker then
         * writes a key of its own ({@code bootstrap-admin-key} is ignored). Revoking it with
         * {@code spillway apikey revoke} holds: a revoked key is not registered again.
         */
        Optional<String> adminKeyFile();

        /** Tenant of the bootstrap admin key (where its jobs go unless a spec names another). */
        @WithDefault("default")
        String bootstrapTenant();

        /** Whether {@code /q/metrics} may be read without a credential (for a scraper that cannot send one). */
        @WithDefault("false")
        boolean openMetrics();

        Oidc oidc();

        interface Oidc {
            /** The identity provider's issuer ({@code iss}); unset: access tokens are not accepted, only API keys. */
            Optional<String> issuer();

            /** Accepted audiences ({@code aud}); a token must name at least one. Required with an issuer. */
            Optional<java.util.List<String>> audience();

            /** Where its signing keys are (a JWKS over HTTPS); unset: the {@code jwks_uri} of {@code <issuer>/.well-known/openid-configuration}. */
            Optional<String> jwksUrl();

            /** PEM file of the CA that signs the JWKS server's certificate, when it is not a public one. */
            Optional<String> jwksCaFile();

            /** Claim holding the caller's tenant or tenants (a string or an array of strings). */
            @WithDefault("spillway_tenants")
            String tenantClaim();

            /** Claim holding the caller's role: {@code admin}, {@code operator}, {@code finops}, {@code submitter} or {@code viewer}. */
            @WithDefault("spillway_role")
            String roleClaim();

            /** Tolerated clock difference with the identity provider for {@code exp} and {@code nbf}. */
            @WithDefault("30s")
            Duration clockSkew();
        }
    }

    interface Scheduler {
        /** Longest pause between cycles; submissions, finished tasks and new nodes wake it earlier. */
        @WithDefault("1s")
        Duration interval();

        /**
         * Most queued tasks one cycle reads, shared by priority, then tenant, then age. Of each job
         * a cycle reads no more than the nodes could take now plus {@link #burstLookahead()}.
         */
        @WithDefault("50000")
        int maxTasksPerCycle();

        /**
         * With cloud pools configured: how many queued tasks of each job beyond what the nodes can
         * take now a cycle reads, for the burst planner to buy capacity for.
         */
        @WithDefault("5000")
        int burstLookahead();

        /** Feasible nodes compared per placement (more: tighter packing, slower cycles). */
        @WithDefault("8")
        int candidateLimit();
    }

    interface Limits {
        /** Most tasks in one job. */
        @WithDefault("100000")
        int maxTasksPerJob();

        /** Largest total size of a job's environment (keys plus values), in bytes. */
        @WithDefault("65536")
        int maxEnvBytes();

        /** Largest command (all arguments together), in bytes. */
        @WithDefault("65536")
        int maxCommandBytes();

        /**
         * Largest job spec in a SubmitJob, in bytes of its protobuf encoding (a larger one is refused, naming this
         * setting). The gRPC inbound message limit, {@code quarkus.grpc.server.max-inbound-message-size}, is set
         * separately: agents' registrations re-send their recent attempts and need more than a spec does.
         */
        @WithDefault("262144")
        int maxSpecBytes();

        /** Most entries in a task's {@code pools} list. */
        @WithDefault("64")
        int maxPools();

        /** Most entries in a task's {@code jurisdictions} list. */
        @WithDefault("64")
        int maxJurisdictions();

        /** Most entries in a task's node selector. */
        @WithDefault("64")
        int maxNodeSelectorEntries();

        /** Most variables in a task's environment (their total size is bounded by {@code max-env-bytes}). */
        @WithDefault("512")
        int maxEnvEntries();

        /** Most WatchJob and GetTaskLogs streams one caller may hold open at once. */
        @WithDefault("32")
        int streamsPerCaller();

        /** Bytes a stream may hold for a client that is not reading before it is ended (RESOURCE_EXHAUSTED). */
        @WithDefault("8388608")
        long streamBufferBytes();

        /**
         * Sustained submissions per second per tenant (a job costs 1 plus 1 per 1,000 tasks);
         * above it SubmitJob answers RESOURCE_EXHAUSTED with when to retry.
         */
        @WithDefault("2000")
        double submitRate();

        /** Submissions a tenant may make at once above the sustained rate. */
        @WithDefault("10000")
        double submitBurst();
    }

    /** Spillway's installation (repository) directory; the local cloud runs the agent jar built there. */
    Optional<String> home();

    /** The agent jar served to cloud instances at {@code /agent/spillway-agent.jar} (default: the one built under {@code home}). */
    Optional<String> agentJar();

    /** Identifies this broker's instances in the clouds (the {@code spillway:cluster} tag). */
    @WithDefault("spillway")
    String cluster();

    /**
     * Address cloud instances use to reach this broker (host:port). Defaults to this broker's own
     * address, which is loopback unless {@code quarkus.http.host} says otherwise: pools of kind
     * aws and azure refuse to start with a loopback address.
     */
    Optional<String> advertisedAddress();

    /**
     * TLS on the broker's one port (gRPC, REST, health, metrics). Read before Quarkus starts its
     * server, by {@link dev.spillway.broker.tls.TlsConfigSourceFactory}; see
     * {@link dev.spillway.broker.tls.BrokerTransport}.
     */
    Tls tls();

    /** Serve plaintext, explicitly, whatever {@code tls.enabled} says: labs only (a warning is logged at start). */
    @WithDefault("false")
    boolean insecure();

    interface Tls {
        /**
         * Serve TLS only. Without {@code cert-file}/{@code key-file}, the broker makes a private CA
         * and a server certificate in {@code <data-dir>/tls} on first start; clients trust
         * {@code <data-dir>/tls/ca.pem}. Plaintext only with {@code spillway.insecure} (or this set to
         * false), logged as a warning at start.
         */
        @WithDefault("true")
        boolean enabled();

        /** The broker's own certificate chain (PEM) instead of a generated one; needs {@code key-file}. */
        Optional<String> certFile();

        /** The private key (PEM) of {@code cert-file}. */
        Optional<String> keyFile();

        /** With {@code cert-file}: the CA certificate(s) (PEM) clients and cloud boot scripts trust (default: {@code cert-file}). */
        Optional<String> caFile();
    }

    /**
     * Testing only: halts the broker (as kill -9 would) at a named point of a cloud launch:
     * {@code burst.before-launch} (record written, provider not called), {@code burst.during-launch}
     * (the provider accepted, the call has not returned), {@code burst.after-launch} (launched, not
     * yet recorded as such). The crash-recovery tests use it; never set it in production.
     */
    Optional<String> failpoint();

    /** How often the burst controller plans, checks instance lifecycles and scales down. */
    @WithDefault("2s")
    Duration burstInterval();

    /**
     * Bounds on every call to the broker's PostgreSQL, embedded or external (which one is chosen by
     * {@link dev.spillway.broker.store.DatabaseConfigSource}); applied by
     * {@link dev.spillway.broker.store.BoundedPgPool} to each connection it opens.
     */
    Database database();

    interface Database {
        /**
         * An external PostgreSQL, {@code postgresql://user:password@host:port/database} (environment
         * {@code SPILLWAY_DATABASE_URL}); unset: the embedded one under {@code <data-dir>/postgres}. Read as a system
         * property or environment variable only, by {@link dev.spillway.broker.store.DatabaseConfigSource}, before the
         * rest of the configuration: not from {@code application.properties}.
         */
        Optional<String> url();

        /**
         * Longest one SQL statement may run: PostgreSQL's {@code statement_timeout}, sent when each connection
         * starts (the server cancels the statement and the call fails with SQLSTATE 57014). Also the session's
         * {@code idle_in_transaction_session_timeout}, so a broker cut off mid-transaction holds no locks for longer.
         */
        @WithDefault("30s")
        Duration statementTimeout();

        /**
         * Longest a call waits for a pooled connection (all {@code quarkus.datasource.reactive.max-size} in use, or
         * a new one being opened) before it fails instead of queueing for ever.
         */
        @WithDefault("10s")
        Duration acquireTimeout();
    }

    /**
     * How long finished work and spent records are kept; see {@link dev.spillway.broker.retention.RetentionSweeper}.
     * A window of 0 keeps that kind for ever.
     */
    Retention retention();

    interface Retention {
        /** Finished jobs (with their tasks, task events and labels) are deleted this long after they finished. */
        @WithDefault("30d")
        Duration jobs();

        /**
         * Spent or expired join tokens and terminated or failed cloud instance records are deleted this long
         * after they were spent, expired or ended. An instance's cost facts are kept in {@code instance_cost}.
         */
        @WithDefault("7d")
        Duration records();

        /** Audit events are deleted this long after they were written. */
        @WithDefault("365d")
        Duration audit();

        /** How often the sweep runs. */
        @WithDefault("1h")
        Duration interval();

        /** Delay from the broker's start to the first sweep. */
        @WithDefault("1m")
        Duration firstSweepAfter();

        /** Most rows (jobs, tokens, instance records, audit events) deleted in one transaction. */
        @WithDefault("1000")
        int batchSize();

        /** Pause between two batches, so a large backlog never holds locks or the disk for long. */
        @WithDefault("200ms")
        Duration batchPause();
    }

    interface PoolSettings {
        /** {@code on-prem}, {@code local}, {@code aws} or {@code azure}. */
        @WithDefault("on-prem")
        String kind();

        /** on-prem: the pool's rate card; a rate it leaves unset is the one of {@code spillway.cost.rate-card}. */
        RateCard rateCard();

        // ---- cloud pools (kind local, aws, azure) ----

        /** Catalog of offerings: a bundled one ({@code aws-eu-central-1}, {@code azure-westeurope}) or a CSV file path. */
        Optional<String> catalog();

        /** Legal area of the pool's region, matched against tasks' jurisdictions (e.g. {@code EU}). */
        Optional<String> jurisdiction();

        /** Instances the pool keeps even when idle. */
        @WithDefault("0")
        int minNodes();

        /** Most instances at once. */
        @WithDefault("10")
        int maxNodes();

        /** Cap on the pool's total instance price, USD per hour; none when unset. */
        Optional<Double> maxSpendUsdPerHour();

        /** Instance types the pool may launch; all of the catalog when empty. */
        Optional<java.util.List<String>> instanceTypes();

        /** Whether spot capacity may be used (for tasks that tolerate it). */
        @WithDefault("true")
        boolean spot();

        /** A task that only waits for busy on-prem capacity bursts after waiting this long. */
        @WithDefault("30s")
        Duration burstAfter();

        /** An instance idle this long is drained and terminated (down to min-nodes). */
        @WithDefault("60s")
        Duration scaleDownAfter();

        /** An instance whose agent has not joined within this time is terminated. */
        @WithDefault("5m")
        Duration joinTimeout();

        /**
         * How long an offering that hit a capacity error stays out of plans; also the first hide of an
         * offering whose instance never joined, doubled for each further one in a row (at most 1 h).
         */
        @WithDefault("3m")
        Duration capacityErrorBackoff();

        /**
         * Instances in a row that never join after which the pool rests for 15 minutes and says why
         * (usually the instances cannot reach the advertised address).
         */
        @WithDefault("3")
        int joinFailureLimit();

        /** local only: the agent jar its instances run (default: the one built in this repository). */
        Optional<String> agentJar();

        /** local only, fault injection: offerings ({@code type@zone:spot} or {@code type@zone:on-demand}) with no capacity. */
        Optional<java.util.List<String>> faultNoCapacity();

        /** local only: time from launch until the instance's agent starts. */
        @WithDefault("3s")
        Duration bootDelay();

        /** How often the pool's offerings (spot prices above all) are read from the provider again. */
        @WithDefault("10m")
        Duration offeringsRefresh();

        /** aws, azure: where instances download the agent jar (default: this broker serves it at /agent/spillway-agent.jar). */
        Optional<String> agentUrl();

        /** aws, azure: the region ({@code eu-central-1}) or location ({@code westeurope}). */
        Optional<String> region();

        /** aws, azure: an API endpoint other than the cloud's default (an EC2 VPC endpoint; a sovereign cloud's Resource Manager). */
        Optional<String> endpoint();

        // ---- aws ----

        /** aws: the AMI instances boot (Linux with systemd, curl, and dnf or apt). */
        Optional<String> imageId();

        /** aws: subnets to launch into, one per availability zone used. */
        Optional<java.util.List<String>> subnets();

        /** aws: security groups of the instances (outbound access to the broker needed). */
        Optional<java.util.List<String>> securityGroups();

        /** aws: instance profile name or ARN for the instances. */
        Optional<String> instanceProfile();

        // ---- azure ----

        /** azure: the subscription to launch in. */
        Optional<String> subscriptionId();

        /** azure: the resource group holding the pool's VMs. */
        Optional<String> resourceGroup();

        /** azure: ARM id of the subnet the VMs' NICs join. */
        Optional<String> subnetId();

        /** azure: {@code publisher:offer:sku:version} or an image resource id (default: Ubuntu 24.04 LTS). */
        Optional<String> image();

        /** azure: read prices from the Retail Prices API instead of the bundled snapshot. */
        @WithDefault("false")
        boolean livePrices();

        /** azure: the Retail Prices API (default: https://prices.azure.com/api/retail/prices). */
        Optional<String> pricesEndpoint();

        /** azure: how long a launch follows the VM's creation (allocation failures become capacity errors) before returning it booting. */
        @WithDefault("30s")
        Duration provisioningWait();
    }
}
