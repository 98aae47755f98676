// SPDX-License-Identifier: LGPL-2.1-or-later
// Validates Kubernetes manifests offline against the Kubernetes API's OpenAPI schemas, as
// the npm package kubernetes-models compiles them (types, required fields, enums, formats),
// and adds what the API server checks beyond the schema and a schema alone cannot: fields
// that do not exist (the OpenAPI schemas allow any extra key, so "hostPid: true" for
// "hostPID" would pass silently and run the agent without the host's PID namespace; the
// field lists come from kubernetes-models' type declarations), a selector that does not
// match its pod template, and volume mounts of volumes that are not declared. Across the
// objects of one run: a StatefulSet's headless Service, a PodDisruptionBudget that leaves a
// pod to evict, anti-affinity that selects its own pods, and castle's endpoint lists naming
// every replica of the coordinators' StatefulSet (crossChecks).
// Usage: node validate.mjs FILE... (YAML or JSON, several documents, kind List expanded).
// Exit status 0: all valid; 1: an error was printed for each invalid object.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const modelsDir = dirname(require.resolve("kubernetes-models/package.json"));
const machineryDir = dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));

// ---- field lists from the type declarations: interface -> { field: type } ----
const interfaces = new Map(); // "file#IName" -> Map(field -> type text, or "map" for inline objects)
const aliases = new Map(); // "IIoK8sApiCoreV1Probe" -> "file#IProbe"

function declarations(dir) {
        const out = [];
        for (const e of readdirSync(dir)) {
                const p = join(dir, e);
                if (e === "node_modules" || e === "_schemas") continue;
                if (statSync(p).isDirectory()) out.push(...declarations(p));
                else if (e.endsWith(".d.ts")) out.push(p);
        }
        return out;
}

function parseDeclarations(file) {
        const lines = readFileSync(file, "utf8").split("\n");
        for (let i = 0; i < lines.length; i++) {
                const m = /^export interface (I\w+)(?: extends [\w, ]+)? \{$/.exec(lines[i]);
                if (m) {
                        const fields = new Map();
                        let depth = 1;
                        for (i++; i < lines.length && depth > 0; i++) {
                                const line = lines[i];
                                const f = depth === 1 && /^ {4}"([^"]+)"\??: (.*)$/.exec(line);
                                if (f) fields.set(f[1], f[2].endsWith("{") ? "map" : f[2].replace(/;$/, ""));
                                depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
                        }
                        i--;
                        interfaces.set(`${file}#${m[1]}`, fields);
                        continue;
                }
                const a = /^export (?:type )?\{ (I\w+) as (I\w+),/.exec(lines[i]);
                if (a) aliases.set(a[2], `${file}#${a[1]}`);
        }
}

for (const f of [...declarations(modelsDir), ...declarations(machineryDir)]) parseDeclarations(f);

function fieldType(text) {
        const arr = /^Array<(\w+)>$/.exec(text);
        const name = arr ? arr[1] : text;
        return /^I\w+$/.test(name) && aliases.has(name) ? aliases.get(name) : null;
}

function unknownFields(value, iface, path, errors) {
        const fields = interfaces.get(iface);
        if (!fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
        for (const [key, v] of Object.entries(value)) {
                if (!fields.has(key)) {
                        errors.push(`${path}/${key}: no such field in the Kubernetes API`);
                        continue;
                }
                const t = fields.get(key);
                if (t === "map") continue;
                const sub = fieldType(t);
                if (!sub) continue;
                if (Array.isArray(v)) v.forEach((e, i) => unknownFields(e, sub, `${path}/${key}/${i}`, errors));
                else unknownFields(v, sub, `${path}/${key}`, errors);
        }
}

// ---- what the API server checks beyond the schema ----
function podChecks(obj, errors) {
        const spec = obj.spec;
        if (!spec || !spec.template) return;
        const labels = spec.template.metadata?.labels ?? {};
        for (const [k, v] of Object.entries(spec.selector?.matchLabels ?? {}))
                if (labels[k] !== v) errors.push(`/spec/selector/matchLabels/${k}: does not match the pod template's labels`);
        const pod = spec.template.spec ?? {};
        // A StatefulSet's volumeClaimTemplates are volumes of its pods too.
        const volumes = new Set([...(pod.volumes ?? []), ...(spec.volumeClaimTemplates ?? []).map((t) => t.metadata ?? {})].map((v) => v.name));
        for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])])
                for (const m of c.volumeMounts ?? [])
                        if (!volumes.has(m.name)) errors.push(`container ${c.name}: volumeMount ${m.name} names no volume`);
}

