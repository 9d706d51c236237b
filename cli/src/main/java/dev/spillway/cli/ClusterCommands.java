package dev.spillway.cli;

import dev.spillway.api.Usd;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.ListPoolsResponse;
import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.Pool;
import dev.spillway.api.v1.Resources;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Cluster commands: nodes, pools. */
final class ClusterCommands {

    private ClusterCommands() {}

    static String amount(Resources used, Resources cap) {
        return dev.spillway.core.scheduling.Resources.Format.cpu(used.getCpuMillis()) + "/"
                + dev.spillway.core.scheduling.Resources.Format.cpu(cap.getCpuMillis()) + " cpu, "
                + dev.spillway.core.scheduling.Resources.Format.memory(used.getMemoryMib()) + "/"
                + dev.spillway.core.scheduling.Resources.Format.memory(cap.getMemoryMib())
                + (cap.getGpus() > 0 ? ", " + used.getGpus() + "/" + cap.getGpus() + " gpu" : "");
    }

    /** A command that talks to the broker over one channel, opened and closed around {@link #run}. */
    abstract static class Base implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        Spillway root() {
            return (Spillway) spec.root().userObject();
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        @Override
        public Integer call() {
            ManagedChannel channel = root().channel();
            try {
                return run(channel);
            } finally {
                Spillway.close(channel);
            }
        }

        abstract Integer run(ManagedChannel channel);
    }

    @Command(name = "nodes", description = "Nodes: state, pool, allocation, last report.")
    static final class Nodes extends Base {
        @Option(names = "--pool", description = "Only this pool.")
        String pool;

