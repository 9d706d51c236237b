/**
 * The cost ledger's pure core: what an instance costs (its billed lifetime × the price captured
 * at launch) and how that cost is split among the attempts that ran on it, the rest idle, exactly
 * (in millionths of a dollar, so the parts always add up to the whole).
 */
package dev.spillway.core.cost;
