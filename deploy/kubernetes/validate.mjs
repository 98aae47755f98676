// SPDX-License-Identifier: LGPL-2.1-or-later
// Validates Kubernetes manifests offline against the Kubernetes API's OpenAPI schemas, as
// the npm package kubernetes-models compiles them (types, required fields, enums, formats),
// and adds what the API server checks beyond the schema and a schema alone cannot: fields
// that do not exist (the OpenAPI schemas allow any extra key, so "hostPid: true" for
// "hostPID" would pass silently and run the agent without the host's PID namespace; the
// field lists come from kubernetes-models' type declarations), a selector that does not
// match its pod template, and volume mounts of volumes that are not declared.
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
        const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
        for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])])
                for (const m of c.volumeMounts ?? [])
                        if (!volumes.has(m.name)) errors.push(`container ${c.name}: volumeMount ${m.name} names no volume`);
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
if (failed) console.error(`validate.mjs: ${failed} error(s)`);
process.exit(failed ? 1 : 0);
