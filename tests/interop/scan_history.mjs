// Looks for personal data in automerge documents, through their whole history, with the
// official JavaScript automerge: what a curious reader holding the bytes would do.
//
//   node scan_history.mjs <needles.json> <document or change file>...
//
// Each file is either a saved document or change chunks (a sync feed page's bytes for one
// record), anything `Automerge.loadIncremental` takes. For each file, every change is
// decoded and every string its operations carry is searched, and the document is viewed at
// every point of its history (the heads after each change) and searched as JSON, so a value
// typed into a text one character at a time is found too.
//
// Prints one line of JSON: {"files": N, "changes": M, "found": [{"file", "needle", "where"}]}.

import { readFileSync } from "node:fs";
import * as Automerge from "@automerge/automerge";

const [needlesPath, ...files] = process.argv.slice(2);
if (!needlesPath || files.length === 0) {
  console.error("usage: node scan_history.mjs <needles.json> <file>...");
  process.exit(2);
}
const needles = JSON.parse(readFileSync(needlesPath, "utf8"));

const found = [];
let changes = 0;
const search = (file, text, where) => {
  for (const needle of needles) {
    if (text.includes(needle)) found.push({ file, needle, where });
  }
};
const json = (value) =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));

for (const file of files) {
  const doc = Automerge.loadIncremental(Automerge.init(), new Uint8Array(readFileSync(file)));
  const all = Automerge.getAllChanges(doc);
  changes += all.length;
  const heads = [];
  for (const bytes of all) {
    const change = Automerge.decodeChange(bytes);
    search(file, json(change.ops), `ops of change ${change.hash}`);
    search(file, change.message ?? "", `message of change ${change.hash}`);
    heads.push(change.hash);
  }
  // The document as it stood after each change (changes come in causal order).
  for (let i = 0; i < heads.length; i++) {
    const past = Automerge.view(doc, [heads[i]]);
    search(file, json(past), `the document at change ${heads[i]}`);
  }
}

console.log(JSON.stringify({ files: files.length, changes, found }));
