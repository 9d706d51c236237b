package dev.spillway.broker;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.time.Clock;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The broker's shape: feature packages in one direction, transports only in api, SQL only in store. */
class BrokerArchitectureTest {

    private static final JavaClasses BROKER = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.spillway.broker");

    @Test
    void featurePackagesDoNotDependOnEachOtherInACircle() {
        slices().matching("dev.spillway.broker.(*)..").should().beFreeOfCycles().check(BROKER);
    }

    @Test
    void onlyTheApiPackageSpeaksGrpcOrHttp() {
        noClasses().that().resideOutsideOfPackage("dev.spillway.broker.api..")
                .should().dependOnClassesThat().resideInAnyPackage("io.grpc..", "jakarta.ws.rs..", "io.quarkus.grpc..")
                .because("features raise domain errors; api maps them to gRPC status and problem+json")
                .check(BROKER);
    }

    @Test
    void onlyTheStorePackageWritesSqlOrHoldsEntities() {
        noClasses().that().resideOutsideOfPackage("dev.spillway.broker.store..")
                .should().dependOnClassesThat().resideInAnyPackage("io.vertx.mutiny.sqlclient..", "io.vertx.sqlclient..", "jakarta.persistence..")
                .because("every SQL statement and every entity lives in store; other packages call its repositories")
                .check(BROKER);
    }

    @Test
    void nothingReadsTheSystemClockDirectly() {
        noClasses().that().doNotHaveSimpleName("Clocks")
                .should().callMethod(Instant.class, "now")
                .orShould().callMethod(Clock.class, "systemUTC")
                .because("a Clock is injected (config.Clocks produces the one system clock)")
                .check(BROKER);
    }
}
