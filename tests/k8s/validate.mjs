// Validates Kubernetes objects against their published schemas, offline: core and apps
// objects with `kubernetes-models`, monitoring.coreos.com objects (PrometheusRule,
// PodMonitor, ...) with `@kubernetes-models/prometheus-operator`, which is generated from the
// Prometheus Operator's CRDs.
//
// Input on stdin: a JSON array of objects. Prints one line per object ("ok KIND NAME" or
// "invalid KIND NAME: why") and exits 1 if any object is invalid or has no known schema.
import { readFileSync } from "node:fs";

const MODULES = {
  v1: "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

async function modelFor(apiVersion, kind) {
  const base = MODULES[apiVersion];
  if (base === undefined) {
    throw new Error(`no schema known for apiVersion ${apiVersion}`);
  }
  let module;
  try {
    module = await import(`${base}/${kind}`);
  } catch (err) {
    throw new Error(`no schema for ${apiVersion} ${kind}: ${err.message}`);
  }
  const model = module[kind];
  if (typeof model !== "function") {
    throw new Error(`no model ${kind} in ${base}`);
  }
  return model;
}

const objects = JSON.parse(readFileSync(0, "utf8"));
if (!Array.isArray(objects) || objects.length === 0) {
  console.log("invalid input: expected a non-empty JSON array of objects");
  process.exit(1);
}
let failed = 0;
for (const object of objects) {
  const what = `${object?.apiVersion} ${object?.kind} ${object?.metadata?.name}`;
  try {
    const Model = await modelFor(object.apiVersion, object.kind);
    new Model(object).validate();
    console.log(`ok ${what}`);
  } catch (err) {
    failed += 1;
    console.log(`invalid ${what}: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
