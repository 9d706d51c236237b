package dev.spillway.policies;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The policy layer decides; it never reads files, opens sockets, reads clocks or touches frameworks. */
class PurePoliciesArchitectureTest {

    @Test
    void policiesDoNoIo() {
        var classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.spillway.policies");
        noClasses().should().dependOnClassesThat()
                .resideInAnyPackage("java.io..", "java.nio.file..", "java.nio.channels..", "java.net..", "java.sql..", "io.grpc..",
                        "io.quarkus..", "io.vertx..", "io.smallrye..", "jakarta..", "org.hibernate..", "com.fasterxml..")
                .orShould().callMethod(java.time.Instant.class, "now")
                .orShould().callMethod(java.time.Clock.class, "systemUTC")
                .orShould().callMethod(System.class, "currentTimeMillis")
                .orShould().callMethod(System.class, "nanoTime")
                .because("policy parsing and evaluation must be pure: the broker reads files and clocks and hands them in")
                .check(classes);
    }
}
