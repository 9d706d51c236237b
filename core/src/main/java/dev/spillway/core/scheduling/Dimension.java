package dev.spillway.core.scheduling;

/** A resource dimension, named the way explanations print it. */
public enum Dimension {
    CPU("cpu"), MEMORY("memory"), GPU("gpu");

    private final String label;

    Dimension(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
