package dev.spillway.broker.console;

import io.quarkus.qute.TemplateExtension;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** Helpers the console's templates call on their values. */
@TemplateExtension
final class ConsoleExtensions {

    private ConsoleExtensions() {
    }

    /** The text as a URL query value ({@code {next.urlEncode}}). */
    static String urlEncode(String text) {
        return text == null ? "" : URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
