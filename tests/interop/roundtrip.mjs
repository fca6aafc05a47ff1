// Reads a gridsync record document saved by sync-core, prints what the official JavaScript
// automerge sees in it, makes the kind of change a web client would, and saves the result.
//
//   node roundtrip.mjs <saved document> <output path>
//
// Prints one line of JSON: {"read": <the record as JavaScript reads it>, "added_event": <the
// timeline event this script appended>, "category": <the category it set>}.
//
// The change is what a plain web client writes, with no knowledge of Rust's types: plain
// JavaScript strings (which automerge 3 stores as text objects) and plain numbers (stored as
// integers when whole). sync-core reads those shapes too. Fields the Rust side stores as merging
// text (description, findings) are edited in place with Automerge.splice, so the edit merges with
// concurrent edits character by character.

import { readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import * as Automerge from "@automerge/automerge";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node roundtrip.mjs <saved document> <output path>");
  process.exit(2);
}

const CHECKED_SUFFIX = " (checked)";
const CATEGORY = "drainage/checked-on-web";
// A whole number, which automerge stores as an integer where Rust wrote a float.
const ACCURACY_M = 12;

const doc = Automerge.load(new Uint8Array(readFileSync(input)));
// JSON.stringify reads merging text as a plain string and ImmutableString through its toJSON.
// Rust's u64 fields (schema_version, attachment sizes, workflow.returns) arrive as BigInt, which
// JSON.stringify refuses; they are printed as numbers when that loses nothing.
const read = JSON.parse(
  JSON.stringify(doc, (key, value) => {
    if (typeof value !== "bigint") return value;
    if (!Number.isSafeInteger(Number(value))) throw new RangeError(`${key} = ${value} is too large`);
    return Number(value);
  }),
);

const event = {
  id: randomUUID(),
  actor: "web-reviewer",
  at: Date.now(),
  kind: "note",
  note: "checked on the web console",
};

const changed = Automerge.change(
  doc,
  { message: JSON.stringify([event.actor, "web"]) },
  (d) => {
    Automerge.splice(d, ["description"], d.description.length, 0, CHECKED_SUFFIX);
    if (d.inspection) {
      const end = d.inspection.findings.length;
      Automerge.splice(d, ["inspection", "findings"], end, 0, CHECKED_SUFFIX);
    }
    d.timeline.push({ ...event });
    d.category = CATEGORY;
    if (d.location) d.location.accuracy_m = ACCURACY_M;
  },
);

writeFileSync(output, Automerge.save(changed));
console.log(JSON.stringify({ read, added_event: event, category: CATEGORY, accuracy_m: ACCURACY_M }));
