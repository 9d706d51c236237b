package dev.spillway.cli;

import com.google.rpc.BadRequest;
import dev.spillway.client.JobSpecFile;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.PrintWriter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code spillway}: the command line of the Spillway broker.
 *
 * <p>Exit codes: 0 success; 1 error (broker unreachable, internal error, a watched job failed);
 * 2 invalid input or not found.
 */
@Command(name = "spillway", mixinStandardHelpOptions = true, version = "spillway 0.1.0",
        description = "Spillway: on-prem agent pools and cloud capacity as one logical computer.",
        footer = "%nThrough the ./spillway launcher also: simulate --trace FILE.swf [...] (replay a workload trace) and "
                + "bench scheduler|burst (the pure cores), which run from bench/ (see README.md).",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:error (broker unreachable, internal error, job failed)", "2:invalid input or not found"})
public final class Spillway {

    public static final int OK = 0;
    public static final int ERROR = 1;
    public static final int INVALID = 2;

    @Option(names = "--broker", defaultValue = "${env:SPILLWAY_BROKER:-127.0.0.1:7070}", scope = CommandLine.ScopeType.INHERIT,
            description = "Broker address host:port (env SPILLWAY_BROKER; default ${DEFAULT-VALUE}).")
    String broker;

    @Option(names = {"-o", "--output"}, defaultValue = "table", scope = CommandLine.ScopeType.INHERIT,
            description = "Output format: table, json or yaml, and csv for cost (default ${DEFAULT-VALUE}).")
    Output.Format output;

    @Option(names = "--token", scope = CommandLine.ScopeType.INHERIT,
            description = "API key or access token to call the broker with (else SPILLWAY_TOKEN, --token-file, ~/.spillway/config, ~/.spillway/admin-key).")
    String token;

    @Option(names = "--token-file", scope = CommandLine.ScopeType.INHERIT,
            description = "File holding the API key or access token (env SPILLWAY_TOKEN_FILE).")
    String tokenFile;

    @Option(names = "--ca-file", scope = CommandLine.ScopeType.INHERIT,
            description = "CA certificate (PEM) to trust for the broker (else ca-file in ~/.spillway/config, ~/.spillway/tls/ca.pem "
                    + "when a local broker made one, or the JVM's CAs).")
    java.nio.file.Path caFile;

    @Option(names = "--insecure", scope = CommandLine.ScopeType.INHERIT,
            description = "Plaintext to a broker started with --insecure (labs only: the broker is not verified).")
    boolean insecure;

    private CallerToken callerToken;

    BrokerTls tls() {
        java.util.Optional<java.nio.file.Path> ca = java.util.Optional.ofNullable(caFile).or(() -> CallerToken.config("ca-file").map(java.nio.file.Path::of));
        try {
            return BrokerTls.choose(insecure, ca, CallerToken.home());
        } catch (IllegalArgumentException e) {
            throw new CliException(INVALID, e.getMessage());
        }
    }

    CallerToken callerToken() {
        if (callerToken == null) callerToken = CallerToken.resolve(token, tokenFile, System.getenv());
        return callerToken;
    }

    ManagedChannel channel() {
        return tls().channelBuilder(broker).maxInboundMessageSize(64 * 1024 * 1024)
                .intercept(callerToken().interceptor()).build();
    }

    /**
     * The client of the broker these options name, over the short commands' transport; each try
     * it makes again is told on {@code err} (with the request id of a submission, so that a user
     * can repeat it safely).
     */
    dev.spillway.client.SpillwayClient client(PrintWriter err) {
        return dev.spillway.client.SpillwayClient.builder().transport(tls().channelBuilder(broker)).token(callerToken().secret())
                .onRetry(r -> {
                    err.printf("spillway: %s failed (%s: %s); trying again in %d ms%s%n", r.method(), r.status().getCode(),
                            r.status().getDescription(), r.delay().toMillis(), r.requestId().isEmpty() ? "" : " with request id " + r.requestId());
                    err.flush();
                }).build();
    }

    static void close(ManagedChannel channel) {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** An error the user should see as a message and an exit code, not a stack trace. */
    public static final class CliException extends RuntimeException {
        final int exitCode;

        public CliException(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    /** Every command, in the order usage lists them. */
    private static final List<Class<?>> COMMANDS = List.of(
            UpCommand.class, DemoCommand.class,
            JobCommands.Submit.class, JobCommands.Estimate.class, JobCommands.Jobs.class, JobCommands.JobDetail.class, JobCommands.Watch.class,
            JobCommands.Logs.class, JobCommands.Cancel.class, JobCommands.Explain.class,
            ClusterCommands.Nodes.class, ClusterCommands.Pools.class, ClusterCommands.Token.class, ClusterCommands.Instances.class, ClusterCommands.Status.class,
            AccessCommands.WhoAmI.class, AccessCommands.ApiKeys.class, AccessCommands.Audit.class,
            PolicyCommands.Policy.class, PolicyCommands.Decisions.class, CostCommands.Cost.class,
            BudgetCommands.BudgetCommand.class, BudgetCommands.Budgets.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class);

    /** The root's options that take a value: the command's name is the first argument that is neither one of these nor its value. */
    private static final Set<String> VALUE_OPTIONS = Set.of("--broker", "-o", "--output", "--token", "--token-file", "--ca-file");

    public static void main(String[] args) {
        System.exit(commandLine(args).execute(args));
    }

    /** The whole command line, every command in it. */
    public static CommandLine commandLine() {
        return withCommands(COMMANDS);
    }

    /**
     * The command line that {@code args} need: the root and the one command they name, when they
     * name one (picocli builds the model of every command it holds, about a quarter of a short
     * command's run); the whole of it for usage, help and anything it does not know.
     */
    static CommandLine commandLine(String[] args) {
        String name = commandName(args);
        for (Class<?> command : COMMANDS) {
            if (command != CommandLine.HelpCommand.class && command.getAnnotation(Command.class).name().equals(name)) {
                return withCommands(List.of(command));
            }
        }
        return commandLine();
    }

    /** The first argument that is not a root option or its value; null when there is none. */
    static String commandName(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-")) return arg;
            if (VALUE_OPTIONS.contains(arg)) i++;
        }
        return null;
    }

    private static CommandLine withCommands(List<Class<?>> commands) {
        CommandLine cli = new CommandLine(new Spillway());
        for (Class<?> command : commands) cli.addSubcommand(command);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler(Spillway::handle);
        return cli;
    }

    private static int handle(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        if (e instanceof CliException c) {
            err.println("spillway: " + c.getMessage());
            return c.exitCode;
        }
        if (e instanceof StatusRuntimeException s) {
            return status(s, err, cmd);
        }
        if (e instanceof JobSpecFile.InvalidSpecException invalid) {
            invalid.problems().forEach(p -> err.println(p.toString()));
            return INVALID;
        }
        if (e instanceof java.nio.file.NoSuchFileException f) {
            err.println("spillway: no such file: " + f.getFile());
            return INVALID;
        }
        err.println("spillway: " + e);
        return ERROR;
    }

    static int status(StatusRuntimeException s, PrintWriter err, CommandLine cmd) {
        Status.Code code = s.getStatus().getCode();
        String broker = ((Spillway) cmd.getCommandSpec().root().userObject()).broker;
        switch (code) {
            case INVALID_ARGUMENT -> {
                var violations = violations(s);
                if (violations.isEmpty()) err.println("spillway: " + s.getStatus().getDescription());
                violations.forEach(v -> err.println("spillway: " + v.getField() + ": " + v.getDescription()));
                return INVALID;
            }
            case NOT_FOUND -> {
                err.println("spillway: " + s.getStatus().getDescription());
                return INVALID;
            }
            case UNAUTHENTICATED -> {
                CallerToken token = ((Spillway) cmd.getCommandSpec().root().userObject()).callerToken();
                err.println("spillway: the broker refused the credential from " + token.source() + ": " + s.getStatus().getDescription());
                return ERROR;
            }
            case PERMISSION_DENIED -> {
                err.println("spillway: permission denied: " + s.getStatus().getDescription());
                return ERROR;
            }
            case UNAVAILABLE -> {
                String detail = s.getStatus().getDescription();
                if (answeredByBroker(s)) {
                    err.println("spillway: the broker at " + broker + " cannot do this now: " + detail);
                    return ERROR;
                }
                err.println("spillway: cannot reach the broker at " + broker + (detail == null ? "" : " (" + detail + ")")
                        + "; is it running? (./spillway up)" + untrustedHint(s));
                return ERROR;
            }
            default -> {
                err.println("spillway: " + code + ": " + s.getStatus().getDescription());
                return ERROR;
            }
        }
    }

    /**
     * Whether the broker itself sent this status (with an ErrorInfo of its domain), rather than
     * the transport reporting that it could not reach the broker.
     */
    static boolean answeredByBroker(StatusRuntimeException s) {
        com.google.rpc.Status status = StatusProto.fromThrowable(s);
        if (status == null) return false;
        for (var any : status.getDetailsList()) {
            if (any.is(com.google.rpc.ErrorInfo.class)) {
                try {
                    return "spillway.dev".equals(any.unpack(com.google.rpc.ErrorInfo.class).getDomain());
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    return false;
                }
            }
        }
        return false;
    }

    /** A hint when the connection failed on the broker's certificate. */
    private static String untrustedHint(StatusRuntimeException s) {
        for (Throwable t = s; t != null; t = t.getCause()) {
            if (t instanceof javax.net.ssl.SSLException || t instanceof java.security.cert.CertificateException) {
                return "; its certificate is not trusted: pass --ca-file with its CA (<data-dir>/tls/ca.pem of a broker that made its own)";
            }
        }
        return "";
    }

    static java.util.List<BadRequest.FieldViolation> violations(StatusRuntimeException s) {
        com.google.rpc.Status status = StatusProto.fromThrowable(s);
        if (status == null) return java.util.List.of();
        for (var any : status.getDetailsList()) {
            if (any.is(BadRequest.class)) {
                try {
                    return any.unpack(BadRequest.class).getFieldViolationsList();
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    // fall through
                }
            }
        }
        return java.util.List.of();
    }
}