// A labelSelector's matchLabels against a set of labels (matchExpressions are not used here).
function selects(selector, labels) {
        const m = Object.entries(selector?.matchLabels ?? {});
        return m.length > 0 && m.every(([k, v]) => labels?.[k] === v);
}

function podTemplateChecks(obj, errors) {
        const spec = obj.spec ?? {};
        const labels = spec.template?.metadata?.labels ?? {};
        // Anti-affinity that does not select the pod's own labels spreads nothing.
        const aa = spec.template?.spec?.affinity?.podAntiAffinity;
        for (const [i, t] of (aa?.requiredDuringSchedulingIgnoredDuringExecution ?? []).entries())
                if (!selects(t.labelSelector, labels))
                        errors.push(`podAntiAffinity term ${i}: its labelSelector does not select the pod's own labels: it keeps no two replicas apart`);
}

function disruptionBudgetChecks(obj, errors) {
        const spec = obj.spec ?? {};
        if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined)
                errors.push("/spec: minAvailable and maxUnavailable are mutually exclusive");
}

// ---- across objects: what a schema cannot see, and castle's own consistency ----
// StatefulSets need a headless Service of their serviceName for the per-pod DNS names; a
// PodDisruptionBudget must select a workload and leave a pod to evict (minAvailable below
// its replicas, or a drain never ends); a castle endpoint list that names the pods of a
// StatefulSet (tcp://NAME-N.SERVICE.NAMESPACE.svc:PORT) must name every replica, each once,
// on a port of that Service (an agent keeps one link per coordinator: a replica left out
// never hears from it), and must not name the headless Service itself in their place.
function crossChecks(objects) {
        const out = [];
        const key = (o) => `${o.metadata?.namespace ?? "default"}/${o.metadata?.name}`;
        const services = new Map(objects.filter(({ obj }) => obj.kind === "Service").map(({ obj }) => [key(obj), obj]));
        const workloads = objects.filter(({ obj }) => ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].includes(obj.kind));
        const statefulsets = new Map(workloads.filter(({ obj }) => obj.kind === "StatefulSet").map(({ obj }) => [key(obj), obj]));
        for (const { obj, where } of workloads) {
                if (obj.kind !== "StatefulSet") continue;
                const ns = obj.metadata?.namespace ?? "default";
                const svc = services.get(`${ns}/${obj.spec?.serviceName}`);
                if (!svc || svc.spec?.clusterIP !== "None")
                        out.push(`${where} (StatefulSet/${obj.metadata?.name}): serviceName ${obj.spec?.serviceName} names no headless Service (clusterIP: None) in ${ns}: its pods get no DNS names of their own`);
                else if (!selects(svc.spec?.selector ? { matchLabels: svc.spec.selector } : null, obj.spec?.template?.metadata?.labels))
                        out.push(`${where} (StatefulSet/${obj.metadata?.name}): the Service ${svc.metadata.name} does not select its pods`);
        }
        for (const { obj, where } of objects) {
                if (obj.kind !== "PodDisruptionBudget") continue;
                const ns = obj.metadata?.namespace ?? "default";
                const target = workloads.find(({ obj: w }) => (w.metadata?.namespace ?? "default") === ns && selects(obj.spec?.selector, w.spec?.template?.metadata?.labels));
                const name = `${where} (PodDisruptionBudget/${obj.metadata?.name})`;
                if (!target) {
                        out.push(`${name}: its selector matches no workload's pods`);
                        continue;
                }
                const replicas = target.obj.spec?.replicas ?? 1;
                if (typeof obj.spec?.minAvailable === "number" && obj.spec.minAvailable >= replicas)
                        out.push(`${name}: minAvailable ${obj.spec.minAvailable} with ${replicas} replica(s) of ${target.obj.kind}/${target.obj.metadata.name}: no pod could ever be evicted, a drain would never end`);
        }
        const endpoint = /tcp:\/\/([a-z0-9.-]+)\.svc(?:\.cluster\.local)?:(\d+)/g;
        for (const { obj, where } of objects) {
                if (obj.kind !== "ConfigMap") continue;
                for (const [dk, text] of Object.entries(obj.data ?? {})) {
                        const named = new Map(); // statefulset key -> [ordinals]
                        for (const m of String(text).matchAll(endpoint)) {
                                const parts = m[1].split(".");
                                const port = Number(m[2]);
                                const name = `${where} (ConfigMap/${obj.metadata?.name}) ${dk}: ${m[0]}`;
                                if (parts.length === 2) {
                                        const svc = services.get(`${parts[1]}/${parts[0]}`);
                                        if (svc?.spec?.clusterIP === "None" && [...statefulsets.values()].some((s) => s.spec?.serviceName === parts[0]))
                                                out.push(`${name}: names the headless Service of a StatefulSet, not its replicas one by one`);
                                        continue;
                                }
                                if (parts.length !== 3) continue;
                                const [pod, svcName, ns] = parts;
                                const o = /^(.*)-(\d+)$/.exec(pod);
                                const sts = o && statefulsets.get(`${ns}/${o[1]}`);
                                if (!sts || sts.spec?.serviceName !== svcName) {
                                        out.push(`${name}: names no pod of a StatefulSet governed by Service ${svcName} in ${ns}`);
                                        continue;
                                }
                                const replicas = sts.spec?.replicas ?? 1;
                                if (Number(o[2]) >= replicas) out.push(`${name}: ${pod} is not one of the ${replicas} replica(s)`);
                                const svc = services.get(`${ns}/${svcName}`);
                                if (svc && !(svc.spec?.ports ?? []).some((p) => p.port === port))
                                        out.push(`${name}: port ${port} is not a port of Service ${svcName}`);
                                const k = `${ns}/${o[1]}`;
                                if (!named.has(k)) named.set(k, []);
                                named.get(k).push(Number(o[2]));
                        }
                        for (const [k, ordinals] of named) {
                                const replicas = statefulsets.get(k).spec?.replicas ?? 1;
                                for (let i = 0; i < replicas; i++) {
                                        const n = ordinals.filter((x) => x === i).length;
                                        if (n !== 1)
                                                out.push(`${where} (ConfigMap/${obj.metadata?.name}) ${dk}: names replica ${k.split("/")[1]}-${i} ${n} times (each of the ${replicas} replicas once)`);
                                }
                        }
                }
        }
        return out;
}

