/**
 * Spillway's policy layer, pure like {@code core}: the documents FinOps and platform teams write
 * (YAML, {@code apiVersion: spillway.dev/v1}), their CEL expressions compiled and type-checked
 * once and evaluated many times, tenant quotas in cohorts and weighted fair share. Nothing here
 * performs I/O or knows a framework: the broker reads, stores and versions documents and hands
 * this module snapshots; this module answers with decisions and the reasons for them.
 */
package dev.spillway.policies;
