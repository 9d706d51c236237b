package dev.spillway.cli;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.ApiKey;
import dev.spillway.api.v1.AuditEvent;
import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.CreateApiKeyResponse;
import dev.spillway.api.v1.ListApiKeysRequest;
import dev.spillway.api.v1.ListApiKeysResponse;
import dev.spillway.api.v1.ListAuditEventsRequest;
import dev.spillway.api.v1.ListAuditEventsResponse;
import dev.spillway.api.v1.RevokeApiKeyRequest;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import dev.spillway.client.FilterText;
import io.grpc.ManagedChannel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Access commands: whoami, API keys, the audit log. */
final class AccessCommands {

    private AccessCommands() {}

    @Command(name = "whoami", description = "Who the broker takes you for: subject, role, tenants.")
    static final class WhoAmI extends ClusterCommands.Base {
        @Override
        Integer run(ManagedChannel channel) {
            WhoAmIResponse r = AccessServiceGrpc.newBlockingStub(channel).whoAmI(WhoAmIRequest.getDefaultInstance());
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            out().printf("%s%n  role:    %s%n  tenants: %s%s%n  credential from %s%n", r.getSubject(), r.getRole(),
                    String.join(", ", r.getTenantsList()), r.getAllTenants() ? " (reads every tenant's jobs)" : "", root().callerToken().source());
            return Spillway.OK;
        }
    }

    @Command(name = "apikey", description = "API keys for applications and CI (admin only).",
            subcommands = {ApiKeyCreate.class, ApiKeyList.class, ApiKeyRevoke.class})
    static final class ApiKeys {
    }

    @Command(name = "create", description = "Create an API key and print its secret (shown once; the broker keeps only a hash).")
    static final class ApiKeyCreate extends ClusterCommands.Base {
        @Option(names = "--tenant", required = true, description = "Tenant the key acts in.")
        String tenant;

        @Option(names = "--role", required = true, description = "admin, operator, finops, submitter or viewer.")
        String role;

        @Option(names = "--ttl", description = "How long it stays usable: 12h, 90d (default: until revoked).")
        String ttl;

        @Option(names = "--name", defaultValue = "", description = "What it is for (shown in listings and the audit log).")
        String name;

        @Override
        Integer run(ManagedChannel channel) {
            CreateApiKeyRequest.Builder req = CreateApiKeyRequest.newBuilder().setTenant(tenant).setRole(role).setDisplayName(name);
            if (ttl != null) {
                try {
                    req.setTtl(dev.spillway.client.JobSpecFile.duration(ttl));
                } catch (IllegalArgumentException e) {
                    throw new Spillway.CliException(Spillway.INVALID, "--ttl: " + e.getMessage());
                }
            }
            CreateApiKeyResponse r = AccessServiceGrpc.newBlockingStub(channel).createApiKey(req.build());
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            out().println(r.getSecret());
            spec.commandLine().getErr().println("API key " + r.getKey().getUid() + " (" + r.getKey().getRole() + " in tenant " + r.getKey().getTenant()
                    + (r.getKey().hasExpireTime() ? ", until " + Output.time(r.getKey().getExpireTime()) : "")
                    + "): shown once; use it as SPILLWAY_TOKEN or 'authorization: Bearer <key>'");
            return Spillway.OK;
        }
    }

    @Command(name = "list", description = "Every API key, newest first, without secrets.")
    static final class ApiKeyList extends ClusterCommands.Base {
        @Option(names = "--filter", description = {"Only keys this filter (AIP-160) holds for, e.g. 'tenant = team-a AND -revoke_time:*'.",
                "Fields: tenant, role, create_time, expire_time, revoke_time, last_used_time."})
        String filter;

        @Override
        Integer run(ManagedChannel channel) {
            var stub = AccessServiceGrpc.newBlockingStub(channel);
            ListApiKeysResponse.Builder all = ListApiKeysResponse.newBuilder();
            String token = "";
            do {
                ListApiKeysResponse page = stub.listApiKeys(ListApiKeysRequest.newBuilder().setFilter(filter == null ? "" : filter)
                        .setPageSize(1000).setPageToken(token).build());
                all.addAllKeys(page.getKeysList());
                token = page.getNextPageToken();
            } while (!token.isEmpty());
            ListApiKeysResponse r = all.build();
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            Output.Table t = new Output.Table("ID", "PREFIX", "NAME", "TENANT", "ROLE", "CREATED", "EXPIRES", "LAST USED", "STATE");
            for (ApiKey k : r.getKeysList()) {
                t.row(k.getUid(), k.getPrefix() + "…", k.getDisplayName().isEmpty() ? "-" : k.getDisplayName(), k.getTenant(), k.getRole(),
                        Output.time(k.getCreateTime()), k.hasExpireTime() ? Output.time(k.getExpireTime()) : "never",
                        k.hasLastUsedTime() ? Output.time(k.getLastUsedTime()) : "never",
                        k.hasRevokeTime() ? "revoked " + Output.time(k.getRevokeTime()) : "active");
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    @Command(name = "revoke", description = "Revoke an API key: refused from its next call on.")
    static final class ApiKeyRevoke extends ClusterCommands.Base {
        @Parameters(paramLabel = "KEY", description = "The key's id (from 'apikey list') or its name apiKeys/ID.")
        String id;

        @Override
        Integer run(ManagedChannel channel) {
            AccessServiceGrpc.newBlockingStub(channel).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(id).build());
            spec.commandLine().getErr().println("revoked API key " + id);
            return Spillway.OK;
        }
    }

    @Command(name = "audit", description = "Who did what, newest first (admin only).")
    static final class Audit extends ClusterCommands.Base {
        @Option(names = "--action", defaultValue = "", description = "Only this action: job.submit, job.cancel, apikey.create, apikey.revoke, "
                + "jointoken.create, pool.stop-bursting, node.register-refused.")
        String action;

        @Option(names = "--filter", description = {"Only events this filter (AIP-160) holds for, e.g. 'tenant = team-a AND time >= 2026-12-01T00:00:00Z'.",
                "Fields: action, actor, tenant, target, time."})
        String filter;

        @Option(names = "--limit", defaultValue = "50", description = "At most this many events (default ${DEFAULT-VALUE}).")
        int limit;

        @Override
        Integer run(ManagedChannel channel) {
            if (limit < 1) throw new Spillway.CliException(Spillway.INVALID, "--limit: 1 or more");
            var stub = AccessServiceGrpc.newBlockingStub(channel);
            String written = new FilterText().equal("action", action.isEmpty() ? null : action).written(filter).text();
            ListAuditEventsResponse.Builder all = ListAuditEventsResponse.newBuilder();
            String token = "";
            do {
                ListAuditEventsResponse page = stub.listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter(written)
                        .setPageSize(Math.min(1000, limit - all.getEventsCount())).setPageToken(token).build());
                all.addAllEvents(page.getEventsList());
                token = page.getNextPageToken();
            } while (!token.isEmpty() && all.getEventsCount() < limit);
            ListAuditEventsResponse r = all.build();
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            Output.Table t = new Output.Table("TIME", "ACTOR", "ACTION", "TENANT", "TARGET", "FROM", "DETAIL");
            for (AuditEvent e : r.getEventsList()) {
                t.row(Output.time(e.getTime()), e.getActor(), e.getAction(), e.getTenant().isEmpty() ? "-" : e.getTenant(), e.getTarget(),
                        e.getRemoteAddress().isEmpty() ? "-" : e.getRemoteAddress(), e.getDetail());
            }
            t.print(out());
            return Spillway.OK;
        }
    }
}