// ---- one object ----
async function validateObject(obj, where) {
        const errors = [];
        if (!obj || typeof obj !== "object" || typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
                return [`${where}: not a Kubernetes object (apiVersion and kind missing)`];
        const name = `${obj.kind}/${obj.metadata?.name ?? "?"}`;
        if (obj.kind === "List" && obj.apiVersion === "v1") {
                const out = [];
                for (const [i, item] of (obj.items ?? []).entries())
                        out.push(...(await validateObject(item, `${where} item ${i}`)));
                return out;
        }
        const group = obj.apiVersion; // "v1", "apps/v1", "rbac.authorization.k8s.io/v1": kubernetes-models' folders
        let mod;
        try {
                mod = await import(`kubernetes-models/${group}/${obj.kind}`);
        } catch {
                return [`${where} (${name}): unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`];
        }
        try {
                new mod[obj.kind](obj).validate();
        } catch (e) {
                errors.push(e.message);
        }
        const declared = `${join(modelsDir, group, obj.kind)}.d.ts#I${obj.kind}`;
        if (!interfaces.has(declared)) errors.push(`no type declaration ${declared} to check field names against`);
        unknownFields(obj, declared, "", errors);
        podChecks(obj, errors);
        if (obj.spec?.template) podTemplateChecks(obj, errors);
        if (obj.kind === "PodDisruptionBudget") disruptionBudgetChecks(obj, errors);
        objects.push({ obj, where });
        if (errors.length === 0) console.log(`ok    ${where}: ${name}`);
        return errors.map((e) => `${where} (${name}): ${e}`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
        console.error("usage: node validate.mjs FILE...");
        process.exit(2);
}
if (interfaces.size < 500) {
        console.error(`validate.mjs: only ${interfaces.size} type declarations found in ${modelsDir}`);
        process.exit(1);
}
let failed = 0;
const objects = []; // every object read, for crossChecks
for (const file of files) {
        const docs = parseAllDocuments(readFileSync(file, "utf8"));
        for (const [i, doc] of docs.entries()) {
                const where = `${file}#${i + 1}`;
                if (doc.errors.length) {
                        console.error(`FAIL  ${where}: YAML: ${doc.errors[0].message.split("\n")[0]}`);
                        failed++;
                        continue;
                }
                const obj = doc.toJS();
                if (obj === null) continue; // an empty document (a trailing ---)
                for (const e of await validateObject(obj, where)) {
                        console.error(`FAIL  ${e}`);
                        failed++;
                }
        }
}
for (const e of crossChecks(objects)) {
        console.error(`FAIL  ${e}`);
        failed++;
}
if (failed) console.error(`validate.mjs: ${failed} error(s)`);
process.exit(failed ? 1 : 0);
