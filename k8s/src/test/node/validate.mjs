// Validates each manifest of a JSON array (the file named by the first argument) against the schema
// of its apiVersion and kind; prints one line per problem and exits 1 if there is any, or if a
// manifest is of a kind this script has no schema for (every kind the manifests use must be checked).
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Cluster } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = new Map([
  ["v1/ConfigMap", ConfigMap],
  ["v1/Secret", Secret],
  ["v1/Service", Service],
  ["v1/ServiceAccount", ServiceAccount],
  ["apps/v1/Deployment", Deployment],
  ["apps/v1/StatefulSet", StatefulSet],
  ["policy/v1/PodDisruptionBudget", PodDisruptionBudget],
  ["networking.k8s.io/v1/NetworkPolicy", NetworkPolicy],
  ["postgresql.cnpg.io/v1/Cluster", Cluster],
  ["monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor],
]);

const manifests = JSON.parse(readFileSync(process.argv[2], "utf8"));
let problems = 0;
for (const m of manifests) {
  const key = `${m.apiVersion}/${m.kind}`;
  const name = `${key} ${m.metadata?.namespace ?? "-"}/${m.metadata?.name ?? "?"}`;
  const Model = models.get(key);
  if (!Model) {
    console.log(`${name}: no schema for this kind`);
    problems++;
    continue;
  }
  try {
    new Model(m).validate();
  } catch (e) {
    for (const line of String(e.message).split("\n")) console.log(`${name}: ${line}`);
    problems++;
  }
}
console.log(`validated ${manifests.length} manifests, ${problems} with problems`);
process.exit(problems === 0 ? 0 : 1);
