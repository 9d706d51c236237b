package dev.spillway.core;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The cores decide; they never do I/O, read clocks or touch frameworks. */
class PureCoreArchitectureTest {

    @Test
    void coresDoNoIo() {
        var classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.spillway.core");
        noClasses().should().dependOnClassesThat()
                .resideInAnyPackage("java.io..", "java.nio..", "java.net..", "java.sql..", "io.grpc..", "io.quarkus..",
                        "io.vertx..", "io.smallrye..", "jakarta..", "org.hibernate..")
                .orShould().callMethod(java.time.Instant.class, "now")
                .orShould().callMethod(System.class, "currentTimeMillis")
                .because("scheduling and lifecycle decisions must be pure: snapshot in, plan out")
                .check(classes);
    }
}