        @Override
        Integer run(ManagedChannel channel) {
            List<Node> nodes = Listings.nodes(channel, pool);
            if (Output.structured(root().output, ListNodesResponse.newBuilder().addAllNodes(nodes).build(), out())) return Spillway.OK;
            Output.Table t = new Output.Table("NODE", "POOL", "STATE", "TASKS", "ALLOCATED", "LABELS", "LAST SEEN");
            for (Node n : nodes) {
                t.row(Listings.id(n.getName()), n.getPool(), Output.state(n.getState(), "NODE_STATE_"), n.getRunningTasks(),
                        amount(n.getAllocated(), n.getCapacity()), n.getLabelsMap().isEmpty() ? "-" : n.getLabelsMap(),
                        Output.time(n.getLastSeenTime()));
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    @Command(name = "status", description = "The brokers that share the database, which one leads, its epoch and lease expiry.")
    static final class Status extends Base {
        @Override
        Integer run(ManagedChannel channel) {
            var r = dev.spillway.api.v1.BrokerServiceGrpc.newBlockingStub(channel).getStatus(dev.spillway.api.v1.GetStatusRequest.getDefaultInstance());
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            if (r.hasLeader() && r.getLeader().getHeld()) {
                var l = r.getLeader();
                out().printf("leader: %s at %s, epoch %d, since %s, lease until %s%n", l.getHolder(), l.getAddress(), l.getEpoch(),
                        Output.time(l.getAcquireTime()), Output.time(l.getExpireTime()));
            } else if (r.hasLeader()) {
                out().printf("leader: none (the lease of %s, epoch %d, ran out at %s; a broker takes over at its next try)%n",
                        r.getLeader().getHolder(), r.getLeader().getEpoch(), Output.time(r.getLeader().getExpireTime()));
            } else {
                out().println("leader: none yet");
            }
            Output.Table t = new Output.Table("BROKER", "ADDRESS", "ROLE", "VERSION", "STARTED", "LAST SEEN");
            for (var b : r.getBrokersList()) {
                t.row(b.getId() + (b.getId().equals(r.getAnsweredBy()) ? " *" : ""), b.getAddress(), b.getLeader() ? "leader" : "follower",
                        b.getVersion(), Output.time(b.getStartTime()), Output.time(b.getLastSeenTime()));
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    @Command(name = "instances", description = "Cloud instances the broker launched: state, why, price and cost so far.")
    static final class Instances extends Base {
        @Option(names = "--pool", description = "Only this pool.")
        String pool;

        @Option(names = "--live", description = "Only the live ones (requested to draining), not those already gone.")
        boolean live;

        @Override
        Integer run(ManagedChannel channel) {
            var instances = Listings.instances(channel, pool, live ? Listings.LIVE : List.of());
            if (Output.structured(root().output, dev.spillway.api.v1.ListInstancesResponse.newBuilder().addAllInstances(instances).build(), out())) {
                return Spillway.OK;
            }
            Output.Table t = new Output.Table("NODE", "POOL", "TYPE", "ZONE", "MARKET", "USD/H", "STATE", "COST USD", "REASON");
            for (var i : instances) {
                t.row(i.getNode(), i.getPool(), i.getInstanceType(), i.getZone(), i.getSpot() ? "spot" : "on-demand",
                        String.format(java.util.Locale.ROOT, "%.4f", Usd.dollars(i.getPricePerHour())), Output.state(i.getState(), "INSTANCE_STATE_"),
                        String.format(java.util.Locale.ROOT, "%.5f", Usd.dollars(i.getCost())), i.getReason());
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    @Command(name = "token", description = "Join tokens for new nodes.", subcommands = TokenCreate.class)
    static final class Token {
    }

    @Command(name = "create", description = "Mint a one-time join token for one new node (prints it once).")
    static final class TokenCreate extends Base {
        @Option(names = "--node", required = true, description = "Name the new node will register with.")
        String node;

        @Option(names = "--pool", defaultValue = "onprem", description = "Pool it joins (default ${DEFAULT-VALUE}).")
        String pool;

        @Option(names = "--ttl", defaultValue = "15m", description = "How long the token stays usable: 30s, 15m, 2h (default ${DEFAULT-VALUE}).")
        String ttl;

        @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label fixed for the node, whatever its agent declares "
                + "(repeatable), e.g. spillway.dev/jurisdiction=EU. Labels under spillway.dev/ can only be set here.")
        java.util.Map<String, String> labels = new java.util.LinkedHashMap<>();

        @Option(names = "--max-cpu", paramLabel = "CORES", description = "Capacity ceiling: the most CPU the node may offer (2, 0.5, 500m).")
        String maxCpu;

        @Option(names = "--max-memory", paramLabel = "SIZE", description = "Capacity ceiling: the most memory the node may offer (4Gi, 512Mi).")
        String maxMemory;

        @Option(names = "--max-gpus", paramLabel = "N", description = "Capacity ceiling: the most GPUs the node may offer (default 0 with a ceiling).")
        Integer maxGpus;

        @Option(names = "--replace", description = "Re-provision a node name that already has a node credential: its old credential "
                + "stops working and a live connection of the node is closed once the token is used.")
        boolean replace;

        @Override
        Integer run(ManagedChannel channel) {
            com.google.protobuf.Duration duration;
            try {
                duration = dev.spillway.client.JobSpecFile.duration(ttl);
            } catch (IllegalArgumentException e) {
                throw new Spillway.CliException(Spillway.INVALID, "--ttl: " + e.getMessage());
            }
            var request = dev.spillway.api.v1.CreateJoinTokenRequest.newBuilder()
                    .setNodeName(node).setPool(pool).setTtl(duration).putAllLabels(labels).setReplaceExisting(replace);
            if (maxCpu != null || maxMemory != null || maxGpus != null) {
                if (maxCpu == null || maxMemory == null) {
                    throw new Spillway.CliException(Spillway.INVALID, "a capacity ceiling needs both --max-cpu and --max-memory");
                }
                try {
                    request.setMaxCapacity(Resources.newBuilder().setCpuMillis(dev.spillway.api.Quantities.parseCpuMillis(maxCpu))
                            .setMemoryMib(dev.spillway.api.Quantities.parseMemoryMib(maxMemory)).setGpus(maxGpus == null ? 0 : maxGpus));
                } catch (IllegalArgumentException e) {
                    throw new Spillway.CliException(Spillway.INVALID, "capacity ceiling: " + e.getMessage());
                }
            }
            var r = NodeServiceGrpc.newBlockingStub(channel).createJoinToken(request.build());
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            out().println(r.getToken());
            spec.commandLine().getErr().println("one-time token for node " + node + " in pool " + pool + ", valid until "
                    + Output.time(r.getExpireTime()) + "; start the agent with SPILLWAY_JOIN_TOKEN=<token> --name " + node
                    + " --pool " + pool);
            return Spillway.OK;
        }
    }

    @Command(name = "pools", description = "Pools: kind, connected nodes, capacity and allocation; for cloud pools, instances, spend and whether they can burst.")
    static final class Pools extends Base {
        @Override
        Integer run(ManagedChannel channel) {
            List<Pool> pools = Listings.pools(channel);
            if (Output.structured(root().output, ListPoolsResponse.newBuilder().addAllPools(pools).build(), out())) return Spillway.OK;
            Output.Table t = new Output.Table("POOL", "KIND", "NODES", "TASKS", "ALLOCATED", "INSTANCES", "USD/H", "CLOUD");
            for (Pool p : pools) {
                boolean cloud = p.hasCloud();
                var c = p.getCloud();
                t.row(Listings.id(p.getName()), Output.state(p.getKind(), "POOL_KIND_").toLowerCase(java.util.Locale.ROOT).replace('_', '-'),
                        p.getReadyNodes(), p.getRunningTasks(), amount(p.getAllocated(), p.getCapacity()),
                        cloud ? c.getInstances() + "/" + c.getMaxNodes() : "-",
                        cloud ? String.format(java.util.Locale.ROOT, "%.4f%s", Usd.dollars(c.getSpendPerHour()),
                                c.hasMaxSpendPerHour() ? String.format(java.util.Locale.ROOT, "/%.2f", Usd.dollars(c.getMaxSpendPerHour())) : "") : "-",
                        cloud ? (c.getStatus().equals("ok") ? String.format(java.util.Locale.ROOT, "ok: %d offerings from %.4f USD/h",
                                c.getOfferings(), Usd.dollars(c.getCheapestPricePerHour())) : c.getStatus()) : "-");
            }
            t.print(out());
            return Spillway.OK;
        }
    }
}
