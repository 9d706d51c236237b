package dev.spillway.core.access;

/** What a call does, as far as access is concerned. Each RPC and REST route needs exactly one. */
public enum Permission {
    /** Submit jobs to the caller's own tenant. */
    JOB_SUBMIT,
    /** Cancel the caller's tenant's jobs. */
    JOB_CANCEL,
    /** Read jobs, their tasks and events (own tenant, or every tenant for roles that see all). */
    JOB_READ,
    /** Read what tasks printed: job contents, so not for roles that only see costs or machines. */
    JOB_LOGS,
    /** Pools and nodes: capacity and allocation, no job contents. */
    CLUSTER_READ,
    /** Cloud instances: what they cost and which jobs they were launched for. */
    INSTANCES_READ,
    /** Join tokens for new nodes, and stopping a pool's bursting. */
    CLUSTER_WRITE,
    /** Create, list and revoke API keys. */
    KEYS_MANAGE,
    /** Read the audit log. */
    AUDIT_READ,
    /** Read the policy set and its versions (quotas and rules of every tenant). */
    POLICY_READ,
    /** Apply a new version of the policy set. */
    POLICY_WRITE,
    /** Read the cost ledger (own tenant, or every tenant and idle cost for roles that see all). */
    COST_READ,
    /** Create, change and delete budgets. */
    BUDGET_WRITE,
    /** Who the caller is (every authenticated caller may ask). */
    WHOAMI
}
